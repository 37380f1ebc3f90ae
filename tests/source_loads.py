"""Run in a worker: how often a runner reads a source artifact from disk for its float32 run and its truth."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.execution.worker import load_npz
from harness.runners import runner_for


def loads_for_run_and_truth(fmt: str, artifact: str, inputs: str, io: dict[str, Any]) -> int:
    runner = runner_for(fmt)
    reads: list[Path] = []
    real_load = type(runner).load

    def counting_load(self: Any, path: Path, io: dict[str, Any]) -> Any:
        reads.append(path)
        return real_load(self, path, io)

    type(runner).load = counting_load  # type: ignore[method-assign]
    try:
        arrays = load_npz(inputs)
        runner.run(Path(artifact), io, arrays)
        runner.run_float64(Path(artifact), io, arrays)
        runner.run(Path(artifact), io, arrays)
    finally:
        type(runner).load = real_load  # type: ignore[method-assign]
    return len(reads)
