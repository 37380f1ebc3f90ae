"""Single-op source probes: one PyTorch op or one Keras layer per model, exported by the real converters.

Each probe is data (torch_ops.TORCH_PROBES, keras_ops.KERAS_PROBES): a name, a builder, its inputs
(shapes, dtypes, value domain), the ONNX ops it is meant to exercise, and the outputs it returns.
The runner builds probes in batches inside a worker of the current stack, saves each as the harness
saves a source model (a torch rebuild recipe plus state dict, or a .keras file), records the
framework's own outputs on seeded inputs, then converts each probe with the harness's converters
(OnnxFromTorch torchscript and dynamo, OnnxFromKeras), runs the ONNX file under onnxruntime and
compares it with the framework's outputs.

Layout under <run>/source/<kind>/<probe>/:
  source/<artifact>, inputs/example_N.npz, reference/example_N.npz     the probe and its own outputs
  <route dir>/model.onnx, task.json (replayable), outputs/example_N.npz one folder per exporter
"""

from __future__ import annotations

import fnmatch
import json
import shlex
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness import __version__, new_run_id
from harness.atomic import write_atomic
from harness.converters import default_converters, tracked_packages
from harness.converters.base import Converter
from harness.converters.routes import Hop, Route
from harness.errors import describe_error
from harness.execution.cache import TaskCache
from harness.execution.pool import WorkerPool, call_task
from harness.execution.stacks import get_stack, stack_versions
from harness.execution.worker import load_npz, save_npz
from harness.formats import KERAS, ONNX, TORCH
from harness.oracle.compare import Comparison, compare, default_tolerance, severity
from harness.probes.probe import KINDS, SourceProbe
from harness.run.inputs import build_array
from harness.run.shards import EVERYTHING, Shard
from harness.runners import runner_for
from harness.spec import InputRecipe, InputSpec

STACK = "current"
FRAMEWORK = {"torch": "torch", "keras": "tf"}
SOURCE_FORMAT = {"torch": TORCH, "keras": KERAS}
REBUILD = "harness.probes.source_ops:rebuild_torch_probe"
# Per domain, the value kinds (harness.run.inputs) of the seeded examples: standard values first, then a
# wide range, then exact zeros or edge values, where converters tend to part ways.
EXAMPLE_KINDS = {
    "real": ("normal", "uniform_wide", "sparse"),
    "positive": ("positive", "positive_large", "positive_tiny"),
    "index": ("index_uniform", "index_edges", "index_repeated"),
}


# -- the registries --------------------------------------------------------------------------------------

def all_probes(kinds: Iterable[str] = KINDS) -> list[SourceProbe]:
    from harness.probes.keras_ops import KERAS_PROBES
    from harness.probes.torch_ops import TORCH_PROBES

    registries = {"torch": TORCH_PROBES, "keras": KERAS_PROBES}
    return [probe for kind in kinds for probe in registries[kind]]


def find_probe(kind: str, name: str) -> SourceProbe:
    for probe in all_probes([kind]):
        if probe.name == name:
            return probe
    raise KeyError(f"no {kind} probe named {name!r}")


def select_probes(kinds: Iterable[str] = KINDS, name_filter: str | Sequence[str] | None = None) -> list[SourceProbe]:
    """Probes of the given kinds whose name matches any glob of name_filter (all when None)."""
    patterns = [name_filter] if isinstance(name_filter, str) else list(name_filter or [])
    return [probe for probe in all_probes(kinds)
            if not patterns or any(fnmatch.fnmatchcase(probe.name, pattern) for pattern in patterns)]


def example_arrays(probe: SourceProbe) -> list[list[np.ndarray]]:
    """The seeded examples of a probe: one per value kind of its domain, the same every run."""
    examples = []
    for number in range(3):
        arrays = []
        for position, spec in enumerate(probe.inputs):
            kinds = probe.kinds if probe.kinds and spec.domain == "real" else EXAMPLE_KINDS[spec.domain]
            recipe = InputRecipe(kinds[number % len(kinds)], 0, probe.seed + 1000 * number + position)
            arrays.append(build_array(spec, {}, recipe))
        examples.append(arrays)
    return examples


# -- inside a worker: build, save and run the probes of a batch --------------------------------------------

def rebuild_torch_probe(directory: Path, probe: str) -> Any:
    """The rebuild function of a saved torch probe (harness.execution.torch_artifact.load_torch_module calls it)."""
    import torch

    spec = find_probe("torch", probe)
    torch.manual_seed(spec.seed)
    return spec.build(spec.inputs).eval()


def _fresh_values(name: str, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    if "var" in name.lower():  # running/moving variances must stay positive
        return rng.uniform(0.5, 1.5, size=shape)
    return rng.normal(0.0, 0.5, size=shape)


def _is_constant(values: np.ndarray) -> bool:
    return values.dtype.kind == "f" and values.size > 0 and bool(np.all(values == values.flat[0]))


def _randomize_torch(module: Any, seed: int) -> None:
    """Give every weight its initializer set to a constant (biases, norm scales, running statistics)
    random values: a converter that drops a bias or ignores a statistic must show up in the numbers."""
    import torch

    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for name, tensor in module.state_dict().items():
            values = tensor.detach().cpu().numpy()
            if _is_constant(values):
                tensor.copy_(torch.from_numpy(_fresh_values(name, values.shape, rng).astype(values.dtype)))


def _randomize_keras(model: Any, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        values = np.asarray(variable.numpy())
        if _is_constant(values):
            name = str(getattr(variable, "path", variable.name))
            variable.assign(_fresh_values(name, values.shape, rng).astype(values.dtype))


def _build_one(kind: str, job: dict[str, Any], runners: dict[str, Any]) -> dict[str, Any]:
    probe = find_probe(kind, job["probe"])
    artifact = Path(job["artifact"])
    if kind == "torch":
        from harness.execution.torch_artifact import save_torch_module

        module = rebuild_torch_probe(artifact, probe.name)
        _randomize_torch(module, probe.seed)
        save_torch_module(artifact, module, REBUILD, probe=probe.name)
    else:
        import keras

        from harness.execution.worker import names_keras_layers_afresh

        names_keras_layers_afresh()
        keras.utils.set_random_seed(probe.seed)
        model = probe.build(probe.inputs)
        _randomize_keras(model, probe.seed)
        artifact.parent.mkdir(parents=True, exist_ok=True)
        model.save(artifact)
    # The reference is the saved artifact run by the harness's own runner: exactly what the converter reads.
    runner = runners.setdefault(kind, runner_for(kind))
    io = {"inputs": [{"name": s.name, "dtype": s.dtype, "shape": list(s.shape)} for s in probe.inputs],
          "outputs": list(probe.outputs)}
    shapes: list[list[int]] = []
    dtypes: list[str] = []
    first: list[np.ndarray] = []
    for input_path, output_path in zip(job["inputs"], job["outputs"]):
        outputs = [np.asarray(out) for out in runner.run(artifact, io, load_npz(input_path))]
        if len(outputs) != len(probe.outputs):
            raise ValueError(f"probe declares outputs {probe.outputs}, the model returned {len(outputs)}")
        save_npz(output_path, list(probe.outputs), outputs)
        first = first or outputs
        shapes, dtypes = [list(out.shape) for out in outputs], [out.dtype.name for out in outputs]
    again = [np.asarray(out) for out in runner.run(artifact, io, load_npz(job["inputs"][0]))]
    if any(not np.array_equal(a, b, equal_nan=True) for a, b in zip(first, again)):
        raise RuntimeError("the probe gave two different outputs for one input (stochastic)")
    return {"ok": True, "shapes": shapes, "dtypes": dtypes}


def build_probes(kind: str, jobs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Worker side: build, save and run every probe of a batch; a probe that raises is reported alone."""
    runners: dict[str, Any] = {}
    results: dict[str, dict[str, Any]] = {}
    for job in jobs:
        try:
            results[job["probe"]] = _build_one(kind, job, runners)
        except Exception as exc:
            results[job["probe"]] = {"ok": False, "error": describe_error(exc)}
    return results


# -- the controller ---------------------------------------------------------------------------------------

@dataclass
class ProbeSource:
    probe: SourceProbe
    folder: Path
    artifact: Path
    inputs: list[Path]
    references: list[Path]
    status: str = "ok"  # or the failure of the probe itself: error, crash, timeout
    error: str = ""
    seconds: float = 0.0


@dataclass
class RunContext:
    pool: WorkerPool
    progress: Callable[[str], None]
    run_id: str
    convert_timeout: float
    run_timeout: float
    versions: dict[str, str] = field(default_factory=dict)
    cache: TaskCache | None = None  # conversions and runs are reused when nothing they read changed


def converters_for(kind: str) -> list[Converter]:
    """The exporters whose records join the single-op probes, from this kind's framework to ONNX."""
    return [converter for converter in default_converters() if converter.source_probes
            and converter.source == SOURCE_FORMAT[kind] and converter.target == ONNX]


def io_of(probe: SourceProbe) -> dict[str, Any]:
    return {"inputs": [{"name": s.name, "dtype": s.dtype, "shape": list(s.shape)} for s in probe.inputs],
            "outputs": list(probe.outputs)}


def prepare_sources(context: RunContext, root: Path, kind: str, batch: list[SourceProbe]) -> list[ProbeSource]:
    """Write the seeded inputs, then build and run the batch in one worker call. A crash or hang
    costs one batch: its probes are retried one by one so the failure lands on the probe that made it."""
    sources = []
    for probe in batch:
        folder = root / kind / probe.name
        inputs = []
        for number, arrays in enumerate(example_arrays(probe)):
            path = folder / "inputs" / f"example_{number}.npz"
            path.parent.mkdir(parents=True, exist_ok=True)
            save_npz(str(path), [spec.name for spec in probe.inputs], arrays)
            inputs.append(path)
        (folder / "reference").mkdir(parents=True, exist_ok=True)
        sources.append(ProbeSource(probe, folder, folder / "source" / SOURCE_FORMAT[kind].filename, inputs,
                                   [folder / "reference" / f"example_{n}.npz" for n in range(len(inputs))]))
    _build_sources(context, kind, sources)
    return sources


def _build_sources(context: RunContext, kind: str, sources: list[ProbeSource]) -> None:
    jobs = [{"probe": s.probe.name, "artifact": str(s.artifact), "inputs": [str(p) for p in s.inputs],
             "outputs": [str(p) for p in s.references]} for s in sources]
    task = {"task": "call", "function": "harness.probes.source_ops:build_probes",
            "kwargs": {"kind": kind, "jobs": jobs}, "framework": FRAMEWORK[kind]}
    # Through the task cache: a rebuilt Keras file differs in its bytes (the archive's times) even when nothing
    # changed, and would make every conversion of it miss.
    step = call_task(context.pool, STACK, FRAMEWORK[kind], task, context.convert_timeout * max(1, len(sources) / 4),
                     context.cache)
    if step.status in ("crash", "timeout"):
        if len(sources) > 1:
            context.progress(f"  a {kind} batch failed ({step.status}); building its probes one by one")
            for source in sources:
                _build_sources(context, kind, [source])
            return
        sources[0].status, sources[0].error = step.status, step.error
        return
    seconds = step.seconds / len(sources)
    for source in sources:
        source.seconds = seconds
        if step.status != "ok":
            source.status, source.error = "error", step.error
            continue
        result = step.result["value"].get(source.probe.name, {"ok": False, "error": "no result"})
        if not result["ok"]:
            source.status, source.error = "error", result["error"]


def run_hop(context: RunContext, source: ProbeSource, converter: Converter) -> list[dict[str, Any]]:
    """Convert one probe with one converter, run the ONNX file under onnxruntime, compare; rows per output."""
    probe = source.probe
    route = Route(SOURCE_FORMAT[probe.kind], (Hop(1, converter),))
    hop_dir = source.folder / route.dirname
    target = hop_dir / converter.target.filename
    io = io_of(probe)
    base = base_row(context, source, route, converter, target)
    if source.status != "ok":
        # The probe itself did not build or run: no conversion happened, and the row says why.
        return [{**base, "output": name, "status": "skipped", "conversions": 0,
                 "error": f"the {probe.kind} probe failed before conversion ({source.status}): {source.error}"}
                for name in probe.outputs]
    hop_dir.mkdir(parents=True, exist_ok=True)
    task = {"task": "convert", "converter": converter.reference, "source": str(source.artifact),
            "target": str(target), "io": io, "example": str(source.inputs[0]), "framework": converter.framework}
    task_file = hop_dir / "task.json"
    write_atomic(task_file, json.dumps(task, indent=1))
    base["replay"] = (f"{shlex.quote(str(get_stack(converter.stack).python))} -m harness.execution.worker "
                      f"--replay {shlex.quote(str(task_file))}")
    context.progress(f"  {probe.name} {route.id} ({converter.name})")
    step = call_task(context.pool, converter.stack, converter.framework, task, context.convert_timeout, context.cache)
    status, error, convert_result, convert_seconds = step.status, step.error, step.result, step.seconds
    base.update(cached=step.cached, conversions=0 if step.cached else 1)
    if status == "error":
        status = "convert_error"
    if status != "ok":
        return [{**base, "output": name, "status": status, "error": error, "seconds": round(convert_seconds, 3)}
                for name in probe.outputs]
    base.update(inventory_columns(str(convert_result.get("onnx_ops", "")), probe.tags))
    runner = runner_for("onnx")
    outputs = [hop_dir / "outputs" / f"example_{n}.npz" for n in range(len(source.inputs))]
    outputs[0].parent.mkdir(parents=True, exist_ok=True)
    run_task = {"task": "run", "runner": runner.reference, "artifact": str(target), "io": io,
                "inputs": [str(p) for p in source.inputs], "outputs": [str(p) for p in outputs],
                "framework": runner.framework}
    run = call_task(context.pool, runner.stack or STACK, runner.framework, run_task, context.run_timeout, context.cache)
    status, error, run_result = run.status, run.error, run.result
    base["seconds"] = round(convert_seconds + run.seconds, 3)
    failures = [e for e in run_result.get("errors", []) if e] if status == "ok" else []
    if status == "error" or failures:
        status = "run_error"
        error = error or f"{len(failures)} of {len(outputs)} examples failed; first: {failures[0]}"
    if status != "ok":
        return [{**base, "output": name, "status": status, "error": error} for name in probe.outputs]
    return [{**base, **verdict(source, outputs, index)} for index in range(len(probe.outputs))]


def verdict(source: ProbeSource, outputs: list[Path], index: int) -> dict[str, Any]:
    """The worst comparison of one output over the probe's examples, with the tolerance it was held to."""
    name = source.probe.outputs[index]
    worst: tuple[int, Comparison] | None = None
    tolerance = default_tolerance(np.dtype("float32"))
    for number, (reference_path, output_path) in enumerate(zip(source.references, outputs)):
        reference, produced = load_npz(str(reference_path)), load_npz(str(output_path))
        tolerance = default_tolerance(reference[index].dtype)
        if index >= len(produced):
            comparison = Comparison(False, np.inf, np.inf, np.inf, 1.0, 0, error=(
                f"the ONNX graph gave {len(produced)} outputs, the probe has {len(reference)}"))
        else:
            comparison = compare(reference[index], produced[index], tolerance)
        if worst is None or severity(comparison) > severity(worst[1]):
            worst = (number, comparison)
    assert worst is not None
    number, result = worst
    kinds = [recipe_kind(source.probe, spec, number) for spec in source.probe.inputs]
    return {
        "output": name, "status": "pass" if result.passed else "mismatch", "error": result.error,
        "max_abs_err": result.max_abs_err, "max_rel_err": result.max_rel_err,
        "required_atol": result.required_atol, "mismatched_fraction": result.mismatched_fraction,
        "cosine_similarity": result.cosine_similarity, "max_ulp": result.max_ulp, "transposed": result.transposed,
        "nonfinite_reference": result.nonfinite_reference, "output_scale": result.output_scale,
        "atol": tolerance.atol, "rtol": tolerance.rtol, "tolerance_reason": tolerance.reason,
        "worst_example": f"example {number}: {', '.join(kinds)}",
    }


def recipe_kind(probe: SourceProbe, spec: InputSpec, number: int) -> str:
    kinds = probe.kinds if probe.kinds and spec.domain == "real" else EXAMPLE_KINDS[spec.domain]
    return f"{spec.name}={kinds[number % len(kinds)]}"


def inventory_columns(onnx_ops: str, tags: tuple[str, ...]) -> dict[str, Any]:
    """From "Conv@ai.onnx:17 x3; Relu@ai.onnx:17 x1": op types, the ai.onnx opset, and the tags seen."""
    types: list[str] = []
    opset = None
    for entry in filter(None, (part.strip() for part in onnx_ops.split(";"))):
        op_and_domain, _, version = entry.rpartition(" x")[0].rpartition(":")
        op_type, _, domain = op_and_domain.partition("@")
        if op_type not in types:
            types.append(op_type)
        if domain == "ai.onnx" and version.isdigit():
            opset = int(version)
    return {"onnx_ops": onnx_ops, "onnx_op_types": ", ".join(sorted(types)), "opset": opset,
            "expected_ops_missing": ", ".join(tag for tag in tags if tag not in types)}


def base_row(context: RunContext, source: ProbeSource, route: Route, converter: Converter,
             target: Path) -> dict[str, Any]:
    probe = source.probe
    return {
        "run_id": context.run_id, "model": probe.name, "family": f"{probe.kind}_probe", "source": probe.kind,
        "route": route.id, "hop_index": 1, "hop": route.hops[0].name, "converter": converter.name,
        "converter_version": context.versions.get(converter.package, "?"), "stack": converter.stack,
        "conversions": 1, "examples": len(source.inputs), "artifact": str(target), "seconds": 0.0,
        "harness_version": __version__, "versions": json.dumps(context.versions, sort_keys=True),
        "probe_kind": probe.kind, "probe": probe.name, "op_type": ", ".join(probe.tags), "domain": "ai.onnx",
        "opset": None, "framework_op": probe.op, "expected_ops": ", ".join(probe.tags), "onnx_op_types": "",
        "expected_ops_missing": "", "onnx_ops": "", "replay": "", "source_seconds": round(source.seconds, 3),
    }


def run_source_probes(run_dir: Path, pool: WorkerPool, *, kinds: Sequence[str] = KINDS,
                      name_filter: str | Sequence[str] | None = None, progress: Callable[[str], None] = print,
                      batch_size: int = 8, convert_timeout: float = 300.0,
                      run_timeout: float = 120.0, shard: Shard = EVERYTHING,
                      cache: TaskCache | None = None) -> list[dict[str, Any]]:
    """Every selected probe through its exporters and onnxruntime: one row per (probe, route, output)."""
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown probe kinds {sorted(unknown)}; known: {KINDS}")
    context = RunContext(pool, progress, new_run_id(),
                         convert_timeout, run_timeout, stack_versions(STACK, tracked_packages()), cache)
    root = run_dir / "source"
    rows: list[dict[str, Any]] = []
    for kind in kinds:
        probes = [probe for probe in select_probes([kind], name_filter) if shard.owns(f"source:{kind}:{probe.name}")]
        for start in range(0, len(probes), batch_size):
            batch = probes[start:start + batch_size]
            progress(f"[probes] building {kind} probes {start + 1}-{start + len(batch)} of {len(probes)}")
            for source in prepare_sources(context, root, kind, batch):
                for converter in converters_for(kind):
                    rows += run_hop(context, source, converter)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """python -m harness.probes.source_ops [--kinds torch keras] [--probes GLOB ...] --out DIR"""
    import argparse

    from harness.reporting.results import to_frame, write_atomic

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    parser.add_argument("--probes", nargs="+", default=None, metavar="GLOB")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    with WorkerPool(args.out / "logs", memory_limit_mb=8192) as pool:
        rows = run_source_probes(args.out, pool, kinds=args.kinds, name_filter=args.probes)
    frame = to_frame(rows)
    write_atomic(args.out / "source_probes.csv", frame.to_csv(index=False))
    write_atomic(args.out / "source_probes.json", frame.to_json(orient="records", indent=1))
    print(frame.groupby(["route", "status"]).size().to_string())
    print(f"{len(rows)} rows in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
