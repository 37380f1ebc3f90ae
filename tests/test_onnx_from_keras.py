"""OnnxFromKeras: tf2onnx's from_keras, its traced and frozen model reused across opsets."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.engine import io_for
from harness.formats import KERAS
from harness.pool import WorkerPool, call_task
from model_zoo import all_models

pytestmark = pytest.mark.stacks


@pytest.mark.parametrize("model", ["potato_leaf_cnn", "encoder_decoder"])
def test_each_opset_writes_the_file_from_keras_writes_from_one_freeze(model: str, tmp_path: Path) -> None:
    opsets = [17, 13, 11]
    with WorkerPool(tmp_path / "logs") as pool:
        step = call_task(pool, "current", "tf", {
            "task": "call", "function": "tests.keras_conversions:harness_and_from_keras", "framework": "tf",
            "kwargs": {"model": model, "folder": str(tmp_path), "io": io_for(all_models()[model], KERAS),
                       "opsets": opsets}}, timeout=600)
    assert step.status == "ok", step.error
    result = step.result["value"]
    assert result["frozen"] == 1  # traced and frozen once, for three opsets
    assert all(size > 1000 for size in result["sizes"])
    assert result["same"] == [True] * len(opsets)
    if model == "potato_leaf_cnn":  # no folded constants whose names vary: the very same bytes
        assert result["identical_bytes"] == [True] * len(opsets)
