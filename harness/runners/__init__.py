"""Runners by artifact format: the one way each kind of artifact is executed and compared."""

from __future__ import annotations

from harness.runners.base import Runner
from harness.runners.onnxruntime_runner import OnnxRuntimeRunner
from harness.runners.tf_runners import KerasRunner, SavedModelRunner
from harness.runners.torch_eager import TorchEagerRunner


def runner_for(format_name: str) -> Runner:
    runners: dict[str, type[Runner]] = {
        "torch": TorchEagerRunner, "keras": KerasRunner, "tf": SavedModelRunner, "onnx": OnnxRuntimeRunner,
    }
    return runners[format_name]()


__all__ = ["Runner", "runner_for"]
