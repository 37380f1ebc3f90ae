"""Localize the first ONNX node an ONNX-consuming converter gets wrong, and write a standalone repro for it.

Bisection over node prefixes: prefix k is the source graph cut after node k (file order, which ONNX
requires to be topological). Its outputs are node k's outputs plus every value produced so far that a
later node or the graph's output still reads, so a wrong node stays visible after it (a residual skip
does not hide it). Each prefix is converted with the converter under test, run with the runner of its
target format and judged against onnxruntime's outputs of the same prefix and the prefix's float64 truth (the
graph widened to float64), by the verdict's own rule (oracle.compare.tolerance_rule): benign float32 rounding
at a cancelling node is not named as the fault. A conversion or run error counts as a failure. Binary search
assumes that once a prefix fails every longer one does; the answer is checked locally (prefix k-1 passes,
prefix k fails), and `scan=True` tries every prefix instead.

Worker-side functions (run through the worker's "call" task; they import onnx / onnxruntime):
  list_nodes, extract_prefix, reference_outputs, reference_truth.
Controller-side: localize() -> Localization, write_repro(), localization_row().
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.converters import tracked_packages
from harness.converters.base import Converter
from harness.errors import WorkerFailure
from harness.execution.cache import TaskCache
from harness.execution.pool import WorkerPool, call_task
from harness.execution.stacks import stack_versions
from harness.execution.worker import load_npz, save_npz
from harness.formats import ONNX
from harness.oracle.compare import compare, default_tolerance, rule_source
from harness.repro.localized import LOCALIZED_HEADER, localized_repro
from harness.runners import runner_for
from harness.spec import Tolerance

# onnxruntime of this stack is the reference; extraction uses its onnx, which keeps the source's IR version.
REFERENCE_STACK = "current"
PASS = "pass"
REFERENCE_ERROR = "reference_error"  # onnxruntime or the extractor failed on a prefix: no verdict on the converter
MAX_STEP_OVER = 4  # prefixes tried around a middle that onnxruntime cannot run, before giving up on it
MODULE = "harness.oracle.localize"  # not __name__, which is "__main__" under python -m


# -- inside a worker -----------------------------------------------------------------------------------------

def _value_summary(value: Any) -> dict[str, Any]:
    import onnx

    tensor = value.type.tensor_type
    dtype = onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type).name if tensor.elem_type else ""
    shape = [dim.dim_value if dim.HasField("dim_value") else (dim.dim_param or None) for dim in tensor.shape.dim]
    return {"name": value.name, "dtype": dtype, "shape": shape}


def _graph_inputs(graph: Any) -> list[Any]:
    # Before IR 4 initializers were also listed as inputs; they are weights, not something to feed.
    initializers = {tensor.name for tensor in graph.initializer}
    return [value for value in graph.input if value.name not in initializers]


def list_nodes(model_path: str) -> dict[str, Any]:
    """The graph's feedable inputs, outputs and nodes in order, each with its op type, domain and opset."""
    import onnx

    model = onnx.load(model_path)
    opsets = {entry.domain or "ai.onnx": entry.version for entry in model.opset_import}
    nodes = []
    for index, node in enumerate(model.graph.node):
        domain = node.domain or "ai.onnx"
        nodes.append({"index": index, "name": node.name, "op_type": node.op_type, "domain": domain,
                      "opset": opsets.get(domain), "inputs": list(node.input), "outputs": list(node.output)})
    return {"inputs": [_value_summary(value) for value in _graph_inputs(model.graph)],
            "outputs": [value.name for value in model.graph.output], "nodes": nodes,
            "ir_version": model.ir_version, "opsets": opsets}


def prefix_outputs(nodes: list[Any], graph_outputs: set[str], index: int) -> list[str]:
    """Node `index`'s outputs and every value produced up to it that a later node or the graph reads.

    Sorted by name: a SavedModel signature returns its outputs keyed by name, and the runners fall back
    to sorted order when the converter renamed them, so sorted order is the one every runner agrees on.
    """
    produced = {name for node in nodes[:index + 1] for name in node.output if name}
    read_later = {name for node in nodes[index + 1:] for name in node.input if name}
    live = produced & (read_later | graph_outputs)
    return sorted(live | {name for name in nodes[index].output if name})


def extract_prefix(model_path: str, index: int, out_path: str) -> dict[str, Any]:
    """Save the subgraph of nodes 0..index (those its outputs need) with the initializers it reads."""
    import onnx
    from onnx.utils import Extractor

    model = onnx.load(model_path)
    try:
        # Value infos give the cut's outputs their types; a model shape inference rejects is cut untyped.
        typed = onnx.shape_inference.infer_shapes(model)
    except Exception:
        typed = model
    nodes = list(typed.graph.node)
    outputs = prefix_outputs(nodes, {value.name for value in typed.graph.output}, index)
    extractor = Extractor(typed)
    for name in outputs:
        extractor.value_infos.setdefault(name, onnx.helper.make_empty_tensor_value_info(name))
    inputs = [value.name for value in _graph_inputs(typed.graph)]
    prefix = extractor.extract_model(inputs, outputs)
    prefix.ir_version = model.ir_version  # a legacy converter reads only the IR versions it knows
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    onnx.save(prefix, out_path)
    return {"inputs": [_value_summary(value) for value in prefix.graph.input], "outputs": outputs,
            "nodes": len(prefix.graph.node)}


def reference_outputs(model_path: str, inputs_npz: str, out_path: str) -> dict[str, Any]:
    """onnxruntime's outputs of a model on one npz of inputs (in graph input order), saved as npz."""
    import onnxruntime

    from harness.runners.onnxruntime_runner import OnnxRuntimeRunner

    session = OnnxRuntimeRunner.session(model_path)
    arrays = load_npz(inputs_npz)
    feed = {value.name: array for value, array in zip(session.get_inputs(), arrays)}
    names = [value.name for value in session.get_outputs()]
    outputs = session.run(names, feed)
    save_npz(out_path, names, [np.asarray(output) for output in outputs])
    complete_output_types(model_path, dict(zip(names, outputs)))
    return {"outputs": names, "onnxruntime": onnxruntime.__version__}


def reference_truth(model_path: str, inputs_npz: str, out_path: str) -> dict[str, Any]:
    """The prefix's float64 truth (the graph widened to float64, run by onnxruntime or onnx.reference, as the
    ONNX runner's truth is), saved as npz in graph output order."""
    import onnx

    from harness.runners.onnxruntime_runner import OnnxRuntimeRunner

    graph = onnx.load(model_path).graph
    initializers = {tensor.name for tensor in graph.initializer}
    names = [value.name for value in graph.output]
    arrays = load_npz(inputs_npz)
    io = {"inputs": [{"name": value.name} for value in graph.input if value.name not in initializers],
          "outputs": names}
    runner = OnnxRuntimeRunner()
    truth = runner.run_float64(Path(model_path), io, arrays)
    save_npz(out_path, names, [np.asarray(value) for value in truth])
    return {"outputs": names, "truth": runner.truth_used}


def complete_output_types(model_path: str, outputs: dict[str, Any]) -> None:
    """Give a prefix's untyped outputs the dtype and rank onnxruntime produced. A cut whose outputs shape
    inference could not type would otherwise fail the onnx checker after any conversion, and the converter
    under test would be blamed for the cut."""
    import onnx

    model = onnx.load(model_path)
    changed = False
    for value in model.graph.output:
        array = outputs.get(value.name)
        tensor = value.type.tensor_type
        if array is None or (value.type.HasField("tensor_type") and tensor.elem_type and tensor.HasField("shape")):
            continue
        array = np.asarray(array)
        typed = onnx.helper.make_tensor_value_info(value.name, onnx.helper.np_dtype_to_tensor_dtype(array.dtype),
                                                   [None] * array.ndim)
        value.CopyFrom(typed)
        changed = True
    if changed:
        onnx.save(model, model_path)


# -- in the controller ---------------------------------------------------------------------------------------

@dataclass
class PrefixCheck:
    index: int
    status: str  # pass, mismatch, convert_error, run_error, crash, timeout, reference_error
    max_abs_err: float = float("nan")
    error: str = ""
    outputs: list[str] = field(default_factory=list)
    model: str = ""
    expected: str = ""
    truth: str = ""  # the prefix's float64 truth (npz); empty: judged against onnxruntime's float32 outputs alone
    truth_note: str = ""  # why there is no truth
    produced: str = ""
    artifact: str = ""
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.status == PASS


@dataclass
class Localization:
    model: str
    converter: str
    stack: str
    inputs: str
    work_dir: str
    nodes: int
    found: bool  # False: the whole model converts and matches, nothing to localize
    node_index: int | None = None
    node_name: str = ""
    op_type: str = ""
    domain: str = ""
    opset: int | None = None
    status: str = PASS  # the failing prefix's status
    max_abs_err: float = float("nan")
    error: str = ""
    verified: bool = False  # prefix k-1 (or the empty graph for k = 0) passes and prefix k fails
    note: str = ""
    prefix: PrefixCheck | None = None  # the smallest failing prefix
    checks: list[PrefixCheck] = field(default_factory=list)  # every prefix tried, in the order tried
    graph_inputs: list[str] = field(default_factory=list)
    tolerance: Tolerance | None = None
    seconds: float = 0.0

    @property
    def conversions(self) -> int:
        return len(self.checks)

    def summary(self) -> str:
        if not self.found:
            return (f"{self.converter}: all {self.nodes} nodes pass ({self.conversions} conversions, "
                    f"{self.seconds:.1f} s)")
        return (f"{self.converter}: first divergent node #{self.node_index} {self.op_type} {self.node_name!r} "
                f"({self.domain} opset {self.opset}): {self.status}"
                + (f", max abs err {self.max_abs_err:.3g}" if np.isfinite(self.max_abs_err) else "")
                + (f": {self.error}" if self.error else "")
                + f" ({self.conversions} conversions, {self.seconds:.1f} s"
                + ("" if self.verified else ", NOT verified") + ")")


class Localizer:
    """Evaluates prefixes of one model for one converter, each at most once."""

    def __init__(self, pool: WorkerPool, onnx_path: Path, converter: Converter, inputs_npz: Path,
                 work_dir: Path, tolerance: Tolerance | None, convert_timeout: float, run_timeout: float,
                 cache: TaskCache | None = None) -> None:
        if converter.source != ONNX:
            raise ValueError(f"{converter.name} converts from {converter.source.name}, not ONNX")
        self.pool, self.onnx_path, self.converter = pool, onnx_path.resolve(), converter
        self.inputs_npz, self.work_dir = inputs_npz.resolve(), work_dir.resolve()
        self.tolerance, self.convert_timeout, self.run_timeout = tolerance, convert_timeout, run_timeout
        self.runner = runner_for(converter.target.name)
        self.cache = cache
        self.checks: dict[int, PrefixCheck] = {}
        self.order: list[PrefixCheck] = []

    def call(self, function: str, **kwargs: Any) -> Any:
        task = {"task": "call", "function": f"{MODULE}:{function}", "kwargs": kwargs, "framework": "none"}
        step = call_task(self.pool, REFERENCE_STACK, "none", task, self.convert_timeout, self.cache)
        if step.status in ("crash", "timeout"):
            raise WorkerFailure(step.status, step.error)
        if step.status != "ok":
            raise RuntimeError(step.error)
        return step.result["value"]

    def graph(self) -> dict[str, Any]:
        listing: dict[str, Any] = self.call("list_nodes", model_path=str(self.onnx_path))
        return listing

    def fails(self, index: int) -> bool:
        """The converter got prefix `index` wrong (a prefix onnxruntime cannot run is not the converter's)."""
        check = self.check(index)
        return not check.passed and check.status != REFERENCE_ERROR

    def check(self, index: int) -> PrefixCheck:
        if index not in self.checks:
            started = time.perf_counter()
            check = self.evaluate(index)
            check.seconds = time.perf_counter() - started
            self.checks[index] = check
            self.order.append(check)
        return self.checks[index]

    def evaluate(self, index: int) -> PrefixCheck:
        folder = self.work_dir / f"prefix_{index:04d}"
        folder.mkdir(parents=True, exist_ok=True)
        model, expected_path = folder / "model.onnx", folder / "expected.npz"
        check = PrefixCheck(index, REFERENCE_ERROR, model=str(model), expected=str(expected_path))
        try:
            cut = self.call("extract_prefix", model_path=str(self.onnx_path), index=index, out_path=str(model))
            check.outputs = cut["outputs"]
            self.call("reference_outputs", model_path=str(model), inputs_npz=str(self.inputs_npz),
                      out_path=str(expected_path))
        except (RuntimeError, WorkerFailure) as exc:
            check.error = f"onnxruntime or onnx could not cut or run this prefix: {exc}"
            return check
        truth_path = folder / "truth.npz"
        try:
            self.call("reference_truth", model_path=str(model), inputs_npz=str(self.inputs_npz),
                      out_path=str(truth_path))
            check.truth = str(truth_path)
        except (RuntimeError, WorkerFailure) as exc:  # judged by the float32 rule, as a hop without a truth is
            check.truth_note = f"no float64 truth of this prefix: {exc}"
        expected = load_npz(str(expected_path))
        truths: list[Any] = load_npz(check.truth) if check.truth else [None] * len(expected)
        arrays = load_npz(str(self.inputs_npz))
        io = {"inputs": [{"name": value["name"], "dtype": array.dtype.name, "shape": list(array.shape)}
                         for value, array in zip(cut["inputs"], arrays)],
              "outputs": check.outputs}
        artifact = folder / self.converter.target.filename
        check.artifact = str(artifact)
        task = {"task": "convert", "converter": self.converter.reference, "source": str(model),
                "target": str(artifact), "io": io, "example": str(self.inputs_npz),
                "framework": self.converter.framework}
        status, error = self.send(self.converter.stack, self.converter.framework, task, self.convert_timeout,
                                  "convert_error")
        if status != "ok":
            check.status, check.error = status, error
            return check
        produced_path = folder / "produced.npz"
        task = {"task": "run", "runner": self.runner.reference, "artifact": str(artifact), "io": io,
                "inputs": [str(self.inputs_npz)], "outputs": [str(produced_path)],
                "framework": self.runner.framework}
        status, error = self.send(self.runner.stack or self.converter.stack, self.runner.framework, task,
                                  self.run_timeout, "run_error")
        if status != "ok":
            check.status, check.error = status, error
            return check
        check.produced = str(produced_path)
        produced = load_npz(str(produced_path))
        if len(produced) != len(expected):
            check.status = "mismatch"
            check.error = f"{len(produced)} outputs where onnxruntime gives {len(expected)}"
            return check
        worst, check.status = 0.0, PASS
        for name, reference, truth, candidate in zip(check.outputs, expected, truths, produced):
            tolerance = self.tolerance or default_tolerance(reference.dtype)
            comparison = compare(reference, candidate, tolerance, truth=truth)
            worst = max(worst, comparison.max_abs_err)
            if not comparison.passed and check.passed:
                check.status, check.error = "mismatch", f"output {name!r}: {comparison.error}"
        check.max_abs_err = worst
        return check

    def send(self, stack: str, framework: str, task: dict[str, Any], timeout: float,
             error_status: str) -> tuple[str, str]:
        step = call_task(self.pool, stack, framework, task, timeout, self.cache)
        if step.status != "ok":
            return (error_status if step.status == "error" else step.status), step.error
        errors = [error for error in step.result.get("errors", []) if error]
        return ("run_error", errors[0]) if errors else ("ok", "")


def localize(pool: WorkerPool, onnx_path: Path, converter: Converter, inputs_npz: Path, work_dir: Path,
             tolerance: Tolerance | None = None, *, scan: bool = False, convert_timeout: float = 600,
             run_timeout: float = 300, cache: TaskCache | None = None) -> Localization:
    """The first node whose prefix the converter gets wrong (bisection; `scan` tries every prefix in order).

    `inputs_npz` holds one input example in graph input order (the harness's npz layout); `tolerance`
    None means compare.default_tolerance of each output's dtype.
    """
    started = time.perf_counter()
    localizer = Localizer(pool, Path(onnx_path), converter, Path(inputs_npz), Path(work_dir), tolerance,
                          convert_timeout, run_timeout, cache)
    try:
        graph = localizer.graph()
    except (RuntimeError, WorkerFailure) as exc:
        result = Localization(str(onnx_path), converter.name, converter.stack, str(inputs_npz), str(work_dir), 0,
                              found=False, tolerance=tolerance, note=f"not localized: cannot list the graph ({exc})")
        return finish(result, localizer, started)
    nodes = graph["nodes"]
    result = Localization(str(onnx_path), converter.name, converter.stack, str(inputs_npz), str(work_dir),
                          len(nodes), found=False, graph_inputs=[value["name"] for value in graph["inputs"]],
                          tolerance=tolerance)
    if not nodes:
        result.note = "the graph has no nodes"
        return finish(result, localizer, started)
    whole = localizer.check(len(nodes) - 1)
    if whole.status == REFERENCE_ERROR:
        # onnxruntime cannot run the source graph itself: there is nothing to judge the converter against.
        result.note = f"not localized: {whole.error}"
        return finish(result, localizer, started)
    if scan:
        first = next((index for index in range(len(nodes)) if localizer.fails(index)), None)
    else:
        # A converter's error often names the node it stopped at ("Unsqueeze version 13 is not implemented"):
        # tried first, and confirmed by the prefix before it, it takes two conversions instead of log2(n).
        hint = named_node(whole.error, nodes) if whole.status in ("convert_error", "run_error") else None
        first = bisect(localizer, len(nodes), hint=hint)
    if first is None:
        return finish(result, localizer, started)
    node, prefix = nodes[first], localizer.checks[first]
    before = localizer.check(first - 1) if first > 0 else None
    result.found = True
    result.node_index, result.node_name, result.op_type = first, node["name"], node["op_type"]
    result.domain, result.opset = node["domain"], node["opset"]
    result.status, result.max_abs_err, result.error, result.prefix = (prefix.status, prefix.max_abs_err,
                                                                      prefix.error, prefix)
    result.verified = not prefix.passed and (before is None or before.passed)
    if before is not None and before.status == REFERENCE_ERROR:
        result.note = f"prefix {first - 1} could not be run by onnxruntime, so the node is not verified"
    elif first == 0:
        result.note = ("the first node already fails: look for a model-level cause (IR version, opset, "
                       "inputs) before blaming the node")
    elif not result.verified:
        result.note = f"prefix {first - 1} fails too ({before.status if before else '?'}): failure is not monotonic"
    return finish(result, localizer, started)


def named_node(error: str, nodes: list[dict[str, Any]]) -> int | None:
    """The first node an error names: by its name or an output's (a tensor name quoted in a scope), or by its
    op type as a word of its own ("Unsqueeze version 13 is not implemented"); None when it names none."""
    if not error:
        return None
    words = set(re.findall(r"[A-Za-z][A-Za-z0-9]*", error))
    for index, node in enumerate(nodes):
        names = [name for name in (node["name"], *node["outputs"]) if len(name) > 2]
        if node["op_type"] in words or any(name in error for name in names):
            return index
    return None


def bisect(localizer: Localizer, count: int, *, hint: int | None = None) -> int | None:
    """The smallest failing prefix, assuming failures are monotonic; None when the whole graph passes.

    `hint`, a node suspected of failing, is the first pivot and the prefix before it the second: when the
    hint fails and the prefix before passes, the search ends there; otherwise they only narrowed the
    interval. A prefix onnxruntime cannot cut or run says nothing about the converter, so it is stepped over:
    the nearest prefix in the open interval that can be judged is tried instead."""
    if not localizer.fails(count - 1):
        return None
    passing, failing = -1, count - 1  # -1: the empty graph, which passes by definition
    pivots = [] if hint is None else [hint, hint - 1]  # the prefix before the hint counts once the hint failed
    while failing - passing > 1:
        pivots = [pivot for pivot in pivots if passing < pivot < failing]
        middle = pivots.pop(0) if pivots else (passing + failing) // 2
        candidates = sorted(range(passing + 1, failing), key=lambda index: abs(index - middle))
        judged = next((index for index in candidates[:MAX_STEP_OVER]
                       if localizer.check(index).status != REFERENCE_ERROR), None)
        if judged is None:
            break  # no judgeable prefix near the middle: report the smallest failing one known
        if localizer.fails(judged):
            failing = judged
        else:
            passing = judged
    return failing


def finish(result: Localization, localizer: Localizer, started: float) -> Localization:
    result.checks = list(localizer.order)
    result.seconds = time.perf_counter() - started
    summary = {key: value for key, value in asdict(result).items() if key != "tolerance"}
    localizer.work_dir.mkdir(parents=True, exist_ok=True)
    (localizer.work_dir / "localization.json").write_text(json.dumps(summary, indent=1, default=str))
    return result


def localization_row(result: Localization, hop: str, route: str, converter: Converter) -> dict[str, Any]:
    """A result row (report.COLUMNS names plus the probe columns) for one localization."""
    versions = stack_versions(converter.stack, tracked_packages())
    return {
        "model": Path(result.model).parent.name, "route": route, "hop": hop, "converter": converter.name,
        "converter_version": versions.get(converter.package, "?"), "stack": converter.stack,
        "status": result.status, "max_abs_err": result.max_abs_err, "error": result.error,
        "op_type": result.op_type, "domain": result.domain, "opset": result.opset,
        "node_index": result.node_index, "node_name": result.node_name, "localized": result.found,
        "localization_verified": result.verified, "conversions": result.conversions,
        "seconds": round(result.seconds, 3), "artifact": result.prefix.model if result.prefix else result.model,
    }


# -- the standalone repro ------------------------------------------------------------------------------------

def repro_snippet(converter: Converter) -> str:
    """`convert_and_run(model, inputs, input_names, output_names)` for the converter: its record's snippet."""
    if converter.repro_snippet:
        return converter.repro_snippet
    raise ValueError(f"no standalone repro for {converter.name} (package {converter.package}); "
                     "give the converter a repro_snippet")


def write_repro(localization: Localization, out_dir: Path, converter: Converter) -> Path:
    """A self-contained folder: model.onnx, input.npz, expected.npz (onnxruntime), truth.npz (the float64 truth,
    when there was one), versions.json, repro.py, README.txt."""
    prefix = localization.prefix
    if not localization.found or prefix is None:
        raise ValueError(f"nothing to reproduce: {localization.summary()}")
    if not Path(prefix.expected).exists():
        raise ValueError(f"onnxruntime gave no reference outputs for the failing prefix: {prefix.error}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(prefix.model, out_dir / "model.onnx")
    # Keyed by plain graph names so the repro feeds and compares by name, not by the harness's npz order.
    inputs: dict[str, Any] = dict(zip(localization.graph_inputs, load_npz(localization.inputs)))
    expected: dict[str, Any] = dict(zip(prefix.outputs, load_npz(prefix.expected)))
    np.savez(out_dir / "input.npz", **inputs)
    np.savez(out_dir / "expected.npz", **expected)
    if prefix.truth and Path(prefix.truth).exists():  # the repro judges by the harness's rule, truth included
        truths: dict[str, Any] = dict(zip(prefix.outputs, load_npz(prefix.truth)))
        np.savez(out_dir / "truth.npz", **truths)
    versions = stack_versions(converter.stack, tracked_packages())
    (out_dir / "versions.json").write_text(json.dumps({
        "stack": converter.stack, "converter": converter.name, "package": converter.package,
        "packages": versions, "node_index": localization.node_index, "node_name": localization.node_name,
        "op_type": localization.op_type, "domain": localization.domain, "opset": localization.opset,
        "harness_status": localization.status, "harness_error": localization.error,
        "max_abs_err": localization.max_abs_err, "source_model": Path(localization.model).name,
    }, indent=1, default=str))
    tolerance = localization.tolerance
    header = LOCALIZED_HEADER.format(
        converter=converter.name, package=converter.package, version=versions.get(converter.package, "?"),
        index=localization.node_index, op_type=localization.op_type, name=localization.node_name,
        domain=localization.domain, opset=localization.opset, status=localization.status,
        atol=tolerance.atol if tolerance else None, rtol=tolerance.rtol if tolerance else None)
    (out_dir / "repro.py").write_text(localized_repro(header, repro_snippet(converter), rule_source()))
    # A command rather than a path: the folder is meant to travel (to an upstream bug report) as it is.
    (out_dir / "README.txt").write_text(
        f"{localization.summary()}\n\n"
        f"Reproduce (exit 1 = diverges), in this folder: python repro.py\n"
        f"(the harness's interpreter of stack {converter.stack}: `parity stacks {converter.stack} --python`)\n"
        f"Any Python with {converter.package} {versions.get(converter.package, '?')}, onnx "
        f"{versions.get('onnx', '?')} and numpy should do; versions.json lists the stack it was found in.\n")
    return out_dir / "repro.py"


def main(argv: list[str] | None = None) -> int:
    """python -m harness.oracle.localize MODEL.onnx INPUTS.npz CONVERTER_CLASS OUT_DIR [--scan]"""
    import argparse

    from harness.execution.worker import import_object

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("model", type=Path)
    parser.add_argument("inputs", type=Path, help="npz of one example, in graph input order")
    parser.add_argument("converter", help="module:Class, e.g. harness.converters.tf_from_onnx:TfFromOnnx")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--variant", default="")
    parser.add_argument("--scan", action="store_true", help="try every prefix instead of bisecting")
    args = parser.parse_args(argv)
    converter: Converter = import_object(args.converter)(args.variant)
    with WorkerPool(args.out_dir / "logs") as pool:
        result = localize(pool, args.model, converter, args.inputs, args.out_dir / "prefixes", scan=args.scan)
    print(result.summary())
    if result.found and result.prefix and Path(result.prefix.expected).exists():
        repro = write_repro(result, args.out_dir / "repro", converter)
        print((repro.parent / "README.txt").read_text().splitlines()[2])
    return 1 if result.found else 0


if __name__ == "__main__":
    sys.exit(main())
