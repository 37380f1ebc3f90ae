"""OnnxFromTf: tf2onnx, from a Keras model (from_keras) or from a SavedModel (its documented CLI)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from harness.converters.base import Converter
from harness.formats import KERAS, ONNX, SAVED_MODEL

OPSET = 17


class OnnxFromKeras(Converter):
    source = KERAS
    target = ONNX
    framework = "tf"
    package = "tf2onnx"

    def convert(self, source: Path, target: Path, io: dict[str, Any], example: list[Any]) -> None:
        import keras
        import tensorflow as tf
        import tf2onnx

        model = keras.saving.load_model(source)
        signature = [
            tf.TensorSpec([None if isinstance(dim, str) else dim for dim in spec["shape"]], spec["dtype"],
                          name=spec["name"])
            for spec in io["inputs"]
        ]
        tf2onnx.convert.from_keras(model, input_signature=signature, opset=OPSET, output_path=str(target))


class OnnxFromSavedModel(Converter):
    source = SAVED_MODEL
    target = ONNX
    framework = "tf"
    package = "tf2onnx"

    def convert(self, source: Path, target: Path, io: dict[str, Any], example: list[Any]) -> None:
        # tf2onnx exposes SavedModel conversion through its CLI; a child process also keeps its
        # TensorFlow graph state out of the long-lived worker.
        command = [sys.executable, "-m", "tf2onnx.convert", "--saved-model", str(source),
                   "--signature_def", "serving_default", "--opset", str(OPSET), "--output", str(target)]
        completed = subprocess.run(command, capture_output=True, text=True)
        if completed.returncode != 0 or not target.exists():
            errors = [line for line in completed.stderr.splitlines() if "Error" in line or "error" in line]
            raise RuntimeError(f"tf2onnx exited {completed.returncode}: {(errors or ['no output'])[-1].strip()}")
