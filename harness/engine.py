"""Runs a model through its routes: build the twins, convert hop by hop in workers, compare every hop.

Everything that crosses a process is a file under the run directory:
  <run>/<model>/source/        the torch twin, the Keras twin, the torch weights as .npz
  <run>/<model>/inputs/<fmt>/  input examples in each source's layout
  <run>/<model>/<route>/hopN_<fmt>/  the hop's artifact, task.json (replayable), outputs/
"""

from __future__ import annotations

import datetime as dt
import json
import shlex
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness import __version__
from harness.compare import Comparison, compare, default_tolerance, worst
from harness.formats import KERAS, TORCH, Format
from harness.inputs import seeded_examples
from harness.pool import WorkerFailure, WorkerPool
from harness.routes import Route
from harness.runners import runner_for
from harness.spec import ModelSpec, Tolerance, channels_last, to_layout
from harness.stacks import get_stack, stack_versions
from harness.worker import load_npz

PASSING = ("pass", "xfail", "xpass")


@dataclass
class EngineOptions:
    examples: int = 3
    seed: int = 0
    convert_timeout: float = 900.0
    run_timeout: float = 600.0


@dataclass
class Step:
    """What one task in a worker gave back: a status other than "ok" carries an error line."""

    status: str
    error: str = ""
    result: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class ModelContext:
    spec: ModelSpec
    folder: Path
    seeds: list[int]
    inputs: dict[str, list[Path]]  # per source format name: one .npz per example
    references: dict[str, list[list[np.ndarray]]]  # per source format: outputs per example
    artifacts: dict[str, Path]
    source_errors: dict[str, Step]
    twin: list[Comparison | None]  # per output: torch twin vs Keras twin, in torch layout


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


class Engine:
    def __init__(self, run_dir: Path, pool: WorkerPool, options: EngineOptions | None = None,
                 progress: Callable[[str], None] = print) -> None:
        self.run_dir = run_dir
        self.pool = pool
        self.options = options or EngineOptions()
        self.progress = progress
        self.run_id = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:6]
        self.contexts: dict[str, ModelContext] = {}
        self.conversions = 0

    # -- tasks -------------------------------------------------------------------------------------
    def call(self, stack: str, framework: str, task: dict[str, Any], timeout: float) -> Step:
        started = time.perf_counter()
        try:
            reply = self.pool.call(stack, framework, task, timeout)
        except WorkerFailure as failure:
            return Step(failure.status, str(failure), seconds=time.perf_counter() - started)
        seconds = time.perf_counter() - started
        if not reply["ok"]:
            return Step("error", reply["error"], seconds=seconds)
        return Step("ok", result=reply["result"], seconds=seconds)

    def run_artifact(self, stack: str, runner_format: str, artifact: Path, io: dict[str, Any],
                     inputs: list[Path], out_dir: Path) -> tuple[Step, list[list[np.ndarray]]]:
        runner = runner_for(runner_format)
        out_dir.mkdir(parents=True, exist_ok=True)
        outputs = [out_dir / f"example_{index}.npz" for index in range(len(inputs))]
        task = {"task": "run", "runner": runner.reference, "artifact": str(artifact), "io": io,
                "inputs": [str(path) for path in inputs], "outputs": [str(path) for path in outputs],
                "framework": runner.framework}
        step = self.call(runner.stack or stack, runner.framework, task, self.options.run_timeout)
        if step.status != "ok":
            return step, []
        failures = [error for error in step.result["errors"] if error]
        if failures:
            return Step("run_error", f"{len(failures)} of {len(inputs)} examples failed; first: {failures[0]}",
                        seconds=step.seconds), []
        return step, [load_npz(str(path)) for path in outputs]

    # -- sources -----------------------------------------------------------------------------------
    def prepare(self, spec: ModelSpec) -> ModelContext:
        """Build both twins once per model, write the inputs, and run the sources for the references."""
        if spec.name in self.contexts:
            return self.contexts[spec.name]
        folder = self.run_dir / spec.name
        source_dir = folder / "source"
        source_dir.mkdir(parents=True, exist_ok=True)
        examples = seeded_examples(spec, count=self.options.examples, seed=self.options.seed)
        inputs: dict[str, list[Path]] = {}
        for source in (TORCH, KERAS):
            layouts = source_layouts(spec, source, outputs=False)
            paths = []
            for seed, arrays in examples:
                path = folder / "inputs" / source.name / f"example_{seed}.npz"
                path.parent.mkdir(parents=True, exist_ok=True)
                np.savez(path, **{f"{i:02d}_{s.name}": to_layout(a, src, dst)
                                  for i, (s, a, (src, dst)) in enumerate(zip(spec.inputs, arrays, layouts))})
                paths.append(path)
            inputs[source.name] = paths
        context = ModelContext(spec, folder, [seed for seed, _ in examples], inputs, {}, {}, {}, [])
        state = source_dir / "torch_state.npz"
        for source in (TORCH, KERAS):
            artifact = source_dir / source.filename
            task = {"task": "build_source", "model": spec.name, "format": source.name,
                    "target": str(artifact), "state": str(state)}
            framework = "torch" if source is TORCH else "tf"
            step = self.call("current", framework, task, self.options.convert_timeout)
            if step.status == "ok":
                step, outputs = self.run_artifact("current", source.name, artifact, io_for(spec, source),
                                                  inputs[source.name], source_dir / f"outputs_{source.name}")
                if step.status == "ok":
                    context.artifacts[source.name] = artifact
                    context.references[source.name] = outputs
            if step.status != "ok":
                context.source_errors[source.name] = step
                if source is TORCH:  # the Keras twin needs the torch weights
                    context.source_errors[KERAS.name] = Step("skipped", "the torch twin failed to build")
                    break
        context.twin = self.twin_agreement(context)
        self.contexts[spec.name] = context
        return context

    def twin_agreement(self, context: ModelContext) -> list[Comparison | None]:
        if TORCH.name not in context.references or KERAS.name not in context.references:
            return [None] * len(context.spec.outputs)
        layouts = source_layouts(context.spec, KERAS, outputs=True)
        agreement: list[Comparison | None] = []
        for index, output in enumerate(context.spec.outputs):
            torch_layout, keras_layout = layouts[index]
            comparisons = [
                compare(torch_out[index], to_layout(keras_out[index], keras_layout, torch_layout),
                        self.tolerance(context.spec, output.name, torch_out[index]))
                for torch_out, keras_out in zip(context.references[TORCH.name], context.references[KERAS.name])
            ]
            agreement.append(worst(comparisons)[1])
        return agreement

    def tolerance(self, spec: ModelSpec, output: str, reference: np.ndarray) -> Tolerance:
        return spec.tolerances.get(output) or default_tolerance(reference.dtype)

    # -- routes ------------------------------------------------------------------------------------
    def run_route(self, spec: ModelSpec, route: Route) -> list[dict[str, Any]]:
        context = self.prepare(spec)
        source = route.source
        io = io_for(spec, source)
        rows: list[dict[str, Any]] = []
        blocked = context.source_errors.get(source.name)
        if blocked is not None:
            blocked_reason = f"the {source.name} twin failed: {blocked.error}"
        else:
            blocked_reason = ""
        artifact = context.artifacts.get(source.name)
        reference = context.references.get(source.name, [])
        previous = reference
        route_dir = context.folder / route.dirname
        for hop in route.hops:
            converter = hop.converter
            hop_dir = route_dir / f"hop{hop.index}_{converter.target.name}"
            target = hop_dir / converter.target.filename
            base = self.base_row(context, route, hop.index, hop.name, converter.name, converter.package,
                                 converter.stack, target)
            if blocked_reason:
                rows += self.rows_for(base, context, "skipped", blocked_reason)
                continue
            assert artifact is not None
            hop_dir.mkdir(parents=True, exist_ok=True)
            task = {"task": "convert", "converter": converter.reference, "source": str(artifact),
                    "target": str(target), "io": io, "example": str(context.inputs[source.name][0]),
                    "framework": converter.framework}
            task_file = hop_dir / "task.json"
            task_file.write_text(json.dumps(task, indent=1))
            base["replay"] = (f"{shlex.quote(str(get_stack(converter.stack).python))} -m harness.worker "
                              f"--replay {shlex.quote(str(task_file))}")
            self.progress(f"  {spec.name} {route.id} hop {hop.index} {hop.name} ({converter.name}, {converter.stack})")
            step = self.call(converter.stack, converter.framework, task, self.options.convert_timeout)
            self.conversions += 1
            seconds = step.seconds
            if step.status == "ok":
                base["onnx_ops"] = step.result.get("onnx_ops", "")
                step, outputs = self.run_artifact(converter.stack, converter.target.name, target, io,
                                                  context.inputs[source.name], hop_dir / "outputs")
                seconds += step.seconds
            base["seconds"] = round(seconds, 3)
            if step.status != "ok":
                status = {"error": "convert_error"}.get(step.status, step.status)
                rows += self.rows_for(base, context, status, step.error)
                blocked_reason = f"hop {hop.index} ({hop.name}) ended {status}"
                continue
            rows += self.compared_rows(base, context, source, reference, previous, outputs)
            artifact, previous = target, outputs
        return rows

    def base_row(self, context: ModelContext, route: Route, hop_index: int, hop: str, converter: str,
                 package: str, stack: str, artifact: Path) -> dict[str, Any]:
        versions = stack_versions(stack)
        return {
            "run_id": self.run_id, "model": context.spec.name, "family": context.spec.family,
            "source": route.source.name, "route": route.id, "hop_index": hop_index, "hop": hop,
            "converter": converter, "converter_version": versions.get(package, "?"), "stack": stack,
            "examples": len(context.seeds), "onnx_ops": "", "seconds": 0.0, "artifact": str(artifact),
            "replay": "", "harness_version": __version__, "versions": json.dumps(versions, sort_keys=True),
        }

    def rows_for(self, base: dict[str, Any], context: ModelContext, status: str, error: str) -> list[dict[str, Any]]:
        rows = []
        for index, output in enumerate(context.spec.outputs):
            row = {**base, "output": output.name, "status": status, "error": error}
            row.update(self.twin_columns(context, index))
            rows.append(row)
        return rows

    def twin_columns(self, context: ModelContext, index: int) -> dict[str, Any]:
        twin = context.twin[index] if context.twin else None
        return {"twin_max_abs_err": twin.max_abs_err if twin else None,
                "twin_status": ("pass" if twin.passed else "mismatch") if twin else "unavailable"}

    def compared_rows(self, base: dict[str, Any], context: ModelContext, source: Format,
                      reference: list[list[np.ndarray]], previous: list[list[np.ndarray]],
                      outputs: list[list[np.ndarray]]) -> list[dict[str, Any]]:
        rows = []
        for index, output in enumerate(context.spec.outputs):
            row = {**base, "output": output.name}
            row.update(self.twin_columns(context, index))
            if any(len(example) <= index for example in outputs):
                rows.append({**row, "status": "mismatch",
                             "error": f"the artifact gave {len(outputs[0])} outputs, the model has {len(context.spec.outputs)}"})
                continue
            tolerance = self.tolerance(context.spec, output.name, reference[0][index])
            cumulative = [compare(ref[index], out[index], tolerance) for ref, out in zip(reference, outputs)]
            own = [compare(prev[index], out[index], tolerance) for prev, out in zip(previous, outputs)]
            worst_index, worst_cumulative = worst(cumulative)
            _, worst_own = worst(own)
            row.update({
                "status": "pass" if worst_cumulative.passed else "mismatch",
                "error": worst_cumulative.error,
                "max_abs_err": worst_cumulative.max_abs_err, "max_rel_err": worst_cumulative.max_rel_err,
                "required_atol": worst_cumulative.required_atol,
                "mismatched_fraction": worst_cumulative.mismatched_fraction,
                "hop_max_abs_err": worst_own.max_abs_err,
                "hop_status": "pass" if worst_own.passed else "mismatch",
                "atol": tolerance.atol, "rtol": tolerance.rtol, "tolerance_reason": tolerance.reason,
                "worst_seed": context.seeds[worst_index],
                "nonfinite_reference": worst_cumulative.nonfinite_reference,
            })
            rows.append(row)
        return rows
