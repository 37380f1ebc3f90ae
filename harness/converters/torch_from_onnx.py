"""TorchFromOnnx: onnx2pytorch's ConvertModel, saved as a rebuild recipe plus a weights-only state dict."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from harness.converters.base import Converter
from harness.execution.torch_artifact import save_torch_module
from harness.formats import ONNX, TORCH
from harness.repro.localized import ONNX2PYTORCH_SNIPPET

SOURCE_COPY = "source.onnx"


def rebuild(directory: Path) -> Any:
    """The architecture onnx2pytorch builds from the ONNX file kept beside the weights."""
    import onnx
    from onnx2pytorch import ConvertModel

    return ConvertModel(onnx.load(str(directory / SOURCE_COPY)))


class TorchFromOnnx(Converter):
    source = ONNX
    target = TORCH
    framework = "torch"
    package = "onnx2pytorch"
    bare_call = "onnx_to_torch"
    repro_packages = ("numpy", "onnx", "torch", "onnx2pytorch")
    repro_kinds = {"onnx": "onnx2pytorch"}  # noqa: RUF012 (a record's table, never mutated)
    repro_snippet = ONNX2PYTORCH_SNIPPET
    declared_table = "harness.probes.declared:onnx2pytorch_declared"
    node_cases = True

    def convert(self, source: Path, target: Path, io: dict[str, Any], example: list[Any]) -> None:
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target / SOURCE_COPY)
        save_torch_module(target, rebuild(target), f"{__name__}:rebuild", rebuild_holds_weights=True)
