"""Runs a torch module artifact eagerly, under no_grad, in eval mode; its float64 truth is a double copy."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from harness.formats import TORCH
from harness.runners.base import Runner


class TorchEagerRunner(Runner):
    format = TORCH
    framework = "torch"
    truth_kind = "torch float64"

    def load(self, artifact: Path, io: dict[str, Any]) -> Any:
        from harness.execution.torch_artifact import load_torch_module

        return load_torch_module(artifact)

    def load_float64(self, artifact: Path, io: dict[str, Any]) -> Any:
        return copy.deepcopy(self.loaded(artifact, io)).double()  # a copy: the float32 module stays

    def run_loaded(self, loaded: Any, io: dict[str, Any], inputs: list[Any]) -> list[Any]:
        import torch

        with torch.no_grad():
            outputs = loaded(*(torch.from_numpy(array) for array in inputs))
        if isinstance(outputs, dict):
            return self.matched({name: output.detach().cpu().numpy() for name, output in outputs.items()}, io)
        if not isinstance(outputs, (list, tuple)):
            outputs = [outputs]
        return self.matched([output.detach().cpu().numpy() for output in outputs], io)
