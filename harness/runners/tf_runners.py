"""Runs TensorFlow artifacts: a SavedModel through its serving_default signature, and a Keras model.

A Keras model's float64 truth is a clone built from its own config with every floating dtype widened
to float64, holding the same (float32) weights. A SavedModel has no such twin: its graph is fixed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.formats import KERAS, SAVED_MODEL
from harness.runners.base import Runner, cast_input, ordered_by_names

NARROW_FLOATS = ("float16", "bfloat16", "float32", "mixed_float16", "mixed_bfloat16")
# Ops that call back into Python functions registered in the process that built the graph: a SavedModel holding
# one loads and runs there only (TF Serving or a fresh process: "Could not find callback with key=pyfunc_0").
PROCESS_BOUND_OPS = frozenset({"PyFunc", "PyFuncStateless", "EagerPyFunc"})


def process_bound_ops(artifact: Path) -> list[str]:
    """The op types of PROCESS_BOUND_OPS in a SavedModel's graphs and functions, read from saved_model.pb."""
    from tensorflow.core.protobuf import saved_model_pb2

    saved = saved_model_pb2.SavedModel()
    saved.ParseFromString((artifact / "saved_model.pb").read_bytes())
    found: set[str] = set()
    for meta_graph in saved.meta_graphs:
        graph = meta_graph.graph_def
        found.update(node.op for node in graph.node if node.op in PROCESS_BOUND_OPS)
        for function in graph.library.function:
            found.update(node.op for node in function.node_def if node.op in PROCESS_BOUND_OPS)
    return sorted(found)


def widened_to_float64(config: Any, inside_dtype: bool = False) -> Any:
    """A Keras config with every floating dtype (plain names and DTypePolicy configs) set to float64."""
    if isinstance(config, dict):
        return {key: widened_to_float64(value, inside_dtype or key == "dtype") for key, value in config.items()}
    if isinstance(config, list):
        return [widened_to_float64(value, inside_dtype) for value in config]
    if inside_dtype and config in NARROW_FLOATS:
        return "float64"
    return config


class SavedModelRunner(Runner):
    """What TF Serving would run: the `serving_default` signature, not the Python object."""

    format = SAVED_MODEL
    framework = "tf"

    def load(self, artifact: Path, io: dict[str, Any]) -> Any:
        import tensorflow as tf

        # Judged as a user would run it, not in the worker that may have written it and still holds the callback.
        bound = process_bound_ops(artifact)
        if bound:
            raise RuntimeError(f"the SavedModel holds {', '.join(bound)} ops, Python callbacks that exist only in the "
                               "process that wrote it: TF Serving or any other process cannot run it")
        loaded = tf.saved_model.load(str(artifact))
        return loaded, loaded.signatures["serving_default"]  # keep `loaded` alive with its variables

    def run_loaded(self, loaded: Any, io: dict[str, Any], inputs: list[Any]) -> list[Any]:
        import tensorflow as tf

        signature = loaded[1]
        input_specs = signature.structured_input_signature[1]
        names = ordered_by_names(list(input_specs), [spec["name"] for spec in io["inputs"]])
        feed = {name: tf.constant(cast_input(array, input_specs[name].dtype.as_numpy_dtype, name, self.notes))
                for name, array in zip(names, inputs)}
        outputs = signature(**feed)
        return self.matched({name: outputs[name].numpy()
                             for name in ordered_by_names(list(outputs), io["outputs"])}, io)


class KerasRunner(Runner):
    format = KERAS
    framework = "tf"
    stack = "current"
    truth_kind = "keras float64 clone"

    def load(self, artifact: Path, io: dict[str, Any]) -> Any:
        import keras

        return keras.saving.load_model(artifact)

    def load_float64(self, artifact: Path, io: dict[str, Any]) -> Any:
        import keras
        import numpy as np

        model = self.loaded(artifact, io)  # read only: its config and weights go into a new clone
        config = widened_to_float64(keras.saving.serialize_keras_object(model))
        clone = keras.saving.deserialize_keras_object(config)
        clone.set_weights([weight.astype(np.float64) if weight.dtype.kind == "f" else weight
                           for weight in model.get_weights()])
        return clone

    def run_loaded(self, loaded: Any, io: dict[str, Any], inputs: list[Any]) -> list[Any]:
        outputs = loaded(inputs if len(inputs) > 1 else inputs[0], training=False)
        if isinstance(outputs, dict):
            return self.matched({name: self.numpy(output) for name, output in outputs.items()}, io)
        if not isinstance(outputs, (list, tuple)):
            outputs = [outputs]
        return self.matched([self.numpy(output) for output in outputs], io)

    @staticmethod
    def numpy(output: Any) -> Any:
        return output.numpy() if hasattr(output, "numpy") else output
