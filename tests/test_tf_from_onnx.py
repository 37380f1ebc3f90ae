"""TfFromOnnx: each onnx-tf conversion in the long-lived legacy worker starts from onnx-tf's pristine state."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from harness.converters.tf_from_onnx import TfFromOnnx
from harness.execution.pool import Step, WorkerPool, call_task

pytestmark = pytest.mark.stacks


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerPool]:
    with WorkerPool(tmp_path_factory.mktemp("onnx_tf") / "logs") as workers:
        yield workers


def lstm_model(pool: WorkerPool, path: Path, hidden: int, seed: int) -> Path:
    step = call_task(pool, "legacy", "none", {"task": "call", "function": "tests.recurrent_onnx:save_lstm",
                                              "kwargs": {"path": str(path), "hidden": hidden, "seed": seed}},
                     timeout=120)
    assert step.status == "ok", step.error
    return path


def convert(pool: WorkerPool, source: Path, target: Path) -> Step:
    example = target.parent / f"{target.name}_example.npz"
    np.savez(example, x=np.ones((3, 1, 4), np.float32))
    io = {"inputs": [{"name": "x", "dtype": "float32", "shape": [3, 1, 4]}], "outputs": ["y"]}
    task = {"task": "convert", "converter": TfFromOnnx().reference, "source": str(source), "target": str(target),
            "io": io, "example": str(example)}
    return call_task(pool, "legacy", "tf", task, timeout=300)


def test_a_second_recurrent_model_converts_in_the_same_worker(pool: WorkerPool, tmp_path: Path) -> None:
    # onnx-tf keeps the first RNN cell it builds on its handler class (RNNMixin.rnn_cell) and reuses it for
    # every later model in the process, whose export then fails on an untracked resource.
    first = convert(pool, lstm_model(pool, tmp_path / "a.onnx", hidden=3, seed=0), tmp_path / "a_tf")
    second = convert(pool, lstm_model(pool, tmp_path / "b.onnx", hidden=5, seed=1), tmp_path / "b_tf")
    assert first.status == "ok", first.error
    assert second.status == "ok", second.error
