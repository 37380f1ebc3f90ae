"""OnnxFromTorch: torch.onnx.export, with the TorchScript exporter and the dynamo exporter as variants."""

from __future__ import annotations

import functools
import hashlib
import logging
import re
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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
# torch releases whose dynamo exporter OnnxFromTorch.convert splits at the opset, call for call with its
# export_compat and _core.export. Below opset 18 every opset is decomposed and translated for the same
# opset-18 registry, and only the version conversion after it reads the opset.
DYNAMO_SPLIT = frozenset({"2.14.1"})
DYNAMO_CAPTURES_KEPT = 2  # a lane runs one model's cells together, so the last few models are all that repeat
# onnxscript releases whose get_torchlib_ops torch's exporter may call once per process (see read_torchlib_ops_once).
TORCHLIB_OPS_READ_ONCE = frozenset({"0.7.2"})


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
    extra_packages = ("onnxscript",)  # the dynamo exporter's translation library
    variants = ("torchscript", "dynamo")
    takes_opset = True
    bare_call = "torch_to_onnx"
    repro_packages = ("numpy", "torch", "onnx")
    # the zoo's or a generated model (torch-generated), or onnx2pytorch's module later in a route
    repro_kinds = {"generated": "torch-generated", "torch": "torch-onnx2pytorch"}  # noqa: RUF012 (never mutated)
    node_cases = True  # the way back to ONNX after onnx2pytorch
    source_probes = True

    def __init__(self, variant: str = "torchscript", *, stack: str | None = None, opset: int | None = None) -> None:
        super().__init__(variant, stack=stack, opset=opset)

    def default_opset(self) -> int | None:
        return TORCHSCRIPT_OPSET if self.variant == "torchscript" else None

    def convert(self, source: Path, target: Path, io: dict[str, Any], example: list[Any]) -> None:
        import torch

        from harness.execution.torch_artifact import load_torch_module

        if self.variant == "dynamo":
            read_torchlib_ops_once()
        with warnings_of(DYNAMO_CONVERSION_LOGGER) as records:
            if self.variant == "dynamo" and splits_dynamo_at(self.opset):
                self.export_captured(source, target, io, example)
            else:
                module = load_torch_module(source)
                args = tuple(torch.from_numpy(array) for array in example)
                options: dict[str, Any]
                if self.variant == "torchscript":
                    options = {"dynamo": False, "opset_version": self.target_opset,
                               "dynamic_axes": dynamic_axes_for(io)}
                else:
                    options = {"dynamo": True, "dynamic_shapes": dynamic_shapes_for(module, io)}
                    if self.opset is not None:
                        options["opset_version"] = self.opset
                torch.onnx.export(module, args, str(target), input_names=[spec["name"] for spec in io["inputs"]],
                                  output_names=list(io["outputs"]), **options)
        if self.opset is not None:
            from harness.errors import OpsetNotWritten
            from harness.execution.onnx_ops import default_opset

            written = default_opset(target)
            if written != self.opset:
                # torch reports success; the model it wrote is not at the opset asked for.
                raise OpsetNotWritten(f"torch.onnx.export wrote opset {written}, not {self.opset}: "
                                      f"{conversion_failure(records) or 'it logged no reason'}")

    def export_captured(self, source: Path, target: Path, io: dict[str, Any], example: list[Any]) -> None:
        """torch.onnx.export(dynamo=True, opset_version=self.opset) from the module's shared capture: the rest
        of torch's _core.export and export_compat (translation, then the only part that reads an opset below
        18). tests/test_onnx_from_torch_dynamo.py checks that the files are the ones torch.onnx.export writes."""
        from torch.onnx._internal._lazy_import import onnxscript_apis
        from torch.onnx._internal.exporter import _ir_passes

        capture = dynamo_capture(source, io, example)
        program = capture.translated()
        program.model = onnxscript_apis.convert_version(program.model, self.opset)
        program.optimize()
        input_names, output_names = [spec["name"] for spec in io["inputs"]], list(io["outputs"])
        if input_names:
            _ir_passes.rename_inputs(program.model, input_names)
        if output_names:
            _ir_passes.rename_outputs(program.model, output_names)
        if capture.axis_mapping:
            program._rename_dynamic_axes(capture.dynamic_shapes)
        program.save(str(target), include_initializers=True, keep_initializers_as_inputs=False, external_data=True)


def splits_dynamo_at(opset: int | None) -> bool:
    """Whether the dynamo export at `opset` is made from the module's shared capture (DYNAMO_SPLIT)."""
    import torch
    from torch.onnx._internal.exporter import _constants

    return (opset is not None and opset <= _constants.TORCHLIB_OPSET
            and torch.__version__.split("+")[0] in DYNAMO_SPLIT)


@dataclass
class DynamoCapture:
    """What torch.onnx.export(dynamo=True) makes of a module before it reads an opset below 18: the program
    torch.export captured, decomposed for torchlib's opset-18 registry. A torch route runs at every opset of
    the matrix from one source, and this part (about 80% of a resnet18 export) is the same for all of them
    below 18. Each export translates it to ONNX again: the translation is cheap, and a copy of a translated
    graph would number the nodes the optimizer adds differently."""

    decomposed: Any  # torch.export.ExportedProgram
    registry: Any
    dynamic_shapes: Any
    axis_mapping: bool  # export_compat renames the dynamic axes after the export
    first_translation: Any  # the ONNXProgram made with the capture, until an export takes it

    def translated(self) -> Any:
        from torch.onnx._internal.exporter import _core, _errors

        if self.first_translation is not None:
            program, self.first_translation = self.first_translation, None
            return program
        try:
            return _core._exported_program_to_onnx_program(self.decomposed, registry=self.registry)
        except Exception as error:  # as _core.export reports a failed translation
            raise _errors.ConversionError(_core._STEP_THREE_ERROR_MESSAGE
                                          + _core._summarize_exception_stack(error)) from error


_dynamo_captures: OrderedDict[str, DynamoCapture | Exception] = OrderedDict()
dynamo_captures_made = 0  # how many modules were captured in this process (tests read it)


def dynamo_capture(source: Path, io: dict[str, Any], example: list[Any]) -> DynamoCapture:
    """The first part of torch.onnx.export(dynamo=True) below opset 18 (DYNAMO_SPLIT) on the module in
    `source` and `example`, reused while the artifact's files, the example and the inputs are the same. A
    failure of that part (torch.export's, or the translation's) is the same at every opset below 18 and is
    raised again for each."""
    global dynamo_captures_made
    import torch
    from torch.onnx._internal.exporter import _compat, _constants, _core, _dynamic_shapes, _errors, _registration

    from harness.execution.cache import digest_path
    from harness.execution.torch_artifact import load_torch_module

    # The artifact's digest (its recipe and weights) is remembered once its files have settled.
    digest = hashlib.sha256(f"{digest_path(source)}{io['inputs']!r}".encode())
    for array in example:
        digest.update(f"{array.dtype}{array.shape}".encode())
        digest.update(array.tobytes())
    key = digest.hexdigest()
    if key not in _dynamo_captures:
        module = load_torch_module(source)
        args, kwargs = _compat._get_torch_export_args(tuple(torch.from_numpy(array) for array in example), None)
        dynamic_shapes = dynamic_shapes_for(module, io)
        shapes_with_export_dims, axis_mapping = _dynamic_shapes.convert_str_to_export_dim(dynamic_shapes)
        registry = _registration.ONNXRegistry().from_torchlib(opset_version=_constants.TORCHLIB_OPSET)
        captured: DynamoCapture | Exception
        try:
            # Capture, decomposition and translation, neither converted to another opset nor optimized.
            program = _core.export(
                module, args, kwargs, registry=registry, dynamic_shapes=shapes_with_export_dims, input_names=None,
                output_names=None, profile=False, report=False, verify=False, dump_exported_program=False,
                artifacts_dir=".", verbose=None, optimize=False, opset_version=None)
            captured = DynamoCapture(program.exported_program, registry, dynamic_shapes, axis_mapping, program)
        except (_errors.TorchExportError, _errors.ConversionError) as error:
            captured = error
        dynamo_captures_made += 1
        _dynamo_captures[key] = captured
        while len(_dynamo_captures) > DYNAMO_CAPTURES_KEPT:
            _dynamo_captures.popitem(last=False)
    _dynamo_captures.move_to_end(key)
    found = _dynamo_captures[key]
    if isinstance(found, Exception):
        raise found
    return found


def read_torchlib_ops_once() -> None:
    """torch's dynamo exporter builds its registry from onnxscript's get_torchlib_ops on every export, which
    lists torchlib's ~500 functions from its static registry by parsing each one's source again: 0.5 s of a
    0.75-s single-op export. The list depends only on the installed code, so in a worker it is made once.
    (TORCHLIB_OPS_READ_ONCE: the release whose entries are plain values the registry only reads.)"""
    import onnxscript

    apis = torchlib_apis()
    if onnxscript.__version__ not in TORCHLIB_OPS_READ_ONCE or hasattr(apis.get_torchlib_ops, "cache_info"):
        return
    read = functools.cache(apis.get_torchlib_ops)

    @functools.wraps(read)
    def get_torchlib_ops() -> list[Any]:
        return list(read())

    get_torchlib_ops.cache_info = read.cache_info  # type: ignore[attr-defined]
    apis.get_torchlib_ops = get_torchlib_ops


def torchlib_apis() -> Any:
    """The onnxscript module torch's exporter reads get_torchlib_ops from (torch names it lazily)."""
    import importlib

    from torch.onnx._internal._lazy_import import onnxscript_apis

    return importlib.import_module(onnxscript_apis._name)
