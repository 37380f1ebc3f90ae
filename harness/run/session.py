"""A run: choose models and routes, run every (model, route) cell, journal each cell as it ends."""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import pickle
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from queue import Empty
from typing import Any

from harness.atomic import write_atomic
from harness.converters.routes import Route
from harness.errors import UsageError
from harness.execution.pool import WorkerPool
from harness.execution.stacks import cache_root, project_root
from harness.run.engine import Engine, EngineOptions
from harness.run.known_failures import apply_known_failures, load_known_failures
from harness.run.progress import Progress
from harness.spec import ModelSpec

JOURNAL = "rows.jsonl"


# The records of the built-in converters' failures, shipped with the package (an installed harness has them too).
SHIPPED_KNOWN_FAILURES = Path(__file__).resolve().parents[1] / "known_failures.toml"


def known_failures_paths() -> list[Path]:
    """Where known-failure records come from: the shipped ones, then the project's own known_failures.toml (the
    current directory for an installed harness), then the files PARITY_KNOWN_FAILURES names (--known-failures)."""
    extra = [Path(text) for text in os.environ.get("PARITY_KNOWN_FAILURES", "").split(os.pathsep) if text]
    for path in extra:
        if not path.is_file():
            raise UsageError(f"--known-failures {path}: no such file")
    project = project_root() / "known_failures.toml"
    return list(dict.fromkeys([SHIPPED_KNOWN_FAILURES, *([project] if project.is_file() else []), *extra]))


def known_failure_records() -> list[Any]:
    """Every known-failure record, from every file of known_failures_paths(); an id appears once."""
    records: list[Any] = []
    for path in known_failures_paths():
        for record in load_known_failures(path):
            if any(record.id == seen.id for seen in records):
                raise UsageError(f"{path}: known failure {record.id!r} is already defined; give yours another id")
            records.append(record)
    return records


@dataclass
class RunResult:
    rows: list[dict[str, Any]]
    stale_known_failures: list[str]
    conversions: int
    workers_started: int
    seconds: float
    resumed_cells: int
    alongside: list[Any] = field(default_factory=list)  # each job's value, in the order the jobs were given


# The caller's own work beside the cells (the operator probes, the converters' declared tables): given an engine
# (its workers, cache and run folder) and a function printing lines that stay, it returns a picklable value.
Job = Callable[[Engine, Callable[[str], None]], Any]


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


Cells = list[tuple[int, ModelSpec, Route]]
# What a real architecture's cell costs against a hand-written twin's, for a cell never measured: measured in the
# published run, 31 to 45 s a cell for resnet18, efficientnet_b0 and keras_efficientnet_b0 against 4 to 11 s for
# the twins (mlp, text_cnn, gru_classifier, encoder_decoder).
REAL_ARCHITECTURE_COST = 5
CELL_COSTS = "cell_costs.json"  # in the per-user cache: each cell's seconds, the last time it did its work


def cell_costs_path() -> Path:
    return cache_root() / CELL_COSTS


def read_cell_costs(path: Path | None = None) -> dict[str, float]:
    """Seconds per "model:route", measured (a missing or unreadable table is an empty one: it only orders lanes)."""
    try:
        table = json.loads((path or cell_costs_path()).read_text())
        return {str(key): float(value) for key, value in table.items()}
    except (OSError, ValueError, TypeError, AttributeError):
        return {}


def measured_seconds(cell_rows: list[dict[str, Any]]) -> float | None:
    """What a cell's conversions and runs took, once per hop (a hop has a row per output); None for a cell that
    converted nothing (answered from the task cache, or failed at its source): no measure of its cold cost."""
    if not any(row.get("conversions") for row in cell_rows):
        return None
    per_hop = {row["hop_index"]: float(row.get("seconds") or 0.0) for row in cell_rows}
    return sum(per_hop.values())


def record_cell_costs(rows_by_cell: list[list[dict[str, Any]]], path: Path | None = None) -> None:
    """Keep the cells' measured seconds for the next run's lanes (written whole; a lost race loses a hint only)."""
    measured = {f"{rows[0]['model']}:{rows[0]['route']}": seconds for rows in rows_by_cell if rows
                for seconds in [measured_seconds(rows)] if seconds is not None}
    if not measured:
        return
    path = path or cell_costs_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps({**read_cell_costs(path), **measured}, sort_keys=True, indent=0))
    except OSError:
        pass


def model_groups(cells: Sequence[tuple[int, ModelSpec, Route]], lanes: int = 1,
                 costs: dict[str, float] | None = None) -> list[Cells]:
    """Cells grouped by model, the costliest group first, by each cell's measured seconds (`costs`, from the last
    run that did its work; a cell never measured costs the median of those measured, REAL_ARCHITECTURE_COST times
    more for a real architecture). A model's cells stay in one lane, so its twins are built once, unless its
    cells cost more than a lane's share of the run: they are then split into pieces of about that share (the
    twins built again in another lane cost less than a lane left idle, and so, with fewer models than lanes,
    each cell is a group of its own). Lanes take the next group when they finish one, so the run ends with a
    cheap group."""
    measured = costs or {}
    known = sorted(measured[f"{spec.name}:{route.id}"] for _, spec, route in cells
                   if f"{spec.name}:{route.id}" in measured)
    typical = known[len(known) // 2] if known else 1.0

    def cell_cost(cell: tuple[int, ModelSpec, Route]) -> float:
        _, spec, route = cell
        key = f"{spec.name}:{route.id}"
        if key in measured:
            return measured[key]
        return typical * (REAL_ARCHITECTURE_COST if "real_architecture" in spec.tags else 1)

    def cost(group: Cells) -> float:
        return sum(cell_cost(cell) for cell in group)

    by_model: dict[str, Cells] = {}
    for cell in cells:
        by_model.setdefault(cell[1].name, []).append(cell)
    groups = [sorted(group) for group in by_model.values()]
    if len(groups) < lanes:
        return sorted(([cell] for group in groups for cell in group), key=cost, reverse=True)
    if lanes > 1:
        share = sum(cost(group) for group in groups) / lanes
        groups = [piece for group in groups for piece in split_to_share(group, share, cell_cost)]
    return sorted(groups, key=cost, reverse=True)


def split_to_share(group: Cells, share: float,
                   cell_cost: Callable[[tuple[int, ModelSpec, Route]], float]) -> list[Cells]:
    """A group costing more than `share`, cut in order into pieces of about `share` each; else the group."""
    total = sum(cell_cost(cell) for cell in group)
    if total <= share or len(group) < 2:
        return [group]
    pieces = min(len(group), math.ceil(total / share))
    target = total / pieces
    result: list[Cells] = [[]]
    spent = 0.0
    for cell in group:
        if result[-1] and spent + cell_cost(cell) / 2 > target * len(result) and len(result) < pieces:
            result.append([])
        result[-1].append(cell)
        spent += cell_cost(cell)
    return result


def default_jobs(memory_per_lane_gb: float = 6.0) -> int:
    """One lane per core, bounded by memory: a lane's workers (torch, TensorFlow twice, onnxruntime) hold
    about 6 GB at their peak on the zoo."""
    try:
        memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        memory_gb = 8.0
    return max(1, min(os.cpu_count() or 1, int(memory_gb // memory_per_lane_gb)))


def run_cells(engine: Engine, cells: Sequence[tuple[ModelSpec, Route]], *, resume: bool = False,
              progress: Progress | None = None,
              on_cell: Callable[[list[dict[str, Any]]], None] | None = None, jobs: int = 1,
              alongside: Sequence[Job] = ()) -> RunResult:
    """Run each (model, route) cell, `jobs` lanes side by side (each lane its own worker processes). Each
    finished cell is one line of work_dir/rows.jsonl, so after an interruption `resume=True` redoes only the
    cells that had not finished. Rows come back in the order of `cells`, however the lanes finished.
    alongside: the caller's own jobs. In lanes, each is taken by the first free lane before any cell, so it
    uses that lane's workers and the lanes end on a cheap model, not on the longest job; in this process,
    they run after the cells. Their values are RunResult.alongside."""
    progress = progress or Progress()
    started = time.perf_counter()
    journal_path = engine.run_dir / JOURNAL
    header = {"options": {k: str(v) for k, v in asdict(engine.options).items()},
              "cells": [f"{spec.name}:{route.id}" for spec, route in cells]}
    finished = read_journal(journal_path, header) if resume else {}
    # Written afresh with only the whole lines, so the next cell never lands on a torn fragment.
    write_atomic(journal_path, "".join(json.dumps(entry, default=str) + "\n"
                                       for entry in [{"header": header}, *finished.values()]))
    known_failures = known_failure_records()
    engine.known_failures = known_failures
    done: dict[int, list[dict[str, Any]]] = {}
    progress.total = len(cells)
    todo = []
    for index, (spec, route) in enumerate(cells):
        if (spec.name, route.id) in finished:
            done[index] = finished[(spec.name, route.id)]
        else:
            todo.append((index, spec, route))
    with open(journal_path, "a") as journal:

        def record(index: int, spec: ModelSpec, route: Route, cell_rows: list[dict[str, Any]], outcome: str, *,
                   fresh: bool = True) -> None:
            # Only the parent records: lanes stream their cells back to it, so nothing here is shared.
            if fresh:
                journal.write(json.dumps(cell_rows, default=str) + "\n")
                journal.flush()
            done[index] = cell_rows
            progress.done += 1
            progress.note(f"[{progress.done}/{len(cells)}] {spec.name} {route.id}: {outcome}")
            if on_cell:
                on_cell([row for key in sorted(done) for row in done[key]])

        for index, (spec, route) in enumerate(cells):
            if index in done:
                record(index, spec, route, done[index], "done in the interrupted run", fresh=False)

        def run_lane(lane_engine: Engine, lane: list[tuple[int, ModelSpec, Route]]) -> None:
            for index, spec, route in lane:
                record(index, spec, route, *run_cell(lane_engine, spec, route, known_failures, progress))

        groups = model_groups(todo, jobs, read_cell_costs() if jobs > 1 else None)
        lanes = max(1, min(jobs, len(groups) + len(alongside)))
        lane_conversions = lane_workers = 0  # the lanes' own tallies; the parent's are its engine's
        values: dict[int, Any] = {}
        if lanes == 1:
            run_lane(engine, sorted(todo))
            values = {number: job(engine, progress.note) for number, job in enumerate(alongside)}
        else:
            for index, cell_rows, outcome in run_lanes_in_processes(engine, groups, lanes, known_failures, alongside):
                if index == LANE_STATUS:
                    progress(outcome)
                elif index == LANE_NOTE:
                    progress.note(outcome)
                elif index == LANE_TALLY:
                    lane_conversions += cell_rows[0]["conversions"]
                    lane_workers += cell_rows[0]["workers"]
                elif index == LANE_JOB:
                    values[cell_rows[0]["job"]] = cell_rows[0]
                else:
                    _, spec, route = next(cell for group in groups for cell in group if cell[0] == index)
                    record(index, spec, route, cell_rows, outcome)
            # A job's exception is raised once every lane is done, so no finished cell is lost to it.
            values = {number: lane_job_value(message) for number, message in values.items()}
    conversions, workers = engine.conversions + lane_conversions, engine.pool.started + lane_workers
    record_cell_costs([done[index] for index, _, _ in todo if index in done])
    rows = [row for key in sorted(done) for row in done[key]]
    stale = apply_known_failures(rows, known_failures)
    if engine.cache is not None:
        removed, freed = engine.cache.keep_to_budget()
        if removed:
            progress.note(f"[parity] task cache over its budget: removed the {removed} least recently used entries "
                          f"({freed / 2**20:.0f} MiB); PARITY_CACHE_BUDGET_MB sets the budget")
    return RunResult(rows, stale, conversions, workers, time.perf_counter() - started, len(finished),
                     [values[number] for number in range(len(alongside))])


def run_cell(engine: Engine, spec: ModelSpec, route: Route, known_failures: list[Any],
             say: Callable[[str], None]) -> tuple[list[dict[str, Any]], str]:
    """One cell's rows, known failures applied, and its outcome (its statuses) for the progress line."""
    say(f"{spec.name} {route.id}")
    cell_rows = engine.run_route(spec, route)
    apply_known_failures(cell_rows, known_failures)
    return cell_rows, ", ".join(sorted({row["status"] for row in cell_rows}))


LaneMessage = tuple[int, list[dict[str, Any]], str]  # (cell index, its rows, outcome), or one of:
LANE_TALLY = -1  # a lane's closing tally of conversions and workers
LANE_STATUS = -2  # a lane's transient news (the hop being converted), shown by the parent's progress line
LANE_NOTE = -3  # a line that stays (a probe stage done), printed by the parent
LANE_JOB = -4  # one of the caller's jobs done in a lane: its value, or the exception it raised


def lane_job_message(number: int, job: Job, engine: Engine, note: Callable[[str], None]) -> dict[str, Any]:
    """A job's value or exception, as a message the queue can carry: a queue drops what it cannot pickle (in
    its feeder thread), and the parent would wait for it forever."""
    try:
        message = {"job": number, "value": job(engine, note)}
    except Exception as exc:
        message = {"job": number, "raised": exc}
    try:
        pickle.dumps(message)
        return message
    except Exception as exc:
        what = message.get("raised") or exc
        return {"job": number, "raised": RuntimeError("".join(traceback.format_exception(what)))}


def lane_job_value(message: dict[str, Any]) -> Any:
    if "raised" in message:
        raise message["raised"]
    return message["value"]


def run_lanes_in_processes(engine: Engine, groups: list[Cells], lanes: int, known_failures: list[Any],
                           alongside: Sequence[Job] = ()) -> Iterator[LaneMessage]:
    """`lanes` processes side by side, each with its own worker processes, taking the next piece of work from
    a shared queue when done with one (the caller's jobs first, then one model's cells at a time); finished
    cells and jobs are streamed back.

    Processes, not threads: numpy's npz reader and hypothesis keep state that is not safe to share between
    threads (CPython 3.11's AST validator, which np.load's header parsing goes through, fails with
    "recursion depth mismatch" when two threads parse at once). Fork keeps the models and the user's
    registered sources without pickling them; a lane never touches the parent's worker processes.
    """
    context = multiprocessing.get_context("fork")
    queue: Any = context.Queue()
    work: Any = context.Queue()
    for number in range(len(alongside)):
        work.put(("job", number))
    for number in range(len(groups)):
        work.put(("cells", number))
    for _ in range(lanes):
        work.put(None)  # one stop sign per lane

    def lane_main(lane_number: int) -> None:
        lane_engine = engine.sibling(lane_number, lanes)
        # The parent owns the progress line (it alone knows how many cells are done).
        lane_engine.progress = lambda text: queue.put((LANE_STATUS, [], text))

        def note(text: str) -> None:
            queue.put((LANE_NOTE, [], text))

        try:
            for kind, number in iter(work.get, None):
                if kind == "job":
                    queue.put((LANE_JOB, [lane_job_message(number, alongside[number], lane_engine, note)], ""))
                    continue
                for index, spec, route in groups[number]:
                    queue.put((index, *run_cell(lane_engine, spec, route, known_failures, lane_engine.progress)))
            queue.put((LANE_TALLY, [{"conversions": lane_engine.conversions, "workers": lane_engine.pool.started}], ""))
        finally:
            lane_engine.pool.close()

    processes = [context.Process(target=lane_main, args=(number,), daemon=True) for number in range(1, lanes + 1)]
    for process in processes:
        process.start()
    expected = sum(len(group) for group in groups) + len(alongside) + lanes
    try:
        received = 0
        while received < expected:
            try:
                message = queue.get(timeout=5)
            except Empty:
                dead = [number for number, process in enumerate(processes, 1)
                        if not process.is_alive() and process.exitcode != 0]
                if dead:
                    raise RuntimeError(f"lane {dead[0]} of the parallel run died (exit code "
                                       f"{processes[dead[0] - 1].exitcode}); finished cells are kept, "
                                       "run again with --resume") from None
                continue
            if message[0] not in (LANE_STATUS, LANE_NOTE):
                received += 1
            yield message
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
