"""The public surface for plugins and users' scripts: import from here, and the harness's insides may move.

A converter plugin subclasses Converter (its class attributes are its record), saves torch artifacts with
save_torch_module, and names formats by the constants below; a model plugin returns ModelSpecs.
"""

from __future__ import annotations

from harness.converters.base import Converter
from harness.errors import ParityError, UsageError
from harness.execution.torch_artifact import save_torch_module
from harness.formats import FORMATS, KERAS, ONNX, SAVED_MODEL, TFLITE, TORCH, Format
from harness.spec import InputSpec, ModelSpec, OutputSpec, Tolerance

__all__ = [
    "FORMATS", "KERAS", "ONNX", "SAVED_MODEL", "TFLITE", "TORCH", "Converter", "Format", "InputSpec", "ModelSpec",
    "OutputSpec", "ParityError", "Tolerance", "UsageError", "save_torch_module",
]
