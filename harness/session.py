"""A zoo run: choose models and routes, run every (model, route) cell, apply known failures."""

from __future__ import annotations

import fnmatch
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.converters import Converter, default_converters
from harness.engine import Engine, EngineOptions
from harness.formats import SOURCE_FORMATS
from harness.known_failures import apply_known_failures, load_known_failures
from harness.pool import WorkerPool
from harness.routes import Route, enumerate_routes
from harness.spec import ModelSpec
from harness.stacks import project_root


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


def select_routes(patterns: Sequence[str] | None, converters: Sequence[Converter] | None = None) -> list[Route]:
    routes = all_routes(converters)
    if not patterns:
        return routes
    chosen = [route for route in routes if any(fnmatch.fnmatchcase(route.id, p) for p in patterns)]
    if not chosen:
        raise UsageError(f"no route matches {', '.join(patterns)}; known: {', '.join(r.id for r in routes)}")
    return chosen


@dataclass
class ZooRun:
    rows: list[dict[str, Any]]
    stale_known_failures: list[str]
    conversions: int
    workers_started: int
    seconds: float


def run_cells(cells: Sequence[tuple[ModelSpec, Route]], *, work_dir: Path, options: EngineOptions,
              progress: Callable[[str], None] = print) -> ZooRun:
    """Run each (model, route) cell; rows are also appended to work_dir/rows.jsonl as each cell ends."""
    started = time.perf_counter()
    work_dir.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    known_failures = load_known_failures(known_failures_path())
    with WorkerPool(work_dir / "logs") as pool, open(work_dir / "rows.jsonl", "a") as journal:
        engine = Engine(work_dir, pool, options, progress=progress)
        for number, (spec, route) in enumerate(cells, 1):
            progress(f"[{number}/{len(cells)}] {spec.name} {route.id} "
                     f"(elapsed {time.perf_counter() - started:.0f} s)")
            cell_rows = engine.run_route(spec, route)
            apply_known_failures(cell_rows, known_failures)
            for row in cell_rows:
                journal.write(json.dumps(row, default=str) + "\n")
            journal.flush()
            rows += cell_rows
            statuses = sorted({row["status"] for row in cell_rows})
            progress(f"    -> {', '.join(statuses)}")
        conversions, workers = engine.conversions, pool.started
    stale = apply_known_failures(rows, known_failures)
    return ZooRun(rows, stale, conversions, workers, time.perf_counter() - started)
