"""litert-torch (formerly ai-edge-torch), Google's torch -> TFLite converter: `litert_torch.convert(module,
sample_args).export(path)`, no ONNX on the way. It lowers torch.export's graph through JAX and keeps the module's
NCHW layout; the flatbuffer's signature names its inputs `args_0, args_1, ...` in forward's order and its
outputs `output_0, ...`, so they are matched by position (the row's interface column says so for several).

It converts static shapes only: given torch.export dynamic shapes, 0.10.0 fails inside its JAX lowering on a
flatten or reshape of a dynamic dim (every zoo CNN, MLP and RNN), as upstream says (google-ai-edge/litert-torch
#870, open; PR #1024 would make `dynamic_shapes` fail fast). So it is called as its README calls it, with the
export example, and its routes are judged on inputs of the export example's sizes (Converter.static_shapes; each
row's lost_dynamic_axes names the dims held). Its stack is a layer over `current` (it caps torch < 2.15 and pins
its own typing-extensions, which `current` must not change).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.converters.base import Converter
from harness.formats import TFLITE, TORCH


class TfliteFromTorch(Converter):
    source = TORCH
    target = TFLITE
    stack = "litert-torch"
    framework = "torch"  # litert-torch imports torch and JAX, never TensorFlow
    package = "litert-torch"
    extra_packages = ("ai-edge-litert",)  # the interpreter its flatbuffer runs in
    label = "litert-torch"
    repro_packages = ("numpy", "torch", "litert-torch", "ai-edge-litert")
    repro_kinds = {"generated": "litert-torch"}  # noqa: RUF012 (a record's table, never mutated)
    opset_sweep = False  # no ONNX on its way: the sweep has nothing to vary
    source_only = True  # a user's own module, not onnx2pytorch's (Converter.source_only)
    static_shapes = "litert-torch converts static shapes only: google-ai-edge/litert-torch #870"

    def convert(self, source: Path, target: Path, io: dict[str, Any], example: list[Any]) -> None:
        import litert_torch
        import torch

        from harness.execution.torch_artifact import load_torch_module

        module = load_torch_module(source).eval()
        args = tuple(torch.from_numpy(array) for array in example)
        target.parent.mkdir(parents=True, exist_ok=True)
        litert_torch.convert(module, args).export(str(target))
