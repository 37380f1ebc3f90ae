"""The runner contract: execute an artifact on numpy inputs inside a worker, return numpy outputs."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

from harness.formats import Format


class Runner(ABC):
    format: ClassVar[Format]
    framework: ClassVar[str]  # "torch", "tf" or "none": which framework the worker may import
    stack: ClassVar[str | None] = None  # None: run in the stack of the converter that made the artifact

    def __init__(self) -> None:
        self._loaded: dict[Path, Any] = {}

    @property
    def reference(self) -> dict[str, str]:
        cls = type(self)
        return {"class": f"{cls.__module__}:{cls.__qualname__}"}

    def run(self, artifact: Path, io: dict[str, Any], inputs: list[Any]) -> list[Any]:
        """Outputs in io["outputs"] order; the loaded artifact is cached for the next example."""
        if artifact not in self._loaded:
            self._loaded[artifact] = self.load(artifact, io)
        return self.run_loaded(self._loaded[artifact], io, inputs)

    @abstractmethod
    def load(self, artifact: Path, io: dict[str, Any]) -> Any: ...

    @abstractmethod
    def run_loaded(self, loaded: Any, io: dict[str, Any], inputs: list[Any]) -> list[Any]: ...
