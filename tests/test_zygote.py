"""Workers forked from a warm zygote are the workers a fresh start gives, cost a fork, and leave nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.errors import WorkerFailure
from harness.execution.pool import WorkerPool, call_task
from harness.execution.stacks import harness_import_root
from harness.execution.worker import CALLER_DIR_ENV
from harness.execution.zygote import Zygotes, process_running

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


def test_lanes_share_the_zygotes_and_closing_them_ends_them(tmp_path: Path) -> None:
    zygotes = Zygotes()
    pool = WorkerPool(tmp_path / "logs", zygotes=zygotes)
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
    assert len(list((tmp_path / "logs").rglob("zygote-none-*.log"))) == 1  # the lane forked from the run's zygote
    assert len(zygote_pids(zygotes.token)) == 1
    pool.close()
    assert len(zygote_pids(zygotes.token)) == 1  # a pool's end is not its process's: the next pool forks from it
    zygotes.close()
    assert wait_until(lambda: zygote_pids(zygotes.token) == [])


def test_a_second_pool_of_the_process_forks_from_the_first_ones_zygote(tmp_path: Path) -> None:
    zygotes = Zygotes()
    try:
        with WorkerPool(tmp_path / "first", zygotes=zygotes) as first:
            first.call("current", "torch", {"task": "ping"}, 300)
        started = time.perf_counter()
        with WorkerPool(tmp_path / "second", zygotes=zygotes) as second:
            second.call("current", "torch", {"task": "ping"}, 300)
        assert time.perf_counter() - started < 1.0 and zygotes.started == 1
        assert (tmp_path / "second" / "worker-current-torch-make.log").exists()
    finally:
        zygotes.close()


def test_the_zygotes_end_with_the_process_that_made_them(tmp_path: Path) -> None:
    script = ("from pathlib import Path; from harness.execution.pool import WorkerPool\n"
              f"pool = WorkerPool(Path({str(tmp_path)!r}))\n"
              "pool.call('current', 'none', {'task': 'ping'}, 300)\n"
              "print(pool.zygotes.token)\n")  # and exits without closing anything, as a killed run would
    token = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                           cwd=harness_import_root()).stdout.strip()
    assert token and wait_until(lambda: zygote_pids(token) == [])


def test_a_retired_zygote_still_reports_its_workers_faults(tmp_path: Path) -> None:
    zygotes = Zygotes(limit=1)
    try:
        with WorkerPool(tmp_path / "logs", zygotes=zygotes) as pool:
            torch_worker = pool.call("current", "torch", {"task": "ping"}, 300)["result"]["pid"]
            pool.call("current", "none", {"task": "ping"}, 300)  # past the limit: the torch zygote is retired
            assert zygotes.retired == 1 and len(zygote_pids(zygotes.token)) == 2  # until its worker ends
            os.kill(torch_worker, signal.SIGSEGV)
            with pytest.raises(WorkerFailure) as failure:
                pool.call("current", "torch", {"task": "ping"}, 300)
            assert failure.value.fault and "SIGSEGV" in str(failure.value)
    finally:
        zygotes.close()


def wait_until(condition: Callable[[], bool], seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.1)
    return condition()


def test_a_cells_planned_zygotes_start_together_at_its_first_new_worker_and_not_before(tmp_path: Path) -> None:
    zygotes = Zygotes()
    try:
        with WorkerPool(tmp_path / "logs", zygotes=zygotes) as pool:
            pool.plan([("current", "none"), ("current", "tf"), ("current", "none")])
            assert zygotes.started == 0  # a plan alone starts nothing: a cell the task cache answers needs none
            pool.call("current", "none", {"task": "ping"}, 300)
            assert zygotes.started == 2  # the tf zygote started beside the one asked for, its imports under way
            pool.call("current", "tf", {"task": "ping"}, 300)
            assert zygotes.started == 2, "the tf worker was forked from the zygote started with the plan"
            pool.plan([("current", "tf")])
            pool.call("current", "tf", {"task": "ping"}, 300, role="run")  # planned and running: nothing new
            assert zygotes.started == 2
    finally:
        zygotes.close()


def test_callers_differing_only_in_their_folder_or_pytests_test_name_share_a_zygote_and_keep_their_own(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def environment_variable(pool: WorkerPool, name: str) -> str | None:
        task = {"task": "call", "function": "os:getenv", "kwargs": {"key": name}, "framework": "none"}
        value: str | None = pool.call("current", "none", task, 300)["result"]["value"]
        return value

    zygotes = Zygotes()
    seen = []
    try:
        for test_name in ("first", "second"):
            folder = tmp_path / test_name
            folder.mkdir()
            monkeypatch.chdir(folder)  # where parity runs from: a user's factory is imported from there
            monkeypatch.setenv("PYTEST_CURRENT_TEST", test_name)  # pytest names each test phase here
            with WorkerPool(tmp_path / "logs", zygotes=zygotes) as pool:
                seen.append((environment_variable(pool, CALLER_DIR_ENV),
                             environment_variable(pool, "PYTEST_CURRENT_TEST")))
        assert zygotes.started == 1
        assert seen == [(str(tmp_path / "first"), "first"), (str(tmp_path / "second"), "second")]
    finally:
        zygotes.close()
