"""OnnxFromKeras: tf2onnx's from_keras, its traced and frozen model reused across opsets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.execution.pool import WorkerPool, call_task
from harness.formats import KERAS
from harness.run.engine import io_for
from model_zoo import all_models

pytestmark = pytest.mark.stacks


def conversions(model: str, folder: Path, opsets: list[int], *, split: bool = True) -> dict[str, Any]:
    with WorkerPool(folder / "logs") as pool:
        step = call_task(pool, "current", "tf", {
            "task": "call", "function": "tests.keras_conversions:harness_and_from_keras", "framework": "tf",
            "kwargs": {"model": model, "folder": str(folder), "io": io_for(all_models()[model], KERAS),
                       "opsets": opsets, "split": split}}, timeout=600)
    assert step.status == "ok", step.error
    result: dict[str, Any] = step.result["value"]
    return result


@pytest.mark.parametrize("model", ["potato_leaf_cnn", "encoder_decoder"])
def test_each_opset_writes_the_file_from_keras_writes_from_one_freeze(model: str, tmp_path: Path) -> None:
    opsets = [17, 13, 11]
    result = conversions(model, tmp_path, opsets)
    assert result["frozen"] == 1  # traced and frozen once, for three opsets
    assert all(size > 1000 for size in result["sizes"])
    assert result["same"] == [True] * len(opsets)
    if model == "potato_leaf_cnn":  # no folded constants whose names vary: the very same bytes
        assert result["identical_bytes"] == [True] * len(opsets)


def test_a_tf2onnx_release_not_split_converts_through_its_own_from_keras(tmp_path: Path) -> None:
    result = conversions("potato_leaf_cnn", tmp_path, [17, 13])
    unsplit = conversions("potato_leaf_cnn", tmp_path / "unsplit", [17, 13], split=False)
    assert unsplit["frozen"] == 0 and unsplit["identical_bytes"] == [True, True]
    assert unsplit["sizes"] == result["sizes"]
