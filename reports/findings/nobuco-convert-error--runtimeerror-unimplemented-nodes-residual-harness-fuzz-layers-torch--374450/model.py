"""Rebuilds the model residual([flip]) with its weights from weights.npz (torch state_dict keys)."""

from pathlib import Path

import numpy as np
import torch
from torch import nn


class Residual(nn.Module):
    """x + body(x): the body keeps the shape."""

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Flip(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flip(x, dims=[self.dim])


def build_model() -> nn.Module:
    model = nn.Sequential(
        Residual(nn.Sequential(
                Flip(1),
            )),
    )
    weights = np.load(Path(__file__).with_name('weights.npz'))
    model.load_state_dict({name: torch.from_numpy(weights[name]) for name in weights.files})
    return model.eval()
