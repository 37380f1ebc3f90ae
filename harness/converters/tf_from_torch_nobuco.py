"""nobuco, torch -> Keras without ONNX: it runs the module on the example, maps each torch call it sees to a
Keras/TF implementation and builds a Keras 2 functional model. `nobuco.pytorch_to_keras(module, args=[...],
inputs_channel_order=ChannelOrder.PYTORCH, outputs_channel_order=ChannelOrder.PYTORCH)` keeps the module's NCHW
layout; the inputs' and outputs' names are the route's, and every symbolic dimension is left free (None).

nobuco supports Keras 2 only, so it lives in a TensorFlow 2.15 stack (a layer over `legacy` with torch added),
and its model is saved as a TF SavedModel (Keras 2's `model.save(path, save_format="tf")`): that is the file a TF
user serves, and the one every TF release reads, which Keras 3's `.keras` loader does not do for a Keras 2 model
holding nobuco's own layers. The way back is tf2onnx's SavedModel reader, as for any SavedModel.
"""

from __future__ import annotations

import contextlib
import io as io_module
import re
import sys
from pathlib import Path
from typing import Any

from harness.converters.base import Converter
from harness.formats import SAVED_MODEL, TORCH


def unimplemented_calls(trace: str) -> str:
    """The calls under nobuco's "Unimplemented nodes:" listing, each with the modules it sits in
    ("BasicBlock[model_zoo.resnet] > relu[torch]"), without the converted module itself."""
    _, found, listing = re.sub(r"\x1b\[[0-9;]*m", "", trace).partition("Unimplemented nodes:")
    if not found:
        return ""
    calls = re.findall(r"([\w.]+\[[\w.]+\])\(", listing)
    return " > ".join(dict.fromkeys(calls[1:] or calls))


class TfFromTorch(Converter):
    source = TORCH
    target = SAVED_MODEL
    stack = "nobuco"
    framework = "torch+tf"  # it runs the torch module and builds the Keras model in one process, by design
    package = "nobuco"
    label = "nobuco"
    repro_packages = ("numpy", "torch", "nobuco", "tensorflow")
    repro_kinds = {"generated": "nobuco"}  # noqa: RUF012 (a record's table, never mutated)
    # Its routes go back through tf2onnx; sweeping tf2onnx's opset there would multiply them for the way back only.
    source_only = True  # a user's own module, not onnx2pytorch's (Converter.source_only)
    opset_sweep = False

    def convert(self, source: Path, target: Path, io: dict[str, Any], example: list[Any]) -> None:
        import nobuco
        import torch
        from nobuco import ChannelOrder

        from harness.execution.torch_artifact import load_torch_module

        module = load_torch_module(source).eval()
        args = [torch.from_numpy(array) for array in example]
        specs = io["inputs"]
        printed = io_module.StringIO()
        try:
            # nobuco prints its trace and names the calls it cannot convert there, raising only "Unimplemented
            # nodes": the row quotes the calls, the worker's log keeps the whole trace.
            with contextlib.redirect_stdout(printed):
                keras_model = nobuco.pytorch_to_keras(
                    module, args=args,
                    input_shapes={arg: [None if isinstance(dim, str) else dim for dim in spec["shape"]]
                                  for arg, spec in zip(args, specs)},
                    input_names={arg: spec["name"] for arg, spec in zip(args, specs)},
                    output_names=dict(enumerate(io["outputs"])),
                    # Free dims need the module's shape reads traced, or a reshape keeps the example's batch size.
                    trace_shape=True,
                    inputs_channel_order=ChannelOrder.PYTORCH, outputs_channel_order=ChannelOrder.PYTORCH)
        except Exception as exc:
            calls = unimplemented_calls(printed.getvalue())
            if calls:
                raise RuntimeError(f"{exc}: {calls}") from exc
            raise
        finally:
            sys.stderr.write(printed.getvalue())
        target.parent.mkdir(parents=True, exist_ok=True)
        keras_model.save(str(target), save_format="tf")
