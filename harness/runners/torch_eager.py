"""Runs a torch module artifact eagerly, under no_grad, in eval mode."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.formats import TORCH
from harness.runners.base import Runner


class TorchEagerRunner(Runner):
    format = TORCH
    framework = "torch"

    def load(self, artifact: Path, io: dict[str, Any]) -> Any:
        from harness.torch_artifact import load_torch_module

        return load_torch_module(artifact)

    def run_loaded(self, loaded: Any, io: dict[str, Any], inputs: list[Any]) -> list[Any]:
        import torch

        with torch.no_grad():
            outputs = loaded(*(torch.from_numpy(array) for array in inputs))
        if isinstance(outputs, dict):
            outputs = list(outputs.values())
        if not isinstance(outputs, (list, tuple)):
            outputs = [outputs]
        return [output.detach().cpu().numpy() for output in outputs]
