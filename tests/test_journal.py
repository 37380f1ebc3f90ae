"""The run journal (rows.jsonl) after a kill in the middle of a write: nothing finished is lost on resume."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from harness.run.engine import EngineOptions
from harness.run.progress import Progress
from harness.run.session import JOURNAL, run_cells


@dataclass
class ScriptedEngine:
    """The journal is the session's own logic: an engine whose cells end at once, and which can be
    told to stop (as Ctrl-C would) before a given cell."""

    run_dir: Path
    stop_before: str | None = None
    ran: list[str] = field(default_factory=list)
    options: EngineOptions = field(default_factory=EngineOptions)
    conversions: int = 0
    pool: Any = field(default_factory=lambda: SimpleNamespace(started=0))
    cache: Any = None  # no task cache: nothing to keep to a budget

    def sibling(self, lane: int, lanes: int) -> ScriptedEngine:
        return ScriptedEngine(self.run_dir / f"lane{lane}", pool=SimpleNamespace(started=0, close=lambda: None))

    def run_route(self, spec: Any, route: Any) -> list[dict[str, Any]]:
        if spec.name == self.stop_before:
            raise KeyboardInterrupt
        self.ran.append(spec.name)
        return [{"model": spec.name, "route": route.id, "hop": "torch->onnx", "status": "pass", "error": ""}]


CELLS = [(SimpleNamespace(name=f"model{number}", tags=frozenset()), SimpleNamespace(id="torch>onnx"))
         for number in range(1, 5)]


def test_a_torn_last_line_is_dropped_and_the_next_cell_survives_two_resumes(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt):
        run_cells(ScriptedEngine(tmp_path, stop_before="model3"), CELLS)  # type: ignore[arg-type]
    journal = tmp_path / JOURNAL
    text = journal.read_bytes()
    # Killed in the middle of writing model2's line: its first half is on disk, without a newline.
    last_line_start = text.rstrip(b"\n").rfind(b"\n") + 1
    journal.write_bytes(text[:last_line_start + (len(text) - last_line_start) // 2])

    first_resume = ScriptedEngine(tmp_path)
    result = run_cells(first_resume, CELLS, resume=True)  # type: ignore[arg-type]
    assert result.resumed_cells == 1 and first_resume.ran == ["model2", "model3", "model4"]
    assert [row["model"] for row in result.rows] == ["model1", "model2", "model3", "model4"]

    second_resume = ScriptedEngine(tmp_path)
    result = run_cells(second_resume, CELLS, resume=True)  # type: ignore[arg-type]
    assert second_resume.ran == [] and result.resumed_cells == 4
    assert [row["model"] for row in result.rows] == ["model1", "model2", "model3", "model4"]


@pytest.mark.parametrize("jobs", [1, 2])
def test_the_callers_own_jobs_run_once_each_with_a_lanes_workers_and_give_back_their_values(
        tmp_path: Path, jobs: int) -> None:
    def job(name: str) -> Any:
        def run(engine: Any, note: Any) -> dict[str, Any]:
            note(f"{name} is done")
            return {"job": name, "engine": engine.run_dir.name, "pid": os.getpid()}
        return run

    stream = io.StringIO()
    result = run_cells(ScriptedEngine(tmp_path), CELLS, jobs=jobs,  # type: ignore[arg-type]
                       progress=Progress(stream, interactive=False), alongside=[job("probes"), job("tables")])
    assert [value["job"] for value in result.alongside] == ["probes", "tables"]
    if jobs == 1:  # after the cells, with this process's own engine
        assert {(value["engine"], value["pid"]) for value in result.alongside} == {(tmp_path.name, os.getpid())}
    else:  # by the lanes, with their warm workers: the parent starts none of its own
        assert all(value["engine"].startswith("lane") and value["pid"] != os.getpid() for value in result.alongside)
    assert "probes is done" in stream.getvalue() and "tables is done" in stream.getvalue()
    assert [row["model"] for row in result.rows] == ["model1", "model2", "model3", "model4"]

    def failing(engine: Any, note: Any) -> None:
        raise ValueError("the declared table could not be read")

    with pytest.raises(ValueError, match="declared table"):
        run_cells(ScriptedEngine(tmp_path / "again"), CELLS, jobs=jobs, alongside=[failing])  # type: ignore[arg-type]


def test_a_job_whose_value_cannot_travel_back_from_a_lane_says_so_instead_of_hanging(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="pickle"):
        run_cells(ScriptedEngine(tmp_path), CELLS, jobs=2,  # type: ignore[arg-type]
                  alongside=[lambda engine, note: (lambda: "a function is no value a queue can carry")])
