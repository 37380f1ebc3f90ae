"""ONNX recurrent models written with onnx.helper; called inside a stack's worker (the controller has no onnx)."""

from __future__ import annotations


def save_lstm(path: str, hidden: int, seed: int) -> str:
    """One LSTM node at opset 11 (the form onnx-tf 1.10 implements) over (seq 3, batch 1, features 4)."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    weights = {"W": rng.normal(size=(1, 4 * hidden, 4)), "R": rng.normal(size=(1, 4 * hidden, hidden)),
               "B": rng.normal(size=(1, 8 * hidden))}
    graph = helper.make_graph(
        [helper.make_node("LSTM", ["x", "W", "R", "B"], ["y"], hidden_size=hidden)], "lstm",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 1, 1, hidden])],
        [numpy_helper.from_array(value.astype(np.float32), name) for name, value in weights.items()])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)], ir_version=7), path)
    return path
