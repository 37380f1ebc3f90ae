"""TfFromOnnx: onnx-tf's backend, prepare(model).export_graph(dir), giving a SavedModel for TF Serving."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.converters.base import Converter
from harness.formats import ONNX, SAVED_MODEL
from harness.repro.localized import ONNX_TF_SNIPPET


class TfFromOnnx(Converter):
    source = ONNX
    target = SAVED_MODEL
    stack = "legacy"  # onnx-tf 1.10.0 imports only with onnx < 1.16 and TF < 2.16
    framework = "tf"
    package = "onnx-tf"
    deprecated = ("onnx-tf's README: \"not actively maintained and will be deprecated\"; onnx/onnx-tensorflow#1066 "
                  "points to onnx2tf")
    bare_call = "onnx_to_tf"
    repro_packages = ("numpy", "onnx", "tensorflow", "onnx-tf")
    repro_kinds = {"onnx": "onnx-tf"}  # noqa: RUF012 (a record's table, never mutated)
    repro_snippet = ONNX_TF_SNIPPET
    declared_table = "harness.probes.declared:onnx_tf_declared"
    node_cases = True

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
