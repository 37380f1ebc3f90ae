"""Zoo entries in one framework only, and the random weights that look trained."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from harness.run.engine import Engine
from harness.run.selection import select_routes, zoo_cells
from harness.spec import InputSpec, ModelSpec, OutputSpec
from model_zoo import all_models
from model_zoo.trained_look import make_distinct


def test_a_single_framework_model_gets_only_the_routes_from_its_side() -> None:
    zoo = all_models()
    routes = select_routes(None)
    cells = zoo_cells([zoo["potato_leaf_cnn"], zoo["resnet18"], zoo["keras_mobilenet_v2"]], routes)
    sources = {name: {route.source.name for spec, route in cells if spec.name == name} for name in zoo}
    assert sources["potato_leaf_cnn"] == {"torch", "keras"}  # a twin entry keeps both sides
    assert sources["resnet18"] == {"torch"}
    assert sources["keras_mobilenet_v2"] == {"keras"}
    every = zoo_cells(list(zoo.values()), routes)
    assert all(route.source.name in spec.source_formats for spec, route in every)


def test_the_potato_leaf_classifier_stays_the_first_row() -> None:
    assert next(iter(all_models())) == "potato_leaf_cnn"


def test_a_spec_needs_a_builder_and_twins_need_a_weight_transfer() -> None:
    def spec(name: str, build_torch: Any, build_keras: Any) -> ModelSpec:
        return ModelSpec(name=name, family="f", build_torch=build_torch, build_keras=build_keras,
                         transfer_weights=None, inputs=(InputSpec("x", (1, 2)),), outputs=(OutputSpec("y"),))

    with pytest.raises(ValueError, match="a torch builder, a Keras builder, or both"):
        spec("none", None, None)
    with pytest.raises(ValueError, match="transfer_weights"):
        spec("twins", object, object)
    keras_only = spec("keras_only", None, object)
    assert keras_only.source_formats == ("keras",) and not keras_only.has_twins


def test_make_distinct_redraws_constant_and_repeated_tensors_only() -> None:
    rng = np.random.default_rng(0)
    unique = rng.normal(size=(3, 4)).astype(np.float32)
    tensors: dict[str, np.ndarray] = {"unique": unique, "copy": unique.copy(), "zeros": np.zeros(5, np.float32),
               "ones": np.ones(5, np.float32), "more_zeros": np.zeros(5, np.float32), "ids": np.zeros(3, np.int64)}
    stored: dict[str, np.ndarray] = {}

    def keep(name: str) -> tuple[np.ndarray, Callable[[np.ndarray], None]]:
        return tensors[name], lambda array: stored.__setitem__(name, array)

    redrawn = make_distinct((keep(name) for name in tensors), lambda shape: rng.normal(size=shape))
    assert set(stored) == {"copy", "zeros", "ones", "more_zeros"} and redrawn == 4  # not the int ids
    final = {**tensors, **stored}
    floats = [final[name] for name in ("unique", "copy", "zeros", "ones", "more_zeros")]
    assert len({a.tobytes() for a in floats}) == 5
    assert not any(np.all(a == a.flat[0]) for a in floats)
    assert (final["ones"] > 0).all()  # noise small enough that a variance at 1 stays positive
    np.testing.assert_allclose(final["copy"], unique, atol=0.1)  # a copy moves a little, not to a new tensor


@pytest.mark.stacks
def test_a_torchvision_net_has_trained_looking_weights(stack_engine: Engine) -> None:
    summary = stack_engine.call_function("current", "torch", "tests.zoo_weights:torch_weight_summary",
                                         model="mobilenet_v3_small")
    assert summary["batchnorms"] > 30  # the real architecture, not a stand-in
    assert summary["distinct"] == summary["tensors"]  # no two identical weight tensors
    assert summary["constant"] == 0
    assert summary["default_batchnorms"] == 0
    assert summary["min_running_var"] > 0
    assert summary["deterministic"] and summary["eval"]


@pytest.mark.stacks
def test_a_keras_model_gets_trained_looking_weights(stack_engine: Engine) -> None:
    summary = stack_engine.call_function("current", "tf", "tests.zoo_weights:keras_weight_summary")
    assert summary["distinct"] == summary["tensors"] and summary["constant"] == 0
    assert not summary["bn_default"] and summary["min_moving_variance"] > 0


@pytest.mark.stacks
def test_a_torch_only_model_builds_its_one_source_without_a_source_error(stack_engine: Engine) -> None:
    spec = all_models()["squeezenet1_1"]
    context = stack_engine.prepare(spec)
    assert context.source_errors == {}  # the missing Keras side is not applicable, not a failure
    assert set(context.artifacts) == {"torch"}
    assert stack_engine.twin_columns(context, 0) == {"twin_max_abs_err": None, "twin_status": "unavailable"}
    (keras_route,) = select_routes(["keras>onnx>torch>onnx>tf"])
    with pytest.raises(ValueError, match="not built in"):
        stack_engine.convert_route(context, keras_route)
