"""Runs a model through its routes: build the twins, convert every hop once, then let hypothesis run
examples through the source and every hop's artifact, comparing each hop with the source (cumulative
drift) and with the previous hop (its own drift).

Everything that crosses a process is a file under the run directory:
  <run>/<model>/source/          the torch twin, the Keras twin, the torch weights as .npz
  <run>/<model>/<route>/hopN_<fmt>/   the hop's artifact and its task.json (replayable)
  <run>/<model>/<route>/cell.json     the manifest `parity replay` reads
  <run>/<model>/<route>/minimal_example.npz   hypothesis's shrunk failing example, when one failed
"""

from __future__ import annotations

import hashlib
import json
import shlex
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import assume

from harness import __version__, new_run_id
from harness.atomic import open_atomic, write_atomic
from harness.converters import tracked_packages
from harness.converters.routes import Hop, Route
from harness.execution.cache import TaskCache
from harness.execution.onnx_ops import written_opset
from harness.execution.pool import Step, WorkerPool, call_task
from harness.execution.stacks import get_stack, stack_versions
from harness.execution.worker import load_npz
from harness.formats import KERAS, TORCH, Format
from harness.oracle.compare import Comparison, compare, worst
from harness.oracle.sensitivity import Sensitivity
from harness.oracle.verdict import (
    LOCALIZABLE,
    OutputTrack,
    comparison_columns,
    distinct,
    failure_kind,
    settle_rounding,
    tolerance_for,
)
from harness.run.inputs import (
    at_export_dims,
    build_example,
    example_recipes,
    largest_recipe,
    seeded_recipes,
    spread_recipes,
)
from harness.run.known_failures import KnownFailure
from harness.run.search import Outcome, SearchResult, foreseen_draws, search
from harness.runners import runner_for
from harness.spec import ExampleRecipe, InputSpec, ModelSpec, OutputSpec, channels_last, to_layout
from harness.statuses import STATUS_ORDER


@dataclass
class EngineOptions:
    examples: int = 10  # hypothesis examples per cell
    profile: str = "dev"  # hypothesis settings profile: dev, ci, thorough
    nonfinite: bool = False  # also feed NaN, Inf and subnormal inputs
    twin_examples: int = 3
    seed: int = 0
    convert_timeout: float = 900.0
    run_timeout: float = 600.0
    database_dir: Path | None = None  # hypothesis's example database; None keeps no database
    localize: bool = False  # find the first divergent node of failing ONNX-consuming hops, write a repro
    memory_limit_mb: float | None = 8192.0  # a worker above this resident size is killed: "crash (out of memory)"
    cache_dir: Path | None = None  # the task cache (conversions, runs, twin builds); None: everything runs


@dataclass
class ModelContext:
    spec: ModelSpec
    folder: Path
    artifacts: dict[str, Path]
    source_errors: dict[str, Step]
    twin: list[Comparison | None]  # per output: torch twin vs Keras twin, in torch layout
    stochastic: str = ""  # why the source is not deterministic, when it is not


@dataclass
class RunResult:
    """One artifact run on a list of input files: its outputs, and its float64 truth when asked for."""

    step: Step
    outputs: list[list[np.ndarray]] = field(default_factory=list)
    truths: list[list[np.ndarray]] = field(default_factory=list)
    truth: str = ""  # how the truth was computed ("torch float64"), or "none: why"
    notes: list[str] = field(default_factory=list)  # interface findings: input casts, outputs by position


@dataclass
class HopState:
    hop: Hop
    artifact: Path
    runner_stack: str
    consumed: Path | None = None  # the artifact this hop converted
    status: str = "ok"  # ok, or the reason no example can run here: convert_error, crash, timeout, skipped
    error: str = ""
    onnx_ops: str = ""
    lost_dynamic_axes: str = ""
    replay: str = ""
    convert_seconds: float = 0.0
    cached: bool = False  # the conversion was answered from the task cache
    run_seconds: float = 0.0
    examples: int = 0
    run_errors: int = 0
    run_failures: list[str] = field(default_factory=list)  # "status: error" of every example that failed to run
    outputs: list[OutputTrack] = field(default_factory=list)
    interface: set[str] = field(default_factory=set)  # dtype casts and output matching the runner reported


@dataclass
class Cell:
    spec: ModelSpec
    route: Route
    folder: Path
    io: dict[str, Any]
    source_artifact: Path | None
    hops: list[HopState]
    search: SearchResult | None = None
    source_rejections: int = 0
    minimal_example: str = ""
    truth: str = ""  # how the source's float64 truth was computed, or "none: why"
    # Per output, how the source's outputs moved over the examples: a pass on outputs that do not says nothing.
    sensitivity: list[Sensitivity] = field(default_factory=list)
    topped_up: int = 0  # examples run after the search stopped, seeded over the whole recipe distribution
    # Runs made ahead in batches, one task per artifact and round (Engine.prefetch), each taken by the example's
    # one evaluation: (example key, hop index, 0 for the source) -> its run; example key -> its input file.
    prefetched: dict[tuple[str, int], RunResult] = field(default_factory=dict)
    batched: dict[str, Path] = field(default_factory=dict)
    batched_examples: int = 0  # examples run in a batch ahead of their evaluation
    unbatched_examples: int = 0  # examples evaluated with a task of their own (not foreseen, or asked again)


def io_for(spec: ModelSpec, source: Format) -> dict[str, Any]:
    """Input names, dtypes and shapes in the layout a route from `source` uses."""
    keras_side = source.family == KERAS.family
    inputs = []
    for input_spec in spec.inputs:
        shape = list(input_spec.shape)
        if keras_side and input_spec.layout:
            shape = [shape[input_spec.layout.index(axis)] for axis in channels_last(input_spec.layout)]
        inputs.append({"name": input_spec.name, "dtype": input_spec.dtype, "shape": shape})
    return {"inputs": inputs, "outputs": [output.name for output in spec.outputs]}


def source_layouts(spec: ModelSpec, source: Format, *, outputs: bool) -> list[tuple[str | None, str | None]]:
    """(torch layout, this source's layout) for each input or output."""
    layouts = [s.layout for s in (spec.outputs if outputs else spec.inputs)]
    if source.family != KERAS.family:
        return [(layout, layout) for layout in layouts]
    return [(layout, channels_last(layout) if layout else None) for layout in layouts]


def save_inputs(path: Path, spec: ModelSpec, source: Format, arrays: list[np.ndarray]) -> Path:
    """Write torch-layout arrays as `source`'s inputs (channels last for the Keras side)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    layouts = source_layouts(spec, source, outputs=False)
    with open_atomic(path) as handle:
        np.savez(handle, **{f"{i:02d}_{s.name}": to_layout(a, src, dst)
                            for i, (s, a, (src, dst)) in enumerate(zip(spec.inputs, arrays, layouts))})
    return path


# The stages of a cell, as run_route takes them (source and hop runs and comparisons repeat per example within
# the search). Only the engine knows their order; an observer (parity bench's clock) is told when each begins
# and ends, by name, through Engine.stage_observer.
TWINS, CONVERSIONS, SEARCH, SOURCE_RUNS, HOP_RUNS, COMPARISONS, ROWS, PRECISION, LOCALIZATION = STAGES = (
    "twins", "conversions", "search", "source_runs", "hop_runs", "comparisons", "rows", "precision",
    "localization")
StageObserver = Callable[[str], AbstractContextManager[None]]


class Engine:
    def __init__(self, run_dir: Path, pool: WorkerPool, options: EngineOptions | None = None,
                 progress: Callable[[str], None] = print) -> None:
        self.run_dir = run_dir
        self.pool = pool
        self.options = options or EngineOptions()
        self.progress = progress
        self.run_id = new_run_id()
        self.contexts: dict[str, ModelContext] = {}
        self.descriptions: dict[str, dict[str, Any]] = {}  # generated models: name -> description JSON
        self.conversions = 0
        self.cache = TaskCache(self.options.cache_dir) if self.options.cache_dir else None
        self.stage_observer: StageObserver | None = None  # told when each stage of a cell begins and ends
        self.example_observer: Callable[[Path], None] | None = None  # told of every input file a search runs
        # Known-failure records (run_cells sets them): a hop whose failure one of them explains is not localized.
        self.known_failures: list[KnownFailure] = []

    def stage(self, name: str) -> AbstractContextManager[None]:
        return self.stage_observer(name) if self.stage_observer is not None else nullcontext()

    def sibling(self, lane: int, lanes: int) -> Engine:
        """An engine for one of `lanes` lanes of cells run side by side (-j): its own worker processes within its
        share of the memory budget, the same run, options, cache and models (lanes hold disjoint models, so the
        twins are still built once)."""
        pool = self.pool.share(lanes, self.pool.log_dir / f"lane{lane}")
        other = Engine(self.run_dir, pool, self.options, progress=self.progress)
        other.run_id, other.contexts, other.descriptions = self.run_id, self.contexts, self.descriptions
        other.stage_observer, other.example_observer = self.stage_observer, self.example_observer
        other.known_failures = self.known_failures
        return other

    # -- tasks -------------------------------------------------------------------------------------
    def call(self, stack: str, framework: str, task: dict[str, Any], timeout: float) -> Step:
        return call_task(self.pool, stack, framework, task, timeout, self.cache)

    def run_task(self, stack: str, runner_format: str, artifact: Path, io: dict[str, Any], inputs: list[Path],
                 out_dir: Path, *, truth: bool) -> tuple[Step, list[Path], list[Path]]:
        """One worker task running an artifact on every input file (and its float64 twin, with `truth`): the
        step, and the files each example's outputs and truth are written to."""
        runner = runner_for(runner_format)
        out_dir.mkdir(parents=True, exist_ok=True)
        # Named by position, not by the input's name: one input may be run twice (the stochastic check).
        outputs = [out_dir / f"example_{index}.out.npz" for index in range(len(inputs))]
        truths = [out_dir / f"example_{index}.truth.npz" for index in range(len(inputs))] if truth else []
        task = {"task": "run", "runner": runner.reference, "artifact": str(artifact), "io": io,
                "inputs": [str(path) for path in inputs], "outputs": [str(path) for path in outputs],
                "truth_outputs": [str(path) for path in truths], "framework": runner.framework}
        return self.call(runner.stack or stack, runner.framework, task, self.options.run_timeout), outputs, truths

    def run_artifact(self, stack: str, runner_format: str, artifact: Path, io: dict[str, Any],
                     inputs: list[Path], out_dir: Path, *, truth: bool = False) -> RunResult:
        """Run one artifact on every input file; a failing example makes the whole step a run_error.
        With `truth`, the artifact's float64 twin runs on the same inputs too."""
        step, outputs, truths = self.run_task(stack, runner_format, artifact, io, inputs, out_dir, truth=truth)
        if step.status != "ok":
            return RunResult(step)
        failures = [error for error in step.result["errors"] if error]
        if failures:
            return RunResult(Step("run_error", failures[0] if len(inputs) == 1 else
                                  f"{len(failures)} of {len(inputs)} examples failed; first: {failures[0]}",
                                  seconds=step.seconds))
        result = RunResult(step, [load_npz(str(path)) for path in outputs], notes=step.result.get("notes", []))
        if truth:
            if step.result.get("truth"):
                result.truths = [load_npz(str(path)) for path in truths]
                result.truth = step.result["truth"]
            else:
                result.truth = f"none: {step.result.get('truth_error') or 'the runner has no float64 run'}"
        return result

    def run_examples(self, stack: str, runner_format: str, artifact: Path, io: dict[str, Any], inputs: list[Path],
                     out_dir: Path, *, truth: bool = False) -> list[RunResult] | None:
        """Run one artifact on every input file in one task, and give each example's run as a task of that one
        example gives it (run_artifact). None when the task itself failed (a crash, a timeout: the worker died
        with every example of the batch), so that each example runs again on its own and fails on its own."""
        step, outputs, truths = self.run_task(stack, runner_format, artifact, io, inputs, out_dir, truth=truth)
        if step.status != "ok" or "example_notes" not in step.result:
            return None
        share = step.seconds / max(1, len(inputs))
        results = []
        for index, error in enumerate(step.result["errors"]):
            if error:
                results.append(RunResult(Step("run_error", error, seconds=share)))
                continue
            result = RunResult(Step("ok", result=step.result, seconds=share, cached=step.cached),
                               [load_npz(str(outputs[index]))], notes=step.result["example_notes"][index])
            if truth:
                used = step.result["truths_used"][index]
                result.truth = used or f"none: {step.result['truth_errors'][index] or 'the runner has no float64 run'}"
                result.truths = [load_npz(str(truths[index]))] if used else []
            results.append(result)
        return results

    def call_function(self, stack: str, framework: str, function: str, *, pure: bool = False, **kwargs: Any) -> Any:
        """Run a project function inside a worker; its ModelInputError comes back as that exception. `pure`: a
        function of its stack alone, with no arguments (a converter's declared table): the task cache keeps it."""
        from harness.errors import ModelInputError

        task: dict[str, Any] = {"task": "call", "function": function, "kwargs": kwargs, "framework": framework}
        if pure:
            task["pure"] = True
        step = self.call(stack, framework, task, self.options.convert_timeout)
        if step.status == "ok":
            return step.result["value"]
        prefix = "ModelInputError: "
        if step.error.startswith(prefix):
            raise ModelInputError(step.error.removeprefix(prefix))
        raise RuntimeError(f"{function} failed in the {stack} stack: {step.error}")

    def register_source(self, spec: ModelSpec, source: Format, artifact: Path) -> None:
        """A model with no twin (a user's own): its one source artifact is given, not built."""
        self.contexts[spec.name] = ModelContext(spec, self.run_dir / spec.name, {source.name: artifact}, {},
                                                [None] * len(spec.outputs))

    def register_description(self, name: str, description: dict[str, Any]) -> None:
        """A generated model (harness.fuzz): its workers build it from this description JSON, not from the zoo."""
        self.descriptions[name] = description

    # -- sources -----------------------------------------------------------------------------------
    def prepare(self, spec: ModelSpec) -> ModelContext:
        """Build both twins once per model and check that they agree before any conversion. A model defined
        in one framework only builds that one: the other side is not applicable, so it is not an error."""
        if spec.name in self.contexts:
            return self.contexts[spec.name]
        folder = self.run_dir / spec.name
        source_dir = folder / "source"
        source_dir.mkdir(parents=True, exist_ok=True)
        # Without a twin to agree with, one example (run twice: the determinism check) is all the runs serve.
        recipes = seeded_recipes(spec, count=self.options.twin_examples if spec.has_twins else 1,
                                 seed=self.options.seed)
        context = ModelContext(spec, folder, {}, {}, [])
        references: dict[str, list[list[np.ndarray]]] = {}
        state = source_dir / "torch_state.npz"
        for source in (fmt for fmt in (TORCH, KERAS) if fmt.name in spec.source_formats):
            artifact = source_dir / source.filename
            task: dict[str, Any] = {"task": "build_source", "model": spec.name, "format": source.name,
                                    "target": str(artifact), "state": str(state)}
            if spec.name in self.descriptions:
                task["description"] = self.descriptions[spec.name]
            step = self.call("current", source.family, task, self.options.convert_timeout)
            if step.status == "ok":
                inputs = [save_inputs(source_dir / "twin_inputs" / source.name / f"example_{i}.npz", spec, source,
                                      build_example(spec, recipe)) for i, recipe in enumerate(recipes)]
                # The first example twice: a source whose outputs differ on the same input is stochastic.
                run = self.run_artifact("current", source.name, artifact, io_for(spec, source),
                                        [*inputs, inputs[0]], source_dir / f"outputs_{source.name}")
                step = run.step
                if step.status == "ok":
                    if stochastic(run.outputs[0], run.outputs[-1]):
                        context.stochastic = f"the {source.name} twin gave two outputs for one input"
                    context.artifacts[source.name] = artifact
                    references[source.name] = run.outputs[:-1]
            if step.status != "ok":
                context.source_errors[source.name] = step
                if source is TORCH and spec.has_twins:  # the Keras twin needs the torch weights
                    context.source_errors[KERAS.name] = Step("skipped", "the torch twin failed to build")
                    break
        context.twin = self.twin_agreement(context, references)
        self.contexts[spec.name] = context
        return context

    def twin_agreement(self, context: ModelContext,
                       references: dict[str, list[list[np.ndarray]]]) -> list[Comparison | None]:
        if TORCH.name not in references or KERAS.name not in references:
            return [None] * len(context.spec.outputs)
        layouts = source_layouts(context.spec, KERAS, outputs=True)
        agreement: list[Comparison | None] = []
        for index, output in enumerate(context.spec.outputs):
            torch_layout, keras_layout = layouts[index]
            comparisons = [
                compare(torch_out[index], to_layout(keras_out[index], keras_layout, torch_layout),
                        tolerance_for(context.spec, output.name, torch_out[index]))
                for torch_out, keras_out in zip(references[TORCH.name], references[KERAS.name])
            ]
            agreement.append(worst(comparisons)[1])
        return agreement

    # -- a cell: convert every hop once, then search examples ----------------------------------------
    def run_route(self, spec: ModelSpec, route: Route, *,
                  localize_statuses: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
        """The stages of a cell in order: convert every hop once, explore examples, judge, explain failures.
        localize_statuses: localize the failing hops of these statuses only (even with options.localize off)."""
        self.pool.plan(self.route_processes(spec, route))
        with self.stage(TWINS):
            context = self.prepare(spec)
        with self.stage(CONVERSIONS):
            cell = self.convert_route(context, route)
        if context.stochastic:
            for hop in cell.hops:
                if hop.status == "ok":
                    hop.status, hop.error = "skipped", f"not compared: {context.stochastic}"
        if any(hop.status == "ok" for hop in cell.hops):
            with self.stage(SEARCH):
                self.explore(cell)
        with self.stage(ROWS):
            rows = self.rows(context, cell)
        with self.stage(PRECISION):
            self.explain_precision(cell, rows)
        with self.stage(LOCALIZATION):
            if localize_statuses:  # only the rows of these statuses are localized (and get the localization columns)
                self.localize_failures(cell, [row for row in rows if row["status"] in localize_statuses])
            elif self.options.localize:
                self.localize_failures(cell, rows)
        return rows

    def explain_precision(self, cell: Cell, rows: list[dict[str, Any]]) -> None:
        """For a mismatching hop whose artifact has a float64 twin (ONNX, torch): run it in float64 on the
        input that failed. Equal to the source's truth means the conversion kept the function and the
        difference is float32 rounding (numerical stability). Otherwise it is compared with the float64 run of
        the artifact the hop converted: equal to that, this converter kept the function it was given and an
        earlier hop moved it; else this converter changed it."""
        for position, state in enumerate(cell.hops):
            hop_rows = [row for row in rows if row["hop_index"] == state.hop.index and row["status"] == "mismatch"]
            fmt = state.hop.converter.target.name
            if not hop_rows or state.status != "ok" or not runner_for(fmt).truth_kind or cell.source_artifact is None:
                continue
            failing = [track for track in state.outputs if track.failing_input is not None][:1]
            if not failing:
                continue
            failing_input = failing[0].failing_input
            assert failing_input is not None
            inputs = [failing_input]
            scratch = cell.folder / "scratch" / f"precision_hop{state.hop.index}"
            truths = failing[0].failing_truths  # the source's truth on this input, kept when it was judged
            if truths is None:
                source = self.run_artifact("current", cell.route.source.name, cell.source_artifact, cell.io,
                                           inputs, scratch / "source", truth=True)
                truths = source.truths[0] if source.truths else None
            candidate = self.run_artifact(state.runner_stack, fmt, state.artifact, cell.io, inputs,
                                          scratch / "candidate", truth=True)
            if not truths or not candidate.truths:
                continue
            before = cell.hops[position - 1] if position > 0 else None
            given: list[np.ndarray] = []  # the float64 outputs of the artifact this hop converted
            if before is not None and runner_for(before.hop.converter.target.name).truth_kind:
                converted = self.run_artifact(before.runner_stack, before.hop.converter.target.name,
                                              before.artifact, cell.io, inputs, scratch / "given", truth=True)
                given = converted.truths[0] if converted.truths else []
            for row in hop_rows:
                index = [output.name for output in cell.spec.outputs].index(row["output"])
                if index >= len(candidate.truths[0]) or index >= len(truths):
                    continue
                wide, truth = candidate.truths[0][index].astype(np.float64), truths[index]
                if wide.shape != truth.shape:
                    continue
                error = float(np.abs(wide - truth).max()) if truth.size else 0.0
                scale = max(1.0, float(np.abs(truth).max())) if truth.size else 1.0
                row["candidate_float64_err"] = error
                if error <= SAME_FUNCTION_RTOL * scale:
                    row["precision"] = ("float32 rounding only: in float64 the converted model matches the truth "
                                        f"({error:.2g}); the converter kept the function but rounds worse")
                    settle_rounding(row)
                    continue
                kept = (given[index].astype(np.float64) if index < len(given) and given[index].shape == wide.shape
                        else None)
                drift = float(np.abs(wide - kept).max()) if kept is not None and wide.size else None
                if drift is not None and before is not None and drift <= SAME_FUNCTION_RTOL * scale:
                    row["precision"] = (f"float32 rounding only: in float64 the converted model computes what the "
                                        f"artifact it converted computes ({drift:.2g}); the converter kept the "
                                        f"function but rounds worse. The float64 gap to the truth ({error:.3g}) was "
                                        f"there before this hop, in hop {before.hop.index} "
                                        f"({before.hop.name})'s artifact")
                    settle_rounding(row)
                else:
                    row["precision"] = (f"the function changed: in float64 the converted model is {error:.3g} "
                                        "from the truth" + (f" and {drift:.3g} from the artifact it converted"
                                                            if drift is not None else ""))

    def localization_input(self, cell: Cell, state: HopState, output: int | None) -> tuple[Path, str]:
        """The input to localize a hop's failure on: hypothesis's shrunk example when this hop failed on it,
        else the worst failing example of the hop, else the export example (a conversion error needs none)."""
        failing_hops = cell.search.failure if cell.search else ""
        if cell.minimal_example and f"hop {state.hop.index} " in failing_hops:
            return Path(cell.minimal_example), f"minimal example ({cell.search.minimal.describe()})" \
                if cell.search and cell.search.minimal else "minimal example"
        tracks = state.outputs if output is None else [state.outputs[output]]
        for track in tracks:
            if track.failing_input is not None:
                return track.failing_input, f"worst example ({track.failing_recipe})"
        return cell.folder / "export_example.npz", "export example"

    def localize_failures(self, cell: Cell, rows: list[dict[str, Any]]) -> None:
        """Name the first divergent node of each failing hop, on the input it failed on, and write a repro."""
        from harness.oracle.localize import localize, write_repro

        for state in cell.hops:
            hop_rows = [row for row in rows if row["hop_index"] == state.hop.index]
            failing = [index for index, row in enumerate(hop_rows) if row["status"] in LOCALIZABLE]
            if not failing:
                continue
            explained = self.explaining_records([hop_rows[index] for index in failing])
            if explained:
                # The record already names the cause (and its evidence); localizing it again costs a bisection.
                note = f"not localized: known failure {', '.join(explained)} explains it"
                for row in hop_rows:
                    row.update({"localization": note, "repro": "", "localized_on": "",
                                "first_divergent_node": row.get("first_divergent_node") or ""})
                continue
            converter = state.hop.converter
            example, localized_on = self.localization_input(cell, state, failing[0] if state.status == "ok" else None)
            found_text, repro = "", ""
            if converter.source.name != "onnx" or state.consumed is None:
                found_text, note = self.localize_exporter(cell, state, example)
            else:
                self.progress(f"  {cell.spec.name} {cell.route.id} hop {state.hop.index}: localizing")
                output = cell.spec.outputs[failing[0]]
                tolerance = cell.spec.tolerances.get(output.name)  # the override the hop was judged with
                try:
                    found = localize(self.pool, state.consumed, converter, example, state.artifact.parent / "localize",
                                     tolerance, convert_timeout=self.options.convert_timeout,
                                     run_timeout=self.options.run_timeout, cache=self.cache)
                except Exception as exc:  # a localizer failure is a note on the row, never the end of the run
                    note = f"not localized: the localizer failed ({type(exc).__name__}: {exc})"
                else:
                    note = found.summary() + (f"; {found.note}" if found.note else "")
                    if found.found:
                        found_text = (f"#{found.node_index} {found.op_type} {found.node_name!r} "
                                      f"({found.domain or 'ai.onnx'} opset {found.opset})")
                        try:
                            repro = str(write_repro(found, state.artifact.parent / "repro", converter))
                        except ValueError as exc:  # no standalone template for this converter
                            note += f"; no repro: {exc}"
            for row in hop_rows:
                row.update({"first_divergent_node": row.get("first_divergent_node") or found_text,
                            "localization": note, "repro": repro, "localized_on": localized_on})

    def explaining_records(self, failing_rows: list[dict[str, Any]]) -> list[str]:
        """The ids of the known-failure records that explain every failing row of a hop ([] when one is not)."""
        explained: list[str] = []
        for row in failing_rows:
            record = next((record for record in self.known_failures
                           if record.matches({**row, "raw_status": row["status"]})), None)
            if record is None:
                return []
            explained.append(record.id)
        return list(dict.fromkeys(explained))

    def localize_exporter(self, cell: Cell, state: HopState, example: Path) -> tuple[str, str]:
        """Hops that write ONNX: compare the source framework's intermediate values with onnxruntime's values
        of the same tensors in the exported graph (oracle.exporter_localize). (first divergent node, note)."""
        from harness.oracle.exporter_localize import localize_export

        if state.consumed is None:
            return "", f"not localized: the hop never ran ({state.status})"
        failing = [index for index, track in enumerate(state.outputs) if track.failing_input is not None]
        output = cell.spec.outputs[failing[0] if failing else 0]
        self.progress(f"  {cell.spec.name} {cell.route.id} hop {state.hop.index}: localizing the export")
        try:
            found = localize_export(self.pool, state.hop.converter, state.consumed, state.artifact, example,
                                    state.artifact.parent / "localize",
                                    cell.spec.tolerances.get(output.name),  # the override the hop was judged with
                                    timeout=self.options.convert_timeout, cache=self.cache)
        except Exception as exc:  # a localizer failure is a note on the row, never the end of the run
            return "", f"not localized: the localizer failed ({type(exc).__name__}: {exc})"
        return found.found_text(), found.summary()

    def route_processes(self, spec: ModelSpec, route: Route) -> list[tuple[str, str]]:
        """The (stack, framework) of every worker a cell may call, in the order it first calls them: twin builds
        and runs (unless built already), then each hop's conversion and its artifact's runs."""
        processes: list[tuple[str, str]] = []
        if spec.name not in self.contexts:
            for source in (fmt for fmt in (TORCH, KERAS) if fmt.name in spec.source_formats):
                runner = runner_for(source.name)
                processes += [("current", source.family),
                              (runner.stack or "current", runner.framework)]
        for hop in route.hops:
            runner = runner_for(hop.converter.target.name)
            processes += [(hop.converter.stack, hop.converter.framework),
                          (runner.stack or hop.converter.stack, runner.framework)]
        return processes

    def convert_route(self, context: ModelContext, route: Route) -> Cell:
        spec, source = context.spec, route.source
        # A zoo model is built in its source_formats; a user's model (parity check) was registered as an artifact.
        if source.name not in spec.source_formats and source.name not in context.artifacts:
            raise ValueError(f"route {route.id} starts from {source.name}, which model {spec.name!r} is not built in")
        io = io_for(spec, source)
        if any(hop.converter.static_shapes for hop in route.hops):
            # A converter that writes static shapes only: the route is judged at the export example's sizes.
            spec = at_export_dims(spec)
        route_dir = context.folder / route.dirname
        cell = Cell(spec, route, route_dir, io, context.artifacts.get(source.name), [])
        blocked, blocked_status = "", "skipped"
        if source.name in context.source_errors:
            # The model leaves the gate if its source cannot be built or run: every hop of the cell fails.
            blocked = f"the {source.name} source failed: {context.source_errors[source.name].error}"
            blocked_status = "source_error"
        artifact = cell.source_artifact
        export_example = save_inputs(route_dir / "export_example.npz", spec, source,
                                     build_example(spec, largest_recipe(spec, self.options.seed)))
        for hop in route.hops:
            converter = hop.converter
            hop_dir = route_dir / f"hop{hop.index}_{converter.target.name}"
            target = hop_dir / converter.target.filename
            runner = runner_for(converter.target.name)
            state = HopState(hop, target, runner.stack or converter.stack,
                             outputs=[OutputTrack() for _ in spec.outputs])
            cell.hops.append(state)
            if blocked:
                state.status, state.error = blocked_status, blocked
                continue
            assert artifact is not None
            state.consumed = artifact
            hop_dir.mkdir(parents=True, exist_ok=True)
            task = {"task": "convert", "converter": converter.reference, "source": str(artifact),
                    "target": str(target), "io": io, "example": str(export_example),
                    "framework": converter.framework}
            task_file = hop_dir / "task.json"
            write_atomic(task_file, json.dumps(task, indent=1))
            state.replay = (f"{shlex.quote(str(get_stack(converter.stack).python))} -m harness.execution.worker "
                            f"--replay {shlex.quote(str(task_file))}")
            self.progress(f"  {spec.name} {route.id} hop {hop.index} {hop.name} ({converter.name}, {converter.stack})")
            step = self.call(converter.stack, converter.framework, task, self.options.convert_timeout)
            self.conversions += 0 if step.cached else 1
            state.convert_seconds, state.cached = step.seconds, step.cached
            if step.status != "ok":
                state.status = {"error": "convert_error"}.get(step.status, step.status)
                state.error = step.error
                blocked, blocked_status = f"hop {hop.index} ({hop.name}) ended {state.status}", "skipped"
                continue
            state.onnx_ops = step.result.get("onnx_ops", "")
            state.lost_dynamic_axes = (held_dims(spec, converter.static_shapes) if converter.static_shapes
                                       else lost_dynamic_axes(io, step.result.get("graph_inputs")))
            artifact = target
        self.write_manifest(cell)
        return cell

    def write_manifest(self, cell: Cell) -> None:
        manifest = {
            "model": cell.spec.name, "family": cell.spec.family, "route": cell.route.id,
            "source_format": cell.route.source.name,
            "source_artifact": str(cell.source_artifact), "io": cell.io,
            "dim_bounds": {name: list(bounds) for spec in cell.spec.inputs for name, bounds in spec.dim_bounds.items()},
            "hops": [{"index": s.hop.index, "hop": s.hop.name, "format": s.hop.converter.target.name,
                      "artifact": str(s.artifact), "stack": s.runner_stack, "status": s.status}
                     for s in cell.hops],
        }
        cell.folder.mkdir(parents=True, exist_ok=True)
        write_atomic(cell.folder / "cell.json", json.dumps(manifest, indent=1))

    def explore(self, cell: Cell) -> None:
        options = self.options
        strategy = example_recipes(cell.spec, nonfinite=options.nonfinite)

        def evaluate(recipe: ExampleRecipe) -> Outcome:
            outcome = self.evaluate(cell, build_example(cell.spec, recipe), recipe.describe())
            assume(outcome is not None)  # the source itself could not run this input: not a parity question
            assert outcome is not None
            return outcome

        export_recipe = largest_recipe(cell.spec, options.seed)
        cell_id = f"{cell.spec.name}:{cell.route.id}:{options.nonfinite}"
        # Every route from this source meets the same examples (derandomized): the matrix compares its routes
        # on the same inputs, and the source's runs and truths are made once, for the first (the task cache).
        draws_key = f"{cell.spec.name}:{cell.route.source.name}:{options.nonfinite}"
        # The first round: the export and regression examples and what the search will draw until a failure (or
        # its targeting) steers it, run in one task per artifact; the search then judges them one by one.
        foreseen = foreseen_draws(cell_id=cell_id, strategy=strategy, max_examples=options.examples,
                                  profile=options.profile, draws_key=draws_key)
        self.prefetch(cell, [export_recipe, *cell.spec.regression_examples, *foreseen], "round1")
        for recipe in (export_recipe, *cell.spec.regression_examples):
            self.evaluate(cell, build_example(cell.spec, recipe), recipe.describe())
        cell.search = search(cell_id=cell_id, strategy=strategy,
                             evaluate=evaluate, max_examples=options.examples, profile=options.profile,
                             database_dir=options.database_dir, draws_key=draws_key)
        if cell.search.minimal is not None:
            path = save_inputs(cell.folder / "minimal_example.npz", cell.spec, cell.route.source,
                               build_example(cell.spec, cell.search.minimal))
            write_atomic(cell.folder / "minimal_example.txt", cell.search.minimal.describe() + "\n")
            cell.minimal_example = str(path)
        self.top_up(cell)

    def top_up(self, cell: Cell) -> None:
        """Hypothesis stops at the first failing example, so the hops before a failing hop may have run only
        a few; every hop that still runs gets the full example budget from seeded examples drawn over the whole
        recipe distribution (every value kind, every scale), not standard values alone."""
        wanted = self.options.examples + 1 + len(cell.spec.regression_examples)  # and the export example
        running = [state for state in cell.hops if state.status == "ok"]
        if not running or min(state.examples for state in running) >= wanted or cell.source_rejections >= wanted:
            return
        missing = wanted - min(state.examples for state in running)
        recipes = spread_recipes(cell.spec, count=missing, seed=self.options.seed + 7919,
                                 nonfinite=self.options.nonfinite)
        self.prefetch(cell, recipes, "top_up")
        for recipe in recipes:
            self.evaluate(cell, build_example(cell.spec, recipe), recipe.describe())
            cell.topped_up += 1

    def prefetch(self, cell: Cell, recipes: list[ExampleRecipe], round_name: str) -> None:
        """Run a round of examples through the source (with its truth) and every hop, one task per artifact,
        for evaluate() to take one by one in the order it asks for them. Only runs are made here: each example
        is judged when evaluated, so an example foreseen but never asked for counts for nothing."""
        assert cell.source_artifact is not None
        scratch = cell.folder / "scratch" / round_name
        keys: list[str] = []
        files: list[Path] = []
        for recipe in recipes:
            arrays = build_example(cell.spec, recipe)
            key = example_key(arrays)
            if key in keys or key in cell.batched:
                continue
            keys.append(key)
            files.append(save_inputs(scratch / f"example_{len(files)}.npz", cell.spec, cell.route.source, arrays))
        if not files:
            return
        with self.stage(SOURCE_RUNS):
            sources = self.run_examples("current", cell.route.source.name, cell.source_artifact, cell.io, files,
                                        scratch / "source", truth=True)
        if sources is None:
            return
        for key, path, source in zip(keys, files, sources):
            cell.batched[key] = path
            cell.prefetched[(key, 0)] = source
        accepted = [(key, path) for key, path, source in zip(keys, files, sources) if source.step.status == "ok"]
        for state in cell.hops:
            if state.status != "ok" or not accepted:
                break
            with self.stage(HOP_RUNS):
                runs = self.run_examples(state.runner_stack, state.hop.converter.target.name, state.artifact,
                                         cell.io, [path for _, path in accepted], scratch / f"hop{state.hop.index}")
            for (key, _), run in zip(accepted, runs or []):
                cell.prefetched[(key, state.hop.index)] = run

    def evaluate(self, cell: Cell, arrays: list[np.ndarray], label: str) -> Outcome | None:
        """Run one example (torch layout) through the source and every converted hop (or take its runs from the
        batch that made them ahead)."""
        key = example_key(arrays)
        if (key, 0) in cell.prefetched:
            cell.batched_examples += 1
            return self.evaluate_file(cell, cell.batched[key], label, key)
        cell.unbatched_examples += 1
        path = save_inputs(cell.folder / "scratch" / "example.npz", cell.spec, cell.route.source, arrays)
        return self.evaluate_file(cell, path, label)

    def evaluate_file(self, cell: Cell, input_file: Path, label: str, key: str | None = None) -> Outcome | None:
        """Run one input file (the route's layout) through the source, its float64 truth and every converted
        hop; None if the source model itself fails on it. `key`: the example's runs made ahead (prefetch) are
        taken, each once (an example asked for again, as hypothesis does to see a failure is not flaky, runs
        again)."""
        scratch = cell.folder / "scratch"
        inputs = [input_file]
        assert cell.source_artifact is not None
        if self.example_observer is not None:
            self.example_observer(input_file)
        source = cell.prefetched.pop((key, 0), None) if key is not None else None
        if source is None:
            with self.stage(SOURCE_RUNS):
                source = self.run_artifact("current", cell.route.source.name, cell.source_artifact, cell.io, inputs,
                                           scratch / "source", truth=True)
        if source.step.status != "ok":
            cell.source_rejections += 1
            return None
        if not cell.truth or (cell.truth.startswith("none") and source.truth):
            cell.truth = source.truth
        reference = source.outputs[0]
        truth = source.truths[0] if source.truths else None
        for index, output in enumerate(reference[:len(cell.spec.outputs)]):
            if index == len(cell.sensitivity):
                cell.sensitivity.append(Sensitivity())
            cell.sensitivity[index].add(output)
        outcome = Outcome()
        previous: list[np.ndarray] | None = reference
        for state in cell.hops:
            if state.status != "ok":
                break
            run = cell.prefetched.pop((key, state.hop.index), None) if key is not None else None
            if run is None:
                with self.stage(HOP_RUNS):
                    run = self.run_artifact(state.runner_stack, state.hop.converter.target.name, state.artifact,
                                            cell.io, inputs, scratch / f"hop{state.hop.index}")
            state.examples += 1
            state.run_seconds += run.step.seconds
            if run.step.status != "ok":
                state.run_errors += 1
                state.run_failures.append(f"{run.step.status}: {run.step.error}")
                outcome.failures.append(f"hop {state.hop.index} {state.hop.name}: {run.step.status}")
                previous = None
                continue
            state.interface.update(run.notes)
            with self.stage(COMPARISONS):
                self.judge(cell, state, reference, truth, previous, run.outputs[0], label, input_file, outcome)
            previous = run.outputs[0]
        return outcome

    def judge(self, cell: Cell, state: HopState, reference: list[np.ndarray], truth: list[np.ndarray] | None,
              previous: list[np.ndarray] | None, produced: list[np.ndarray], label: str, input_file: Path,
              outcome: Outcome) -> None:
        expected = len(cell.spec.outputs)
        if len(produced) > expected:
            state.interface.add(f"the artifact gives {len(produced)} outputs, the model {expected}")
        for index, output in enumerate(cell.spec.outputs):
            track = state.outputs[index]
            comparison = track.judge(
                output, tolerance_for(cell.spec, output.name, reference[index]), reference[index],
                truth[index] if truth is not None and index < len(truth) else None,
                previous[index] if previous is not None and index < len(previous) else None,
                produced[index] if index < len(produced) else None, len(produced), label, input_file,
                state.artifact.parent)
            if track.cumulative is comparison and not comparison.passed:  # the example it keeps for explaining
                track.failing_truths = truth
            # Steered by how much of its allowance the output used, not by a relative error that ignores it.
            outcome.scores[f"hop{state.hop.index}:{output.name}"] = comparison.allowance_used
            if not comparison.passed:
                outcome.failures.append(f"hop {state.hop.index} {state.hop.name} {output.name}: {comparison.error}")

    def replay(self, cell_dir: Path, input_file: Path) -> list[dict[str, Any]]:
        """Re-run one saved example through a cell's saved artifacts, without converting anything."""
        from harness.converters import default_converters
        from harness.converters.routes import enumerate_routes, opsets_in
        from harness.formats import FORMATS
        from harness.run.selection import select_models

        manifest = json.loads((cell_dir / "cell.json").read_text())
        if manifest.get("family") == "user":  # parity check's model: its inputs and outputs are the cell's io
            io = manifest["io"]
            spec = ModelSpec(name=manifest["model"], family="user", build_torch=_replayed_only,
                             build_keras=_replayed_only, transfer_weights=_replayed_only,
                             inputs=tuple(InputSpec(entry["name"], tuple(entry["shape"]), dtype=entry["dtype"],
                                                    dim_bounds={name: tuple(bounds) for name, bounds
                                                                in manifest.get("dim_bounds", {}).items()
                                                                if name in entry["shape"]})
                                          for entry in io["inputs"]),
                             outputs=tuple(OutputSpec(name) for name in io["outputs"]))
        else:
            (spec,) = select_models([manifest["model"]])
        # A route at chosen opsets exists only among the exporters built at those opsets; from any source format.
        converters = default_converters(opsets=opsets_in(manifest["route"]))
        (route,) = [route for source in FORMATS.values() for route in enumerate_routes(converters, source)
                    if route.id == manifest["route"]]
        hops = [HopState(hop, Path(saved["artifact"]), saved["stack"], status=saved["status"],
                         outputs=[OutputTrack() for _ in spec.outputs])
                for hop, saved in zip(route.hops, manifest["hops"])]
        cell = Cell(spec, route, cell_dir, manifest["io"], Path(manifest["source_artifact"]), hops)
        if self.evaluate_file(cell, input_file, str(input_file)) is None:
            raise RuntimeError(f"the source model failed on {input_file}; see the worker logs in {self.run_dir}")
        return self.rows(None, cell)

    # -- rows --------------------------------------------------------------------------------------
    def rows(self, context: ModelContext | None, cell: Cell) -> list[dict[str, Any]]:
        rows = []
        opset: int | None = None
        for state in cell.hops:
            converter = state.hop.converter
            versions = stack_versions(converter.stack, tracked_packages())
            # The opset of the ONNX graph this hop wrote or read: chosen, or seen in what an exporter at its
            # own default wrote.
            opset = cell.route.opset_at(state.hop.index) or written_opset(state.onnx_ops) or opset
            base = {
                "run_id": self.run_id, "model": cell.spec.name, "family": cell.spec.family,
                "source": cell.route.source.name, "route": cell.route.id, "hop_index": state.hop.index,
                "hop": state.hop.name, "converter": converter.name, "opset": opset,
                "converter_version": versions.get(converter.package, "?"), "stack": converter.stack,
                "conversions": 0 if state.status == "skipped" or state.cached else 1, "cached": state.cached,
                "examples": state.examples,
                "examples_drawn": (f"{state.examples - cell.topped_up} by the search (hypothesis), "
                                   f"{cell.topped_up} seeded over every value kind after it stopped at a failure"
                                   if cell.topped_up else "by the search (hypothesis)"),
                "source_rejections": cell.source_rejections, "onnx_ops": state.onnx_ops,
                "lost_dynamic_axes": state.lost_dynamic_axes,
                "seconds": round(state.convert_seconds + state.run_seconds, 3), "artifact": str(state.artifact),
                "replay": state.replay, "minimal_example": cell.minimal_example,
                "replay_example": f"parity replay {shlex.quote(str(cell.folder))}" if cell.minimal_example else "",
                "harness_version": __version__, "versions": json.dumps(versions, sort_keys=True),
                "weights": TRAINED_LOOK_NOTE if TRAINED_LOOK in cell.spec.tags else "",
            }
            for index, output in enumerate(cell.spec.outputs):
                row = {**base, "output": output.name, **self.twin_columns(context, index),
                       **sensitivity_columns(cell, index)}
                row.update(self.verdict(cell, state, index))
                rows.append(row)
        return rows

    def verdict(self, cell: Cell, state: HopState, index: int) -> dict[str, Any]:
        track = state.outputs[index]
        if state.status != "ok":
            return {"status": state.status, "error": state.error}
        if track.cumulative is None and not state.run_errors:
            # A cell no example could be judged in has left the gate: that is a failure, not a skip.
            if cell.search is not None and cell.search.unsatisfiable:
                return {"status": "source_error", "error": cell.search.unsatisfiable}
            reason = ("the source model failed on every example" if cell.source_rejections else "no example ran")
            return {"status": "source_error", "error": reason}
        columns: dict[str, Any] = {}
        # Every distinct failure of the hop is kept: the worst status wins and the row lists them all, so a
        # run error on some examples cannot hide a wrong answer on the others (nor a known failure cover both).
        failures: list[tuple[str, str]] = []
        if track.cumulative is not None:
            columns = comparison_columns(track, cell.truth or "none: no example ran")
            failures += [("mismatch", text) for text in track.failures()]
        if track.own is not None:
            columns.update({"hop_max_abs_err": track.own.max_abs_err,
                            "hop_status": "pass" if track.own.passed else "mismatch"})
        if state.interface:
            columns["interface"] = "; ".join(sorted(state.interface))
        if state.run_errors:
            kinds = [failure_kind(text) for text in state.run_failures]
            for text in distinct(state.run_failures):
                status, _, error = text.partition(": ")
                count = kinds.count(failure_kind(text))
                failures.append((status, error if state.examples == 1 else
                                 f"{count} of {state.examples} examples failed to run: {error}"))
        if failures:
            columns.update({"status": min((status for status, _ in failures), key=STATUS_ORDER.index),
                            "error": "; ".join(text for _, text in failures),
                            "failures": json.dumps([list(failure) for failure in failures])})
        if cell.search is not None and cell.search.unsatisfiable:
            # Judged on the export (and regression) examples alone: the search never ran, which fails the cell.
            judged = len(track.seen)
            columns.update({"status": "source_error", "error": "; ".join(filter(None, [
                f"{cell.search.unsatisfiable}: only {judged} example{'s' if judged != 1 else ''} judged "
                "(the export and regression examples)", columns.get("error")]))})
        if cell.search is not None and cell.search.flaky:
            columns["error"] = (columns.get("error") or "") + f" [{cell.search.flaky}]"
        return columns

    def twin_columns(self, context: ModelContext | None, index: int) -> dict[str, Any]:
        twin = context.twin[index] if context and context.twin else None
        return {"twin_max_abs_err": twin.max_abs_err if twin else None,
                "twin_status": ("pass" if twin.passed else "mismatch") if twin else "unavailable"}


# Two float64 evaluations of the same function differ by float64 rounding only (about 1e-16 relative per
# operation); a changed function differs by far more than this.
SAME_FUNCTION_RTOL = 1e-9


TRAINED_LOOK = "trained_look"  # a user model's tag: its factory's weights were re-initialised (--trained-look)
TRAINED_LOOK_NOTE = ("re-initialised to look trained (--trained-look: model_zoo.trained_look, norm statistics "
                     "randomised and no two weight tensors alike, seed 0)")


def sensitivity_columns(cell: Cell, index: int) -> dict[str, Any]:
    """input_dependence and vacuous of one output: measured on the source's outputs of the cell's examples."""
    if index >= len(cell.sensitivity) or not cell.sensitivity[index].examples:
        return {"input_dependence": None, "vacuous": ""}
    sensitivity = cell.sensitivity[index]
    tolerance = tolerance_for(cell.spec, cell.spec.outputs[index].name, np.empty(0, sensitivity.dtype))
    return {"input_dependence": sensitivity.input_dependence, "vacuous": sensitivity.vacuous(tolerance)}


def example_key(arrays: list[np.ndarray]) -> str:
    """An example's identity: its arrays' dtypes, shapes and bytes."""
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def _replayed_only(*args: Any) -> Any:
    raise RuntimeError("a user's model is replayed from its saved artifacts; it has no builder")


def stochastic(first: list[np.ndarray], again: list[np.ndarray]) -> bool:
    """Two runs of a source on one input that differ (NaN equal to NaN) make it stochastic."""
    return len(first) != len(again) or any(not np.array_equal(a, b, equal_nan=True) for a, b in zip(first, again))


def held_dims(spec: ModelSpec, why: str) -> str:
    """What a static-shape converter's row says: the symbolic dims its artifact holds fixed, and upstream's word."""
    held = [f"{input_spec.name}[{axis}] {dim} fixed to {input_spec.dim_bounds[dim][1]}"
            for input_spec in spec.inputs for axis, dim in input_spec.symbolic_axes.items()]
    return f"{'; '.join(held)} ({why})" if held else ""


def lost_dynamic_axes(io: dict[str, Any], graph_inputs: list[list[int | str | None]] | None) -> str:
    """Dims the spec declares symbolic but an ONNX artifact's graph inputs fix to a number."""
    if not graph_inputs:
        return ""
    lost = []
    for spec, dims in zip(io["inputs"], graph_inputs):
        for axis, (declared, found) in enumerate(zip(spec["shape"], dims)):
            if isinstance(declared, str) and isinstance(found, int):
                lost.append(f"{spec['name']}[{axis}] {declared} fixed to {found}")
    return "; ".join(lost)

