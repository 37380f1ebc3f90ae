"""Runs TensorFlow artifacts: a SavedModel through its serving_default signature, and a Keras model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.formats import KERAS, SAVED_MODEL
from harness.runners.base import Runner


def ordered_by_names(available: list[str], wanted: list[str]) -> list[str]:
    """`available` keys in the order of `wanted` when the names match, else in sorted order."""
    if sorted(available) == sorted(wanted):
        return list(wanted)
    return sorted(available)


class SavedModelRunner(Runner):
    """What TF Serving would run: the `serving_default` signature, not the Python object."""

    format = SAVED_MODEL
    framework = "tf"

    def load(self, artifact: Path, io: dict[str, Any]) -> Any:
        import tensorflow as tf

        loaded = tf.saved_model.load(str(artifact))
        return loaded, loaded.signatures["serving_default"]  # keep `loaded` alive with its variables

    def run_loaded(self, loaded: Any, io: dict[str, Any], inputs: list[Any]) -> list[Any]:
        import tensorflow as tf

        signature = loaded[1]
        input_specs = signature.structured_input_signature[1]
        names = ordered_by_names(list(input_specs), [spec["name"] for spec in io["inputs"]])
        feed = {name: tf.constant(array, dtype=input_specs[name].dtype) for name, array in zip(names, inputs)}
        outputs = signature(**feed)
        return [outputs[name].numpy() for name in ordered_by_names(list(outputs), io["outputs"])]


class KerasRunner(Runner):
    format = KERAS
    framework = "tf"
    stack = "current"

    def load(self, artifact: Path, io: dict[str, Any]) -> Any:
        import keras

        return keras.saving.load_model(artifact)

    def run_loaded(self, loaded: Any, io: dict[str, Any], inputs: list[Any]) -> list[Any]:
        outputs = loaded(inputs if len(inputs) > 1 else inputs[0], training=False)
        if isinstance(outputs, dict):
            outputs = list(outputs.values())
        if not isinstance(outputs, (list, tuple)):
            outputs = [outputs]
        return [output.numpy() if hasattr(output, "numpy") else output for output in outputs]
