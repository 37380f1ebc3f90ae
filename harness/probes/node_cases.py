"""The ONNX backend node test suite run through each ONNX-consuming hop: observed per-operator coverage rows.

Each stack exports the node cases of its own onnx package (onnx-tf reads only onnx 1.15's IR, so the
onnx->tf hops use the legacy stack's cases; onnxruntime and the onnx->torch hops use the current
stack's). A case folder holds model.onnx, inputs.npz, expected.npz and case.json. The harness's own
converters and runners then convert and run batches of cases inside workers; the controller compares
every hop's outputs, the second hop of a round trip included, with the case's expected outputs.

Layout under <run>/node/<stack>/<case>/:
  model.onnx, inputs.npz, expected.npz, case.json     the exported case
  <stage>/<artifact>, outputs.npz, job.json, result.json    one folder per hop chain: ort, tf, tf_onnx, torch, ...
job.json replays a hop alone (the row's `replay` column prints the command).
"""

from __future__ import annotations

import fnmatch
import json
import shlex
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from harness import __version__, new_run_id
from harness.atomic import write_atomic
from harness.converters import default_converters, tracked_packages
from harness.converters.base import Converter
from harness.converters.routes import Hop, Route
from harness.errors import WorkerFailure, describe_error
from harness.execution.cache import Plan, TaskCache
from harness.execution.pool import WorkerPool, call_task
from harness.execution.stacks import get_stack, stack_versions
from harness.execution.worker import converter_from_reference, import_object, load_npz, output_names, save_npz
from harness.formats import ONNX
from harness.oracle.compare import Comparison, compare, default_tolerance, severity
from harness.run.shards import EVERYTHING, Shard
from harness.runners import runner_for
from harness.spec import Tolerance

CASE_FILE = "case.json"
RESULT_FILE = "result.json"
JOB_FILE = "job.json"
PLAIN_KINDS = "biuf"  # bool, signed, unsigned, float: what npz, every runner and compare() handle as is


# -- inside a worker: export the stack's own node cases ----------------------------------------------------

def _plain_reason(role: str, name: str, type_proto: Any) -> str:
    """Why a graph input or output is not a plain numeric tensor, or "" when it is."""
    import onnx

    kind = type_proto.WhichOneof("value")
    if kind != "tensor_type":
        return f"{role} {name!r} is a {(kind or 'untyped').removesuffix('_type')}, not a tensor"
    elem_type = type_proto.tensor_type.elem_type
    plain = (onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE, onnx.TensorProto.FLOAT16, onnx.TensorProto.BOOL,
             onnx.TensorProto.INT8, onnx.TensorProto.INT16, onnx.TensorProto.INT32, onnx.TensorProto.INT64,
             onnx.TensorProto.UINT8, onnx.TensorProto.UINT16, onnx.TensorProto.UINT32, onnx.TensorProto.UINT64)
    if elem_type not in plain:
        return f"{role} {name!r} is a {onnx.TensorProto.DataType.Name(elem_type)} tensor, not a plain numeric one"
    return ""


def _operators(model: Any) -> list[dict[str, Any]]:
    """Distinct (op type, domain, opset) in order of first appearance, subgraphs included."""
    from harness.execution.onnx_ops import walk_ops

    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for op_type, domain, opset in walk_ops(model):
        seen.setdefault((op_type, domain), {"op_type": op_type, "domain": domain, "opset": opset})
    return list(seen.values())


def _as_array(value: Any) -> np.ndarray:
    import onnx
    from onnx import numpy_helper

    if isinstance(value, onnx.TensorProto):
        return np.asarray(numpy_helper.to_array(value))
    return np.asarray(value)


def _data_file_cases(root: Path) -> Iterable[tuple[str, Any, Callable[[], tuple[list[Any], list[Any]]]]]:
    """(name, model, loader of (inputs, outputs)) from the node data files the onnx wheel ships."""
    import onnx

    for folder in sorted(path for path in root.iterdir() if (path / "model.onnx").is_file()):
        model = onnx.load(str(folder / "model.onnx"))

        def load(folder: Path = folder, model: Any = model) -> tuple[list[Any], list[Any]]:
            data = folder / "test_data_set_0"
            inputs = [_read_tensor(data / f"input_{i}.pb") for i in range(len(model.graph.input))]
            outputs = [_read_tensor(data / f"output_{i}.pb") for i in range(len(model.graph.output))]
            return inputs, outputs

        yield folder.name, model, load


def _read_tensor(path: Path) -> Any:
    import onnx

    tensor = onnx.TensorProto()
    tensor.ParseFromString(path.read_bytes())
    return tensor


def _generated_cases() -> Iterable[tuple[str, Any, Callable[[], tuple[list[Any], list[Any]]]]]:
    """The same cases generated from onnx.backend.test.case: newer onnx wheels ship no node data files."""
    from onnx.backend.test.case.node import collect_testcases

    for case in sorted(collect_testcases(), key=lambda case: str(case.name)):
        inputs, outputs = case.data_sets[0]

        def load(inputs: Any = inputs, outputs: Any = outputs) -> tuple[list[Any], list[Any]]:
            return list(inputs), list(outputs)

        yield case.name, case.model, load


def matches(name: str, case_filter: str | None) -> bool:
    """case_filter: comma-separated globs on case names, e.g. "test_relu*,test_add"; None takes all."""
    return case_filter is None or any(fnmatch.fnmatchcase(name, glob.strip()) for glob in case_filter.split(","))


def case_opset(model: Any) -> int | None:
    return next((entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx")), None)


def export_node_cases(out_dir: str, case_filter: str | None = None) -> dict[str, Any]:
    """Write every node case of this stack's onnx (matching the glob `case_filter`) into out_dir/<case>/.

    Runs inside a worker (framework "none"); returns the case manifests and where the cases came from.
    """
    import warnings

    import onnx

    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    data_root = Path(onnx.__file__).parent / "backend" / "test" / "data" / "node"
    if data_root.is_dir() and any(data_root.glob("*/model.onnx")):
        source, cases = f"onnx {onnx.__version__} node data files", _data_file_cases(data_root)
    else:
        source = f"onnx {onnx.__version__} onnx.backend.test.case (no node data files shipped)"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the case generators divide by zero on purpose
            cases = iter(list(_generated_cases()))
    manifests = []
    for name, model, load in cases:
        if matches(name, case_filter):
            primary = ",".join(op["op_type"] for op in _operators(model)) or "?"
            manifests.append(_write_case(root, name, model, load, source, primary))
    return {"source": source, "cases": manifests}


def _write_case(root: Path, name: str, model: Any, load: Callable[[], tuple[list[Any], list[Any]]], source: str,
                primary: str) -> dict[str, Any]:
    """One case folder and its manifest."""
    import onnx

    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    graph = model.graph
    manifest: dict[str, Any] = {
        "name": name, "case": name, "target_opset": None, "primary_op": primary, "onnx_version": onnx.__version__,
        "case_source": source, "ir_version": model.ir_version, "ops": _operators(model), "status": "ok",
        "reason": "", "io": {"inputs": [{"name": value.name} for value in graph.input],
                             "outputs": [value.name for value in graph.output]},
    }
    reasons = [_plain_reason("input", value.name, value.type) for value in graph.input]
    reasons += [_plain_reason("output", value.name, value.type) for value in graph.output]
    manifest["reason"] = next((reason for reason in reasons if reason), "")
    if not manifest["reason"]:
        try:
            inputs, outputs = (list(map(_as_array, values)) for values in load())
            odd = [array.dtype for array in (*inputs, *outputs) if array.dtype.kind not in PLAIN_KINDS]
            if odd:
                manifest["reason"] = f"a tensor of numpy dtype {odd[0]} is not plain numeric"
            elif len(inputs) != len(graph.input) or len(outputs) != len(graph.output):
                manifest["reason"] = "the data set does not give one tensor per graph input and output"
            else:
                onnx.save(model, str(folder / "model.onnx"))
                save_npz(str(folder / "inputs.npz"), [value.name for value in graph.input], inputs)
                save_npz(str(folder / "expected.npz"), list(manifest["io"]["outputs"]), outputs)
                manifest["io"]["inputs"] = [
                    {"name": value.name, "dtype": array.dtype.name, "shape": list(array.shape)}
                    for value, array in zip(graph.input, inputs)]
        except Exception as exc:
            manifest["reason"] = f"the case's data could not be read: {describe_error(exc)}"
    if manifest["reason"]:
        manifest["status"] = "untested"
    write_atomic(folder / CASE_FILE, json.dumps(manifest, indent=1))
    manifest["folder"] = str(folder)  # not in case.json: a cached export is restored into other run folders
    return manifest


def version_node_cases(manifests: list[dict[str, Any]], opsets: list[int], out_dir: str) -> list[dict[str, Any]]:
    """Each case converted to each opset in `opsets` (but its own) with onnx.version_converter, written into
    out_dir/<case>@opN/. Runs in the current stack for every case stack's cases: its onnx has the most version
    adapters (onnx 1.15's lacks Cast 19->13, for one), and keeps the case's IR version. A case that cannot be
    converted is `untested` at that opset, with the converter's reason.
    """
    import shutil

    import onnx
    from onnx import version_converter

    versions = []
    for shipped in manifests:
        folder = Path(shipped["folder"])
        model = onnx.load(str(folder / "model.onnx")) if shipped["status"] == "ok" else None
        own = case_opset(model) if model is not None else shipped["ops"][0]["opset"] if shipped["ops"] else None
        for opset in (opset for opset in opsets if opset != own):
            name = f"{shipped['name']}@op{opset}"
            target = Path(out_dir) / name
            target.mkdir(parents=True, exist_ok=True)
            manifest = {**shipped, "name": name, "target_opset": opset, "folder": str(target),
                        "converted_by": f"onnx.version_converter {onnx.__version__}",
                        "ops": [{**op, "opset": opset if op["domain"] == "ai.onnx" else op["opset"]}
                                for op in shipped["ops"]]}
            if model is not None:
                try:
                    converted = version_converter.convert_version(model, opset)
                    onnx.checker.check_model(converted, full_check=True)
                    onnx.save(converted, str(target / "model.onnx"))
                    for data in ("inputs.npz", "expected.npz"):
                        shutil.copyfile(folder / data, target / data)
                    manifest["ops"] = _operators(converted)
                except Exception as exc:
                    manifest.update(status="untested", reason=(
                        f"onnx.version_converter ({onnx.__version__}) cannot convert the case to opset {opset}: "
                        f"{describe_error(exc)}"))
            (target / CASE_FILE).write_text(json.dumps({k: v for k, v in manifest.items() if k != "folder"}, indent=1))
            versions.append(manifest)
    return versions


# -- inside a worker: convert and run a batch of cases -------------------------------------------------------

def convert_and_run(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per job: convert `source` into `target` with `converter` (none: run the source as is), run the
    artifact with `runner` on `inputs` and write `outputs`. An exception costs only its own job; each
    result is also written to the job's result file at once, so a crash of the process costs the
    controller only the jobs not yet done.
    """
    results = []
    for job in jobs:
        started = time.perf_counter()
        result: dict[str, Any] = {"case": job["case"], "status": "ok", "error": "", "onnx_ops": ""}
        artifact = Path(job["source"])
        try:
            if job.get("converter"):
                from harness.execution.onnx_ops import check_written_model, inventory

                converter = converter_from_reference(job["converter"])
                artifact = Path(job["target"])
                converter.convert(Path(job["source"]), artifact, job["io"], load_npz(job["inputs"]))
                if converter.target.name == ONNX.name:
                    check_written_model(artifact, converter.target_opset)  # as the worker's convert task does
                    result["onnx_ops"] = inventory(artifact)
        except Exception as exc:
            result.update(status="convert_error", error=describe_error(exc), traceback=traceback.format_exc())
        result["convert_seconds"] = time.perf_counter() - started
        if result["status"] == "ok":
            try:
                # A fresh runner per job: a runner caches every artifact it loaded, which over a
                # thousand cases would keep every model of the batch in memory.
                runner = import_object(job["runner"]["class"])()
                outputs = runner.run(artifact, job["io"], load_npz(job["inputs"]))
                save_npz(job["outputs"], output_names(list(job["io"]["outputs"]), len(outputs)),
                         [np.asarray(output) for output in outputs])
            except Exception as exc:
                result.update(status="run_error", error=describe_error(exc), traceback=traceback.format_exc())
        result["seconds"] = time.perf_counter() - started
        write_atomic(Path(job["result"]), json.dumps(result, indent=1))
        results.append(result)
    return results


# -- the controller ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Stage:
    """One hop of a probe route: a converter applied to the previous stage's artifact (or to the case's
    model), then the harness's runner for the result. The onnxruntime reference has no converter."""

    name: str  # folder name and key: ort, tf, tf_onnx, torch, torch_onnx, torch_onnx_dynamo
    hop: str  # onnx->ort, onnx->tf, tf->onnx, ...
    case_stack: str  # whose onnx package the cases come from
    converter: Converter | None
    parent: str | None = None

    @property
    def runner_format(self) -> str:
        return self.converter.target.name if self.converter else ONNX.name

    @property
    def artifact_name(self) -> str:
        return self.converter.target.filename if self.converter else ""

    @property
    def worker(self) -> tuple[str, str]:
        """(stack, framework) that converts and runs: a framework-free runner runs in the converter's worker
        when the stacks agree (onnxruntime after tf2onnx or torch.onnx.export), never mixing torch and TF."""
        runner = runner_for(self.runner_format)
        if self.converter is None:
            return runner.stack or "current", runner.framework
        assert (runner.stack or self.converter.stack) == self.converter.stack
        assert runner.framework in ("none", self.converter.framework)
        return self.converter.stack, self.converter.framework


def stage_name(converter: Converter, parent: str | None = None) -> str:
    """A stage's folder name and key: the target format (tf, torch), marked like its route (tf_onnx,
    torch_onnx_dynamo, torch-onnx2torch)."""
    name = f"{parent}_{converter.target.name}" if parent else converter.target.name
    return "_".join([name, *converter.marks]) if parent else "-".join([name, *converter.marks])


def probe_stages(converters: list[Converter] | None = None) -> dict[str, Stage]:
    """onnxruntime, then every converter whose record joins the node cases: those from ONNX, each followed by
    those that take its artifact back to ONNX. The cases come from the first converter's stack."""
    chosen = [converter for converter in (default_converters() if converters is None else converters)
              if converter.node_cases]
    stages = [Stage("ort", "onnx->ort", "current", None)]
    for first in (converter for converter in chosen if converter.source == ONNX):
        name = stage_name(first)
        stages.append(Stage(name, f"onnx->{first.target.name}", first.stack, first))
        # An ONNX -> ONNX pass (onnxslim) writes ONNX already: it has no way back to take.
        stages += [Stage(stage_name(back, name), f"{first.target.name}->onnx", first.stack, back, parent=name)
                   for back in chosen if back.source == first.target != ONNX and back.target == ONNX]
    return {stage.name: stage for stage in stages}


def probe_routes(stages: dict[str, Stage]) -> dict[str, tuple[str, ...]]:
    """Each probe route's id (as the zoo's routes are named) and the stages it passes through."""
    routes: dict[str, tuple[str, ...]] = {}
    for stage in stages.values():
        path = (stage.parent, stage.name) if stage.parent else (stage.name,)
        converters = [stages[name].converter for name in path]
        hops = tuple(Hop(index, converter) for index, converter in enumerate(converters, 1) if converter is not None)
        routes["onnx>ort" if not hops else Route(ONNX, hops).id] = path
    return routes


@dataclass
class Outcome:
    """What one stage gave for one case, compared with the case's expected outputs."""

    status: str  # pass, mismatch, convert_error, run_error, crash, timeout, skipped, untested
    error: str = ""
    comparison: Comparison | None = None
    output: str = ""
    onnx_ops: str = ""
    seconds: float = 0.0
    artifact: str = ""
    tolerance: Tolerance | None = None
    cached: bool = False  # answered from the task cache: nothing was converted or run

    @property
    def has_artifact(self) -> bool:
        return self.status in ("pass", "mismatch", "run_error")


def primary_op(manifest: dict[str, Any]) -> str:
    return manifest.get("primary_op") or ",".join(op["op_type"] for op in manifest["ops"]) or "?"


def per_op_sample(manifests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The first variant per op type (by case name), preferring one with plain numeric tensors;
    function-expanded variants are left out since they test other ops than their name says."""
    chosen: dict[str, dict[str, Any]] = {}
    for manifest in sorted(manifests, key=lambda m: str(m["name"])):
        if "_expanded" in manifest["name"]:
            continue
        key = primary_op(manifest)
        current = chosen.get(key)
        if current is None or (current["status"] != "ok" and manifest["status"] == "ok"):
            chosen[key] = manifest
    return sorted(chosen.values(), key=lambda m: str(m["name"]))


def compare_outputs(expected: list[np.ndarray], produced: list[np.ndarray],
                    names: list[str]) -> tuple[Comparison, str, Tolerance]:
    """The worst output's comparison, that output's name and the tolerance it was held to."""
    worst: tuple[Comparison, str, Tolerance] | None = None
    for index, (name, reference) in enumerate(zip(names, expected)):
        tolerance = default_tolerance(reference.dtype)
        if index >= len(produced):
            comparison = Comparison(False, np.inf, np.inf, np.inf, 1.0, 0,
                                    error=f"the artifact gave {len(produced)} outputs, the case has {len(expected)}")
        else:
            comparison = compare(reference, np.asarray(produced[index]), tolerance)
            if not comparison.passed:
                comparison = replace(comparison, error=f"output {name!r}: {comparison.error}")
        if worst is None or severity(comparison) > severity(worst[0]):
            worst = (comparison, name, tolerance)
    assert worst is not None
    return worst


class NodeProbeRun:
    def __init__(self, run_dir: Path, pool: WorkerPool, *, batch_size: int, case_timeout: float,
                 progress: Callable[[str], None], cache: TaskCache | None = None) -> None:
        self.run_dir, self.pool, self.progress, self.cache = run_dir, pool, progress, cache
        self.entries: dict[tuple[str, str], tuple[str, Plan] | None] = {}  # (stage, case) -> its cache key
        self.batch_size, self.case_timeout = batch_size, case_timeout
        self.stages = probe_stages()
        self.outcomes: dict[tuple[str, str], Outcome] = {}  # (stage, case) -> outcome
        self.stage_seconds: dict[str, float] = {}

    @staticmethod
    def case_dir(manifest: dict[str, Any]) -> Path:
        """Where a case lies: its export, or its conversion to another opset."""
        return Path(manifest["folder"])

    def export(self, stack: str, case_filter: str | None) -> list[dict[str, Any]]:
        started = time.perf_counter()
        task = {"task": "call", "function": f"{__name__}:export_node_cases", "framework": "none",
                "kwargs": {"out_dir": str(self.run_dir / "node" / stack), "case_filter": case_filter}}
        step = call_task(self.pool, stack, "none", task, 1200, self.cache)
        if step.status != "ok":
            raise RuntimeError(f"exporting the node cases of the {stack} stack failed ({step.status}): {step.error}")
        value = step.result["value"]
        self.progress(f"[node] {len(value['cases'])} cases from {value['source']} ({stack} stack) "
                      f"in {time.perf_counter() - started:.0f} s")
        cases: list[dict[str, Any]] = value["cases"]
        return cases

    def job(self, stage: Stage, manifest: dict[str, Any]) -> dict[str, Any]:
        folder = self.case_dir(manifest)
        stage_dir = folder / stage.name
        stage_dir.mkdir(parents=True, exist_ok=True)
        if stage.parent:
            parent = self.stages[stage.parent]
            source = folder / parent.name / parent.artifact_name
        else:
            source = folder / "model.onnx"
        runner = runner_for(stage.runner_format)
        job = {
            "case": manifest["name"], "source": str(source),
            # An exporter after the first hop writes the case's opset, as a zoo route at that opset does.
            "converter": (stage.converter.with_opset(manifest.get("target_opset")).reference
                          if stage.converter else None),
            "target": str(stage_dir / stage.artifact_name) if stage.converter else "",
            "runner": runner.reference, "io": manifest["io"], "inputs": str(folder / "inputs.npz"),
            "outputs": str(stage_dir / "outputs.npz"), "result": str(stage_dir / RESULT_FILE),
        }
        write_atomic(stage_dir / JOB_FILE, json.dumps(job, indent=1))
        return job

    def replay_command(self, stage: Stage, manifest: dict[str, Any]) -> str:
        """One command that converts and runs this case's hop again, alone, in its stack."""
        stack = stage.worker[0]
        job_file = self.case_dir(manifest) / stage.name / JOB_FILE
        code = (f"import json, sys; from {__name__} import convert_and_run; "
                "print(json.dumps(convert_and_run([json.load(open(sys.argv[1]))]), indent=1))")
        # Run from the checkout, like every replay command in the reports.
        return f"{shlex.quote(str(get_stack(stack).python))} -c {shlex.quote(code)} {shlex.quote(str(job_file))}"

    def run_stage(self, stage: Stage, manifests: list[dict[str, Any]]) -> None:
        started = time.perf_counter()
        runnable = []
        for manifest in manifests:
            key = (stage.name, manifest["name"])
            parent = self.outcomes.get((stage.parent, manifest["name"])) if stage.parent else None
            if manifest["status"] != "ok":
                self.outcomes[key] = Outcome("untested", manifest["reason"])
            elif parent is not None and not parent.has_artifact:
                self.outcomes[key] = Outcome("skipped", f"the {self.stages[str(stage.parent)].hop} hop ended "
                                                        f"{parent.status}")
            else:
                runnable.append(manifest)
        jobs = [self.job(stage, manifest) for manifest in runnable]
        by_case = {manifest["name"]: manifest for manifest in runnable}
        if self.cache is not None:
            # A job whose case, converter and stack are unchanged is answered from the cache, result file and all.
            for job in list(jobs):
                # The key is taken before the job runs, and kept to store its result under.
                entry = self.entries[(stage.name, job["case"])] = self.cache.entry_for(stage.worker[0], node_task(job))
                if entry is not None and self.cache.restore(stage.worker[0], node_task(job), entry) is not None:
                    self.record(stage, job, json.loads(Path(job["result"]).read_text()), by_case[job["case"]],
                                cached=True)
                    jobs.remove(job)
        for start in range(0, len(jobs), self.batch_size):
            batch = jobs[start:start + self.batch_size]
            for job in batch:
                Path(job["result"]).unlink(missing_ok=True)
            self.run_batch(stage, batch, by_case)
            done = min(start + self.batch_size, len(jobs))
            self.progress(f"[node] {stage.hop} ({stage.name}): {done}/{len(jobs)} cases, "
                          f"{time.perf_counter() - started:.0f} s")
        self.stage_seconds[stage.name] = time.perf_counter() - started

    def run_batch(self, stage: Stage, batch: list[dict[str, Any]], by_case: dict[str, dict[str, Any]]) -> None:
        stack, framework = stage.worker
        task = {"task": "call", "function": f"{__name__}:convert_and_run", "framework": framework,
                "kwargs": {"jobs": batch}}
        # A healthy case takes seconds at most; a hung
        # case makes the batch time out and the rest rerun one by one under the per-case limit.
        timeout = self.case_timeout + 30.0 * len(batch)
        failure: WorkerFailure | None = None
        error = ""
        try:
            reply = self.pool.call(stack, framework, task, timeout)
            if not reply["ok"]:
                error = reply["error"]  # the batch function itself raised: no case's fault alone
        except WorkerFailure as exc:
            failure = exc
        for job in batch:
            result_file = Path(job["result"])
            if (not result_file.is_file() and len(batch) == 1 and failure is not None and failure.fault
                    and self.cache is not None):
                # The converter's own fault on this case, as its exception would be: its result, kept below.
                write_atomic(result_file, json.dumps({"case": job["case"], "status": failure.status,
                                                      "error": str(failure)}))
            if result_file.is_file():
                self.record(stage, job, json.loads(result_file.read_text()), by_case[job["case"]])
                # A job's result file is written whole once it finished, even when a later job of its batch
                # crashed the worker: keep it, or every rerun converts the whole batch again.
                if self.cache is not None:
                    self.cache.store(stack, node_task(job), {"ok": True, "result": {}},
                                     self.entries.get((stage.name, job["case"])))
            elif len(batch) > 1:
                # Finished jobs keep their results; the rest rerun alone so the one that crashes is named.
                self.run_batch(stage, [job], by_case)
            elif failure is not None:
                self.outcomes[(stage.name, job["case"])] = Outcome(failure.status, str(failure))
            else:
                self.outcomes[(stage.name, job["case"])] = Outcome("convert_error", error or "no result")

    def record(self, stage: Stage, job: dict[str, Any], result: dict[str, Any], manifest: dict[str, Any], *,
               cached: bool = False) -> None:
        outcome = Outcome(result["status"], result["error"], onnx_ops=result.get("onnx_ops", ""),
                          seconds=float(result.get("seconds", 0.0)), artifact=job["target"] or job["source"],
                          cached=cached)
        if outcome.status == "ok":
            expected = load_npz(str(self.case_dir(manifest) / "expected.npz"))
            produced = load_npz(job["outputs"])
            outcome.comparison, outcome.output, outcome.tolerance = compare_outputs(
                expected, produced, manifest["io"]["outputs"])
            outcome.status = "pass" if outcome.comparison.passed else "mismatch"
            outcome.error = outcome.comparison.error
        self.outcomes[(stage.name, job["case"])] = outcome


def node_task(job: dict[str, Any]) -> dict[str, Any]:
    """A node-case job in the task cache's terms (harness.execution.cache.plan_for)."""
    return {"task": "node_job", **job}


def select_cases(manifests: list[dict[str, Any]], *, sample: str, limit: int | None) -> list[dict[str, Any]]:
    if sample == "per_op":
        chosen = per_op_sample(manifests)
    elif sample == "all":
        chosen = sorted(manifests, key=lambda m: str(m["name"]))
    else:
        raise ValueError(f"sample is 'all' or 'per_op', not {sample!r}")
    return chosen[:limit] if limit is not None else chosen


def at_opsets(run: NodeProbeRun, stack: str, chosen: list[dict[str, Any]],
              opsets: Sequence[int | None]) -> list[dict[str, Any]]:
    """The chosen cases at each opset: as shipped for None (and for the opset a case ships at), converted for
    the others."""
    targets = [opset for opset in opsets if opset is not None]
    if not targets:
        return chosen
    out_dir = run.run_dir / "node" / f"{stack}-opsets"
    task = {"task": "call", "function": f"{__name__}:version_node_cases", "framework": "none",
            "kwargs": {"manifests": chosen, "opsets": targets, "out_dir": str(out_dir)}}
    step = call_task(run.pool, "current", "none", task, 1200, run.cache)
    if step.status != "ok":
        raise RuntimeError(f"converting the node cases to opsets {targets} failed ({step.status}): {step.error}")
    by_case: dict[str, list[dict[str, Any]]] = {}
    for manifest in step.result["value"]:
        by_case.setdefault(manifest["case"], []).append(manifest)
    cases = []
    for shipped in chosen:
        own = shipped["ops"][0]["opset"] if shipped["ops"] else None
        if None in opsets or own in targets:
            cases.append(shipped)
        cases += by_case.get(shipped["name"], [])
    return cases


def default_hops(stages: dict[str, Stage]) -> list[str]:
    """The probe routes a run takes unless told: every one whose converters run at their default variant (the
    dynamo exporter's way back is chosen by name)."""
    def at_default(stage: Stage) -> bool:
        return stage.converter is None or stage.converter.variant == type(stage.converter).variants[0]

    return [route for route, path in probe_routes(stages).items() if all(at_default(stages[name]) for name in path)]


def run_node_probes(run_dir: Path, pool: WorkerPool, *, hops: Sequence[str] | None = None,
                    case_filter: str | None = None, limit: int | None = None, sample: str = "all",
                    batch_size: int = 25, case_timeout: float = 300.0,
                    progress: Callable[[str], None] = print, shard: Shard = EVERYTHING,
                    cache: TaskCache | None = None, opsets: Sequence[int | None] = (None,)) -> list[dict[str, Any]]:
    """Run the node cases through each route in `hops`; one row per (case, opset, route, hop).

    opsets: each case as shipped (None) and converted to each of these opsets with onnx.version_converter; a
    case that cannot be converted to one is `untested` there, with the converter's reason.

    case_filter: comma-separated globs on case names ("test_relu*,test_add"); sample: "all", or "per_op" for the first
    variant per op type; limit: at most this many cases per case stack, after filter and sample; shard: only
    the cases this shard owns.
    """
    run = NodeProbeRun(run_dir, pool, batch_size=batch_size, case_timeout=case_timeout, progress=progress,
                       cache=cache)
    routes = probe_routes(run.stages)
    hops = default_hops(run.stages) if hops is None else hops
    unknown = [route for route in hops if route not in routes]
    if unknown:
        raise ValueError(f"unknown probe routes {unknown}; known: {', '.join(routes)}")
    stage_names = list(dict.fromkeys(name for route in hops for name in routes[route]))
    cases: dict[str, list[dict[str, Any]]] = {}
    for stack in dict.fromkeys(run.stages[name].case_stack for name in stage_names):
        chosen = select_cases(run.export(stack, case_filter), sample=sample, limit=limit)
        chosen = [case for case in chosen if shard.owns(f"node:{case['name']}")]
        cases[stack] = at_opsets(run, stack, chosen, opsets)
    for name in stage_names:  # a route lists a parent before its child
        stage = run.stages[name]
        run.run_stage(stage, cases[stage.case_stack])
        progress(f"[node] {stage.hop} ({name}) done in {run.stage_seconds[name]:.0f} s")
    return probe_rows(run, hops, cases)


def probe_rows(run: NodeProbeRun, hops: Sequence[str], cases: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    run_id = new_run_id()
    rows = []
    routes = probe_routes(run.stages)
    for route in hops:
        for index, name in enumerate(routes[route], 1):
            stage = run.stages[name]
            stack = stage.converter.stack if stage.converter else stage.worker[0]
            versions = stack_versions(stack, tracked_packages())
            converter = stage.converter.name if stage.converter else "onnxruntime"
            package = stage.converter.package if stage.converter else "onnxruntime"
            for manifest in cases[stage.case_stack]:
                outcome = run.outcomes[(name, manifest["name"])]
                first = manifest["ops"][0] if manifest["ops"] else {"domain": "", "opset": None}
                row: dict[str, Any] = {
                    "run_id": run_id, "probe_kind": "node", "probe": manifest["name"], "model": manifest["name"],
                    "family": "onnx_node", "source": "onnx", "route": route, "hop_index": index, "hop": stage.hop,
                    "output": outcome.output, "converter": converter,
                    "converter_version": versions.get(package, "?"), "stack": stack,
                    "case": manifest.get("case", manifest["name"]),
                    "op_type": primary_op(manifest), "domain": first["domain"], "opset": first["opset"],
                    "case_stack": stage.case_stack, "case_onnx_version": manifest["onnx_version"],
                    "status": outcome.status, "raw_status": outcome.status, "error": outcome.error,
                    "onnx_ops": outcome.onnx_ops, "seconds": round(outcome.seconds, 3),
                    "artifact": outcome.artifact, "cached": outcome.cached,
                    "conversions": int(stage.converter is not None and not outcome.cached
                                       and outcome.status not in ("skipped", "untested")),
                    "examples": 1 if outcome.comparison else 0, "harness_version": __version__,
                    "versions": json.dumps(versions, sort_keys=True),
                    "replay": run.replay_command(stage, manifest) if outcome.status not in (
                        "skipped", "untested") else "",
                }
                if outcome.comparison is not None:
                    comparison = outcome.comparison
                    row.update(max_abs_err=comparison.max_abs_err, max_rel_err=comparison.max_rel_err,
                               required_atol=comparison.required_atol,
                               mismatched_fraction=comparison.mismatched_fraction,
                               cosine_similarity=comparison.cosine_similarity, max_ulp=comparison.max_ulp,
                               transposed=comparison.transposed, output_scale=comparison.output_scale,
                               nonfinite_reference=comparison.nonfinite_reference)
                if outcome.tolerance is not None:
                    row.update(atol=outcome.tolerance.atol, rtol=outcome.tolerance.rtol,
                               tolerance_reason=outcome.tolerance.reason)
                rows.append(row)
    return classify_stochastic(rows)


# Ops whose outputs are random draws: their expected outputs are one sample, so they are classified,
# never compared (a mismatch there says nothing about the converter).
STOCHASTIC_OPS = ("Bernoulli", "RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike",
                  "Multinomial")


def classify_stochastic(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for row in rows:
        if row.get("probe_kind") != "node" or row.get("status") in ("untested", "skipped"):
            continue
        random_op = str(row.get("op_type", "")).split(",")[0] in STOCHASTIC_OPS
        if random_op or "training_dropout" in str(row.get("probe", "")):
            row["status"] = row["raw_status"] = "skipped"
            row["error"] = "stochastic: the op draws random numbers, so its outputs are not compared"
    return rows
