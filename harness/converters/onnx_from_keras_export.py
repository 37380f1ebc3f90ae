"""Keras 3's own ONNX export, `model.export(path, format="onnx")`: the second Keras -> ONNX converter, beside
tf2onnx's from_keras. On the TensorFlow backend Keras traces the model's call and hands the concrete function to
tf2onnx's from_function. The call is the documented one with the model's input signature given, as the harness
gives it to tf2onnx: Keras 3.15 refuses a Functional model read from a .keras file without one ("The model
provided has never called", as it has not been called since loading); unless an opset is chosen, it is the opset
Keras leaves to tf2onnx."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.converters.base import Converter
from harness.formats import KERAS, ONNX


class OnnxFromKerasViaExport(Converter):
    source = KERAS
    target = ONNX
    framework = "tf"
    package = "keras"
    extra_packages = ("tf2onnx",)  # what export(format="onnx") calls on the TensorFlow backend
    label = "keras-export"
    takes_opset = True  # export(..., opset_version=N); at the default Keras passes none
    opset_sweep = False  # published at its default opset first: the sweep triples the Keras routes' cells
    bare_call = "keras_export_to_onnx"
    repro_packages = ("numpy", "tensorflow", "keras", "tf2onnx", "onnx")
    repro_kinds = {"keras": "keras-export"}  # noqa: RUF012 (a record's table, never mutated)
    source_probes = True

    def convert(self, source: Path, target: Path, io: dict[str, Any], example: list[Any]) -> None:
        import keras

        from harness.converters.onnx_from_tf import keras_input_signature, start_names_afresh

        # tf2onnx names nodes from a process-wide counter: started afresh, a model converts to the same graph in a
        # long-lived worker as in a fresh process.
        start_names_afresh()
        model = keras.saving.load_model(source)
        specs = keras_input_signature(io)
        options: dict[str, Any] = {} if self.opset is None else {"opset_version": self.opset}
        # Keras's own shape for a signature: [spec] for one input, [[spec, ...]] for several.
        model.export(str(target), format="onnx", verbose=False, input_signature=specs if len(specs) == 1 else [specs],
                     **options)
