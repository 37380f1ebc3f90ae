"""OnnxFromTorch's dynamo exporter: one capture of a module for every opset below 18."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.execution.pool import WorkerPool, call_task
from harness.formats import TORCH
from harness.run.engine import io_for
from model_zoo import all_models

pytestmark = pytest.mark.stacks


def conversions(model: str, folder: Path, opsets: list[int]) -> dict[str, Any]:
    io = io_for(all_models()["mlp" if model == "branching" else model], TORCH)
    if model == "branching":
        io = {**io, "inputs": [{**io["inputs"][0], "name": "x", "shape": ["B", 4]}]}
    with WorkerPool(folder / "logs") as pool:
        step = call_task(pool, "current", "torch", {
            "task": "call", "function": "tests.torch_conversions:split_and_whole", "framework": "torch",
            "kwargs": {"model": model, "folder": str(folder), "io": io, "opsets": opsets}}, timeout=900)
    assert step.status == "ok", step.error
    result: dict[str, Any] = step.result["value"]
    return result


def test_each_opset_writes_the_files_and_errors_torch_onnx_export_writes_from_one_capture(tmp_path: Path) -> None:
    # mlp: exported at 15; at 12 and 11 torch's version converter fails and torch writes opset 18.
    result = conversions("mlp", tmp_path, [15, 12, 11])
    assert result["captures"] == 1
    assert result["torchlib_reads"] == 1  # one registry listing for all the exports in the process
    assert result["split"][0]["error"] == ""
    assert all(export["error"].startswith("OpsetNotWritten: torch.onnx.export wrote opset 18")
               for export in result["split"][1:])
    assert all(set(export["files"]) == {"model.onnx", "model.onnx.data"} for export in result["split"])
    assert result["split"] == result["whole"]


def test_a_module_torch_export_cannot_capture_fails_alike_at_every_opset(tmp_path: Path) -> None:
    result = conversions("branching", tmp_path, [13, 11])
    assert result["captures"] == 1  # the failure is kept, not captured again
    assert all(export["error"].startswith("TorchExportError") and not export["files"] for export in result["split"])
    assert result["split"] == result["whole"]
