"""Rebuilds the model mish > gather(axis=2,[0]) > reshape(1x7) > maxpool1d with its weights from weights.npz (torch state_dict keys)."""

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


class Gather(nn.Module):
    """The given positions of one axis, in the given order (repeats allowed)."""

    def __init__(self, dim: int, indices: list[int]) -> None:
        super().__init__()
        self.dim = dim
        self.indices = indices

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.index_select(x, self.dim, torch.tensor(self.indices, dtype=torch.long, device=x.device))


def build_model() -> nn.Module:
    model = nn.Sequential(
        nn.Mish(),
        Gather(2, [0]),
        Reshape([1, 7]),
        nn.MaxPool1d(2),
    )
    weights = np.load(Path(__file__).with_name('weights.npz'))
    model.load_state_dict({name: torch.from_numpy(weights[name]) for name in weights.files})
    return model.eval()
