"""A deliberately wrong ONNX->ONNX converter and a chain model for the localization tests. Imported in workers."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from harness.converters.base import Converter
from harness.execution.worker import save_npz
from harness.formats import ONNX

WRONG_NODE = "relu_2"  # the second Relu, which the "leaky" variant turns into LeakyRelu(alpha=0.1)
CLIP_MAX = 5.0  # the "clip_large" variant caps the first Relu here: wrong only on large activations
REJECTED_OP = "Sigmoid"  # the op the "reject_sigmoid" variant refuses, as an unsupported-op converter does
CHAIN = [  # (op type, node name, weight shape or None): 11 nodes
    ("MatMul", "matmul_1", (8, 16)), ("Add", "add_1", (16,)), ("Relu", "relu_1", None),
    ("MatMul", "matmul_2", (16, 16)), ("Mul", "mul_1", (16,)), ("Relu", "relu_2", None),
    ("Add", "add_2", (16,)), ("Sigmoid", "sigmoid_1", None), ("MatMul", "matmul_3", (16, 4)),
    ("Add", "add_3", (4,)), ("Tanh", "tanh_1", None),
]


def build_chain_model(out_dir: str, seed: int = 0) -> dict[str, Any]:
    """An 11-node MLP-like chain (opset 13, IR 8: onnx-tf 1.10 reads it) with one input example."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    nodes, initializers, previous = [], [], "x"
    for op_type, name, weight_shape in CHAIN:
        inputs = [previous]
        if weight_shape is not None:
            weight = rng.standard_normal(weight_shape).astype(np.float32)
            initializers.append(numpy_helper.from_array(weight, f"{name}_w"))
            inputs.append(f"{name}_w")
        output = "y" if name == CHAIN[-1][1] else f"{name}_out"
        nodes.append(helper.make_node(op_type, inputs, [output], name=name))
        previous = output
    graph = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    onnx.checker.check_model(model)
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(folder / "model.onnx"))
    save_npz(str(folder / "inputs.npz"), ["x"], [rng.standard_normal((2, 8)).astype(np.float32)])
    return {"model": str(folder / "model.onnx"), "inputs": str(folder / "inputs.npz")}


def mutate(model: Any, variant: str) -> Any:
    """What the wrong converter does to a graph; shared by convert() and the standalone repro."""
    from onnx import helper, numpy_helper

    if variant == "exact_bias_off":
        return computed_in_float64(model, bias_shift=BIAS_SHIFT)

    if variant == "clip_large":
        relu = next((index for index, node in enumerate(model.graph.node) if node.op_type == "Relu"), None)
        if relu is None:  # a prefix cut before the Relu: nothing to break
            return model
        node = model.graph.node[relu]
        model.graph.initializer.extend([numpy_helper.from_array(np.array(0, np.float32), "clip_low"),
                                        numpy_helper.from_array(np.array(CLIP_MAX, np.float32), "clip_high")])
        model.graph.node[relu].CopyFrom(helper.make_node(
            "Clip", [node.input[0], "clip_low", "clip_high"], list(node.output), name=node.name))
        return model
    for index, node in enumerate(model.graph.node):
        if variant == "reject_sigmoid" and node.op_type == REJECTED_OP:
            raise NotImplementedError(f"{REJECTED_OP} version 13 is not implemented.")
        if variant == "leaky" and node.name == WRONG_NODE:
            model.graph.node[index].CopyFrom(
                helper.make_node("LeakyRelu", list(node.input), list(node.output), name=node.name, alpha=0.1))
    return model


class MiscompilingOnnxConverter(Converter):
    """onnx -> onnx: the same graph, except for one node the variant breaks."""

    source = ONNX
    target = ONNX
    framework = "none"
    package = "onnx"
    variants = ("leaky", "reject_sigmoid", "identity", "clip_large", "exact_bias_off")
    repro_snippet: ClassVar[str] = '''

def convert_and_run(model, inputs, input_names, output_names):
    # The fake converter's behaviour, inlined: relu_2 becomes LeakyRelu(alpha=0.1); run by onnxruntime.
    import onnxruntime
    from onnx import helper

    for index, node in enumerate(model.graph.node):
        if node.name == "relu_2":
            model.graph.node[index].CopyFrom(
                helper.make_node("LeakyRelu", list(node.input), list(node.output), name=node.name, alpha=0.1))
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(output_names, {name: inputs[name] for name in input_names})
'''

    def convert(self, source: Path, target: Path, io: dict[str, Any], example: list[Any]) -> None:
        import onnx

        onnx.save(mutate(onnx.load(str(source)), self.variant), str(target))


def build_conv_model(out_dir: str, seed: int = 0) -> dict[str, Any]:
    """Conv -> Relu -> GlobalAveragePool (opset 13): onnxruntime has no double Conv kernel."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    weight = numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("GlobalAveragePool", ["r"], ["y"], name="pool")]
    graph = helper.make_graph(nodes, "conv", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["B", 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["B", 4, 1, 1])], [weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    onnx.checker.check_model(model)
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(folder / "model.onnx"))
    save_npz(str(folder / "inputs.npz"), ["x"], [rng.standard_normal((2, 3, 8, 8)).astype(np.float32)])
    return {"model": str(folder / "model.onnx"), "inputs": str(folder / "inputs.npz")}


def build_untyped_output_model(out_dir: str) -> dict[str, Any]:
    """x -> Relu -> y where y is declared without a type, as a cut is when shape inference cannot type it."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="relu")], "untyped",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                              [helper.make_empty_tensor_value_info("y")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(folder / "model.onnx"))
    save_npz(str(folder / "inputs.npz"), ["x"], [np.ones((2, 3), np.float32)])
    return {"model": str(folder / "model.onnx"), "inputs": str(folder / "inputs.npz")}


def checker_accepts(model_path: str) -> bool:
    import onnx

    onnx.checker.check_model(onnx.load(model_path), full_check=True)
    return True


# The cancelling model: x near 1000 minus its own mean leaves values near 0.1, so onnxruntime's float32 mean is
# off by many times the atol at the Sub (benign rounding, every element of a row shifted alike), while the
# "exact_bias_off" converter computes in float64 (closer to the truth) but shifts the Add's bias (the real fault).
CANCELLING = [("ReduceMean", "mean"), ("Sub", "centered"), ("Mul", "scaled"), ("Add", "biased"), ("Tanh", "out")]
BIAS_SHIFT = 0.05


def build_cancelling_model(out_dir: str, seed: int = 0) -> dict[str, Any]:
    """ReduceMean -> Sub -> Mul -> Add -> Tanh over (2, 512) inputs near 1000 (opset 13, IR 8)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    width = 512
    initializers = [numpy_helper.from_array(rng.standard_normal(width).astype(np.float32) * 50, "scale"),
                    numpy_helper.from_array(rng.standard_normal(width).astype(np.float32) * 0.1, "bias")]
    nodes = [helper.make_node("ReduceMean", ["x"], ["mean_out"], name="mean", axes=[-1], keepdims=1),
             helper.make_node("Sub", ["x", "mean_out"], ["centered_out"], name="centered"),
             helper.make_node("Mul", ["centered_out", "scale"], ["scaled_out"], name="scaled"),
             helper.make_node("Add", ["scaled_out", "bias"], ["biased_out"], name="biased"),
             helper.make_node("Tanh", ["biased_out"], ["y"], name="out")]
    graph = helper.make_graph(nodes, "cancelling", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, width])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, width])], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    onnx.checker.check_model(model)
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(folder / "model.onnx"))
    x = (1000.0 + 0.1 * rng.standard_normal((2, width))).astype(np.float32)
    save_npz(str(folder / "inputs.npz"), ["x"], [x])
    return {"model": str(folder / "model.onnx"), "inputs": str(folder / "inputs.npz")}


def computed_in_float64(model: Any, bias_shift: float) -> Any:
    """The graph computed in float64 between a cast of each input and a cast of each output (a converter whose
    arithmetic is more accurate than onnxruntime's float32), with `bias_shift` added to the initializer `bias`."""
    from onnx import TensorProto, helper, numpy_helper

    from harness.runners.onnxruntime_runner import widen_to_float64

    wide = widen_to_float64(model)
    for tensor in wide.graph.initializer:
        if tensor.name == "bias":
            tensor.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(tensor) + bias_shift, "bias"))
    inputs = {value.name for value in wide.graph.input}
    outputs = {value.name for value in wide.graph.output}
    for node in wide.graph.node:
        node.input[:] = [f"{name}_f64" if name in inputs else name for name in node.input]
        node.output[:] = [f"{name}_f64" if name in outputs else name for name in node.output]
    casts_in = [helper.make_node("Cast", [name], [f"{name}_f64"], to=TensorProto.DOUBLE) for name in inputs]
    casts_out = [helper.make_node("Cast", [f"{name}_f64"], [name], to=TensorProto.FLOAT) for name in outputs]
    nodes = [*casts_in, *wide.graph.node, *casts_out]
    del wide.graph.node[:]
    wide.graph.node.extend(nodes)
    for value in (*wide.graph.input, *wide.graph.output):  # the interface stays float32
        value.type.tensor_type.elem_type = TensorProto.FLOAT
    return wide
