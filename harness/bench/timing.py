"""`parity bench`: the harness's time on a set of cells next to a bare script making the same converter calls
and the same runs, measured side by side in one run.

Per cell, the harness runs first (task cache off, derandomized examples) and records every input file it
ran; then the bare script (harness/bench/bare_script.py, one long-lived process per stack and framework, as a
user would write) loads the same source model, makes the same conversions and runs every artifact on those
same files. The cells alternate between the two sides, so a change in the machine's load hits both. The
harness's time is split by stage (exclusive seconds), so its extra verification work (twin builds, the
float64 truth, comparisons, the precision check, localization) can be told apart from overhead.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

import harness.run.engine as engine_stages
from harness.converters.onnx_from_torch import dynamic_axes_for
from harness.converters.routes import Route
from harness.errors import UsageError
from harness.execution.pool import WorkerPool, role_of, worker_environment
from harness.execution.stacks import get_stack, project_root
from harness.formats import ONNX, TORCH
from harness.run.engine import Engine, EngineOptions, ModelContext, io_for
from harness.run.progress import REPORT_INTERVAL, Silent, Throttled
from harness.run.session import run_cells
from harness.spec import ModelSpec

BARE_SCRIPT = Path(__file__).with_name("bare_script.py")
# How the bare script runs each artifact format: its run kind, and whether it runs in the torch process (ONNX
# under onnxruntime, as a user's torch-side script would) rather than in the converter's. A format missing here
# is never fed to another runtime: parity bench refuses the route.
BARE_RUNS = {"torch": ("torch", False), "keras": ("keras", False), "tf": ("tf", False), "onnx": ("onnx", True),
             "tflite": ("tflite", False)}
DEFAULT_ROUTES = ("torch>onnx>tf>onnx>torch", "keras>onnx>torch>onnx>tf")

# Harness stages (exclusive seconds: a stage nested in another is counted once, in the inner one).
STARTUP = "worker start-up (with framework imports)"
TWINS = "twin builds (both twins, twin agreement)"
CONVERSIONS = "conversions (with onnx checker, op inventory)"
SOURCE_RUNS = "source runs (float32)"
TRUTH = "float64 truth of the source (estimated)"
HOP_RUNS = "hop runs"
COMPARISONS = "comparisons"
SEARCH = "hypothesis search, example arrays, npz files"
PRECISION = "precision check (float64 rerun of mismatches)"
LOCALIZATION = "localization"
ROWS = "result rows (with stack versions)"
REPORTS = f"reports written while the run goes (at most every {REPORT_INTERVAL:.0f} s)"
OTHER = "other"
# The engine's declared stages (harness.run.engine.STAGES), by the label this report gives them.
STAGE_LABELS = {
    engine_stages.TWINS: TWINS, engine_stages.CONVERSIONS: CONVERSIONS, engine_stages.SEARCH: SEARCH,
    engine_stages.SOURCE_RUNS: SOURCE_RUNS, engine_stages.HOP_RUNS: HOP_RUNS,
    engine_stages.COMPARISONS: COMPARISONS, engine_stages.ROWS: ROWS, engine_stages.PRECISION: PRECISION,
    engine_stages.LOCALIZATION: LOCALIZATION,
}
VERIFICATION = (TWINS, TRUTH, COMPARISONS, PRECISION, LOCALIZATION)  # work the bare script does not do
RECORDING = "recording examples for the bare side"  # the bench's own work, taken out of the harness's time

# Bare stages.
BARE_STARTUP = "process start-up (with framework imports)"
BARE_SOURCE = "source model load"
BARE_CONVERSIONS = "conversions"
BARE_SOURCE_RUNS = "source runs"
BARE_HOP_RUNS = "hop runs"
BARE_OTHER = "pipes and controller"



def startup_modules(stack: str, framework: str, *, bare: bool, role: str = "make") -> list[str]:
    """What a process of this stack and framework imports first, on both sides alike, so start-up means
    the same on both (the harness would import them in its first tasks: its twin builds, say).
    The bare script runs onnxruntime in its torch process, the harness in a worker of its own. A harness worker
    that only runs artifacts imports its framework here; what its runs import (onnx2pytorch to rebuild a
    module, onnxruntime) counts in its runs, and a converter it never needs (onnx-tf) is not imported."""
    if role == "run":
        return [] if framework == "none" else ["torch"] if framework == "torch" else ["tensorflow", "keras"]
    if framework == "none":
        return ["onnxruntime"]
    if framework == "tf":
        return ["tensorflow", "onnx", "onnx_tf.backend"] if stack == "legacy" else ["tensorflow", "keras", "tf2onnx"]
    return ["torch", "onnx", "onnx2pytorch", "model_zoo", *(["onnxruntime"] if bare else [])]


class StageClock:
    """Exclusive seconds per stage: time spent in a nested stage is not counted again in its parent."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self._children: list[float] = []

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        self._children.append(0.0)
        try:
            yield
        finally:
            elapsed = time.perf_counter() - started
            self.seconds[name] += elapsed - self._children.pop()
            if self._children:
                self._children[-1] += elapsed

    def take(self) -> dict[str, float]:
        """The seconds so far, and start again (one cell's worth)."""
        seconds, self.seconds = dict(self.seconds), defaultdict(float)
        return seconds


class TimedPool(WorkerPool):
    """A worker pool that times each worker's start-up, its frameworks imported, before its first task."""

    def __init__(self, log_dir: Path, clock: StageClock, **kwargs: Any) -> None:
        super().__init__(log_dir, **kwargs)
        self.clock = clock

    def call(self, stack: str, framework: str, task: dict[str, Any], timeout: float, *,
             role: str | None = None) -> dict[str, Any]:
        role = role or role_of(task)
        worker = self.workers.get((stack, framework, role))
        if worker is None or not worker.alive():
            with self.clock.stage(STARTUP):
                modules = startup_modules(stack, framework, bare=False, role=role)
                super().call(stack, framework, {"task": "call", "function": "harness.bench.bare_script:warm",
                                                "kwargs": {"command": {"modules": modules}}, "framework": framework},
                             timeout, role=role)
        return super().call(stack, framework, task, timeout, role=role)


class TimedEngine(Engine):
    """The engine, unchanged, observed: each declared stage timed on the clock, every example's input file
    recorded for the bare side."""

    def __init__(self, run_dir: Path, pool: TimedPool, options: EngineOptions) -> None:
        super().__init__(run_dir, pool, options, progress=lambda line: None)
        self.clock = pool.clock
        self.recorded: list[Path] = []  # the current cell's example files, in the order they ran
        self.examples_dir = run_dir / "bench_examples"
        self.stage_observer = lambda stage: self.clock.stage(STAGE_LABELS[stage])
        self.example_observer = self.record

    def record(self, input_file: Path) -> None:
        with self.clock.stage(RECORDING):
            copy = self.examples_dir / f"{len(self.recorded):04d}.npz"
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(input_file, copy)
            self.recorded.append(copy)


class BareProcess:
    """One process of the bare script, in one stack, for one framework."""

    def __init__(self, stack: str, log: Path) -> None:
        log.parent.mkdir(parents=True, exist_ok=True)
        self._log: IO[bytes] = open(log, "ab")  # noqa: SIM115 - lives as long as the process
        self.process = subprocess.Popen([str(get_stack(stack).ensure(provision=False)), str(BARE_SCRIPT)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log,
                                        env=worker_environment(), cwd=project_root())

    def call(self, command: dict[str, Any]) -> dict[str, Any]:
        assert self.process.stdin and self.process.stdout
        try:
            self.process.stdin.write((json.dumps(command) + "\n").encode())
            self.process.stdin.flush()
            line = self.process.stdout.readline()
        except BrokenPipeError:
            line = b""
        if not line:
            return {"ok": False, "error": f"the bare process died (exit {self.process.wait()})", "seconds": 0.0,
                    "failed": 0}
        reply: dict[str, Any] = json.loads(line)
        return reply

    def alive(self) -> bool:
        return self.process.poll() is None

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()


@dataclass
class BareCell:
    seconds: float = 0.0
    stages: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    conversions: int = 0
    runs: int = 0  # artifact runs on one example, the source's included
    started: int = 0  # processes started for this cell
    failed: list[str] = field(default_factory=list)  # conversions that raised, as the harness would record them


class BareSide:
    """The bare script's processes, started on first use and kept for the whole bench, like the harness's workers."""

    def __init__(self, work_dir: Path) -> None:
        self.work_dir = work_dir
        self.processes: dict[tuple[str, str], BareProcess] = {}

    def process(self, stack: str, framework: str, cell: BareCell) -> BareProcess:
        key = (stack, framework)
        current = self.processes.get(key)
        if current is None or not current.alive():
            started = time.perf_counter()
            current = BareProcess(stack, self.work_dir / "logs" / f"bare-{stack}-{framework}.log")
            current.call({"op": "warm", "modules": startup_modules(stack, framework, bare=True)})
            cell.stages[BARE_STARTUP] += time.perf_counter() - started
            cell.started += 1
            self.processes[key] = current
        return current

    def call(self, stack: str, framework: str, command: dict[str, Any], cell: BareCell, stage: str) -> dict[str, Any]:
        reply = self.process(stack, framework, cell).call(command)
        cell.stages[stage] += reply["seconds"]
        return reply

    def warm(self, stacks: Sequence[tuple[str, str]]) -> None:
        """Import every framework once in each stack before anything is timed, then stop again."""
        for stack, framework in stacks:
            process = BareProcess(stack, self.work_dir / "logs" / f"warm-{stack}-{framework}.log")
            process.call({"op": "warm", "modules": startup_modules(stack, framework, bare=True)})
            process.close()

    def close(self) -> None:
        for process in self.processes.values():
            process.close()
        self.processes.clear()

    def run_cell(self, context: ModelContext, route: Route, export_example: Path, examples: list[Path]) -> BareCell:
        """Load the source model the harness built, convert hop by hop (a failing conversion ends the route,
        as in the harness), then run the source and every converted artifact on the recorded examples."""
        cell = BareCell()
        started = time.perf_counter()
        spec, source = context.spec, route.source
        folder = self.work_dir / spec.name / route.dirname
        folder.mkdir(parents=True, exist_ok=True)
        io = io_for(spec, source)
        artifact = context.artifacts.get(source.name)
        if artifact is None:  # the harness could not build this source either: nothing to convert
            return cell
        holder = f"{spec.name}:{route.id}:source"
        torch_side, keras_side = ("current", "torch"), ("current", "tf")
        if source is TORCH:
            self.call(*torch_side, {"op": "load_torch_source", "model": spec.name, "key": holder,
                                    "state_dict": str(artifact / "state_dict.pt")}, cell, BARE_SOURCE)
            # Runs go where the model lives: (process, run command without inputs)
            runs = [(torch_side, {"kind": "torch", "key": holder})]
        else:
            self.call(*keras_side, {"op": "load_keras_source", "key": holder, "path": str(artifact)}, cell, BARE_SOURCE)
            runs = [(keras_side, {"kind": "keras", "key": holder})]
        current: dict[str, str] = {"key": holder}  # the previous hop's result: in memory ("key") or a file ("path")
        for hop in route.hops:
            converter = hop.converter
            if converter.bare_call is None:
                raise UsageError(f"parity bench has no bare counterpart of {converter.name}: its record declares "
                                 "no bare_call")
            if converter.target.name not in BARE_RUNS:
                raise UsageError(f"parity bench cannot run a {converter.target.name} artifact ({converter.name})")
            target = folder / f"hop{hop.index}_{converter.target.name}"
            side = (converter.stack, converter.framework)
            # What the record's call is given: the previous model where it is held (in memory or a file), and
            # all a converter may need of the route; each call reads what it uses.
            command: dict[str, Any] = {
                "op": "convert", "call": converter.bare_call, **current, "example": str(export_example),
                "inputs": io["inputs"], "outputs": io["outputs"], "variant": converter.variant,
                "dynamic_axes": dynamic_axes_for(io), "holder": f"{spec.name}:{route.id}:{hop.index}",
                "target": str(target.with_suffix(".onnx") if converter.target is ONNX else target)}
            reply = self.call(*side, command, cell, BARE_CONVERSIONS)
            cell.conversions += 1
            if not reply["ok"]:
                cell.failed.append(f"hop {hop.index} {hop.name}: {reply['error']}")
                break
            # A torch module stays in memory, as in a user's script; any other artifact is its file.
            current = {"key": command["holder"]} if reply.get("held") else {"path": command["target"]}
            kind, runs_beside_torch = BARE_RUNS[converter.target.name]
            runs.append((torch_side if runs_beside_torch else side, {"kind": kind, **current}))
        for index, (side, run) in enumerate(runs):
            outputs = [str(folder / f"run{index}_{example.stem}.npz") for example in examples]
            self.call(*side, {"op": "run", **run, "inputs": [str(path) for path in examples], "outputs": outputs,
                              "input_names": [spec["name"] for spec in io["inputs"]]},
                      cell, BARE_SOURCE_RUNS if index == 0 else BARE_HOP_RUNS)
            cell.runs += len(examples)
        cell.seconds = time.perf_counter() - started
        cell.stages[BARE_OTHER] = cell.seconds - sum(cell.stages.values())
        return cell


@dataclass
class CellBench:
    model: str
    route: str
    harness_seconds: float
    bare_seconds: float
    harness_stages: dict[str, float]
    bare_stages: dict[str, float]
    harness_conversions: int
    bare_conversions: int
    examples: int  # input files the harness ran through the source (and the bare script after it)
    statuses: list[str]
    bare_failures: list[str]
    harness_started: int  # worker processes started during the cell
    bare_started: int

    @property
    def ratio(self) -> float:
        return self.harness_seconds / self.bare_seconds if self.bare_seconds else float("inf")


@dataclass
class BenchResult:
    cells: list[CellBench]
    zygotes_started: int = 0  # warm parents the harness's workers were forked from (0: every worker started afresh)

    def total(self, attribute: str) -> float:
        return float(sum(getattr(cell, attribute) for cell in self.cells))

    def stages(self, side: str) -> dict[str, float]:
        totals: dict[str, float] = defaultdict(float)
        for cell in self.cells:
            for name, seconds in getattr(cell, f"{side}_stages").items():
                totals[name] += seconds
        return dict(totals)

    @property
    def ratio(self) -> float:
        bare = self.total("bare_seconds")
        return self.total("harness_seconds") / bare if bare else float("inf")

    @property
    def verification_seconds(self) -> float:
        stages = self.stages("harness")
        return sum(stages.get(name, 0.0) for name in VERIFICATION)

    @property
    def ratio_without_verification(self) -> float:
        bare = self.total("bare_seconds")
        return (self.total("harness_seconds") - self.verification_seconds) / bare if bare else float("inf")


def source_runs_without_truth(engine: TimedEngine, context: ModelContext, route: Route, examples: list[Path]) -> float:
    """The source's runs of the search again, all in one task as the harness makes a round of them, without the
    truth: what they cost in float32 alone (untimed for both sides; it splits the harness's source runs)."""
    artifact = context.artifacts.get(route.source.name)
    if artifact is None or not examples:
        return 0.0
    started = time.perf_counter()
    engine.run_artifact("current", route.source.name, artifact, io_for(context.spec, route.source), examples,
                        engine.run_dir / "bench_calibration")
    return time.perf_counter() - started


def run_bench(cells: Sequence[tuple[ModelSpec, Route]], *, examples: int, work_dir: Path,
              progress: Callable[[str], None] = print) -> BenchResult:
    from harness.reporting.write import write_reports

    for folder in ("harness", "bare"):
        shutil.rmtree(work_dir / folder, ignore_errors=True)
        (work_dir / folder).mkdir(parents=True)
    clock = StageClock()
    options = EngineOptions(examples=examples, profile="ci", cache_dir=None, database_dir=None, localize=True)
    bare = BareSide(work_dir / "bare")
    sides = sorted({("current", "torch"), ("current", "tf")}
                   | {(hop.converter.stack, hop.converter.framework) for _, route in cells for hop in route.hops})
    progress(f"[bench] warming the disk cache: one import of each framework in {len(sides)} processes (untimed)")
    bare.warm(sides)
    results: list[CellBench] = []
    all_rows: list[dict[str, Any]] = []
    try:
        pool = TimedPool(work_dir / "harness" / "logs", clock, memory_limit_mb=options.memory_limit_mb)
        with pool:
            engine = TimedEngine(work_dir / "harness", pool, options)
            # As `parity zoo` does: reports while the run goes, at most every REPORT_INTERVAL seconds.
            write_partial_reports = Throttled(
                lambda rows: write_reports(rows, work_dir / "harness" / "reports", command="parity bench", stale=[]),
                REPORT_INTERVAL)
            for spec, route in cells:
                engine.recorded = []
                shutil.rmtree(engine.examples_dir, ignore_errors=True)
                conversions_before, started_before = engine.conversions, pool.started
                started = time.perf_counter()
                rows = run_cells(engine, [(spec, route)], progress=Silent()).rows
                all_rows += rows
                with clock.stage(REPORTS):
                    write_partial_reports(all_rows)
                harness_seconds = time.perf_counter() - started
                stages = clock.take()
                harness_seconds -= stages.pop(RECORDING, 0.0)
                context = engine.contexts[spec.name]
                recorded = list(engine.recorded)
                float32_only = source_runs_without_truth(engine, context, route, recorded)
                stages[TRUTH] = max(0.0, stages.get(SOURCE_RUNS, 0.0) - float32_only)
                stages[SOURCE_RUNS] = stages.get(SOURCE_RUNS, 0.0) - stages[TRUTH]
                clock.take()  # the calibration runs are no stage of the harness's run
                stages[OTHER] = harness_seconds - sum(stages.values())
                export_example = engine.run_dir / spec.name / route.dirname / "export_example.npz"
                bare_cell = bare.run_cell(context, route, export_example, recorded)
                cell = CellBench(spec.name, route.id, harness_seconds, bare_cell.seconds, stages,
                                 dict(bare_cell.stages), engine.conversions - conversions_before,
                                 bare_cell.conversions, len(recorded), sorted({row["status"] for row in rows}),
                                 bare_cell.failed, pool.started - started_before, bare_cell.started)
                results.append(cell)
                progress(f"[bench] {spec.name} {route.id}: harness {cell.harness_seconds:.1f} s, "
                         f"bare {cell.bare_seconds:.1f} s, ratio {cell.ratio:.2f}")
    finally:
        bare.close()
    result = BenchResult(results, pool.zygotes.started if pool.zygotes else 0)
    (work_dir / "bench.json").write_text(json.dumps([asdict(cell) for cell in results], indent=1))
    return result


def format_bench(result: BenchResult) -> str:
    lines = [f"{'cell':58s} {'harness s':>9s} {'bare s':>8s} {'ratio':>6s} {'conv h/b':>8s} {'examples':>8s}  statuses"]
    for cell in result.cells:
        lines.append(f"{cell.model + ' ' + cell.route:58s} {cell.harness_seconds:9.1f} {cell.bare_seconds:8.1f} "
                     f"{cell.ratio:6.2f} {cell.harness_conversions:>4d}/{cell.bare_conversions:<3d} "
                     f"{cell.examples:8d}  {', '.join(cell.statuses)}")
    harness, bare = result.total("harness_seconds"), result.total("bare_seconds")
    lines.append(f"{'total':58s} {harness:9.1f} {bare:8.1f} {result.ratio:6.2f} "
                 f"{int(result.total('harness_conversions')):>4d}/{int(result.total('bare_conversions')):<3d} "
                 f"{int(result.total('examples')):8d}")
    forked = (f", forked from {result.zygotes_started} zygotes that did the imports" if result.zygotes_started
              else ", each a new interpreter")
    lines.append(f"processes started: harness {int(result.total('harness_started'))} (a worker per stack, framework "
                 f"and role{forked}), bare {int(result.total('bare_started'))}")
    lines += ["", f"harness / bare: {result.ratio:.2f}",
              f"harness / bare without the harness's verification work ({result.verification_seconds:.1f} s: "
              f"{', '.join(VERIFICATION)}): {result.ratio_without_verification:.2f}", "",
              "where the time goes (seconds, all cells):"]
    for side, total in (("harness", harness), ("bare", bare)):
        lines.append(f"  {side}")
        for name, seconds in sorted(result.stages(side).items(), key=lambda item: -item[1]):
            mark = "  [verification]" if side == "harness" and name in VERIFICATION else ""
            lines.append(f"    {name:52s} {seconds:8.1f}  {100 * seconds / total if total else 0:5.1f}%{mark}")
    failures = [f"  {cell.model} {cell.route}: {failure}" for cell in result.cells for failure in cell.bare_failures]
    if failures:
        lines += ["", "conversions that raised in the bare script (the harness records these cells as failing too):",
                  *failures]
    return "\n".join(lines)
