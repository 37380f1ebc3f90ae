"""Random weights that look trained: randomized normalization statistics and no two identical weight tensors.

Freshly initialised networks are full of identical tensors (batch norm at mean 0, variance 1, scale 1,
shift 0; zero biases), which trained networks almost never have. Converters can trip over that (the
TorchScript exporter deduplicates equal initializers into Identity nodes; onnx2pytorch 0.6.0 then fails on
a Conv whose bias arrives through one) or hide behind it (a batch norm that is the identity cannot be
folded wrongly). Both helpers draw from the framework's global random state, which the harness seeds with
the spec's seed before it calls the builder, so the weights are deterministic from ModelSpec.seed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # annotations only: torch and TensorFlow must not share a process
    import keras
    from torch import nn

SCALE_RANGE = (0.5, 1.5)  # batch-norm and layer-norm scales (gamma)
SHIFT_STD = 0.1  # shifts (beta) and running means
VARIANCE_RANGE = (0.5, 1.5)  # running variances: positive and away from 0, so no channel blows up
CONSTANT_NOISE_STD = 0.02  # a constant tensor (a zero bias, a zero class token) gets this much noise


def tensor_key(array: np.ndarray) -> tuple[str, tuple[int, ...], bytes]:
    return str(array.dtype), tuple(array.shape), array.tobytes()


def is_constant(array: np.ndarray) -> bool:
    return array.size > 1 and bool(np.all(array == array.flat[0]))


def make_distinct(arrays: Iterable[tuple[np.ndarray, Callable[[np.ndarray], None]]],
                  normal: Callable[[tuple[int, ...]], np.ndarray]) -> int:
    """Perturb every floating array that is constant or equal to one seen before, and store it back with its
    setter. `normal(shape)` draws standard normal noise from the caller's seeded generator. Returns how many
    arrays were redrawn."""
    seen: set[tuple[str, tuple[int, ...], bytes]] = set()
    redrawn = 0
    for array, store in arrays:
        if not np.issubdtype(array.dtype, np.floating):
            continue
        while is_constant(array) or tensor_key(array) in seen:
            # constants get absolute noise around their value; copies get noise relative to their spread
            spread = float(np.std(array))
            std = CONSTANT_NOISE_STD * max(1.0, abs(float(array.flat[0]))) if spread == 0.0 else 0.01 * spread
            # small relative to the values, so a positive tensor (a variance at 1, say) stays positive
            array = (array + std * normal(array.shape)).astype(array.dtype)
            redrawn += 1
            store(array)
        seen.add(tensor_key(array))
    return redrawn


def look_trained_torch(model: nn.Module) -> nn.Module:
    """Randomize every norm layer's affine parameters and running statistics, then make every floating
    parameter and buffer distinct from the others; returns the model in eval mode."""
    import torch
    from torch import nn

    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.track_running_stats:
                module.running_mean.normal_(0.0, SHIFT_STD)
                module.running_var.uniform_(*VARIANCE_RANGE)
            if isinstance(module, nn.modules.batchnorm._NormBase | nn.LayerNorm | nn.GroupNorm):
                if getattr(module, "weight", None) is not None:
                    module.weight.uniform_(*SCALE_RANGE)
                if getattr(module, "bias", None) is not None:
                    module.bias.normal_(0.0, SHIFT_STD)

        def setter(tensor: torch.Tensor) -> Callable[[np.ndarray], None]:
            return lambda array: tensor.copy_(torch.from_numpy(array))

        # Tied parameters (one tensor under two names) are one weight, not two identical ones.
        tensors: dict[int, torch.Tensor] = {}
        for tensor in model.state_dict(keep_vars=True).values():
            tensors.setdefault(tensor.data_ptr(), tensor)
        make_distinct(((t.detach().cpu().numpy().copy(), setter(t.data)) for t in tensors.values()),
                      lambda shape: torch.randn(shape).numpy().astype(np.float64))
    return model.eval()


def look_trained_keras(model: keras.Model) -> keras.Model:
    """The same for a Keras model: BatchNormalization gamma, beta, moving mean and moving variance (and
    LayerNormalization gamma, beta) randomized, then every floating weight distinct from the others."""
    import keras

    def draw(shape: tuple[int, ...], kind: str) -> np.ndarray:
        if kind == "scale":
            return np.random.uniform(*SCALE_RANGE, size=shape)
        if kind == "variance":
            return np.random.uniform(*VARIANCE_RANGE, size=shape)
        return np.random.normal(0.0, SHIFT_STD, size=shape)

    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            slots = [("gamma", "scale"), ("beta", "shift"), ("moving_mean", "shift"), ("moving_variance", "variance")]
        elif isinstance(layer, keras.layers.LayerNormalization):
            slots = [("gamma", "scale"), ("beta", "shift")]
        else:
            continue
        for attribute, kind in slots:
            variable: Any = getattr(layer, attribute, None)
            if variable is not None:
                variable.assign(draw(tuple(variable.shape), kind).astype(variable.dtype))

    def setter(variable: Any) -> Callable[[np.ndarray], None]:
        return lambda array: variable.assign(array)

    variables = {id(variable): variable for variable in model.weights}
    make_distinct(((np.asarray(v.numpy()), setter(v)) for v in variables.values()),
                  lambda shape: np.random.normal(size=shape))
    return model
