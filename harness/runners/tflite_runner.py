"""Runs a TFLite flatbuffer the way a deployed app does: the LiteRT interpreter's signature runner.

LiteRT (ai-edge-litert) where the stack has it, else TensorFlow's own tf.lite.Interpreter (the same runtime,
scheduled for deletion in TF). A TFLite model has no float64 run: its builtin kernels (CONV_2D,
FULLY_CONNECTED, ...) take float32, float16 and integer tensors only, so a flatbuffer widened to float64 would
not run; its hop is judged against the source's float64 truth, with the float32 rule for its own drift.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import NoFloat64Run
from harness.execution.worker import worker_threads
from harness.formats import TFLITE
from harness.runners.base import Runner, cast_input, ordered_by_names


def interpreter_class() -> Any:
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # a stack without LiteRT (a converter writing TFLite in `current`)
        import tensorflow as tf

        return tf.lite.Interpreter
    return Interpreter


class TfliteRunner(Runner):
    format = TFLITE
    framework = "tf"  # shares the TF worker of the converter's stack; LiteRT itself imports no framework

    def load(self, artifact: Path, io: dict[str, Any]) -> Any:
        interpreter = interpreter_class()(model_path=str(artifact), num_threads=worker_threads())
        signatures = interpreter.get_signature_list()
        if not signatures:
            interpreter.allocate_tensors()
            return interpreter, None
        # One signature is what converters write (serving_default); with several, the first.
        return interpreter, interpreter.get_signature_runner(next(iter(signatures)))

    def load_float64(self, artifact: Path, io: dict[str, Any]) -> Any:
        raise NoFloat64Run("TFLite has no float64 kernels (CONV_2D, FULLY_CONNECTED and the like take float32, "
                           "float16 and integers only)")

    def run_loaded(self, loaded: Any, io: dict[str, Any], inputs: list[Any]) -> list[Any]:
        interpreter, signature = loaded
        wanted = [spec["name"] for spec in io["inputs"]]
        if signature is None:
            return self.run_without_signature(interpreter, io, inputs)
        details = signature.get_input_details()
        names = ordered_by_names(list(details), wanted)
        feed = {name: cast_input(np.asarray(array), details[name]["dtype"], name, self.notes)
                for name, array in zip(names, inputs)}
        outputs = signature(**feed)
        return self.matched({name: np.asarray(outputs[name])
                             for name in ordered_by_names(list(outputs), io["outputs"])}, io)

    def run_without_signature(self, interpreter: Any, io: dict[str, Any], inputs: list[Any]) -> list[Any]:
        """A flatbuffer with no signature: its input and output tensors by name, resized to the example."""
        details = {detail["name"]: detail for detail in interpreter.get_input_details()}
        names = ordered_by_names(list(details), [spec["name"] for spec in io["inputs"]])
        cast = [cast_input(np.asarray(array), details[name]["dtype"], name, self.notes)
                for name, array in zip(names, inputs)]
        for name, array in zip(names, cast):
            if list(details[name]["shape"]) != list(array.shape):
                interpreter.resize_tensor_input(details[name]["index"], list(array.shape))
        interpreter.allocate_tensors()
        for name, array in zip(names, cast):
            interpreter.set_tensor(details[name]["index"], array)
        interpreter.invoke()
        return self.matched({detail["name"]: np.array(interpreter.get_tensor(detail["index"]))
                             for detail in interpreter.get_output_details()}, io)
