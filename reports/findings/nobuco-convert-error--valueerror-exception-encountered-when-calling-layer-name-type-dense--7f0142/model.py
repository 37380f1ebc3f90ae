"""Rebuilds the model reshape(2x7x2) > pad(circular,0,1,0,0) > linear with its weights from weights.npz (torch state_dict keys)."""

from pathlib import Path

import numpy as np
import torch
from torch import nn


class Reshape(nn.Module):
    """Keeps the batch axis and reshapes the rest."""

    def __init__(self, shape: list[int]) -> None:
        super().__init__()
        self.shape = shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], *self.shape)


def build_model() -> nn.Module:
    model = nn.Sequential(
        Reshape([2, 7, 2]),
        nn.CircularPad2d((0, 1, 0, 0)),
        nn.Linear(3, 1),
    )
    weights = np.load(Path(__file__).with_name('weights.npz'))
    model.load_state_dict({name: torch.from_numpy(weights[name]) for name in weights.files})
    return model.eval()
