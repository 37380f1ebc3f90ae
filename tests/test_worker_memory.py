"""The pool keeps idle workers for their warm imports only while their memory fits the pool's budget.

The machine has no swap: a run whose idle workers outgrow memory thrashes, and a conversion that takes seconds
sits until its timeout. These tests are about the pool's own bookkeeping, so the workers are stand-ins.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.execution import pool as pool_module
from harness.execution.pool import WorkerPool

SIZES_MB: dict[int, float] = {}


class StandInWorker:
    """Answers every task; its resident size is whatever the test says for its pid."""

    next_pid = 1000

    def __init__(self, stack: str, framework: str, log_path: Path, memory_limit_mb: float | None = None,
                 trusted_rebuilds: Any = (), zygotes: Any = None) -> None:
        StandInWorker.next_pid += 1
        self.stack, self.framework, self.killed = stack, framework, False
        self.pid = StandInWorker.next_pid
        SIZES_MB[self.pid] = 1000.0

    def call(self, task: dict[str, Any], timeout: float) -> dict[str, Any]:
        return {"ok": True, "result": {"framework": self.framework}}

    def alive(self) -> bool:
        return not self.killed

    def kill(self) -> None:
        self.killed = True


@pytest.fixture
def stand_ins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pool_module, "WorkerProcess", StandInWorker)
    monkeypatch.setattr(pool_module, "worker_resident_mb", lambda worker: SIZES_MB[worker.pid])


def test_a_new_worker_stops_the_least_recently_used_idle_one_when_the_budget_is_spent(
        stand_ins: None, tmp_path: Path) -> None:
    pool = WorkerPool(tmp_path, memory_budget_mb=2500)
    task = {"task": "convert"}
    for framework in ("torch", "tf", "onnx"):
        pool.call("current", framework, task, timeout=5)
    pool.call("current", "torch", task, timeout=5)  # torch is used again: tf is now the least recent
    by_framework = {key[1]: worker for key, worker in pool.workers.items()}
    tf_worker = by_framework["tf"]

    pool.call("current", "keras", task, timeout=5)  # 3,000 MB live before it starts: over 2,500

    assert tf_worker.killed
    assert sorted(key[1] for key in pool.workers) == ["keras", "onnx", "torch"]
    assert not any(worker.killed for worker in pool.workers.values())
    assert pool.stopped_for_memory == 1


def test_workers_that_fit_the_budget_are_all_kept(stand_ins: None, tmp_path: Path) -> None:
    pool = WorkerPool(tmp_path, memory_budget_mb=10_000)
    for framework in ("torch", "tf", "onnx", "keras"):
        pool.call("current", framework, {"task": "convert"}, timeout=5)
    assert len(pool.workers) == 4 and pool.stopped_for_memory == 0


def test_a_lane_gets_its_share_of_the_budget(tmp_path: Path) -> None:
    whole = WorkerPool(tmp_path, memory_budget_mb=12_000)
    assert whole.share(lanes=3).memory_budget_mb == pytest.approx(4_000)
    assert WorkerPool(tmp_path).memory_budget_mb == pytest.approx(
        pool_module.machine_memory_mb() * pool_module.IDLE_WORKERS_SHARE_OF_MEMORY)
