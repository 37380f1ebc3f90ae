"""The weights of a finding's Keras model, for its repro to carry inline.

Runs in a stack's interpreter (it needs keras): `python -m harness.repro.keras_weights FOLDER OUT.npz` writes the
weights of the model description.json describes, by "<layer name>/<index>" (codegen.keras_build_source's keys):
those of model.keras when the folder keeps it (the very model the converter was given; the rebuilt model must then
compute what it computes, bit for bit), else the harness's own (the torch twin's, drawn from the description's
seed, moved over as the campaign moves them)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np


def layer_weights(model: Any) -> dict[str, np.ndarray]:
    return {f"{layer.name}/{index}": np.asarray(array) for layer in model.layers
            for index, array in enumerate(layer.get_weights())}


def keras_weights(folder: Path) -> dict[str, np.ndarray]:
    import keras

    from harness.fuzz.grammar import ModelDescription, build_keras, build_torch, transfer_weights

    description = ModelDescription.from_json(json.loads((folder / "description.json").read_text()))
    built = build_keras(description)
    saved = folder / "model.keras"
    if not saved.is_file():
        state = {name: tensor.detach().numpy() for name, tensor in build_torch(description).state_dict().items()}
        transfer_weights(description, state, built)
        return layer_weights(built)
    loaded = keras.saving.load_model(saved)
    weights = layer_weights(loaded)
    for layer in built.layers:
        count = sum(1 for key in weights if key.startswith(layer.name + "/"))
        if count:
            layer.set_weights([weights[f"{layer.name}/{index}"] for index in range(count)])
    with np.load(folder / "input.npz", allow_pickle=False) as data:
        inputs = [data[key] for key in data.files]
    args = inputs[0] if len(inputs) == 1 else inputs
    rebuilt, kept = (keras.ops.convert_to_numpy(model(args, training=False)) for model in (built, loaded))
    if not np.array_equal(rebuilt, kept, equal_nan=True):
        raise ValueError(f"{folder.name}: the model description.json describes is not model.keras")
    return weights


if __name__ == "__main__":
    np.savez(sys.argv[2], **keras_weights(Path(sys.argv[1])))  # type: ignore[arg-type]
