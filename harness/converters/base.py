"""The converter contract: one artifact file in, one artifact file out, run inside a worker of its stack."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

from harness.formats import Format


class Converter(ABC):
    """`<Target>From<Source>`. Subclasses set the class attributes and implement `convert`.

    `convert` runs in a worker process of `stack` that imports only `framework` ("torch" or "tf");
    it must import its converter package inside the method, never at module level.
    """

    source: ClassVar[Format]
    target: ClassVar[Format]
    stack: str = "current"  # the class's stack; an instance may be bound to a second one
    framework: ClassVar[str]
    package: ClassVar[str]  # the distribution whose version identifies this converter
    variants: ClassVar[tuple[str, ...]] = ("",)
    label: ClassVar[str] = ""  # marks routes through a second converter for the same hop, e.g. "onnx2torch"

    def __init__(self, variant: str = "", *, stack: str | None = None) -> None:
        if variant not in self.variants:
            raise ValueError(f"{type(self).__name__} has variants {self.variants}, not {variant!r}")
        self.variant = variant
        self.stack = stack or type(self).stack  # a second stack runs another version of this converter

    @property
    def name(self) -> str:
        return type(self).__name__ + (f"[{self.variant}]" if self.variant else "")

    @property
    def marks(self) -> list[str]:
        """What tells this converter apart from the default one for its hop, in route ids."""
        marks = [self.label] if self.label else []
        if self.variant and self.variant != type(self).variants[0]:
            marks.append(self.variant)
        if self.stack != type(self).stack:
            marks.append(self.stack)
        return marks

    @property
    def reference(self) -> dict[str, str]:
        """What a worker needs to rebuild this converter: its import path and variant."""
        cls = type(self)
        return {"class": f"{cls.__module__}:{cls.__qualname__}", "variant": self.variant}

    @abstractmethod
    def convert(self, source: Path, target: Path, io: dict[str, Any], example: list[Any]) -> None:
        """Convert the artifact at `source` into `target`.

        io: {"inputs": [{"name", "dtype", "shape"}], "outputs": [names]} in the route's layout;
        example: one input example (numpy arrays, in io order) for exporters that trace.
        """
