"""OnnxFromSavedModel: tf2onnx converts SavedModels inside the long-lived tf worker of each stack that hosts it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from harness.converters.onnx_from_tf import OnnxFromSavedModel
from harness.execution.pool import Step, WorkerPool, call_task
from harness.execution.stacks import get_stack

pytestmark = pytest.mark.stacks

STACKS = [
    "current",
    pytest.param("tf2onnx116", marks=pytest.mark.skipif(
        not get_stack("tf2onnx116").is_provisioned(), reason="stack tf2onnx116 not provisioned (tox -e tf2onnx116)")),
]
IO = {"inputs": [{"name": "x", "dtype": "float32", "shape": ["batch", 4]},
                 {"name": "y", "dtype": "float32", "shape": [4]}],
      "outputs": ["result"]}


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerPool]:
    with WorkerPool(tmp_path_factory.mktemp("tf2onnx") / "logs") as workers:
        yield workers


def call(pool: WorkerPool, stack: str, function: str, **kwargs: Any) -> Any:
    step = call_task(pool, stack, "tf", {"task": "call", "function": f"tests.tf_saved_models:{function}",
                                         "framework": "tf", "kwargs": kwargs}, timeout=300)
    assert step.status == "ok", step.error
    return step.result["value"]


def convert(pool: WorkerPool, stack: str, source: Path, target: Path) -> Step:
    example = target.parent / "example.npz"
    np.savez(example, x=np.ones((2, 4), np.float32), y=np.ones(4, np.float32))
    task = {"task": "convert", "converter": OnnxFromSavedModel(stack=stack).reference, "source": str(source),
            "target": str(target), "io": IO, "example": str(example)}
    return call_task(pool, stack, "tf", task, timeout=300)


@pytest.mark.parametrize("stack", STACKS)
def test_a_saved_model_converts_in_the_worker_the_same_every_time(pool: WorkerPool, stack: str,
                                                                   tmp_path: Path) -> None:
    source = tmp_path / "affine"
    call(pool, stack, "save_saved_model", path=str(source), op="affine")
    first, second = convert(pool, stack, source, tmp_path / "first.onnx"), convert(pool, stack, source,
                                                                                  tmp_path / "second.onnx")
    assert first.status == second.status == "ok", (first.error, second.error)
    assert {"Mul@ai.onnx", "Add@ai.onnx"} <= {op.split(":")[0] for op in first.result["onnx_ops"].split()}
    # The CLI's io: the signature's names in its order, the batch a symbolic dim named by tf2onnx.
    io = call(pool, stack, "onnx_io", path=str(tmp_path / "first.onnx"))
    assert [name for name, _ in io["inputs"]] == ["x", "y"] and [name for name, _ in io["outputs"]] == ["result"]
    assert isinstance(io["inputs"][0][1][0], str) and io["inputs"][0][1][1:] == [4]
    # A later conversion in the same worker names its symbolic dims as the first did.
    assert call(pool, stack, "onnx_io", path=str(tmp_path / "second.onnx")) == io


@pytest.mark.parametrize("stack", STACKS)
def test_an_op_tf2onnx_cannot_convert_is_a_convert_error_naming_it(pool: WorkerPool, stack: str,
                                                                    tmp_path: Path) -> None:
    source = tmp_path / "erfc"
    call(pool, stack, "save_saved_model", path=str(source), op="erfc")
    step = convert(pool, stack, source, tmp_path / "model.onnx")
    # tf2onnx logs "Unsupported ops: Erfc" and writes the model anyway; the worker's checker rejects it.
    assert step.status == "error"
    assert step.error.startswith("InvalidOnnxModel: the converter wrote an invalid model: No Op registered for Erfc")


def test_a_failing_conversion_raises_its_own_error_line(pool: WorkerPool, tmp_path: Path) -> None:
    step = convert(pool, "current", tmp_path / "missing_saved_model", tmp_path / "model.onnx")
    assert step.status == "error"
    assert step.error.startswith("OSError: SavedModel file does not exist at: ") and "missing_saved_model" in step.error
