"""Workers forked from a warm zygote are the workers a fresh start gives, cost a fork, and leave nothing behind."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from harness.errors import WorkerFailure
from harness.execution.pool import WorkerPool, call_task
from harness.execution.zygote import process_running

pytestmark = pytest.mark.stacks

THREADS = {"task": "call", "function": "tests.thread_probe:framework_threads", "kwargs": {"framework": "torch"},
           "framework": "torch"}


def zygote_pids(token: str) -> list[int]:
    """The run's zygotes (their forked workers carry the same command line, with a zygote for parent)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if b"harness.execution.zygote" in command and any(token.encode() in part for part in command):
            parents[int(entry.name)] = parent
    return [pid for pid, parent in parents.items() if parent not in parents]


def test_a_forked_worker_answers_as_a_fresh_one_and_a_second_costs_a_fork(tmp_path: Path) -> None:
    answers = {}
    for fork in (False, True):
        with WorkerPool(tmp_path / f"logs-{fork}", fork_workers=fork) as pool:
            answers[fork] = call_task(pool, "current", "torch", THREADS, 300).result
            started = time.perf_counter()
            pool.call("current", "torch", {"task": "ping"}, 300, role="run")  # a second worker, same stack
            second_start = time.perf_counter() - started
            if fork:
                assert second_start < 1.0, f"a forked worker took {second_start:.1f} s to answer"
                assert pool.zygotes is not None and not pool.zygotes.unavailable
                assert (tmp_path / f"logs-{fork}" / "worker-current-torch-make.log").exists()
    assert answers[True] == answers[False]  # the same thread counts: environment and imports as a fresh start


def test_a_tf_worker_forked_from_its_zygote_holds_no_torch(tmp_path: Path) -> None:
    with WorkerPool(tmp_path / "logs") as pool:
        task = {"task": "call", "function": "tests.thread_probe:framework_threads", "kwargs": {"framework": "tf"},
                "framework": "tf"}
        assert call_task(pool, "current", "tf", task, 300).status == "ok"  # the worker checks: torch not loaded


def test_a_forked_worker_killed_by_a_fault_signal_is_a_fault_and_is_replaced(tmp_path: Path) -> None:
    with WorkerPool(tmp_path / "logs") as pool:
        first = pool.call("current", "torch", {"task": "ping"}, 300)["result"]["pid"]
        os.kill(first, signal.SIGSEGV)
        with pytest.raises(WorkerFailure) as failure:
            pool.call("current", "torch", {"task": "ping"}, 300)
        assert failure.value.fault and "SIGSEGV" in str(failure.value)
        second = pool.call("current", "torch", {"task": "ping"}, 300)["result"]["pid"]
        assert second != first and process_running(second)


def test_lanes_share_the_zygotes_and_closing_the_run_ends_them(tmp_path: Path) -> None:
    pool = WorkerPool(tmp_path / "logs")
    assert pool.zygotes is not None
    pool.call("current", "none", {"task": "ping"}, 300)
    lane = os.fork()
    if lane == 0:  # a lane, as session.run_lanes forks them
        code = 1
        try:
            lane_pool = pool.share(2, tmp_path / "logs" / "lane0")
            lane_pool.call("current", "none", {"task": "ping"}, 300)
            lane_pool.close()
            code = 0
        finally:
            os._exit(code)
    assert os.waitpid(lane, 0)[1] == 0
    assert len(list((tmp_path / "logs").glob("zygote-none-*.log"))) == 1  # the lane forked from the run's zygote
    assert len(zygote_pids(pool.zygotes.token)) == 1
    pool.close()
    deadline = time.monotonic() + 10
    while zygote_pids(pool.zygotes.token) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert zygote_pids(pool.zygotes.token) == []
