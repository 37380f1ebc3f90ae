"""The run journal (rows.jsonl) after a kill in the middle of a write: nothing finished is lost on resume."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from harness.engine import EngineOptions
from harness.session import JOURNAL, run_cells


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

    def sibling(self, lane: int) -> ScriptedEngine:
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
def test_the_callers_own_work_is_done_once_in_this_process_beside_the_cells(tmp_path: Path, jobs: int) -> None:
    done_in: list[int] = []
    result = run_cells(ScriptedEngine(tmp_path), CELLS, jobs=jobs,  # type: ignore[arg-type]
                       alongside=lambda: done_in.append(os.getpid()))
    assert done_in == [os.getpid()]
    assert [row["model"] for row in result.rows] == ["model1", "model2", "model3", "model4"]

    def failing() -> None:
        raise ValueError("the declared table could not be read")

    with pytest.raises(ValueError, match="declared table"):
        run_cells(ScriptedEngine(tmp_path / "again"), CELLS, jobs=jobs, alongside=failing)  # type: ignore[arg-type]
