"""onnxslim as an optional ONNX -> ONNX pass between an exporter and a converter, chosen by name."""

from __future__ import annotations

import pytest

from harness.run.engine import Engine
from harness.run.selection import select_routes
from model_zoo import all_models


@pytest.mark.stacks
def test_onnxslim_between_the_exporter_and_onnx_tf_keeps_the_function(stack_engine: Engine) -> None:
    (route,) = select_routes(["torch>onnx>onnx@onnxslim>tf>onnx>torch"])
    rows = stack_engine.run_route(all_models()["potato_leaf_cnn"], route)
    assert [row["hop"] for row in rows] == ["torch->onnx", "onnx->onnx", "onnx->tf", "tf->onnx", "onnx->torch"]
    slim = rows[1]
    assert (slim["converter"], slim["converter_version"], slim["stack"]) == ("OnnxFromOnnxViaOnnxslim", "0.1.98",
                                                                            "current")
    for row in rows:
        assert row["status"] == "pass", row
        assert row["error_vs_truth"] < 1e-4
