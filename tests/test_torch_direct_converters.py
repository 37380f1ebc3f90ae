"""The converters that take a torch module with no ONNX on the way: litert-torch (torch -> TFLite, in a layer over
`current`) and nobuco (torch -> Keras 2, saved as a SavedModel, in a layer over `legacy`), on real zoo models."""

from __future__ import annotations

import pytest

from harness.converters import default_converters
from harness.converters.tf_from_torch_nobuco import TfFromTorch
from harness.converters.tflite_from_torch_litert import TfliteFromTorch
from harness.execution.stacks import get_stack
from harness.run.engine import Engine
from harness.run.inputs import at_export_dims, largest_recipe
from harness.run.selection import select_routes
from model_zoo import all_models

# Neither stack is provisioned by `tox -e tests` (CI's 10 minutes hold the base stacks): `parity stacks NAME` first.
needs_litert = pytest.mark.skipif(not get_stack("litert-torch").is_provisioned(),
                                  reason="stack litert-torch not provisioned (parity stacks litert-torch)")
needs_nobuco = pytest.mark.skipif(not get_stack("nobuco").is_provisioned(),
                                  reason="stack nobuco not provisioned (parity stacks nobuco)")


def test_the_records_name_their_stacks_and_routes() -> None:
    assert (TfliteFromTorch.stack, TfliteFromTorch.framework) == ("litert-torch", "torch")
    assert (TfFromTorch.stack, TfFromTorch.framework) == ("nobuco", "torch+tf")  # nobuco holds both, by design
    assert "#870" in TfliteFromTorch.static_shapes and not TfFromTorch.static_shapes
    ids = {route.id for route in select_routes(["torch>*"])}
    assert {"torch>tflite@litert-torch", "torch>tf@nobuco>onnx>torch"} <= ids
    assert {type(c) for c in default_converters()} >= {TfliteFromTorch, TfFromTorch}


def test_a_static_shape_converters_inputs_are_held_at_the_export_examples_sizes() -> None:
    spec = all_models()["potato_leaf_cnn"]
    pinned = at_export_dims(spec)
    assert [input_spec.dim_bounds for input_spec in pinned.inputs] == [
        {name: (high, high) for name, (_, high) in input_spec.dim_bounds.items()} for input_spec in spec.inputs]
    assert largest_recipe(pinned).dims == largest_recipe(spec).dims


@pytest.mark.stacks
@needs_litert
def test_litert_torch_deploys_a_cnn_to_tflite_judged_against_the_float64_truth(stack_engine: Engine) -> None:
    (route,) = select_routes(["torch>tflite@litert-torch"])
    rows = stack_engine.run_route(all_models()["potato_leaf_cnn"], route)
    (row,) = rows
    assert (row["converter"], row["stack"], row["converter_version"]) == ("TfliteFromTorch", "litert-torch", "0.10.0")
    assert row["status"] == "pass", row
    assert row["truth"] == "torch float64" and row["error_vs_truth"] < 1e-4
    assert row["examples"] >= 2 and "image[0] B fixed to" in row["lost_dynamic_axes"]
    assert not row.get("interface")  # NCHW in, its one output matched by name


@pytest.mark.stacks
@needs_nobuco
def test_nobuco_round_trips_an_lstm_through_its_saved_model(stack_engine: Engine) -> None:
    (route,) = select_routes(["torch>tf@nobuco>onnx>torch"])
    rows = stack_engine.run_route(all_models()["lstm_classifier"], route)
    assert [row["stack"] for row in rows] == ["nobuco", "current", "current"]
    converted = rows[0]
    assert (converted["converter"], converted["converter_version"]) == ("TfFromTorch", "0.17.0")
    assert converted["status"] == "pass", converted
    assert converted["truth"] == "torch float64" and converted["error_vs_truth"] < 1e-5
    assert not converted["lost_dynamic_axes"] and not converted.get("interface")  # names and free batch kept
    assert rows[1]["status"] == "pass", rows[1]  # tf2onnx reads the TF 2.15 SavedModel in TF 2.21


@pytest.mark.stacks
@needs_nobuco
def test_nobuco_refuses_a_torch_relu_call_and_the_row_quotes_it(stack_engine: Engine) -> None:
    # resnet_blocks' basic block calls torch.relu(...): nobuco converts F.relu and the in-place forms only.
    (route,) = select_routes(["torch>tf@nobuco>onnx>torch"])
    rows = stack_engine.run_route(all_models()["resnet_blocks"], route)
    assert rows[0]["status"] == "convert_error" and "relu[torch]" in rows[0]["error"], rows[0]
