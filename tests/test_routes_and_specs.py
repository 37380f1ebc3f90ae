"""Routes come from the converter graph; specs reject contradictions; layouts map between the twins."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.converters import default_converters
from harness.converters.routes import enumerate_routes
from harness.errors import UsageError
from harness.formats import KERAS, ONNX, TFLITE, TORCH
from harness.run.engine import io_for
from harness.run.inputs import build_array, build_example, example_recipes, largest_recipe, seeded_recipes
from harness.run.selection import select_models, select_routes
from harness.spec import InputRecipe, InputSpec, channels_last, to_layout
from model_zoo import all_models


def test_round_trips_are_enumerated_from_the_converter_graph() -> None:
    converters = default_converters()
    assert [r.id for r in enumerate_routes(converters, TORCH)] == [
        "torch>onnx>tf>onnx>torch", "torch>onnx>tf@onnx2tf>onnx>torch", "torch>onnx>tflite",
        "torch>onnx@dynamo>tf>onnx>torch", "torch>onnx@dynamo>tf@onnx2tf>onnx>torch", "torch>onnx@dynamo>tflite",
        "torch>tflite@litert-torch", "torch>tf@nobuco>onnx>torch"]
    keras = [r.id for r in enumerate_routes(converters, KERAS)]
    # The routes of before the new converters keep their ids.
    assert {"keras>onnx>torch>onnx>tf", "keras>onnx>torch>onnx@dynamo>tf"} <= set(keras)
    assert {"keras>onnx>torch>onnx>tflite", "keras>onnx@keras-export>torch>onnx>tf@onnx2tf"} <= set(keras)
    assert len(keras) == 12  # two Keras exporters x two torch exporters x three ONNX -> TF family converters
    # litert-torch and nobuco take a user's module only, never onnx2pytorch's on the way back from Keras.
    assert not [route for route in keras if "litert-torch" in route or "nobuco" in route]


def test_every_route_returns_to_its_family_or_ends_where_it_is_deployed() -> None:
    read = {converter.source for converter in default_converters()}
    for route in select_routes(None):
        formats = [route.source] + [hop.converter.target for hop in route.hops]
        assert formats[-1].family == route.source.family or formats[-1] not in read, route.id
        # Through ONNX between frameworks, but for a direct converter (litert-torch, nobuco) taking the source.
        direct = [hop.index for hop in route.hops
                  if "onnx" not in (hop.converter.source.name, hop.converter.target.name)]
        assert direct in ([], [1]), route.id
        assert all(fmt.name == "onnx" for fmt in formats[1 + len(direct)::2]), route.id
        assert [hop.converter.source for hop in route.hops] == formats[:-1]


def test_a_route_without_a_way_back_is_not_enumerated() -> None:
    one_way = [c for c in default_converters() if c.target not in (TORCH, TFLITE)]
    assert enumerate_routes(one_way, TORCH) == []


def test_a_deploy_route_ends_in_a_format_no_converter_reads() -> None:
    # torch>onnx>tflite is a cell; torch>onnx>tf>onnx>tflite is not (it visits the TF family twice).
    deploy = [r.id for r in enumerate_routes(default_converters(), TORCH) if r.hops[-1].converter.target is TFLITE]
    assert deploy == ["torch>onnx>tflite", "torch>onnx@dynamo>tflite", "torch>tflite@litert-torch"]
    assert [r.id for r in enumerate_routes(default_converters(), ONNX) if len(r.hops) == 1] == ["onnx>tflite"]


def test_a_pass_runs_only_between_an_exporter_and_a_converter_and_only_when_named() -> None:
    assert not any("onnxslim" in route.id for route in select_routes(None))
    assert not any("onnxslim" in route.id for route in select_routes(["torch>*"]))
    chosen = [route.id for route in select_routes(["torch>onnx>onnx@onnxslim>tf*>onnx>torch"])]
    assert chosen == ["torch>onnx>onnx@onnxslim>tf>onnx>torch", "torch>onnx>onnx@onnxslim>tf@onnx2tf>onnx>torch"]
    every = [route for route in enumerate_routes(default_converters(), TORCH, passes=True)]
    for route in every:
        for index, hop in enumerate(route.hops):
            if hop.converter.is_pass:
                assert index > 0 and not route.hops[index - 1].converter.is_pass, route.id
                assert index + 1 < len(route.hops) and route.hops[index - 1].converter.source != ONNX, route.id
    assert "torch>onnx>onnx@onnxslim>tflite" in [route.id for route in every]


def test_unknown_model_and_route_names_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="no zoo model matches nope"):
        select_models(["nope"])
    with pytest.raises(UsageError, match="no route matches"):
        select_routes(["torch>nowhere"])


@pytest.mark.parametrize("kwargs, message", [
    ({"shape": ("B", 3), "dim_bounds": {}}, "symbolic dim 'B' has no bounds"),
    ({"shape": (2, 3), "dtype": "complex64"}, "unsupported dtype"),
    ({"shape": (2, 3), "domain": "index", "dtype": "float32", "high": 5}, "index domain needs an integer"),
    ({"shape": (2, 3), "layout": "NCHW"}, "does not match rank"),
])
def test_input_specs_reject_contradictions(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        InputSpec(name="x", **kwargs)  # type: ignore[arg-type]


def test_layouts_move_the_channel_axis_last() -> None:
    assert channels_last("NCHW") == "NHWC"
    array = np.arange(24).reshape(1, 2, 3, 4)
    moved = to_layout(array, "NCHW", "NHWC")
    assert moved.shape == (1, 3, 4, 2)
    np.testing.assert_array_equal(to_layout(moved, "NHWC", "NCHW"), array)


def test_the_keras_side_of_an_image_model_takes_channels_last() -> None:
    spec = all_models()["potato_leaf_cnn"]
    assert io_for(spec, TORCH)["inputs"][0]["shape"] == ["B", 3, 128, 128]
    assert io_for(spec, KERAS)["inputs"][0]["shape"] == ["B", 128, 128, 3]


def test_zoo_has_the_required_families_with_unique_names() -> None:
    models = all_models()
    assert len({spec.family for spec in models.values()}) >= 8
    assert {"potato_leaf_cnn", "text_cnn", "transformer_encoder"} <= set(models)
    leaf = models["potato_leaf_cnn"]
    assert leaf.inputs[0].shape[1:] == (3, 128, 128) and leaf.inputs[0].layout == "NCHW"


@pytest.mark.parametrize("name", sorted(all_models()))
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_drawn_examples_respect_each_input_spec(name: str, data: st.DataObject) -> None:
    spec = all_models()[name]
    recipe = data.draw(example_recipes(spec, nonfinite=True))
    arrays = build_example(spec, recipe)
    for input_spec, array in zip(spec.inputs, arrays):
        assert array.dtype == np.dtype(input_spec.dtype)
        for dim, size in zip(input_spec.shape, array.shape, strict=True):
            low, high = input_spec.dim_bounds[dim] if isinstance(dim, str) else (dim, dim)
            assert low <= size <= high
        if input_spec.domain == "index":
            assert array.min() >= 0 and array.max() < (input_spec.high or 0)
        if input_spec.domain == "positive":
            assert (array > 0).all()
    again = build_example(spec, recipe)
    assert all(np.array_equal(a, b, equal_nan=True) for a, b in zip(arrays, again))


def test_the_export_example_takes_every_symbolic_dim_at_its_upper_bound() -> None:
    spec = all_models()["potato_leaf_cnn"]
    (image,) = build_example(spec, largest_recipe(spec))
    assert image.shape == (4, 3, 128, 128)
    assert seeded_recipes(spec, count=3, seed=0)[0].dims["B"] == 4


def test_strategy_arguments_are_validated() -> None:
    spec = all_models()["mlp"]
    with pytest.raises(ValueError, match="max_scale_exponent"):
        example_recipes(spec, max_scale_exponent=9)
    with pytest.raises(ValueError, match="not valid for input"):
        example_recipes(spec, kinds=["index_edges"])


def test_value_kinds_make_what_they_promise() -> None:
    spec = InputSpec(name="x", shape=(64, 64))
    zeros = build_array(spec, {}, InputRecipe("zeros", 0, 1))
    ties = build_array(spec, {}, InputRecipe("ties", 0, 1))
    nans = build_array(spec, {}, InputRecipe("nan_sprinkled", 0, 1))
    assert not zeros.any()
    assert len(np.unique(ties)) <= 4
    assert np.isnan(nans).any() and np.isfinite(nans).any()
