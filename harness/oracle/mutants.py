"""Mutation self-test: plant known faults in a model's exported ONNX graph, one per hop, and measure how many
the harness's verdict detects, how many it localizes to the planted node, and whether benign controls pass.

A mutant is an ONNX -> ONNX converter (MutantConverter) whose variant is a plan: a kind and the name of one
node. It changes that node and nothing else, so the localizer's bisection (which converts every prefix of the
graph with the hop's converter) sees a prefix without the node unchanged and a prefix with it changed: the
first divergent node must be the planted one.

Worker-side (they import onnx / onnxruntime): plan_mutants, plant. The run that drives the mutants through the
engine is harness.run.self_test; its report is harness.reporting.mutation.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.converters.base import Converter
from harness.formats import ONNX

# Fault kinds: each a converter bug seen in the wild, or its near neighbour.
FAULTS = {
    "weight": "one output channel's weights (the largest) of the node scaled by 1.01",
    "bias": "the node's bias dropped (zeroed)",
    "activation": "the activation swapped for its near neighbour (Relu->LeakyRelu(0.01), Sigmoid->HardSigmoid, "
                  "Tanh->Softsign, Erf->Tanh, ReLU6 Clip->Relu)",
    "pooling": "max and average pooling (or reduction) swapped",
    "softmax_axis": "softmax over another axis",
    "precision": "the node's output rounded to float16",
    "layout": "the node's output read in the wrong memory order (channels-last data as channels-first; "
              "on a 2-D output, the feature order reversed)",
    "batch_mix": "the batch rolled by one example at the node (visible only with batch > 1)",
    "saturation": "the node's output clipped at 8x its largest value on a unit-scale input (visible only "
                  "on large inputs)",
    "norm_epsilon": "the normalization's epsilon raised to 1e-2",
    "padding": "padding shifted from begin to end (SAME_UPPER read as SAME_LOWER)",
}
# Benign controls: changes below float32 noise that a sound verdict must pass.
CONTROLS = {
    "commute": "the two inputs of a commutative op swapped",
    "ulp": "the node's output scaled by 1 + 2^-23 (one float32 ULP)",
    "float64": "the node computed in float64 and rounded back (closer to the truth than the reference)",
}
WEIGHT_CHANGE = 0.01
SATURATION_MULTIPLE = 8.0
RAISED_EPSILON = 1e-2
ONE_ULP = 1.0 + 2.0**-23  # 1 + 2^-24 rounds to 1 in float32: it would change nothing
INT64_MAX = 2**63 - 1

NEIGHBOURS = {"Relu": "LeakyRelu", "LeakyRelu": "Relu", "Sigmoid": "HardSigmoid", "HardSigmoid": "Sigmoid",
              "Tanh": "Softsign", "Erf": "Tanh"}
POOL_SWAPS = {"MaxPool": "AveragePool", "AveragePool": "MaxPool", "GlobalAveragePool": "GlobalMaxPool",
              "GlobalMaxPool": "GlobalAveragePool", "ReduceMean": "ReduceMax", "ReduceMax": "ReduceMean"}
WEIGHTED_OPS = ("MatMul", "Gemm", "Conv", "ConvTranspose", "LSTM", "GRU", "RNN")
BIASED_OPS = ("Gemm", "Conv", "ConvTranspose")
COMPUTE_OPS = ("MatMul", "Gemm", "Conv", "ConvTranspose", "LSTM", "GRU", "RNN", "Add", "Mul", "Sub", "Div")
COMMUTATIVE_OPS = ("Add", "Mul", "Max", "Min", "Sum")
FLOAT64_OPS = ("MatMul", "Gemm")  # onnxruntime has double kernels for these (not for Conv)
NORM_OPS = ("BatchNormalization", "LayerNormalization", "InstanceNormalization", "GroupNormalization")
PADDED_OPS = ("Conv", "MaxPool", "AveragePool")
# Ops whose output does not grow with their input: a large input cannot push a node after them past a
# threshold, so saturation is planted only upstream of them.
BOUNDED_OPS = ("Sigmoid", "Tanh", "Softmax", "LogSoftmax", "Erf", "HardSigmoid", "Softsign", "Clip",
               "LayerNormalization", "InstanceNormalization", "GroupNormalization", "Cos", "Sin",
               "LSTM", "GRU", "RNN")  # recurrent outputs are tanh-bounded hidden states


# -- the plan and the converter ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Plan:
    kind: str
    node: str  # the node's name in the exported graph
    index: int  # its position there (what the localizer reports as #index)
    op_type: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def control(self) -> bool:
        return self.kind in CONTROLS

    def encode(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @staticmethod
    def decode(text: str) -> Plan:
        data = json.loads(text)
        return Plan(data["kind"], data["node"], int(data["index"]), data["op_type"], dict(data.get("params", {})))

    def describe(self) -> str:
        return (FAULTS | CONTROLS)[self.kind]


class MutantConverter(Converter):
    """onnx -> onnx: the same graph with one fault (or one benign control) planted at one named node."""

    source = ONNX
    target = ONNX
    framework = "none"
    package = "onnx"
    label = "mutant"

    def __init__(self, variant: str = "", *, stack: str | None = None) -> None:
        # The variant is an encoded Plan, not one of a fixed list.
        self.plan = Plan.decode(variant)
        if self.plan.kind not in FAULTS and self.plan.kind not in CONTROLS:
            raise ValueError(f"unknown mutant kind {self.plan.kind!r}")
        self.variant = variant
        self.stack = stack or type(self).stack
        self.opset = None  # an ONNX -> ONNX mutant keeps the graph's opset

    @property
    def name(self) -> str:
        return f"MutantConverter[{self.plan.kind}@#{self.plan.index}]"

    @property
    def marks(self) -> list[str]:
        # Route ids become folder names: the node name may hold '/', so the mark uses its index.
        return [f"mutant-{self.plan.kind}-{self.plan.index}"]

    def convert(self, source: Path, target: Path, io: dict[str, Any], example: list[Any]) -> None:
        import onnx

        model = onnx.load(str(source))
        planted = plant(model, self.plan)
        onnx.save(model, str(target))
        # Whether the node was there: a prefix cut before it is rightly unchanged, a whole graph is not.
        (target.parent / "planted.json").write_text(json.dumps({"planted": planted, "plan": asdict(self.plan)}))


# -- inside a worker: planting --------------------------------------------------------------------------------

def plant(model: Any, plan: Plan) -> bool:
    """Change the node named plan.node in place; False (and the model untouched) when the graph lacks it."""
    graph = model.graph
    index = next((i for i, node in enumerate(graph.node) if node.name == plan.node), None)
    if index is None:
        return False
    PLANTERS[plan.kind](model, index, plan.params)
    return True


def _initializer(graph: Any, name: str) -> Any:
    return next((tensor for tensor in graph.initializer if tensor.name == name), None)


def _add_initializer(graph: Any, name: str, array: np.ndarray) -> str:
    from onnx import numpy_helper

    graph.initializer.append(numpy_helper.from_array(array, name))
    return name


def _redirect_output(graph: Any, index: int, suffix: str) -> tuple[str, str]:
    """Rename node `index`'s first output, so that nodes inserted after it can produce the original name."""
    node = graph.node[index]
    original = node.output[0]
    internal = f"{original}__{suffix}"
    node.output[0] = internal
    return original, internal


def _insert_after(graph: Any, index: int, nodes: list[Any]) -> None:
    for offset, new in enumerate(nodes, start=1):
        graph.node.insert(index + offset, new)


def _plant_weight(model: Any, index: int, params: dict[str, Any]) -> None:
    from onnx import numpy_helper

    graph, node = model.graph, model.graph.node[index]
    slot = params["input"]
    weights = numpy_helper.to_array(_initializer(graph, node.input[slot])).copy()
    # One whole output channel, not one element: a single weight can sit on a unit that no input reaches.
    channels = np.moveaxis(weights, int(params["axis"]), 0)
    norms = np.abs(channels.reshape(channels.shape[0], -1)).sum(axis=1)
    channels[int(np.argmax(norms))] *= np.float32(1 + WEIGHT_CHANGE)
    _swap_initializer(graph, node, slot, weights)


def _swap_initializer(graph: Any, node: Any, slot: int, array: np.ndarray) -> None:
    """The node reads a changed copy; other nodes reading the original keep it, and an orphan is removed."""
    original = node.input[slot]
    node.input[slot] = _add_initializer(graph, f"{original}__mutant", array)
    if not any(original in other.input for other in graph.node):
        graph.initializer.remove(_initializer(graph, original))


def _plant_bias(model: Any, index: int, params: dict[str, Any]) -> None:
    from onnx import numpy_helper

    graph, node = model.graph, model.graph.node[index]
    slot = params["input"]
    bias = numpy_helper.to_array(_initializer(graph, node.input[slot]))
    _swap_initializer(graph, node, slot, np.zeros_like(bias))


def _replace_op(model: Any, index: int, op_type: str, inputs: list[str], **attributes: Any) -> None:
    from onnx import helper

    node = model.graph.node[index]
    model.graph.node[index].CopyFrom(helper.make_node(op_type, inputs, list(node.output), name=node.name,
                                                      **attributes))


def _plant_activation(model: Any, index: int, params: dict[str, Any]) -> None:
    node = model.graph.node[index]
    x = node.input[0]
    if node.op_type == "Clip":  # ReLU6 exported as Clip(0, 6): the upper bound lost
        _replace_op(model, index, "Relu", [x])
    elif node.op_type == "Relu":
        _replace_op(model, index, "LeakyRelu", [x], alpha=0.01)
    elif node.op_type == "HardSigmoid":
        _replace_op(model, index, "Sigmoid", [x])
    elif node.op_type == "Sigmoid":
        _replace_op(model, index, "HardSigmoid", [x], alpha=0.2, beta=0.5)
    else:
        _replace_op(model, index, NEIGHBOURS[node.op_type], [x])


def _plant_pooling(model: Any, index: int, params: dict[str, Any]) -> None:
    node = model.graph.node[index]
    kept = {"kernel_shape", "strides", "pads", "auto_pad", "ceil_mode", "axes", "keepdims"}
    attributes = {a.name: _attribute_value(a) for a in node.attribute if a.name in kept}
    _replace_op(model, index, POOL_SWAPS[node.op_type], list(node.input), **attributes)


def _attribute_value(attribute: Any) -> Any:
    from onnx import helper

    return helper.get_attribute_value(attribute)


def _set_attribute(node: Any, name: str, value: Any) -> None:
    from onnx import helper

    kept = [a for a in node.attribute if a.name != name]
    del node.attribute[:]
    node.attribute.extend([*kept, helper.make_attribute(name, value)])


def _plant_softmax_axis(model: Any, index: int, params: dict[str, Any]) -> None:
    _set_attribute(model.graph.node[index], "axis", int(params["axis"]))


def _plant_norm_epsilon(model: Any, index: int, params: dict[str, Any]) -> None:
    _set_attribute(model.graph.node[index], "epsilon", RAISED_EPSILON)


def _plant_padding(model: Any, index: int, params: dict[str, Any]) -> None:
    node = model.graph.node[index]
    pads = list(params["pads"])
    half = len(pads) // 2
    shifted = [pads[axis] - 1 if pads[axis] > 0 else pads[axis] for axis in range(half)]
    ends = [pads[half + axis] + (pads[axis] - shifted[axis]) for axis in range(half)]
    _set_attribute(node, "pads", shifted + ends)


def _plant_precision(model: Any, index: int, params: dict[str, Any]) -> None:
    from onnx import TensorProto, helper

    graph = model.graph
    original, internal = _redirect_output(graph, index, "float32")
    name = graph.node[index].name
    _insert_after(graph, index, [
        helper.make_node("Cast", [internal], [f"{original}__float16"], name=f"{name}__to_float16",
                         to=TensorProto.FLOAT16),
        helper.make_node("Cast", [f"{original}__float16"], [original], name=f"{name}__to_float32",
                         to=TensorProto.FLOAT)])


def _plant_layout(model: Any, index: int, params: dict[str, Any]) -> None:
    from onnx import helper

    graph = model.graph
    original, internal = _redirect_output(graph, index, "layout")
    name = graph.node[index].name
    rank = int(params["rank"])
    if rank >= 3:
        # Channels-last bytes read as channels-first: transpose axis 1 to the end, reshape to the old shape.
        permutation = [0, *range(2, rank), 1]
        nodes = [helper.make_node("Shape", [internal], [f"{original}__shape"], name=f"{name}__shape"),
                 helper.make_node("Transpose", [internal], [f"{original}__moved"], name=f"{name}__transpose",
                                  perm=permutation),
                 helper.make_node("Reshape", [f"{original}__moved", f"{original}__shape"], [original],
                                  name=f"{name}__reshape")]
    else:
        starts = _add_initializer(graph, f"{original}__starts", np.array([-1], np.int64))
        ends = _add_initializer(graph, f"{original}__ends", np.array([-INT64_MAX], np.int64))
        axes = _add_initializer(graph, f"{original}__axes", np.array([1], np.int64))
        steps = _add_initializer(graph, f"{original}__steps", np.array([-1], np.int64))
        nodes = [helper.make_node("Slice", [internal, starts, ends, axes, steps], [original],
                                  name=f"{name}__reverse")]
    _insert_after(graph, index, nodes)


def _plant_batch_mix(model: Any, index: int, params: dict[str, Any]) -> None:
    from onnx import helper

    graph = model.graph
    original, internal = _redirect_output(graph, index, "batch")
    name = graph.node[index].name
    one = _add_initializer(graph, f"{original}__one", np.array([1], np.int64))
    zero = _add_initializer(graph, f"{original}__zero", np.array([0], np.int64))
    end = _add_initializer(graph, f"{original}__end", np.array([INT64_MAX], np.int64))
    _insert_after(graph, index, [
        helper.make_node("Slice", [internal, one, end, zero], [f"{original}__tail"], name=f"{name}__tail"),
        helper.make_node("Slice", [internal, zero, one, zero], [f"{original}__head"], name=f"{name}__head"),
        helper.make_node("Concat", [f"{original}__tail", f"{original}__head"], [original], name=f"{name}__roll",
                         axis=0)])


def _plant_saturation(model: Any, index: int, params: dict[str, Any]) -> None:
    from onnx import helper

    graph = model.graph
    original, internal = _redirect_output(graph, index, "unclipped")
    name = graph.node[index].name
    bound = float(params["threshold"])
    low = _add_initializer(graph, f"{original}__low", np.array(-bound, np.float32))
    high = _add_initializer(graph, f"{original}__high", np.array(bound, np.float32))
    _insert_after(graph, index, [helper.make_node("Clip", [internal, low, high], [original], name=f"{name}__clip")])


def _plant_commute(model: Any, index: int, params: dict[str, Any]) -> None:
    node = model.graph.node[index]
    first, second = node.input[0], node.input[1]
    node.input[0], node.input[1] = second, first


def _plant_ulp(model: Any, index: int, params: dict[str, Any]) -> None:
    from onnx import helper

    graph = model.graph
    original, internal = _redirect_output(graph, index, "exact")
    name = graph.node[index].name
    factor = _add_initializer(graph, f"{original}__ulp", np.array(ONE_ULP, np.float32))
    _insert_after(graph, index, [helper.make_node("Mul", [internal, factor], [original], name=f"{name}__ulp")])


def _plant_float64(model: Any, index: int, params: dict[str, Any]) -> None:
    from onnx import TensorProto, helper

    graph = model.graph
    node = graph.node[index]
    casts = []
    for slot, name in enumerate(node.input):
        if name:
            casts.append(helper.make_node("Cast", [name], [f"{name}__float64_{index}"],
                                          name=f"{node.name}__in{slot}_float64", to=TensorProto.DOUBLE))
            node.input[slot] = f"{name}__float64_{index}"
    original, internal = _redirect_output(graph, index, "float64")
    _insert_after(graph, index, [helper.make_node("Cast", [internal], [original], name=f"{node.name}__to_float32",
                                                  to=TensorProto.FLOAT)])
    for offset, cast in enumerate(casts):
        graph.node.insert(index + offset, cast)


PLANTERS: dict[str, Callable[[Any, int, dict[str, Any]], None]] = {
    "weight": _plant_weight, "bias": _plant_bias, "activation": _plant_activation, "pooling": _plant_pooling,
    "softmax_axis": _plant_softmax_axis, "precision": _plant_precision, "layout": _plant_layout,
    "batch_mix": _plant_batch_mix, "saturation": _plant_saturation, "norm_epsilon": _plant_norm_epsilon,
    "padding": _plant_padding, "commute": _plant_commute, "ulp": _plant_ulp, "float64": _plant_float64,
}


# -- inside a worker: planning ---------------------------------------------------------------------------------

@dataclass
class NodeFacts:
    """What the planner knows of one node from the graph and one run of it on the export example."""

    index: int
    name: str
    op_type: str
    inputs: list[str]
    output: str
    shape: tuple[int, ...] | None = None  # of the first output, on the example; None when not a float tensor
    peak: float = 0.0  # max |first output| on the example
    varies: bool = False  # the first output is not constant
    from_input: bool = False  # depends on a graph input
    grows: bool = False  # its magnitude follows a real-valued graph input's (no bounded op in between)
    attributes: dict[str, Any] = field(default_factory=dict)


def node_facts(model: Any, example: list[np.ndarray]) -> tuple[list[NodeFacts], dict[str, Any]]:
    """Every node's facts; onnxruntime runs the graph once with every node's first output exposed."""
    import onnx
    import onnxruntime
    from onnx import helper, numpy_helper

    from harness.runners.onnxruntime_runner import session_options

    graph = model.graph
    initializers = {tensor.name: tensor for tensor in graph.initializer}
    inputs = [value for value in graph.input if value.name not in initializers]
    exposed = onnx.ModelProto()
    exposed.CopyFrom(model)
    known = {value.name for value in exposed.graph.output}
    for node in graph.node:
        if node.output and node.output[0] and node.output[0] not in known:
            exposed.graph.output.append(helper.make_empty_tensor_value_info(node.output[0]))
            known.add(node.output[0])
    options = session_options()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = onnxruntime.InferenceSession(exposed.SerializeToString(), options, providers=["CPUExecutionProvider"])
    feed = {value.name: array for value, array in zip(session.get_inputs(), example)}
    names = [value.name for value in session.get_outputs()]
    values = dict(zip(names, session.run(names, feed)))
    real_inputs = {value.name for value, array in zip(inputs, example) if np.issubdtype(array.dtype, np.floating)}
    depends = {value.name for value in inputs}
    grows = set(real_inputs)
    facts = []
    for index, node in enumerate(graph.node):
        output = node.output[0] if node.output else ""
        fact = NodeFacts(index, node.name, node.op_type, list(node.input), output,
                         attributes={a.name: helper.get_attribute_value(a) for a in node.attribute
                                     if a.type in (onnx.AttributeProto.INT, onnx.AttributeProto.INTS,
                                                   onnx.AttributeProto.FLOAT, onnx.AttributeProto.STRING)})
        fact.from_input = any(name in depends for name in node.input)
        fact.grows = node.op_type not in BOUNDED_OPS and any(name in grows for name in node.input)
        if fact.from_input:
            depends.update(node.output)
        if fact.grows:
            grows.update(node.output)
        value = values.get(output)
        if isinstance(value, np.ndarray) and value.dtype == np.float32 and value.size:
            fact.shape = tuple(value.shape)
            finite = value[np.isfinite(value)]
            fact.peak = float(np.abs(finite).max()) if finite.size else 0.0
            fact.varies = bool(finite.size > 1 and finite.max() > finite.min())
        facts.append(fact)
    weights = {name: numpy_helper.to_array(tensor) for name, tensor in initializers.items()}
    return facts, weights


def _float_weight(weights: dict[str, np.ndarray], name: str, min_rank: int) -> bool:
    array = weights.get(name)
    return array is not None and array.dtype == np.float32 and array.ndim >= min_rank and bool(np.any(array))


def output_axis(fact: NodeFacts, slot: int) -> int:
    """The axis of a weight that indexes the node's output channels."""
    if fact.op_type == "MatMul":
        return -1 if slot == 1 else -2
    if fact.op_type == "Gemm":
        transposed = fact.attributes.get("transB" if slot == 1 else "transA", 0)
        return (0 if transposed else 1) if slot == 1 else (1 if transposed else 0)
    if fact.op_type == "ConvTranspose":
        return 1
    return 1 if fact.op_type in ("LSTM", "GRU", "RNN") else 0


def candidates(kind: str, facts: list[NodeFacts], weights: dict[str, np.ndarray],
               batch: int | None) -> list[tuple[NodeFacts, dict[str, Any]]]:
    """The nodes a kind can be planted at, each with the plan's parameters."""
    usable = [fact for fact in facts if fact.name and fact.from_input and fact.shape is not None and fact.varies]
    found: list[tuple[NodeFacts, dict[str, Any]]] = []
    for fact in usable:
        op, shape = fact.op_type, fact.shape or ()
        by_op_alone = {
            "activation": op in NEIGHBOURS or (op == "Clip" and len(fact.inputs) == 3),
            "pooling": op in POOL_SWAPS, "norm_epsilon": op in NORM_OPS, "float64": op in FLOAT64_OPS,
            "commute": op in COMMUTATIVE_OPS and len(fact.inputs) == 2,
            "precision": op in COMPUTE_OPS, "ulp": op in COMPUTE_OPS,
        }
        if by_op_alone.get(kind):
            found.append((fact, {}))
        elif kind == "weight" and op in WEIGHTED_OPS:
            slot = next((slot for slot, name in enumerate(fact.inputs) if _float_weight(weights, name, 2)), None)
            if slot is not None:
                found.append((fact, {"input": slot, "axis": output_axis(fact, slot)}))
        elif kind == "bias":
            if op in BIASED_OPS and len(fact.inputs) > 2 and _float_weight(weights, fact.inputs[2], 1):
                found.append((fact, {"input": 2}))
            elif op == "Add":
                slot = next((slot for slot, name in enumerate(fact.inputs) if name in weights
                             and weights[name].ndim == 1 and weights[name].size > 1
                             and _float_weight(weights, name, 1)), None)
                if slot is not None:
                    found.append((fact, {"input": slot}))
        elif kind == "softmax_axis" and op in ("Softmax", "LogSoftmax") and len(shape) >= 2:
            axis = fact.attributes.get("axis", -1) % len(shape)
            others = [other for other in range(len(shape)) if other != axis and shape[other] > 1]
            if others and shape[axis] > 1:
                found.append((fact, {"axis": others[-1]}))
        elif kind == "layout" and len(shape) >= 2 and shape[1] > 1 and (len(shape) == 2 or max(shape[2:]) > 1):
            found.append((fact, {"rank": len(shape)}))
        elif kind == "batch_mix" and batch and batch > 1 and shape and shape[0] == batch:
            found.append((fact, {}))
        elif kind == "saturation" and fact.grows and op in COMPUTE_OPS and fact.peak > 0:
            found.append((fact, {"threshold": SATURATION_MULTIPLE * fact.peak}))
        elif kind == "padding" and op in PADDED_OPS:
            pads = list(fact.attributes.get("pads", []))
            if pads and any(pad > 0 for pad in pads[:len(pads) // 2]):
                found.append((fact, {"pads": pads}))
    return found


def plan_mutants(model_path: str, inputs_npz: str, seed: int = 0, batch_symbolic: bool = True) -> dict[str, Any]:
    """One plan per kind (its node chosen by `seed` among the candidates), and why each other kind has none.

    Runs in a worker. `batch_symbolic`: whether the model takes more than one example at once."""
    import onnx

    from harness.execution.worker import load_npz

    model = onnx.load(model_path)
    example = load_npz(inputs_npz)
    facts, weights = node_facts(model, example)
    batch = int(example[0].shape[0]) if batch_symbolic and example and example[0].ndim else None
    plans, not_applicable = [], {}
    for kind in (*FAULTS, *CONTROLS):
        found = candidates(kind, facts, weights, batch)
        if not found:
            not_applicable[kind] = _why_none(kind, batch)
            continue
        fact, params = random.Random(f"{seed}:{kind}").choice(found)
        plans.append(asdict(Plan(kind, fact.name, fact.index, fact.op_type, params)))
    return {"plans": plans, "not_applicable": not_applicable, "nodes": len(facts)}


def _why_none(kind: str, batch: int | None) -> str:
    if kind == "batch_mix" and not (batch and batch > 1):
        return "the model takes one example at a time (batch fixed at 1): batch mixing cannot show"
    if kind == "saturation":
        return "no weighted node whose values grow with a real-valued input"
    return {
        "weight": "no node with a weight initializer", "bias": "no node with a non-zero bias initializer",
        "activation": "no activation with a near neighbour (Relu, Sigmoid, Tanh, Erf, ReLU6)",
        "pooling": "no pooling or mean/max reduction", "softmax_axis": "no softmax with a second axis",
        "norm_epsilon": "no normalization node (an exporter may have folded it into a Conv)",
        "padding": "no padded Conv or pooling", "commute": "no commutative op with two inputs",
        "float64": "no MatMul or Gemm", "layout": "no output with channels and a second axis",
    }.get(kind, "no candidate node")


# -- in the controller -------------------------------------------------------------------------------------------

MUTATION_COLUMNS = ["model", "source", "kind", "control", "node_index", "node", "op_type", "planted", "status",
                    "detected", "first_divergent_node", "localized", "localized_on", "error_vs_truth",
                    "reference_noise", "max_abs_err", "error", "seconds"]


@dataclass
class MutationRun:
    """One model's mutation self-test: a row per mutant, and the kinds that could not be planted in it."""

    model: str
    source: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    not_applicable: dict[str, str] = field(default_factory=dict)
    skipped: str = ""  # why no mutant ran (the export hop itself failed)
    seconds: float = 0.0


# -- the report ---------------------------------------------------------------------------------------------------

@dataclass
class Totals:
    faults: int = 0
    detected: int = 0
    localized: int = 0
    controls: int = 0
    controls_passed: int = 0

    def add(self, rows: list[dict[str, Any]]) -> Totals:
        for row in rows:
            if row["control"]:
                self.controls += 1
                self.controls_passed += row["status"] == "pass"
            else:
                self.faults += 1
                self.detected += bool(row["detected"])
                self.localized += bool(row["localized"])
        return self

    def figures(self) -> str:
        return (f"faults detected {self.detected}/{self.faults} ({percent(self.detected, self.faults)}), "
                f"localized to the planted node {self.localized}/{self.faults} "
                f"({percent(self.localized, self.faults)}), controls passed {self.controls_passed}/{self.controls} "
                f"({percent(self.controls_passed, self.controls)})")


def percent(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.1f}%" if whole else "n/a"


def summarize(runs: list[MutationRun]) -> Totals:
    totals = Totals()
    for run in runs:
        totals.add(run.rows)
    return totals
