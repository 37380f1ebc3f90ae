"""Faults end in a result, not a lost run: memory blow-ups are killed, and kill -9 then --resume loses nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from harness.converters.routes import Hop, Route
from harness.execution.pool import WorkerPool
from harness.formats import TORCH
from harness.run.engine import Engine, EngineOptions
from model_zoo import all_models
from tests.fake_converters import MemoryHungryConverter

pytestmark = pytest.mark.stacks

# No task cache: with the cells of an earlier run in the checkout's cache the run ends before it can be killed.
ZOO_ARGS = ["zoo", "--models", "mlp", "--routes", "torch>onnx>tf>onnx>torch", "torch>onnx@dynamo>tf>onnx>torch",
            "keras>onnx>torch>onnx>tf", "--examples", "3", "--profile", "ci", "--no-cache"]
COMPARED = ["model", "route", "hop_index", "hop", "status", "max_abs_err", "hop_max_abs_err", "error"]


def test_a_converter_that_eats_memory_is_killed_as_out_of_memory(tmp_path: Path) -> None:
    with WorkerPool(tmp_path / "logs", memory_limit_mb=1500) as pool:
        engine = Engine(tmp_path, pool, EngineOptions(examples=1, memory_limit_mb=1500), progress=lambda line: None)
        rows = engine.run_route(all_models()["mlp"], Route(TORCH, (Hop(1, MemoryHungryConverter()),)))
        assert rows[0]["status"] == "crash"
        assert "out of memory" in rows[0]["error"] and "1500 MB limit" in rows[0]["error"]
        started = pool.started
        after = engine.run_route(all_models()["mlp"], select_route("torch>onnx>tf>onnx>torch"))
        assert [row["status"] for row in after] == ["pass"] * 4
        assert pool.started > started  # the killed worker was replaced


def select_route(route_id: str) -> Route:
    from harness.run.selection import select_routes

    (route,) = select_routes([route_id])
    return route


def parity(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "harness.cli", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def test_kill_9_midway_then_resume_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    interrupted = tmp_path / "interrupted"
    run = parity(*ZOO_ARGS, "--work-dir", str(interrupted / "work"), "--out", str(interrupted / "reports"))
    journal = interrupted / "work" / "rows.jsonl"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and run.poll() is None:
        if journal.exists() and len(journal.read_text().splitlines()) >= 2:  # the header and one finished cell
            break
        time.sleep(0.2)
    assert run.poll() is None, "the run ended before it could be interrupted"
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    finished_before = len(journal.read_text().splitlines()) - 1
    assert 1 <= finished_before < 3

    resumed = parity(*ZOO_ARGS, "--resume", "--work-dir", str(interrupted / "work"),
                     "--out", str(interrupted / "reports"))
    assert resumed.wait(timeout=600) == 0
    uninterrupted = tmp_path / "uninterrupted"
    whole = parity(*ZOO_ARGS, "--work-dir", str(uninterrupted / "work"), "--out", str(uninterrupted / "reports"))
    assert whole.wait(timeout=600) == 0

    after_resume = pd.read_csv(interrupted / "reports" / "results.csv")[COMPARED]
    in_one_go = pd.read_csv(uninterrupted / "reports" / "results.csv")[COMPARED]
    pd.testing.assert_frame_equal(after_resume, in_one_go)
    assert len(journal.read_text().splitlines()) == 1 + 3  # the resumed run added only the missing cells
