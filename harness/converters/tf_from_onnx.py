"""TfFromOnnx: onnx-tf's backend, prepare(model).export_graph(dir), giving a SavedModel for TF Serving."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.converters.base import Converter
from harness.formats import ONNX, SAVED_MODEL


class TfFromOnnx(Converter):
    source = ONNX
    target = SAVED_MODEL
    stack = "legacy"  # onnx-tf 1.10.0 imports only with onnx < 1.16 and TF < 2.16
    framework = "tf"
    package = "onnx-tf"

    def convert(self, source: Path, target: Path, io: dict[str, Any], example: list[Any]) -> None:
        import onnx
        from onnx_tf.backend import prepare

        forget_cached_rnn_cells()
        # BackendIsNotSupposedToImplementIt (an op version onnx-tf lacks) propagates as a
        # conversion error: the ONNX backend test runner would call it a skip, the harness does not.
        prepare(onnx.load(str(source))).export_graph(str(target))


def forget_cached_rnn_cells() -> None:
    """onnx-tf keeps the first RNN cell it builds on the handler class (RNNMixin.rnn_cell) and reuses it for
    every later LSTM, GRU or RNN node in the process (onnx/onnx-tensorflow#950). In a long-lived worker that
    would make every model after the first recurrent one fail on an untracked resource, so each conversion
    starts from onnx-tf's pristine state, as it would in a fresh process."""
    from onnx_tf.handlers.backend.rnn_mixin import RNNMixin

    pending = list(RNNMixin.__subclasses__())
    while pending:
        handler = pending.pop()
        pending.extend(handler.__subclasses__())
        if "rnn_cell" in vars(handler):
            handler.rnn_cell = None
