"""Exporters that run the real torch.onnx.export or tf2onnx, then break one layer of what they wrote.

The layer is chosen by op type and position ("Gemm2": the second Gemm node), not by the names the
localizer reads, so the test does not share the localizer's name mapping. Imported inside workers.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from harness.converters.base import Converter
from harness.converters.onnx_from_tf import OnnxFromKeras
from harness.converters.onnx_from_torch import OnnxFromTorch

WEIGHT_SCALE = 1.05  # far above float noise, small enough to keep every value finite
OUTPUT_NODE = "harness_fake/ScaleOutput"  # a node no torch module or Keras layer name maps to


def corrupt_weight(path: Path, target: str) -> None:
    """Scale the weight initializer of the `target` node ("Gemm2": the second Gemm), or, for
    "output", scale the graph's first output by a node appended after everything the exporter wrote."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    if target == "output":
        output = graph.output[0].name
        for node in graph.node:  # the last node now writes an inner value that the appended node scales
            node.output[:] = [f"{output}_unscaled" if name == output else name for name in node.output]
        graph.initializer.append(numpy_helper.from_array(np.array(WEIGHT_SCALE, np.float32), "harness_fake_scale"))
        graph.node.append(helper.make_node("Mul", [f"{output}_unscaled", "harness_fake_scale"], [output],
                                           name=OUTPUT_NODE))
        onnx.save(model, str(path))
        return
    match = re.fullmatch(r"([A-Za-z]+)(\d+)", target)
    if match is None:
        raise ValueError(f"target {target!r} is not <OpType><ordinal>")
    op_type, ordinal = match.group(1), int(match.group(2))
    node = [node for node in graph.node if node.op_type == op_type][ordinal - 1]
    initializers = {tensor.name: tensor for tensor in graph.initializer}
    weight = next(initializers[name] for name in node.input
                  if name in initializers and len(initializers[name].dims) >= 2)
    scaled = (numpy_helper.to_array(weight) * WEIGHT_SCALE).astype(numpy_helper.to_array(weight).dtype)
    weight.CopyFrom(numpy_helper.from_array(scaled, weight.name))
    onnx.save(model, str(path))


class CorruptingOnnxFromTorch(OnnxFromTorch):
    """torch.onnx.export (variant "<exporter>_<target>"), then one layer's weight scaled."""

    # Conv4 of resnet_blocks is layer2.conv1: its block's projection shortcut runs after it and never reads it.
    variants = ("torchscript_Gemm2", "dynamo_Gemm2", "torchscript_output", "torchscript_Conv4")

    def __init__(self, variant: str = "torchscript_Gemm2") -> None:
        Converter.__init__(self, variant)

    def convert(self, source: Path, target: Path, io: dict[str, Any], example: list[Any]) -> None:
        exporter, _, layer = self.variant.partition("_")
        OnnxFromTorch(exporter).convert(source, target, io, example)
        corrupt_weight(target, layer)


class CorruptingOnnxFromKeras(OnnxFromKeras):
    """tf2onnx's from_keras, then the weight of one node (the variant) scaled."""

    variants = ("MatMul2", "Conv2")

    def convert(self, source: Path, target: Path, io: dict[str, Any], example: list[Any]) -> None:
        super().convert(source, target, io, example)
        corrupt_weight(target, self.variant)
