"""onnx2torch as a second ONNX -> torch converter for the parity harness."""

import shutil
from pathlib import Path
from typing import Any

from harness.converters.base import Converter
from harness.formats import ONNX, TORCH
from harness.torch_artifact import save_torch_module


def rebuild(directory: Path) -> Any:
    from onnx2torch import convert

    return convert(str(directory / "source.onnx"))


class TorchFromOnnxViaOnnx2Torch(Converter):
    source, target, framework, package, label = ONNX, TORCH, "torch", "onnx2torch", "onnx2torch"

    def convert(self, source: Path, target: Path, io: dict[str, Any], example: list[Any]) -> None:
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target / "source.onnx")
        save_torch_module(target, rebuild(target), f"{__name__}:rebuild", rebuild_holds_weights=True)
