"""Runs an ONNX artifact under onnxruntime's CPU provider: the reference runtime for every ONNX hop.

Its float64 truth is a copy of the graph with every float32 tensor, type and cast widened to float64,
run by onnxruntime where it has double kernels for every node, else by onnx.reference (slow, complete).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from harness.execution.worker import worker_threads
from harness.formats import ONNX
from harness.runners.base import Runner, canonical, cast_input, ordered_by_names

ORT_TYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16,
             "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(bool)": np.bool_,
             "tensor(int8)": np.int8, "tensor(uint8)": np.uint8}
DTYPE_ATTRIBUTES = ("to", "dtype", "output_dtype")  # Cast, RandomNormal/EyeLike/..., and friends


def session_options() -> Any:
    """Quiet session options, on the worker's thread count (harness.execution.pool.worker_environment says why)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = worker_threads()
    return options


def widen_to_float64(model: Any) -> Any:
    """A copy of an ONNX model computing in float64 wherever it computed in float32."""
    import onnx
    from onnx import TensorProto, numpy_helper

    widened = onnx.ModelProto()
    widened.CopyFrom(model)

    def widen_tensor(tensor: Any) -> None:
        if tensor.data_type == TensorProto.FLOAT:
            tensor.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(tensor).astype(np.float64), tensor.name))

    def widen_type(value_type: Any) -> None:
        if value_type.HasField("tensor_type") and value_type.tensor_type.elem_type == TensorProto.FLOAT:
            value_type.tensor_type.elem_type = TensorProto.DOUBLE
        elif value_type.HasField("sequence_type"):
            widen_type(value_type.sequence_type.elem_type)

    def widen_graph(graph: Any) -> None:
        for tensor in graph.initializer:
            widen_tensor(tensor)
        for value in [*graph.input, *graph.output, *graph.value_info]:
            widen_type(value.type)
        for node in graph.node:
            for attribute in node.attribute:
                if attribute.name in DTYPE_ATTRIBUTES and attribute.type == onnx.AttributeProto.INT \
                        and attribute.i == TensorProto.FLOAT:
                    attribute.i = TensorProto.DOUBLE
                elif attribute.type == onnx.AttributeProto.TENSOR:
                    widen_tensor(attribute.t)
                elif attribute.type == onnx.AttributeProto.GRAPH:
                    widen_graph(attribute.g)
                elif attribute.type == onnx.AttributeProto.GRAPHS:
                    for subgraph in attribute.graphs:
                        widen_graph(subgraph)

    widen_graph(widened.graph)
    return widened


class OnnxRuntimeRunner(Runner):
    format = ONNX
    framework = "none"
    stack = "current"
    truth_kind = "onnxruntime float64"

    def load(self, artifact: Path, io: dict[str, Any]) -> Any:
        return self.session(str(artifact))

    @staticmethod
    def session(model: str | bytes) -> Any:
        import onnxruntime

        return onnxruntime.InferenceSession(model, session_options(), providers=["CPUExecutionProvider"])

    def load_float64(self, artifact: Path, io: dict[str, Any]) -> Any:
        import onnx

        widened = widen_to_float64(onnx.load(str(artifact)))
        try:
            return self.session(widened.SerializeToString())
        except Exception:
            # onnxruntime has no double kernel for some ops (e.g. Conv); the reference evaluator has all.
            from onnx.reference import ReferenceEvaluator

            return ReferenceEvaluator(widened)

    def run_loaded(self, loaded: Any, io: dict[str, Any], inputs: list[Any]) -> list[Any]:
        if not hasattr(loaded, "get_inputs"):  # onnx.reference's evaluator, for the float64 truth
            self.truth_used = "onnx.reference float64"
            names = list(loaded.input_names)
            if len(names) != len(inputs):
                raise ValueError(f"the graph takes {len(names)} inputs, the model spec gives {len(inputs)}")
            results = loaded.run(None, dict(zip(names, inputs)))
            return self.matched(dict(zip(loaded.output_names, results)), io)
        graph_inputs = loaded.get_inputs()
        if len(graph_inputs) != len(inputs):
            raise ValueError(f"the graph takes {len(graph_inputs)} inputs, the model spec gives {len(inputs)}")
        # By name where the converter kept the names (but for ':0' and sanitising), else by position.
        by_name = {graph_input.name: graph_input for graph_input in graph_inputs}
        wanted = [spec["name"] for spec in io["inputs"]]
        order = ordered_by_names(list(by_name), wanted) if len(wanted) == len(inputs) else list(by_name)
        if len(wanted) > 1 and {canonical(n) for n in order} != {canonical(n) for n in wanted}:
            order = list(by_name)
            self.notes.append("inputs matched by position: the graph renamed them")
        feed = {name: cast_input(array, ORT_TYPES.get(by_name[name].type, array.dtype), name, self.notes)
                for name, array in zip(order, inputs)}
        names = [output.name for output in loaded.get_outputs()]
        return self.matched(dict(zip(names, loaded.run(names, feed))), io)
