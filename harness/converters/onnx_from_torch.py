"""OnnxFromTorch: torch.onnx.export, with the TorchScript exporter and the dynamo exporter as variants."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from harness.converters.base import Converter
from harness.formats import ONNX, TORCH

# The TorchScript exporter's long-standing default opset; the dynamo variant keeps its own default,
# as a user calling torch.onnx.export(..., dynamo=True) would get.
TORCHSCRIPT_OPSET = 17
# Where torch 2.14's dynamo exporter reports a failed down-conversion: it builds its graph at opset
# max(18, requested), converts it down with onnxscript's version converter (falling back to
# onnx.version_converter), and on failure logs a warning and writes opset 18 anyway.
DYNAMO_CONVERSION_LOGGER = "onnxscript.version_converter"


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def warnings_of(logger_name: str) -> Iterator[list[logging.LogRecord]]:
    handler = _Collect()
    logger = logging.getLogger(logger_name)
    logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)


def conversion_failure(records: list[logging.LogRecord]) -> str:
    """The version converter's own words for why it left the model at its opset: the exception it logged."""
    for record in reversed(records):
        if record.exc_info and record.exc_info[1] is not None:
            lines = [line for line in str(record.exc_info[1]).splitlines() if line.strip()]
            # onnx's C++ assertion names its source file and condition first; the words after them are the reason.
            reason = re.sub(r"^.*Assertion `.*?` failed: ", "", lines[-1].strip()) if lines else ""
            return f"{type(record.exc_info[1]).__name__}: {reason}"
    return records[-1].getMessage() if records else ""


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
    takes_opset = True

    def __init__(self, variant: str = "torchscript", *, stack: str | None = None, opset: int | None = None) -> None:
        super().__init__(variant, stack=stack, opset=opset)

    def default_opset(self) -> int | None:
        return TORCHSCRIPT_OPSET if self.variant == "torchscript" else None

    def convert(self, source: Path, target: Path, io: dict[str, Any], example: list[Any]) -> None:
        import torch

        from harness.torch_artifact import load_torch_module

        module = load_torch_module(source)
        args = tuple(torch.from_numpy(array) for array in example)
        options: dict[str, Any]
        if self.variant == "torchscript":
            options = {"dynamo": False, "opset_version": self.target_opset, "dynamic_axes": dynamic_axes_for(io)}
        else:
            options = {"dynamo": True, "dynamic_shapes": dynamic_shapes_for(module, io)}
            if self.opset is not None:
                options["opset_version"] = self.opset
        with warnings_of(DYNAMO_CONVERSION_LOGGER) as records:
            torch.onnx.export(
                module,
                args,
                str(target),
                input_names=[spec["name"] for spec in io["inputs"]],
                output_names=list(io["outputs"]),
                **options,
            )
        if self.opset is not None:
            from harness.onnx_ops import OpsetNotWritten, default_opset

            written = default_opset(target)
            if written != self.opset:
                # torch reports success; the model it wrote is not at the opset asked for.
                raise OpsetNotWritten(f"torch.onnx.export wrote opset {written}, not {self.opset}: "
                                      f"{conversion_failure(records) or 'it logged no reason'}")
