"""Shared helpers that copy a torch state_dict (as numpy arrays) into a zoo model's Keras twin."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # annotations only: torch and TensorFlow must not share a process
    import keras
    from torch import nn

BATCHNORM_STATS = ("weight", "bias", "running_mean", "running_var")  # Keras order: gamma, beta, mean, variance


class TorchState:
    """A torch state_dict being transferred; remembers which keys were taken so leftovers can be reported."""

    def __init__(self, state: Mapping[str, Any], model_name: str) -> None:
        self.state = state
        self.model_name = model_name
        # num_batches_tracked is a BatchNorm training counter with no Keras twin
        self.unused = {key for key in state if not key.endswith("num_batches_tracked")}

    def take(self, key: str) -> np.ndarray:
        if key not in self.state:
            raise KeyError(f"{self.model_name}: torch state_dict has no {key!r}")
        self.unused.discard(key)
        return np.asarray(self.state[key], dtype=np.float32)

    def linear(self, prefix: str) -> list[np.ndarray]:
        """A torch Linear as Keras Dense weights: the (out, in) matrix transposed to (in, out), then the bias."""
        return [self.take(f"{prefix}.weight").T, self.take(f"{prefix}.bias")]

    def check_all_used(self) -> None:
        # a key no Keras layer took means the twins differ in structure, even if the outputs happen to agree
        if self.unused:
            raise KeyError(f"{self.model_name}: torch state keys not transferred: {sorted(self.unused)}")


def keras_layer_weights(layer: keras.layers.Layer, state: TorchState, prefix: str) -> list[np.ndarray]:
    """The weights for one Keras layer, taken from the torch module named `prefix`."""
    import keras

    # DepthwiseConv2D first: under Keras 2 it subclasses Conv2D
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        weights = [state.take(f"{prefix}.weight").transpose(2, 3, 0, 1)]  # (C, 1, H, W) -> (H, W, C, 1)
    elif isinstance(layer, keras.layers.Conv1D | keras.layers.Conv2D):
        kernel = state.take(f"{prefix}.weight")  # (out, in, *spatial) -> (*spatial, in, out)
        weights = [kernel.transpose(*range(2, kernel.ndim), 1, 0)]
    elif isinstance(layer, keras.layers.BatchNormalization):
        return [state.take(f"{prefix}.{stat}") for stat in BATCHNORM_STATS]
    elif isinstance(layer, keras.layers.LayerNormalization):
        return [state.take(f"{prefix}.weight"), state.take(f"{prefix}.bias")]
    elif isinstance(layer, keras.layers.Dense):
        return state.linear(prefix)
    elif isinstance(layer, keras.layers.Embedding):
        return [state.take(f"{prefix}.weight")]
    else:
        raise TypeError(f"no weight transfer for Keras layer {layer.name!r} ({type(layer).__name__})")
    if layer.use_bias:
        weights.append(state.take(f"{prefix}.bias"))
    return weights


def dotted(keras_name: str) -> str:
    """Keras layer names cannot hold "."; the zoo spells torch's "a.b" module path as "a_b"."""
    return keras_name.replace("_", ".")


def transfer_by_layer_names(
    state: Mapping[str, Any], keras_model: keras.Model, torch_name: Callable[[str], str] = dotted
) -> None:
    """Fill every Keras layer that has weights from the torch module named `torch_name(layer.name)`."""
    torch_state = TorchState(state, keras_model.name)
    for layer in keras_model.layers:
        if layer.weights:
            layer.set_weights(keras_layer_weights(layer, torch_state, torch_name(layer.name)))
    torch_state.check_all_used()


def randomize_batchnorm(model: nn.Module) -> nn.Module:
    """Give every BatchNorm2d random affine weights and running statistics; returns the model in eval mode."""
    import torch
    from torch import nn

    # fresh BN is the identity; random statistics make the twins prove they agree on BN
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0.0, 0.1)
                m.running_mean.normal_(0.0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    return model.eval()
