"""Converters that misbehave on purpose, for the harness's isolation tests. Imported inside workers."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

from harness.converters.base import Converter
from harness.formats import ONNX, TORCH


class SegfaultingConverter(Converter):
    """Kills its own worker process the way a crashing native converter would."""

    source = TORCH
    target = ONNX
    framework = "none"
    package = "numpy"

    def convert(self, source: Path, target: Path, io: dict[str, Any], example: list[Any]) -> None:
        os.kill(os.getpid(), signal.SIGSEGV)


class HangingConverter(Converter):
    source = TORCH
    target = ONNX
    framework = "none"
    package = "numpy"

    def convert(self, source: Path, target: Path, io: dict[str, Any], example: list[Any]) -> None:
        time.sleep(3600)


class RaisingConverter(Converter):
    source = TORCH
    target = ONNX
    framework = "none"
    package = "numpy"

    def convert(self, source: Path, target: Path, io: dict[str, Any], example: list[Any]) -> None:
        raise NotImplementedError("op Frobnicate version 99 is not implemented.\nsecond line is not shown")


# What the "process_local" variant registers while converting: state the artifact needs that only the converting
# process holds, as a SavedModel's PyFunc callbacks or a converter's globally registered custom layers are.
PROCESS_LOCAL: dict[str, float] = {}


def rebuild_perturbed(directory: Path, inner: str, mode: str) -> Any:
    """The inner torch artifact wrapped so that its first output is perturbed in one way."""
    import torch

    from harness.execution.torch_artifact import load_torch_module

    class Perturbed(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = load_torch_module(Path(inner))

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            output = self.inner(*inputs).clone()
            flat = output.view(-1)
            if mode.startswith("scale_"):
                flat[0] = flat[0] * (1 + float(mode.removeprefix("scale_")))
            elif mode.startswith("ulps_"):  # float noise: every element a few float32 steps up
                for _ in range(int(mode.removeprefix("ulps_"))):
                    flat.copy_(torch.nextafter(flat, torch.full_like(flat, float("inf"))))
            elif mode == "cancel":  # the same function, computed with catastrophic cancellation in float32
                output = (output + 1e4) - 1e4
            elif mode == "noise":  # a stochastic model: another output for the same input on every run
                output = output + torch.rand_like(output)
            elif mode == "nan":
                flat[0] = float("nan")
            elif mode == "transpose":
                output = output.transpose(0, 1).contiguous()
            elif mode == "process_local":
                output = output * PROCESS_LOCAL["scale"]
            return output

    return Perturbed()


class PerturbingConverter(Converter):
    """torch -> torch: the same model with its output changed as the variant says (identity: unchanged)."""

    source = TORCH
    target = TORCH
    framework = "torch"
    package = "torch"
    variants = ("identity", "scale_1e-3", "scale_1e-7", "ulps_4", "nan", "transpose", "noise", "cancel",
                "process_local")

    def convert(self, source: Path, target: Path, io: dict[str, Any], example: list[Any]) -> None:
        from harness.execution.torch_artifact import save_torch_module

        if self.variant == "process_local":
            PROCESS_LOCAL["scale"] = 1.0

        module = rebuild_perturbed(target, str(source), self.variant)
        save_torch_module(target, module, f"{__name__}:rebuild_perturbed", inner=str(source), mode=self.variant)


class MemoryHungryConverter(Converter):
    """Allocates without bound, as a converter with a runaway buffer would."""

    source = TORCH
    target = ONNX
    framework = "none"
    package = "numpy"

    def convert(self, source: Path, target: Path, io: dict[str, Any], example: list[Any]) -> None:
        import numpy as np

        hoard = []
        for _ in range(400):  # 400 x 64 MiB: bounded, so a broken watchdog cannot take the machine down
            hoard.append(np.ones(8 * 1024 * 1024))
            time.sleep(0.02)


def rebuild_failing(directory: Path) -> Any:
    """A torch model that cannot run: a source the harness must not let leave the gate silently."""
    import torch

    class Failing(torch.nn.Module):
        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            raise RuntimeError("this source model fails on every input")

    return Failing()


def write_failing_source(target: str) -> dict[str, Any]:
    from harness.execution.torch_artifact import save_torch_module

    save_torch_module(Path(target), rebuild_failing(Path(target)), f"{__name__}:rebuild_failing")
    return {}
