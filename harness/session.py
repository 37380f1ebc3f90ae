"""A run: choose models and routes, run every (model, route) cell, journal each cell as it ends."""

from __future__ import annotations

import fnmatch
import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness.atomic import write_atomic
from harness.converters import Converter, default_converters
from harness.engine import Engine, EngineOptions
from harness.formats import SOURCE_FORMATS
from harness.known_failures import apply_known_failures, load_known_failures
from harness.pool import WorkerPool
from harness.progress import Progress
from harness.routes import Route, enumerate_routes
from harness.spec import ModelSpec
from harness.stacks import project_root

JOURNAL = "rows.jsonl"


class UsageError(ValueError):
    """Bad input from the user: printed as one line, exit status 2."""


def known_failures_path() -> Path:
    return project_root() / "known_failures.toml"


def select_models(patterns: Sequence[str] | None) -> list[ModelSpec]:
    from model_zoo import all_models

    models = all_models()
    if not patterns:
        return list(models.values())
    chosen = [spec for name, spec in models.items() if any(fnmatch.fnmatchcase(name, p) for p in patterns)]
    unmatched = [p for p in patterns if not any(fnmatch.fnmatchcase(name, p) for name in models)]
    if unmatched:
        raise UsageError(f"no zoo model matches {', '.join(unmatched)}; known: {', '.join(models)}")
    return chosen


def all_routes(converters: Sequence[Converter] | None = None) -> list[Route]:
    converters = list(converters or default_converters())
    return [route for source in SOURCE_FORMATS for route in enumerate_routes(converters, source)]


def filter_routes(routes: list[Route], patterns: Sequence[str] | None) -> list[Route]:
    if not patterns:
        return routes
    chosen = [route for route in routes if any(fnmatch.fnmatchcase(route.id, p) for p in patterns)]
    if not chosen:
        raise UsageError(f"no route matches {', '.join(patterns)}; known: {', '.join(r.id for r in routes)}")
    return chosen


def select_routes(patterns: Sequence[str] | None, converters: Sequence[Converter] | None = None) -> list[Route]:
    return filter_routes(all_routes(converters), patterns)


@dataclass
class RunResult:
    rows: list[dict[str, Any]]
    stale_known_failures: list[str]
    conversions: int
    workers_started: int
    seconds: float
    resumed_cells: int


@contextmanager
def open_engine(work_dir: Path, options: EngineOptions, progress: Callable[[str], None], *,
                trusted_rebuilds: Sequence[str] = ()) -> Iterator[Engine]:
    work_dir.mkdir(parents=True, exist_ok=True)
    with WorkerPool(work_dir / "logs", memory_limit_mb=options.memory_limit_mb,
                    trusted_rebuilds=trusted_rebuilds) as pool:
        yield Engine(work_dir, pool, options, progress=progress)


def read_journal(path: Path, header: dict[str, Any]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Finished cells of an interrupted run. A line is a cell only when it is whole: JSON ending in a
    newline. A torn last line (the run was killed mid-write) is dropped, and its cell runs again."""
    cells: dict[tuple[str, str], list[dict[str, Any]]] = {}
    if not path.exists():
        return cells
    lines = path.read_text().split("\n")[:-1]  # the text after the last newline was never finished
    try:
        first = json.loads(lines[0]) if lines else {}
    except json.JSONDecodeError:
        first = {}
    if first.get("header") != header:
        raise UsageError(f"{path} holds a run with other options ({first.get('header')}); "
                         "run without --resume, or with the options of that run")
    for line in lines[1:]:
        try:
            cell_rows = json.loads(line)
        except json.JSONDecodeError:
            continue
        if cell_rows:
            cells[(cell_rows[0]["model"], cell_rows[0]["route"])] = cell_rows
    return cells


def run_cells(engine: Engine, cells: Sequence[tuple[ModelSpec, Route]], *, resume: bool = False,
              progress: Progress | None = None,
              on_cell: Callable[[list[dict[str, Any]]], None] | None = None) -> RunResult:
    """Run each (model, route) cell. Each finished cell is one line of work_dir/rows.jsonl, so after an
    interruption `resume=True` redoes only the cells that had not finished."""
    progress = progress or Progress()
    started = time.perf_counter()
    journal_path = engine.run_dir / JOURNAL
    header = {"options": {k: str(v) for k, v in asdict(engine.options).items()},
              "cells": [f"{spec.name}:{route.id}" for spec, route in cells]}
    finished = read_journal(journal_path, header) if resume else {}
    # Written afresh with only the whole lines, so the next cell never lands on a torn fragment.
    write_atomic(journal_path, "".join(json.dumps(entry, default=str) + "\n"
                                       for entry in [{"header": header}, *finished.values()]))
    known_failures = load_known_failures(known_failures_path())
    rows: list[dict[str, Any]] = []
    progress.total = len(cells)
    with open(journal_path, "a") as journal:
        for spec, route in cells:
            cell_rows = finished.get((spec.name, route.id))
            if cell_rows is None:
                progress(f"{spec.name} {route.id}")
                cell_rows = engine.run_route(spec, route)
                apply_known_failures(cell_rows, known_failures)
                journal.write(json.dumps(cell_rows, default=str) + "\n")
                journal.flush()
                outcome = ", ".join(sorted({row["status"] for row in cell_rows}))
            else:
                outcome = "done in the interrupted run"
            rows += cell_rows
            progress.done += 1
            progress.note(f"[{progress.done}/{len(cells)}] {spec.name} {route.id}: {outcome}")
            if on_cell:
                on_cell(rows)
    stale = apply_known_failures(rows, known_failures)
    return RunResult(rows, stale, engine.conversions, engine.pool.started, time.perf_counter() - started,
                     len(finished))
