"""OnnxFromTf: tf2onnx, from a Keras model (from_keras) or from a SavedModel (the calls its CLI makes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.converters.base import Converter
from harness.formats import KERAS, ONNX, SAVED_MODEL

OPSET = 17  # tf2onnx's default target; --opsets chooses others
SIGNATURE = "serving_default"  # what TF Serving runs, and what the SavedModel runner runs

_fresh_name_counter: int | None = None


def start_names_afresh() -> None:
    """Set tf2onnx's process-wide counter behind generated names (Transpose__12, the symbolic dim unk__6)
    to where a fresh process starts it, so a model converted in a long-lived worker does not depend on
    what the worker converted before. Importing tf2onnx advances the counter; only conversions move it
    further. Names that still vary, as they do between two CLI runs: the TF function names of control-flow
    branches (a TensorFlow uid) and constants that tf2onnx's optimizers visit in hash order.
    """
    global _fresh_name_counter
    import tf2onnx.convert  # noqa: F401 - imports every module whose import makes a name
    from tf2onnx import utils

    if _fresh_name_counter is None:
        _fresh_name_counter = utils.INTERNAL_NAME
    utils.INTERNAL_NAME = _fresh_name_counter


class Tf2onnxExporter(Converter):
    """What both tf2onnx converters share: the opset they target."""

    target = ONNX
    framework = "tf"
    package = "tf2onnx"
    takes_opset = True

    def default_opset(self) -> int | None:
        return OPSET


class OnnxFromKeras(Tf2onnxExporter):
    source = KERAS

    def convert(self, source: Path, target: Path, io: dict[str, Any], example: list[Any]) -> None:
        import keras
        import tensorflow as tf
        import tf2onnx

        start_names_afresh()
        model = keras.saving.load_model(source)
        signature = [
            tf.TensorSpec([None if isinstance(dim, str) else dim for dim in spec["shape"]], spec["dtype"],
                          name=spec["name"])
            for spec in io["inputs"]
        ]
        tf2onnx.convert.from_keras(model, input_signature=signature, opset=self.target_opset, output_path=str(target))


class OnnxFromSavedModel(Tf2onnxExporter):
    source = SAVED_MODEL

    def convert(self, source: Path, target: Path, io: dict[str, Any], example: list[Any]) -> None:
        import tensorflow as tf
        from tf2onnx import convert, tf_loader

        # tf2onnx converts a SavedModel only through its CLI, and a process per artifact imports
        # TensorFlow again each time (3 s). These are the two calls the CLI's main() makes, with its
        # defaults (the same code in tf2onnx 1.16.1 and 1.17.0), so the model is the one the CLI writes;
        # the public from_graph_def differs (it freezes again and continues past a failing op handler).
        # from_saved_model resets TF's default graph before and after; _convert_common uses its own graph.
        start_names_afresh()
        graph_def, inputs, outputs, initialized_tables, tensors_to_rename = tf_loader.from_saved_model(
            str(source), None, None, tag=None, signatures=[SIGNATURE], concrete_function=None, large_model=False,
            return_initialized_tables=True, return_tensors_to_rename=True, use_graph_names=False)
        # The graph is named by the SavedModel's folder, not its path: the ONNX file names no folder of this machine.
        with tf.device("/cpu:0"):
            convert._convert_common(
                graph_def, name=source.name, continue_on_error=False, target=[], opset=self.target_opset,
                custom_op_handlers={}, extra_opset=[], shape_override=None, input_names=inputs,
                output_names=outputs, inputs_as_nchw=None, outputs_as_nchw=None, large_model=False,
                tensors_to_rename=tensors_to_rename, ignore_default=None, use_default=None, tflite_path=None,
                dequantize=False, tfjs_path=None, initialized_tables=initialized_tables, output_frozen_graph=None,
                output_path=str(target))
