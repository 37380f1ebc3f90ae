"""Recurrent family: LSTM and GRU sequence classifiers that read the last time step."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

from harness.spec import InputSpec, ModelSpec, OutputSpec
from model_zoo.transfer import TorchState

if TYPE_CHECKING:  # annotations only: torch and TensorFlow must not share a process
    import keras
    from torch import nn

STEPS, FEATURES, HIDDEN, CLASSES = 16, 8, 32, 4


def _build_torch(kind: str) -> nn.Module:
    import torch
    from torch import nn

    class LastStepClassifier(nn.Module):
        """A one-layer batch_first RNN whose last time step feeds a linear head."""

        def __init__(self) -> None:
            super().__init__()
            rnn_cls = nn.LSTM if kind == "lstm" else nn.GRU
            self.rnn = rnn_cls(FEATURES, HIDDEN, num_layers=1, batch_first=True)
            self.head = nn.Linear(HIDDEN, CLASSES)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            sequence, _ = self.rnn(x)
            return self.head(sequence[:, -1])

    return LastStepClassifier().eval()


def _build_keras(kind: str) -> keras.Model:
    import keras

    inputs = keras.Input(shape=(STEPS, FEATURES), name="sequence")
    # Spelled out because torch's gates are exactly tanh/sigmoid (Keras 2 defaulted to hard_sigmoid).
    common = {"activation": "tanh", "recurrent_activation": "sigmoid", "return_sequences": False, "name": "rnn"}
    if kind == "lstm":
        hidden = keras.layers.LSTM(HIDDEN, **common)(inputs)
    else:
        # reset_after=True is torch's formula: r multiplies (W_hn h + b_hn), hence two bias rows.
        hidden = keras.layers.GRU(HIDDEN, reset_after=True, **common)(inputs)
    logits = keras.layers.Dense(CLASSES, name="head")(hidden)
    return keras.Model(inputs, logits, name=f"{kind}_classifier")


def _gru_gates(array: np.ndarray) -> np.ndarray:
    """Reorder stacked gate blocks along axis 0 from torch's (r, z, n) to Keras's (z, r, h)."""
    r, z, n = np.split(array, 3, axis=0)
    return np.concatenate([z, r, n], axis=0)


def _transfer(kind: str, state: Mapping[str, Any], keras_model: keras.Model) -> None:
    torch_state = TorchState(state, keras_model.name)
    w_ih, w_hh = torch_state.take("rnn.weight_ih_l0"), torch_state.take("rnn.weight_hh_l0")
    b_ih, b_hh = torch_state.take("rnn.bias_ih_l0"), torch_state.take("rnn.bias_hh_l0")
    if kind == "lstm":
        # Both frameworks stack gates i, f, g(=c), o; Keras has one bias where torch has two summands.
        rnn_weights = [w_ih.T, w_hh.T, b_ih + b_hh]
    else:
        rnn_weights = [_gru_gates(w_ih).T, _gru_gates(w_hh).T, np.stack([_gru_gates(b_ih), _gru_gates(b_hh)])]
    keras_model.get_layer("rnn").set_weights(rnn_weights)
    keras_model.get_layer("head").set_weights(torch_state.linear("head"))
    torch_state.check_all_used()


def _spec(kind: str, seed: int) -> ModelSpec:
    return ModelSpec(
        name=f"{kind}_classifier",
        family="recurrent",
        build_torch=partial(_build_torch, kind),
        build_keras=partial(_build_keras, kind),
        transfer_weights=partial(_transfer, kind),
        inputs=(InputSpec("sequence", ("B", STEPS, FEATURES), dim_bounds={"B": (1, 4)}),),
        outputs=(OutputSpec("logits", is_classifier=True),),
        tags=frozenset({"recurrent", kind, "linear", "slice"}),
        seed=seed,
        description=f"one-layer {kind.upper()} (hidden {HIDDEN}) over 16 steps, last step to {CLASSES} logits",
    )


MODELS: tuple[ModelSpec, ...] = (_spec("lstm", seed=0), _spec("gru", seed=1))
