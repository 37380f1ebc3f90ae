"""Localize the first divergent node of a hop that writes ONNX (torch->onnx, keras->onnx, tf->onnx).

Bisection (oracle.localize) needs a converter that reads ONNX; an exporter reads a framework's model, so
here the source framework's own intermediate values are the reference: every torch module's output
(forward hooks) or every Keras layer's output, against onnxruntime's value of the same tensor in the
exported graph. Source and ONNX are matched through the names the exporters keep:
  TorchScript exporter  node names carry the module scope: "/layer2/shortcut/shortcut.0/Conv"
  dynamo exporter       node metadata "pkg.torch.onnx.name_scopes": ['', 'layer2', 'layer2.shortcut', ...]
  tf2onnx               node names carry the Keras layer's name scope: "model_1/fc2_1/MatMul"
A module's counterpart is the last node of its scope (its sub-modules included) whose value has the
module output's shape (for Keras, or that shape channels-first: tf2onnx moves convolutions to NCHW).

The answer is the first source module whose divergence persists: the first failing one after the last
passing one, in execution order. An earlier failure that a later module agrees with again is an exporter
fusion (BatchNorm folded into the Conv before it), not a fault; the note lists it.

Worker-side functions (run through the worker's "call" task): torch_intermediates (torch worker),
keras_intermediates (tf worker), onnx_intermediates (no framework). Controller-side: localize_export().
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.converters.base import Converter
from harness.execution.cache import TaskCache
from harness.execution.pool import WorkerPool, call_task
from harness.execution.worker import load_npz, save_npz
from harness.formats import KERAS, ONNX, TORCH
from harness.oracle.compare import Comparison, compare, default_tolerance
from harness.spec import Tolerance

MODULE = "harness.oracle.exporter_localize"  # not __name__, which is "__main__" under python -m
REFERENCE_STACK = "current"  # onnxruntime of this stack runs the exported graph, as the hop's runner does
NAME_SCOPES = "pkg.torch.onnx.name_scopes"  # the dynamo exporter's module path of each node
TORCH_SOURCE, KERAS_SOURCE = "torch module", "Keras layer"


# -- inside a worker -----------------------------------------------------------------------------------------

def torch_intermediates(module_dir: str, inputs_npz: str, out_path: str) -> dict[str, Any]:
    """Every module's output on one input, in the order the modules finished (children before parents).

    A module called more than once (a ReLU reused in a block) is left out: which call an ONNX node
    belongs to is ambiguous. Modules whose output is not one floating tensor are left out too.
    """
    import torch

    from harness.execution.torch_artifact import load_torch_module

    module = load_torch_module(Path(module_dir))
    calls: dict[str, int] = {}
    recorded: dict[str, np.ndarray] = {}

    def hook_for(name: str) -> Any:
        def hook(_module: Any, _inputs: Any, output: Any) -> None:
            calls[name] = calls.get(name, 0) + 1
            if isinstance(output, torch.Tensor) and output.is_floating_point():
                recorded[name] = output.detach().cpu().numpy().copy()

        return hook

    handles = [child.register_forward_hook(hook_for(name)) for name, child in module.named_modules() if name]
    try:
        with torch.no_grad():
            module(*(torch.from_numpy(array) for array in load_npz(inputs_npz)))
    finally:
        for handle in handles:
            handle.remove()
    names = [name for name in recorded if calls[name] == 1]
    save_npz(out_path, names, [recorded[name] for name in names])
    return {"names": names, "shapes": [list(recorded[name].shape) for name in names],
            "modules": [name for name, _ in module.named_modules() if name],
            "reused": sorted(name for name, count in calls.items() if count > 1)}


def keras_intermediates(model_path: str, inputs_npz: str, out_path: str) -> dict[str, Any]:
    """Every top-level layer's output of a functional (or Sequential) Keras model on one input, in layer order."""
    import keras

    model = keras.saving.load_model(model_path, compile=False)
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    probed = []
    for layer in layers:
        try:
            output = layer.output
        except (AttributeError, ValueError):  # a layer used twice has no single output
            continue
        if not isinstance(output, (list, tuple, dict)):
            probed.append((layer.name, output))
    probe = keras.Model(model.inputs, [output for _, output in probed])
    arrays = load_npz(inputs_npz)
    values = probe(arrays if len(arrays) > 1 else arrays[0], training=False)
    values = [np.asarray(value) for value in (values if isinstance(values, (list, tuple)) else [values])]
    names = [name for name, _ in probed]
    save_npz(out_path, names, values)
    return {"names": names, "shapes": [list(value.shape) for value in values],
            "modules": [layer.name for layer in layers], "reused": []}


def torch_scope(node: Any, modules: set[str]) -> str | None:
    """The deepest known module a torch-exported node came from; "" for the root, None when unnamed."""
    metadata = {entry.key: entry.value for entry in node.metadata_props}
    if NAME_SCOPES in metadata:
        # dynamo: full module paths from the root, then the FX node's own name.
        scopes = ast.literal_eval(metadata[NAME_SCOPES])
        known = [scope for scope in scopes[1:-1] if scope in modules]
        return known[-1] if known else ""
    if not node.name.startswith("/"):
        return None
    # TorchScript: "/layer2/shortcut/shortcut.0/Conv": each segment names a child of the scope before it,
    # a Sequential's child spelled "<parent>.<index>"; a second call of a module gets "_<n>" appended.
    path = ""
    for segment in node.name.split("/")[1:-1]:
        tail = path.rsplit(".", 1)[-1]
        candidates = [f"{path}.{segment}" if path else segment]
        if path and segment.startswith(f"{tail}."):
            candidates.insert(0, path[:len(path) - len(tail)] + segment)
        candidates += [re.sub(r"_\d+$", "", candidate) for candidate in candidates]
        resolved = next((candidate for candidate in candidates if candidate in modules), None)
        if resolved is None:
            break
        path = resolved
    return path


def keras_scope(node: Any, layers: set[str]) -> str | None:
    """The Keras layer whose name scope appears in a tf2onnx node name ("model_1/fc2_1/MatMul" -> fc2).

    Keras 3 makes scopes unique with a "_<n>" suffix; an exact segment match is preferred over a stripped one."""
    segments = node.name.split("/")[:-1]
    for segment in segments:
        if segment in layers:
            return str(segment)
    for segment in segments:
        stripped = re.sub(r"_\d+$", "", segment)
        if stripped in layers:
            return stripped
    return None


def channels_first(shape: list[int]) -> list[int]:
    return [shape[0], shape[-1], *shape[1:-1]] if len(shape) >= 3 else list(shape)


def onnx_intermediates(model_path: str, inputs_npz: str, out_path: str, family: str,
                       sources: list[dict[str, Any]], modules: list[str]) -> dict[str, Any]:
    """onnxruntime's value of each source module's counterpart in the exported graph, saved in `sources` order.

    family: "torch" or "tf", the exporter's source side; sources: [{"name", "shape"}] of the recorded outputs.
    """
    import onnx

    from harness.oracle.localize import _graph_inputs
    from harness.runners.onnxruntime_runner import OnnxRuntimeRunner

    model = onnx.load(model_path)
    nodes = list(model.graph.node)
    known = set(modules)
    if family == "torch":
        scheme = "dynamo name scopes" if any(entry.key == NAME_SCOPES for node in nodes
                                             for entry in node.metadata_props) else "TorchScript node names"
        scopes = [torch_scope(node, known) for node in nodes]
    else:
        scheme = "tf2onnx node names"
        scopes = [keras_scope(node, known) for node in nodes]
    scoped = [index for index, scope in enumerate(scopes) if scope is not None]
    result: dict[str, Any] = {"scheme": scheme, "nodes": len(nodes), "scoped_nodes": len(scoped), "matched": []}
    if not scoped:
        return result
    try:
        typed = onnx.shape_inference.infer_shapes(model)
    except Exception:  # untyped extra outputs still run; the types only help
        typed = model
    types = {value.name: value for value in [*typed.graph.value_info, *typed.graph.output]}
    existing = {value.name for value in model.graph.output}
    extra = [name for index in scoped for name in nodes[index].output if name and name not in existing]
    for name in extra:
        model.graph.output.append(types.get(name) or onnx.helper.make_empty_tensor_value_info(name))
    session = OnnxRuntimeRunner.session(model.SerializeToString())
    feed = {value.name: array for value, array in zip(_graph_inputs(model.graph), load_npz(inputs_npz))}
    names = [value.name for value in session.get_outputs()]
    values = dict(zip(names, session.run(names, feed)))
    chosen: list[np.ndarray] = []
    for source in sources:
        within = [index for index in scoped
                  if scopes[index] == source["name"] or (family == "torch" and source["name"] and
                                                          str(scopes[index]).startswith(source["name"] + "."))]
        match = None
        for index in reversed(within):  # the scope's last value of the module's shape is its output
            for name in nodes[index].output:
                value = values.get(name)
                if not isinstance(value, np.ndarray) or value.dtype.kind != "f":
                    continue
                if list(value.shape) == source["shape"]:
                    match = (index, name, "")
                elif family != "torch" and list(value.shape) == channels_first(source["shape"]) \
                        and value.ndim >= 3:
                    match = (index, name, "channels_first")
                if match:
                    break
            if match:
                break
        if match is None:
            continue
        index, name, layout = match
        node = nodes[index]
        result["matched"].append({"source": source["name"], "value": name, "layout": layout, "node_index": index,
                                  "node_name": node.name, "op_type": node.op_type,
                                  "first_node": within[0], "upstream": sorted(upstream_of(nodes, index))})
        chosen.append(values[name])
    save_npz(out_path, [entry["source"] for entry in result["matched"]], chosen)
    return result


def upstream_of(nodes: list[Any], index: int) -> set[int]:
    """The nodes whose values flow into node `index` (itself included), through the graph's data flow."""
    producer = {name: position for position, node in enumerate(nodes) for name in node.output if name}
    seen: set[int] = set()
    pending = [index]
    while pending:
        position = pending.pop()
        if position in seen:
            continue
        seen.add(position)
        pending += [producer[name] for name in nodes[position].input if name in producer]
    return seen


# -- in the controller ---------------------------------------------------------------------------------------

@dataclass
class TensorCheck:
    source: str  # the torch module path or Keras layer name
    node_index: int
    node_name: str
    op_type: str
    first_node: int  # the first node of the source's scope: the divergence lies between it and node_index
    comparison: Comparison
    upstream: frozenset[int] = frozenset()  # the nodes whose values flow into this one


@dataclass
class ExporterLocalization:
    converter: str
    found: bool = False
    source_kind: str = TORCH_SOURCE
    scheme: str = ""
    recorded: int = 0  # source intermediates recorded
    checks: list[TensorCheck] = field(default_factory=list)  # matched pairs, in the source's execution order
    divergent: TensorCheck | None = None
    transient: list[str] = field(default_factory=list)  # failures a later module agreed with again
    note: str = ""

    def found_text(self) -> str:
        if self.divergent is None:
            return ""
        check = self.divergent
        return f"#{check.node_index} {check.op_type} {check.node_name!r} ({self.source_kind} {check.source})"

    def summary(self) -> str:
        if self.note.startswith("not localized"):
            return self.note
        counts = (f"{len(self.checks)} of {self.recorded} {self.source_kind}s matched to ONNX values "
                  f"through {self.scheme}")
        if self.divergent is None:
            text = f"{self.converter}: all {counts} agree"
        else:
            check = self.divergent
            nodes = (f"nodes #{check.first_node}-#{check.node_index}" if check.first_node < check.node_index
                     else f"node #{check.node_index}")
            text = (f"{self.converter}: first divergent {self.source_kind} {check.source!r} ({nodes} of the export): "
                    f"{check.comparison.error}; {counts}")
        if self.transient:
            text += (f"; {', '.join(self.transient)} differed but a later one agreed again "
                     "(an op the exporter fused away, not the fault)")
        return text + (f"; {self.note}" if self.note else "")


def localize_export(pool: WorkerPool, converter: Converter, source_artifact: Path, onnx_path: Path,
                    inputs_npz: Path, work_dir: Path, tolerance: Tolerance | None = None,
                    timeout: float = 600, cache: TaskCache | None = None) -> ExporterLocalization:
    """The first source module or layer whose exported counterpart onnxruntime computes differently.

    `inputs_npz` holds one example in the source's layout (the harness's npz); `tolerance` None means
    compare.default_tolerance of each tensor's dtype."""
    result = ExporterLocalization(converter.name)
    if converter.target != ONNX:
        result.note = f"not localized: the hop writes {converter.target.name}, not ONNX"
        return result
    if converter.source == TORCH:
        function, family = "torch_intermediates", "torch"
    elif converter.source == KERAS:
        function, family, result.source_kind = "keras_intermediates", "tf", KERAS_SOURCE
    else:
        result.note = (f"not localized: no mapping from a {converter.source.name} artifact's tensors to ONNX "
                       "values yet (only torch modules and Keras layers are recorded)")
        return result
    if not onnx_path.exists():
        result.note = "not localized: the exporter wrote no ONNX to compare"
        return result
    work_dir.mkdir(parents=True, exist_ok=True)

    def call(stack: str, framework: str, name: str, **kwargs: Any) -> Any:
        task = {"task": "call", "function": f"{MODULE}:{name}", "kwargs": kwargs, "framework": framework}
        step = call_task(pool, stack, framework, task, timeout, cache)
        if step.status != "ok":
            raise RuntimeError(f"{name} ({step.status}): {step.error}")
        return step.result["value"]

    source_values, onnx_values = work_dir / "source_values.npz", work_dir / "onnx_values.npz"
    try:
        recorded = call(converter.stack, converter.framework, function, **{
            "module_dir" if family == "torch" else "model_path": str(source_artifact),
            "inputs_npz": str(inputs_npz), "out_path": str(source_values)})
    except RuntimeError as exc:
        result.note = f"not localized: the source's intermediate values could not be recorded: {exc}"
        return result
    result.recorded = len(recorded["names"])
    sources = [{"name": name, "shape": shape} for name, shape in zip(recorded["names"], recorded["shapes"])]
    try:
        exported = call(REFERENCE_STACK, "none", "onnx_intermediates", model_path=str(onnx_path),
                        inputs_npz=str(inputs_npz), out_path=str(onnx_values), family=family,
                        sources=sources, modules=recorded["modules"])
    except RuntimeError as exc:
        result.note = f"not localized: onnxruntime could not run the export's intermediate values: {exc}"
        return result
    result.scheme = exported["scheme"]
    if not exported["matched"]:
        result.note = (f"not localized: none of the {result.recorded} {result.source_kind}s maps to an ONNX "
                       f"value ({exported['scoped_nodes']} of {exported['nodes']} nodes carry a "
                       f"{result.source_kind} name in their {exported['scheme']})")
        return result
    reference = dict(zip(recorded["names"], load_npz(str(source_values))))
    produced = load_npz(str(onnx_values))
    for match, value in zip(exported["matched"], produced):
        expected = reference[match["source"]]
        if match["layout"] == "channels_first":  # back to the Keras layer's channels-last layout
            value = np.moveaxis(value, 1, -1)
        comparison = compare(expected, value, tolerance or default_tolerance(expected.dtype))
        result.checks.append(TensorCheck(match["source"], match["node_index"], match["node_name"],
                                         match["op_type"], match["first_node"], comparison,
                                         frozenset(match.get("upstream", ()))))
    # A failing value is cleared (an op the exporter fused away, not the fault) only when a passing value lies
    # downstream of it in the graph's data flow: a shortcut that runs later but never reads it clears nothing.
    passing = [check for check in result.checks if check.comparison.passed]
    cleared = [check for check in result.checks if not check.comparison.passed
               and any(check.node_index in later.upstream for later in passing)]
    result.transient = [check.source for check in cleared]
    failing = [check for check in result.checks if not check.comparison.passed and check not in cleared]
    if failing:
        result.divergent = failing[0]
        result.found = True
    else:
        result.note = "the divergence lies in nodes no source name maps to, after the last matched one"
    return result
