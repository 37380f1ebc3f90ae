"""SavedModels built with plain TensorFlow for the tf2onnx tests. Imported inside tf workers."""

from __future__ import annotations

from typing import Any


def save_saved_model(path: str, op: str) -> dict[str, Any]:
    """Save a tf.Module whose serving_default signature takes x (batch x 4) and y (4) and returns `op`'s result:
    "affine" (x * y + 1, which tf2onnx converts), "erfc" (an op tf2onnx 1.17 has no handler for) or "pyfunc"
    (x * y + 1 through tf.py_function)."""
    import tensorflow as tf

    functions = {"affine": lambda x, y: x * y + 1.0, "erfc": lambda x, y: tf.math.erfc(x) + y,
                 # a Python callback, as onnx-tf's AveragePool fallback writes: it lives in this process only
                 "pyfunc": lambda x, y: tf.py_function(lambda a, b: a * b + 1.0, [x, y], tf.float32)}

    class Model(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x"),
                                      tf.TensorSpec([4], tf.float32, name="y")])
        def serve(self, x: Any, y: Any) -> dict[str, Any]:
            return {"result": functions[op](x, y)}

    model = Model()
    tf.saved_model.save(model, path, signatures={"serving_default": model.serve})
    return {"path": path}


def onnx_io(path: str) -> dict[str, Any]:
    """An ONNX model's graph inputs and outputs in order: name and dims (a symbolic dim by its name)."""
    import onnx

    graph = onnx.load(path).graph

    def described(values: Any) -> list[list[Any]]:
        return [[value.name, [dim.dim_param or dim.dim_value for dim in value.type.tensor_type.shape.dim]]
                for value in values]

    return {"inputs": described(graph.input), "outputs": described(graph.output)}
