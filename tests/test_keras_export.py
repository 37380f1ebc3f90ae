"""Keras 3's own ONNX export (model.export(path, format="onnx")) as the second Keras -> ONNX converter."""

from __future__ import annotations

import pytest

from harness.converters.onnx_from_keras_export import OnnxFromKerasViaExport
from harness.oracle.compare import rule_source
from harness.repro.templates import plan_for, render
from harness.run.engine import Engine
from harness.run.selection import select_routes
from model_zoo import all_models


@pytest.mark.stacks
def test_keras_export_writes_onnx_that_onnx2pytorch_reads_and_onnx_tf_refuses(stack_engine: Engine) -> None:
    (route,) = select_routes(["keras>onnx@keras-export>torch>onnx>tf"])
    rows = stack_engine.run_route(all_models()["mlp"], route)
    exported = rows[0]
    assert (exported["converter"], exported["converter_version"]) == ("OnnxFromKerasViaExport", "3.15.1")
    assert [row["status"] for row in rows[:3]] == ["pass", "pass", "pass"], rows[:3]
    assert exported["error_vs_truth"] < 1e-6
    # The names tf2onnx's from_function gives ('mlp_1/relu1_1/Relu:0') survive onnx2pytorch and the TorchScript
    # exporter, and onnx-tf refuses ':' in a node name: onnx-tf's finding, on a graph a user would have.
    assert rows[3]["status"] == "convert_error" and "is not a valid root scope name" in rows[3]["error"]


def test_its_finding_repro_calls_keras_export() -> None:
    plan = plan_for(OnnxFromKerasViaExport(), "keras")
    text = render(plan, title="t", what="w", input_names=["features"], output_names=["logits"],
                  rule=rule_source(), signature=[("features", [None, 64], "float32")])
    compile(text, "repro.py", "exec")
    assert 'model.export(str(path), format="onnx"' in text and plan.files == ("model.keras",)
