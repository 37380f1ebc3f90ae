"""The small torch modules a fuzzed model needs beyond torch.nn; imports only torch, so a repro script can carry them.

The source of each class is copied verbatim into generated repro scripts (see codegen.torch_source), so
every class here must be self-contained: no imports beyond torch and nn, no helpers outside the class.
"""

# mypy: disallow-subclassing-any=False
# (torch is not installed where mypy runs, so nn.Module is Any there)
from __future__ import annotations

import torch
from torch import nn


class Residual(nn.Module):
    """x + body(x): the body keeps the shape."""

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Concat(nn.Module):
    """x and body(x) joined along `dim`."""

    def __init__(self, body: nn.Module, dim: int) -> None:
        super().__init__()
        self.body = body
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.body(x)], dim=self.dim)


class Permute(nn.Module):
    def __init__(self, dims: list[int]) -> None:
        super().__init__()
        self.dims = dims

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(*self.dims)


class Reshape(nn.Module):
    """Keeps the batch axis and reshapes the rest."""

    def __init__(self, shape: list[int]) -> None:
        super().__init__()
        self.shape = shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], *self.shape)


class Slice(nn.Module):
    """x[..., start:stop:step, ...] along one axis."""

    def __init__(self, dim: int, start: int, stop: int, step: int) -> None:
        super().__init__()
        self.dim, self.start, self.stop, self.step = dim, start, stop, step

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        index = [slice(None)] * x.dim()
        index[self.dim] = slice(self.start, self.stop, self.step)
        return x[tuple(index)]


class Reduce(nn.Module):
    """mean, sum or max over one axis."""

    def __init__(self, op: str, dim: int, keepdim: bool) -> None:
        super().__init__()
        self.op, self.dim, self.keepdim = op, dim, keepdim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.op == "max":
            return torch.amax(x, dim=self.dim, keepdim=self.keepdim)
        if self.op == "sum":
            return torch.sum(x, dim=self.dim, keepdim=self.keepdim)
        return torch.mean(x, dim=self.dim, keepdim=self.keepdim)


class Recurrent(nn.Module):
    """A batch-first LSTM or GRU that returns every step's output, or the last step's."""

    def __init__(self, rnn: nn.Module, last_step: bool) -> None:
        super().__init__()
        self.rnn = rnn
        self.last_step = last_step

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        output, _ = self.rnn(x)
        return output[:, -1] if self.last_step else output


class SelfAttention(nn.Module):
    """Multi-head self-attention on (batch, seq, dim): query, key and value are all x; causal: each step
    attends to itself and the steps before it only."""

    def __init__(self, embed_dim: int, num_heads: int, causal: bool = False) -> None:
        super().__init__()
        self.attention = nn.MultiheadAttention(embed_dim, num_heads, batch_first=True)
        self.causal = causal

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mask = None
        if self.causal:  # True above the diagonal: a later step, masked out
            steps = x.shape[1]
            mask = torch.triu(torch.ones(steps, steps, dtype=torch.bool, device=x.device), diagonal=1)
        output, _ = self.attention(x, x, x, attn_mask=mask, need_weights=False)
        return output


class Flip(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flip(x, dims=[self.dim])


class Cumsum(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cumsum(x, dim=self.dim)


class SwapHalves(nn.Module):
    """The two halves of one axis, in swapped order."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        first, second = torch.chunk(x, 2, dim=self.dim)
        return torch.cat([second, first], dim=self.dim)


class Gather(nn.Module):
    """The given positions of one axis, in the given order (repeats allowed)."""

    def __init__(self, dim: int, indices: list[int]) -> None:
        super().__init__()
        self.dim = dim
        self.indices = indices

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.index_select(x, self.dim, torch.tensor(self.indices, dtype=torch.long, device=x.device))


class Tile(nn.Module):
    def __init__(self, reps: list[int]) -> None:
        super().__init__()
        self.reps = reps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.repeat(*self.reps)


class Unsqueeze(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.unsqueeze(self.dim)


class Pow(nn.Module):
    def __init__(self, exponent: float) -> None:
        super().__init__()
        self.exponent = exponent

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.pow(x, self.exponent)
