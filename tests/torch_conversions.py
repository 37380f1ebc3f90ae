"""Run in a torch worker: the harness's dynamo exporter, split at the opset, next to torch.onnx.export whole."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

import numpy as np

from harness.converters import onnx_from_torch
from harness.converters.onnx_from_torch import OnnxFromTorch
from harness.execution.torch_artifact import TRUSTED_REBUILDS_ENV, save_torch_module

BRANCHING = "tests.torch_conversions:rebuild_branching"


def rebuild_branching(directory: Path) -> Any:
    """A module torch.export cannot capture: its control flow depends on the input's values."""
    import torch

    class Branching(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = torch.nn.Linear(4, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.linear(x) if x.sum() > 0 else -self.linear(x)

    return Branching()


def split_and_whole(model: str, folder: str, io: dict[str, Any], opsets: list[int]) -> dict[str, Any]:
    """Each opset exported by OnnxFromTorch("dynamo") as a lane's cells of one model are (one after the other,
    in one process), then by torch.onnx.export whole (the split and torchlib's ops read once both turned
    off); the written files and errors of both, and how many captures the split made."""
    out = Path(folder)
    source = out / "source"
    if model == "branching":
        os.environ[TRUSTED_REBUILDS_ENV] = BRANCHING
        save_torch_module(source, rebuild_branching(source), BRANCHING)
    else:
        from model_zoo import all_models

        build = all_models()[model].build_torch
        assert build is not None
        save_torch_module(source, build(), "harness.execution.torch_artifact:rebuild_zoo_model", model=model)
    rng = np.random.default_rng(0)
    example = [rng.standard_normal([2 if isinstance(dim, str) else dim for dim in spec["shape"]]).astype(spec["dtype"])
               for spec in io["inputs"]]

    made_before = onnx_from_torch.dynamo_captures_made
    split = [export(OnnxFromTorch("dynamo", opset=opset), source, out / f"split_{opset}", io, example)
             for opset in opsets]
    made = onnx_from_torch.dynamo_captures_made - made_before

    apis = onnx_from_torch.torchlib_apis()
    read_once = apis.get_torchlib_ops
    releases = onnx_from_torch.DYNAMO_SPLIT, onnx_from_torch.TORCHLIB_OPS_READ_ONCE
    apis.get_torchlib_ops = importlib.import_module("onnxscript._framework_apis.torch_2_5").get_torchlib_ops
    onnx_from_torch.DYNAMO_SPLIT, onnx_from_torch.TORCHLIB_OPS_READ_ONCE = frozenset(), frozenset()
    try:
        whole = [export(OnnxFromTorch("dynamo", opset=opset), source, out / f"whole_{opset}", io, example)
                 for opset in opsets]
    finally:
        apis.get_torchlib_ops = read_once
        onnx_from_torch.DYNAMO_SPLIT, onnx_from_torch.TORCHLIB_OPS_READ_ONCE = releases
    return {"split": split, "whole": whole, "captures": made, "torchlib_reads": read_once.cache_info().misses}


def export(converter: OnnxFromTorch, source: Path, folder: Path, io: dict[str, Any],
           example: list[np.ndarray]) -> dict[str, Any]:
    """The converter's files (name: the bytes' SHA-256) and its error, as `type: message`."""
    import hashlib

    folder.mkdir(parents=True)
    error = ""
    try:
        converter.convert(source, folder / "model.onnx", io, example)
    except Exception as caught:  # the error is what is compared
        error = f"{type(caught).__name__}: {caught}"
    files = {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(folder.iterdir())}
    return {"files": files, "error": error}
