"""Factories of models that are not in the zoo, as a user would pass them to `parity check`."""

from __future__ import annotations

from typing import Any


def small_torch_regressor() -> Any:
    import torch

    torch.manual_seed(3)
    return torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Softplus(), torch.nn.Linear(16, 2)).eval()


def small_keras_classifier() -> Any:
    import keras

    keras.utils.set_random_seed(3)
    inputs = keras.Input((12,), name="features")
    hidden = keras.layers.Dense(8, activation="elu", name="hidden")(inputs)
    return keras.Model(inputs, keras.layers.Dense(3, name="scores")(hidden))


def raising_factory() -> Any:
    raise ValueError("weights file checkpoints/best.pt not found")


def two_head_keras_model() -> Any:
    """Two heads returned as a dict, declared zeta (3) before alpha (7): Keras itself lists them sorted."""
    import keras

    keras.utils.set_random_seed(5)
    features = keras.Input((5,), name="features")
    hidden = keras.layers.Dense(8, activation="tanh", name="hidden")(features)
    return keras.Model(features, {"zeta": keras.layers.Dense(3, name="zeta")(hidden),
                                  "alpha": keras.layers.Dense(7, name="alpha")(hidden)})


def layer_norm_regressor() -> Any:
    """A LayerNorm, which torch exports as LayerNormalization (opset 17) and onnx-tf 1.10.0 has no handler for:
    the route's later hops are skipped."""
    import torch

    torch.manual_seed(5)
    return torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.LayerNorm(8), torch.nn.Linear(8, 2)).eval()


def constant_torch_model() -> Any:
    """Outputs that ignore the input (as googlenet with weights=None and 10 classes did): every hop passes."""
    import torch

    class Constant(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bias = torch.nn.Parameter(torch.tensor([0.5, -1.5, 2.0]))

        def forward(self, x: Any) -> Any:
            return x.sum(dim=1, keepdim=True) * 0.0 + self.bias

    return Constant().eval()


def timm_resnet10t() -> Any:
    """A timm architecture, as a user's project builds it: timm is not in any stack, `--requires` layers it on."""
    import timm
    import torch

    torch.manual_seed(7)
    return timm.create_model("resnet10t", pretrained=False, num_classes=10).eval()


def unsqueezing_regressor() -> Any:
    """An outer product through unsqueeze: torch exports Unsqueeze-13 (axes as an input) from opset 13, which
    onnx-tf 1.10.0 has no handler for, and the opset-11 form at 11 and 12 (as shufflenet_v2 meets it)."""
    import torch

    class Outer(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(11)
            self.linear = torch.nn.Linear(6, 4)

        def forward(self, x: Any) -> Any:
            y = torch.tanh(self.linear(x)).unsqueeze(1)
            return (y * y.transpose(1, 2)).sum(-1)

    return Outer().eval()


def zero_headed_regressor() -> Any:
    """A head initialised to zero (as some recipes zero-init a last layer): until trained, its outputs ignore the
    input, so every verdict on it is vacuous; `--trained-look` gives it weights that look trained."""
    import torch

    torch.manual_seed(13)
    head = torch.nn.Linear(8, 2)
    torch.nn.init.zeros_(head.weight)
    torch.nn.init.zeros_(head.bias)
    return torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), head).eval()
