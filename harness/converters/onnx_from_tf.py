"""OnnxFromTf: tf2onnx, from a Keras model (from_keras) or from a SavedModel (the calls its CLI makes)."""

from __future__ import annotations

import copy
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

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
    repro_packages: ClassVar[tuple[str, ...]] = ("numpy", "tensorflow", "tf2onnx", "onnx")

    def default_opset(self) -> int | None:
        return OPSET


class OnnxFromKeras(Tf2onnxExporter):
    source = KERAS
    bare_call = "keras_to_onnx"
    repro_packages = ("numpy", "tensorflow", "keras", "tf2onnx", "onnx")  # its repro builds the Keras model
    repro_kinds = {"keras": "tf2onnx-keras"}  # noqa: RUF012 (a record's table, never mutated)
    source_probes = True

    def convert(self, source: Path, target: Path, io: dict[str, Any], example: list[Any]) -> None:
        import keras
        import tensorflow as tf
        import tf2onnx
        from tf2onnx import convert, utils

        signature = keras_input_signature(io)
        if tf2onnx.__version__ not in FROM_KERAS_SPLIT:  # another release: its own from_keras, whole
            start_names_afresh()
            convert.from_keras(keras.saving.load_model(source), input_signature=signature, opset=self.target_opset,
                               output_path=str(target))
            return
        frozen = frozen_keras_model(source, signature)
        # The rest of from_keras, the only part that reads the opset, with its defaults;
        # tests/test_onnx_from_keras.py checks that the file is the one from_keras writes.
        utils.INTERNAL_NAME = frozen.name_counter
        graph_def = type(frozen.graph_def)()
        graph_def.CopyFrom(frozen.graph_def)
        with tf.device("/cpu:0"):
            convert._convert_common(
                graph_def, name=frozen.model_name, continue_on_error=True, target=None, opset=self.target_opset,
                custom_ops=None, custom_op_handlers=None, optimizers=None, custom_rewriter=None, extra_opset=None,
                shape_override=None, input_names=list(frozen.input_names), output_names=list(frozen.output_names),
                inputs_as_nchw=None, outputs_as_nchw=None, large_model=False,
                tensors_to_rename=dict(frozen.tensors_to_rename),
                initialized_tables=copy.deepcopy(frozen.initialized_tables), output_path=str(target))


def keras_input_signature(io: dict[str, Any]) -> list[Any]:
    """The input signature from_keras traces with: each input's TensorSpec, a symbolic dim left open."""
    import tensorflow as tf

    return [tf.TensorSpec([None if isinstance(dim, str) else dim for dim in spec["shape"]], spec["dtype"],
                          name=spec["name"]) for spec in io["inputs"]]


@dataclass(frozen=True)
class FrozenKeras:
    """What tf2onnx's from_keras derives from a model before it reads the opset: the traced, frozen graph and
    its names. A Keras route runs at every opset of the matrix from one source file, and this part (the model
    read, traced and frozen: 6.9 s of an 11.5-s DenseNet121 conversion) is the same for all of them."""

    model_name: str
    graph_def: Any
    initialized_tables: Any
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    tensors_to_rename: dict[str, str]
    name_counter: int  # tf2onnx's name counter where the opset-dependent part starts


# tf2onnx releases whose from_keras frozen_keras_model and OnnxFromKeras.convert split in two, call for call
# (1.16.1 traces the model inline and reads model.output_names directly: it is called whole).
FROM_KERAS_SPLIT = frozenset({"1.17.0"})
FROZEN_KERAS_KEPT = 2  # a lane runs one model's cells together, so the last few models are all that repeat
_frozen_keras: OrderedDict[str, FrozenKeras] = OrderedDict()
frozen_keras_made = 0  # how many models were traced and frozen in this process (tests read it)


def frozen_keras_model(source: Path, signature: list[Any]) -> FrozenKeras:
    """The first part of tf2onnx.convert.from_keras (FROM_KERAS_SPLIT) on the model in `source`, reused while
    the file's bytes and the signature are the same; the model is read and traced in a fresh tf2onnx state."""
    global frozen_keras_made
    import keras
    import tensorflow as tf
    from tf2onnx import convert, tf_loader, utils

    from harness.execution.cache import digest_path

    key = digest_path(source) + repr(signature)  # remembered once the file has settled, not read again
    if key in _frozen_keras:
        _frozen_keras.move_to_end(key)
        return _frozen_keras[key]
    start_names_afresh()
    model = keras.saving.load_model(source)
    old_out_names = convert._rename_duplicate_keras_model_names(model)
    concrete_func = convert._get_concrete_function(model, signature)
    # These inputs are removed by freezing (resources and the like).
    if hasattr(concrete_func.graph, "_captures"):
        captured_inputs = [name.name for _, name in concrete_func.graph._captures.values()]
    else:
        captured_inputs = [tensor.name for tensor in concrete_func.graph.function_captures.by_val_internal.values()]
    input_names = [tensor.name for tensor in concrete_func.inputs if tensor.name not in captured_inputs]
    output_names = [tensor.name for tensor in concrete_func.outputs if tensor.dtype != tf.dtypes.resource]
    tensors_to_rename = convert.tensor_names_from_structed(concrete_func, input_names, output_names)
    reverse_lookup = {value: name for name, value in tensors_to_rename.items()}
    model_out_names = convert._get_output_names(model)
    if model_out_names:
        output_names = [reverse_lookup[out] for out in model_out_names]
    elif isinstance(concrete_func.structured_outputs, dict):
        output_names = [reverse_lookup[out] for out in concrete_func.structured_outputs]
    if old_out_names is not None:
        convert._set_output_names(model, old_out_names)
    with tf.device("/cpu:0"):
        graph_def, initialized_tables = tf_loader.from_trackable(model, concrete_func, input_names, output_names,
                                                                 False)
    frozen = FrozenKeras(model.name, graph_def, initialized_tables, tuple(input_names), tuple(output_names),
                         dict(tensors_to_rename), utils.INTERNAL_NAME)
    frozen_keras_made += 1
    _frozen_keras[key] = frozen
    while len(_frozen_keras) > FROZEN_KERAS_KEPT:
        _frozen_keras.popitem(last=False)
    return frozen


class OnnxFromSavedModel(Tf2onnxExporter):
    source = SAVED_MODEL
    bare_call = "saved_model_to_onnx"
    repro_kinds = {"tf": "tf2onnx-saved-model"}  # noqa: RUF012 (a record's table, never mutated)
    node_cases = True  # the way back to ONNX after onnx-tf

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
