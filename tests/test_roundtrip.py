"""Real round trips through the real converters in their stacks (no mocks)."""

from __future__ import annotations

import pytest

from harness.run.engine import Engine
from harness.run.selection import select_routes
from model_zoo import all_models

pytestmark = pytest.mark.stacks


@pytest.mark.parametrize("name", sorted(name for name, spec in all_models().items() if spec.has_twins))
def test_the_twins_agree_natively_before_any_conversion(stack_engine: Engine, name: str) -> None:
    context = stack_engine.prepare(all_models()[name])
    assert context.source_errors == {}
    for output, agreement in zip(context.spec.outputs, context.twin):
        assert agreement is not None, output.name
        assert agreement.passed, f"{output.name}: {agreement.error}"


def test_the_leaf_classifier_survives_torch_onnx_tf_onnx_torch(stack_engine: Engine) -> None:
    (route,) = select_routes(["torch>onnx>tf>onnx>torch"])
    rows = stack_engine.run_route(all_models()["potato_leaf_cnn"], route)
    assert [row["hop"] for row in rows] == ["torch->onnx", "onnx->tf", "tf->onnx", "onnx->torch"]
    assert [row["stack"] for row in rows] == ["current", "legacy", "current", "current"]
    assert rows[1]["converter"] == "TfFromOnnx" and rows[1]["converter_version"] == "1.10.0"
    for row in rows:
        assert row["status"] == "pass", row
        assert row["max_abs_err"] < 1e-4 and row["hop_max_abs_err"] < 1e-4
    assert "Conv@ai.onnx" in rows[0]["onnx_ops"] and "Conv@ai.onnx" in rows[2]["onnx_ops"]


def test_the_dynamo_exporters_ir10_model_is_rejected_by_onnx_tf_as_a_finding(stack_engine: Engine) -> None:
    (route,) = select_routes(["torch>onnx@dynamo>tf>onnx>torch"])
    rows = stack_engine.run_route(all_models()["mlp"], route)
    assert rows[0]["status"] == "pass"
    assert rows[1]["status"] == "convert_error" and "ir_version 10" in rows[1]["error"]
    assert [row["status"] for row in rows[2:]] == ["skipped", "skipped"]
