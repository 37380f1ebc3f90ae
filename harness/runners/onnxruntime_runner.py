"""Runs an ONNX artifact under onnxruntime's CPU provider: the reference runtime for every ONNX hop."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from harness.formats import ONNX
from harness.runners.base import Runner

ORT_TYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16,
             "tensor(int64)": np.int64, "tensor(int32)": np.int32}


class OnnxRuntimeRunner(Runner):
    format = ONNX
    framework = "none"
    stack = "current"

    def load(self, artifact: Path, io: dict[str, Any]) -> Any:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        return onnxruntime.InferenceSession(str(artifact), options, providers=["CPUExecutionProvider"])

    def run_loaded(self, loaded: Any, io: dict[str, Any], inputs: list[Any]) -> list[Any]:
        graph_inputs = loaded.get_inputs()
        if len(graph_inputs) != len(inputs):
            raise ValueError(f"the graph takes {len(graph_inputs)} inputs, the model spec gives {len(inputs)}")
        # Inputs are matched by position: converters rename them (tf2onnx appends ":0", onnx-tf sanitises).
        # A converter that narrowed an input dtype (int64 -> int32) still gets the same values.
        feed = {graph_input.name: array.astype(ORT_TYPES.get(graph_input.type, array.dtype), copy=False)
                for graph_input, array in zip(graph_inputs, inputs)}
        return list(loaded.run(None, feed))
