"""A SavedModel is judged as TF Serving or a fresh process would load it, not as the process that wrote it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from harness.execution.pool import WorkerPool, call_task
from harness.runners.tf_runners import SavedModelRunner

pytestmark = pytest.mark.stacks
IO = {"inputs": [{"name": "x", "dtype": "float32", "shape": ["batch", 4]},
                 {"name": "y", "dtype": "float32", "shape": [4]}],
      "outputs": ["result"]}


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerPool]:
    with WorkerPool(tmp_path_factory.mktemp("saved_models") / "logs") as workers:
        yield workers


def run(pool: WorkerPool, tmp_path: Path, op: str) -> dict[str, object]:
    """Save the SavedModel and run it in the same worker: where a Python callback is still registered."""
    model = tmp_path / op
    saved = call_task(pool, "current", "tf", {"task": "call", "function": "tests.tf_saved_models:save_saved_model",
                                              "framework": "tf", "kwargs": {"path": str(model), "op": op}}, 300)
    assert saved.status == "ok", saved.error
    inputs = tmp_path / "inputs.npz"
    np.savez(inputs, x=np.ones((2, 4), np.float32), y=np.full(4, 2.0, np.float32))
    task = {"task": "run", "runner": SavedModelRunner().reference, "artifact": str(model), "io": IO,
            "inputs": [str(inputs)], "outputs": [str(tmp_path / "out.npz")], "truth_outputs": [], "framework": "tf"}
    step = call_task(pool, "current", "tf", task, 300)
    assert step.status == "ok", step.error
    return step.result


def test_a_plain_saved_model_runs(pool: WorkerPool, tmp_path: Path) -> None:
    assert run(pool, tmp_path, "affine")["errors"] == [None]
    with np.load(tmp_path / "out.npz") as data:
        assert np.array_equal(data[data.files[0]], np.full((2, 4), 3.0, np.float32))


def test_a_saved_model_holding_a_python_callback_does_not_pass(pool: WorkerPool, tmp_path: Path) -> None:
    (error,) = run(pool, tmp_path, "pyfunc")["errors"]
    assert error is not None and "EagerPyFunc" in str(error) and "only in the process that wrote it" in str(error)
