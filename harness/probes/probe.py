"""A single-op probe: one framework op in a model of its own, and the input specs probe tables are written with.

The probe tables (torch_ops, keras_ops) and the probe runner (source_ops) both read this module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.spec import InputSpec

KINDS = ("torch", "keras")


@dataclass(frozen=True)
class SourceProbe:
    """One framework op in a model of its own.

    build(inputs) returns the torch nn.Module (eval mode is set by the runner) or the keras.Model;
    it imports its framework itself. tags are the ONNX op types the probe is meant to exercise
    (what the exported graph is expected to contain; the row records what it did contain).
    kinds, when given, replaces the value kinds of real inputs (e.g. no exact ties for sort order).
    """

    name: str
    kind: str
    op: str  # the framework op or layer wrapped, e.g. "torch.nn.functional.gelu"
    build: Callable[[tuple[InputSpec, ...]], Any]
    inputs: tuple[InputSpec, ...]
    tags: tuple[str, ...]
    outputs: tuple[str, ...] = ("out",)
    kinds: tuple[str, ...] | None = None
    seed: int = 0
    note: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"probe {self.name!r}: kind must be one of {KINDS}, got {self.kind!r}")
        if not self.inputs or not self.outputs or not self.tags:
            raise ValueError(f"probe {self.name!r}: needs inputs, outputs and expected ONNX op tags")
        if any(isinstance(dim, str) for spec in self.inputs for dim in spec.shape):
            raise ValueError(f"probe {self.name!r}: probe shapes are fixed, so a failure is the op's, not a dim's")


def real(name: str, *shape: int, dtype: str = "float32") -> InputSpec:
    return InputSpec(name, tuple(shape), dtype=dtype)


def positive(name: str, *shape: int) -> InputSpec:
    return InputSpec(name, tuple(shape), domain="positive")


def index(name: str, high: int, *shape: int, dtype: str = "int64") -> InputSpec:
    return InputSpec(name, tuple(shape), dtype=dtype, domain="index", high=high)
