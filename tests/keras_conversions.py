"""Run in a tf worker: the harness's Keras exporter next to tf2onnx's own from_keras, on one zoo model."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from harness.converters import onnx_from_tf
from harness.converters.onnx_from_tf import OnnxFromKeras, keras_input_signature, start_names_afresh
from harness.execution.worker import names_keras_layers_afresh


def harness_and_from_keras(model: str, folder: str, io: dict[str, Any], opsets: list[int],
                           split: bool = True) -> dict[str, Any]:
    """Each opset converted by OnnxFromKeras (one after the other, as a lane's cells of one model are), then
    by tf2onnx.convert.from_keras on a freshly read model; the file bytes of both and the freezes made.
    split=False: as with a tf2onnx release whose from_keras the converter does not split."""
    import keras
    import tf2onnx

    from model_zoo import all_models

    out = Path(folder)
    source = out / "model.keras"
    names_keras_layers_afresh()
    keras.utils.set_random_seed(0)
    build = all_models()[model].build_keras
    assert build is not None
    build().save(source)
    frozen_before = onnx_from_tf.frozen_keras_made
    harness_files = []
    releases = onnx_from_tf.FROM_KERAS_SPLIT
    onnx_from_tf.FROM_KERAS_SPLIT = releases if split else frozenset()
    try:
        for opset in opsets:
            target = out / f"harness_{opset}.onnx"
            OnnxFromKeras(opset=opset).convert(source, target, io, [])
            harness_files.append(target.read_bytes())
    finally:
        onnx_from_tf.FROM_KERAS_SPLIT = releases
    frozen = onnx_from_tf.frozen_keras_made - frozen_before
    signature = keras_input_signature(io)
    from_keras_files = []
    for opset in opsets:
        target = out / f"from_keras_{opset}.onnx"
        start_names_afresh()
        tf2onnx.convert.from_keras(keras.saving.load_model(source), input_signature=signature, opset=opset,
                                   output_path=str(target))
        from_keras_files.append(target.read_bytes())
    return {"same": [canonical(ours) == canonical(theirs) for ours, theirs in zip(harness_files, from_keras_files)],
            "identical_bytes": [ours == theirs for ours, theirs in zip(harness_files, from_keras_files)],
            "frozen": frozen, "sizes": [len(data) for data in harness_files]}


def canonical(data: bytes) -> bytes:
    """The model with each initializer named by its content: tf2onnx names the constants its optimizers fold
    in the order it visits them, which varies between two from_keras calls in one process (seen on
    encoder_decoder); everything else must be equal."""
    import onnx

    model = onnx.load_from_string(data)
    renamed = {}
    for tensor in model.graph.initializer:
        content = onnx.TensorProto()
        content.CopyFrom(tensor)
        content.ClearField("name")
        renamed[tensor.name] = hashlib.sha256(content.SerializeToString(deterministic=True)).hexdigest()
    for tensor in model.graph.initializer:
        tensor.name = renamed[tensor.name]
    for node in model.graph.node:
        node.input[:] = [renamed.get(name, name) for name in node.input]
    model.graph.initializer.sort(key=lambda tensor: tensor.name)
    return bytes(model.SerializeToString(deterministic=True))
