"""The converter graph: every converter the harness knows, one module each.

To add a converter, write its module (a Converter subclass) and list it here; routes follow.
"""

from __future__ import annotations

from harness.converters.base import Converter
from harness.converters.onnx_from_tf import OnnxFromKeras, OnnxFromSavedModel
from harness.converters.onnx_from_torch import OnnxFromTorch
from harness.converters.tf_from_onnx import TfFromOnnx
from harness.converters.torch_from_onnx import TorchFromOnnx


def default_converters() -> list[Converter]:
    """The built-in converters, then those that installed plugins add (entry point group parity.converters)."""
    from harness.plugins import plugin_converters

    return [
        OnnxFromTorch("torchscript"),
        OnnxFromTorch("dynamo"),
        TfFromOnnx(),
        OnnxFromKeras(),
        OnnxFromSavedModel(),
        TorchFromOnnx(),
        *plugin_converters(),
    ]


__all__ = ["Converter", "default_converters"]
