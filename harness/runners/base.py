"""The runner contract: execute an artifact on numpy inputs inside a worker, return numpy outputs.

A runner also answers for the float64 truth: `run_float64` executes the same model in double precision
(a double copy of a torch module, a float64 clone of a Keras model, a float64 copy of an ONNX graph),
which the oracle judges every float32 output against. A format that has no such run says why.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from harness.errors import NoFloat64Run
from harness.formats import Format


def natural_key(name: str) -> list[Any]:
    """'output_2' before 'output_10': the order a converter that numbers its outputs meant."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def canonical(name: str) -> str:
    """A tensor name without what converters append or rewrite: tf2onnx's ':0', sanitised separators."""
    return re.sub(r"[^0-9a-z]+", "_", name.lower().removesuffix(":0")).strip("_")


def match_outputs(produced: Mapping[str, Any] | Sequence[Any], wanted: Sequence[str]) -> tuple[list[Any], str]:
    """The produced outputs in the order of `wanted` (the model's output names), and how they were matched.

    By name wherever names exist and agree; otherwise by position, and the returned note says so, so a
    row never silently compares one head against another.
    """
    if isinstance(produced, Mapping):
        names = list(produced)
        if len(names) == len(wanted) == 1:
            return list(produced.values()), "name"  # one output: nothing to confuse it with
        if set(wanted) <= set(names):
            return [produced[name] for name in wanted] + [produced[n] for n in names if n not in wanted], "name"
        by_canonical = {canonical(name): name for name in names}
        if len(by_canonical) == len(names) and all(canonical(name) in by_canonical for name in wanted):
            chosen = [by_canonical[canonical(name)] for name in wanted]
            return [produced[name] for name in chosen] + [produced[n] for n in names if n not in chosen], "name"
        ordered = sorted(names, key=natural_key)
        return [produced[name] for name in ordered], (
            f"position: output names {ordered} differ from the model's {list(wanted)}")
    outputs = list(produced)
    if len(wanted) > 1:
        return outputs, "position: the artifact's outputs carry no names"
    return outputs, "name" if len(outputs) == len(wanted) else "position"


def ordered_by_names(available: Sequence[str], wanted: Sequence[str]) -> list[str]:
    """`available` names in the order of `wanted` where they match (exactly, or but for what converters
    append such as ':0'), else in natural order ('input_2' before 'input_10')."""
    if sorted(available) == sorted(wanted):
        return list(wanted)
    by_canonical = {canonical(name): name for name in available}
    if len(by_canonical) == len(available) and sorted(by_canonical) == sorted(canonical(n) for n in wanted):
        return [by_canonical[canonical(name)] for name in wanted]
    return sorted(available, key=natural_key)


def cast_input(array: np.ndarray, wanted: Any, name: str, notes: list[str]) -> np.ndarray:
    """Cast an input to the dtype the artifact declares, noting the change; refuse a cast that changes values
    (float to int truncates): that is the converter's interface change, not something to paper over."""
    wanted = np.dtype(wanted)
    if wanted == array.dtype:
        return array
    cast = array.astype(wanted)
    if not np.array_equal(cast.astype(array.dtype), array, equal_nan=True):
        raise ValueError(f"input {name!r} is {wanted} in the artifact; casting the {array.dtype} example to it "
                         "changes its values")
    notes.append(f"input {name}: {array.dtype} fed as {wanted}")
    return cast


class Runner(ABC):
    format: ClassVar[Format]
    framework: ClassVar[str]  # "torch", "tf" or "none": which framework the worker may import
    stack: ClassVar[str | None] = None  # None: run in the stack of the converter that made the artifact
    truth_kind: ClassVar[str] = ""  # how run_float64 computes, e.g. "torch float64"; "" when it cannot

    def __init__(self) -> None:
        self._loaded: dict[tuple[Path, str], Any] = {}
        self.notes: list[str] = []  # interface findings of the last run: input casts, output matching
        self.truth_used = self.truth_kind  # how the last float64 run computed (a runner may fall back)

    @property
    def reference(self) -> dict[str, str]:
        cls = type(self)
        return {"class": f"{cls.__module__}:{cls.__qualname__}"}

    def run(self, artifact: Path, io: dict[str, Any], inputs: list[Any]) -> list[Any]:
        """Outputs in io["outputs"] order (then any extra ones); the loaded artifact is cached."""
        self.notes = []
        return self.run_loaded(self.loaded(artifact, io), io, inputs)

    def loaded(self, artifact: Path, io: dict[str, Any]) -> Any:
        """The artifact as load() gives it, read once per runner (and widened from it for the truth)."""
        key = (artifact, "float32")
        if key not in self._loaded:
            self._loaded[key] = self.load(artifact, io)
        return self._loaded[key]

    def run_float64(self, artifact: Path, io: dict[str, Any], inputs: list[Any]) -> list[Any]:
        """The same model computed in float64 on the same inputs (floating inputs widened exactly)."""
        self.notes = []
        self.truth_used = self.truth_kind
        key = (artifact, "float64")
        if key not in self._loaded:
            self._loaded[key] = self.load_float64(artifact, io)
        wide = [array.astype(np.float64) if np.issubdtype(array.dtype, np.floating) else array for array in inputs]
        return self.run_loaded(self._loaded[key], io, wide)

    @abstractmethod
    def load(self, artifact: Path, io: dict[str, Any]) -> Any: ...

    def load_float64(self, artifact: Path, io: dict[str, Any]) -> Any:
        raise NoFloat64Run(f"no float64 run for a {self.format.name} artifact")

    @abstractmethod
    def run_loaded(self, loaded: Any, io: dict[str, Any], inputs: list[Any]) -> list[Any]: ...

    def matched(self, produced: Mapping[str, Any] | Sequence[Any], io: dict[str, Any]) -> list[Any]:
        outputs, how = match_outputs(produced, io["outputs"])
        if how != "name":
            self.notes.append(f"outputs matched by {how}")
        return outputs
