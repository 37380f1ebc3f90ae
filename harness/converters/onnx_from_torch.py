"""OnnxFromTorch: torch.onnx.export, with the TorchScript exporter and the dynamo exporter as variants."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.converters.base import Converter
from harness.formats import ONNX, TORCH

# The TorchScript exporter's long-standing default opset; the dynamo variant keeps its own default,
# as a user calling torch.onnx.export(..., dynamo=True) would get.
TORCHSCRIPT_OPSET = 17


def dynamic_axes_for(io: dict[str, Any]) -> dict[str, dict[int, str]]:
    axes = {
        spec["name"]: {axis: dim for axis, dim in enumerate(spec["shape"]) if isinstance(dim, str)}
        for spec in io["inputs"]
    }
    # Outputs carry no declared shapes; a symbolic leading input axis is the batch, which every
    # zoo output keeps as its leading axis too.
    batch = next((spec["shape"][0] for spec in io["inputs"] if isinstance(spec["shape"][0], str)), None)
    if batch is not None:
        axes.update({name: {0: batch} for name in io["outputs"]})
    return {name: dims for name, dims in axes.items() if dims}


def dynamic_shapes_for(module: Any, io: dict[str, Any]) -> tuple[Any, ...]:
    """torch.export's dynamic_shapes, shaped like forward's parameters: a module whose forward takes
    *inputs (onnx2pytorch's ConvertModel does) gets all inputs as one tuple argument."""
    import inspect

    import torch

    per_input = tuple(
        {axis: torch.export.Dim.DYNAMIC for axis, dim in enumerate(spec["shape"]) if isinstance(dim, str)} or None
        for spec in io["inputs"]
    )
    parameters = list(inspect.signature(module.forward).parameters.values())
    if parameters and parameters[0].kind is inspect.Parameter.VAR_POSITIONAL:
        return (per_input,)
    return per_input


class OnnxFromTorch(Converter):
    source = TORCH
    target = ONNX
    framework = "torch"
    package = "torch"
    variants = ("torchscript", "dynamo")

    def __init__(self, variant: str = "torchscript") -> None:
        super().__init__(variant)

    def convert(self, source: Path, target: Path, io: dict[str, Any], example: list[Any]) -> None:
        import torch

        from harness.torch_artifact import load_torch_module

        module = load_torch_module(source)
        args = tuple(torch.from_numpy(array) for array in example)
        options: dict[str, Any]
        if self.variant == "torchscript":
            options = {"dynamo": False, "opset_version": TORCHSCRIPT_OPSET, "dynamic_axes": dynamic_axes_for(io)}
        else:
            options = {"dynamo": True, "dynamic_shapes": dynamic_shapes_for(module, io)}
        torch.onnx.export(
            module,
            args,
            str(target),
            input_names=[spec["name"] for spec in io["inputs"]],
            output_names=list(io["outputs"]),
            **options,
        )
