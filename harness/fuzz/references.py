"""The second reference of a finding's expected output: the ONNX model in play run by onnxruntime and by
onnx.reference, each compared with the source framework's output (expected.npz).

`python -m harness.fuzz.references MODEL.onnx INPUTS.npz OUT_DIR` runs in a stack (it needs onnx and onnxruntime)
and writes OUT_DIR/<runtime>.npz or OUT_DIR/<runtime>.error; the controller compares."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from harness.execution.stacks import get_stack
from harness.execution.worker import load_npz, save_npz
from harness.oracle.compare import default_tolerance, tolerance_rule

RUNTIMES = ("onnxruntime", "onnx.reference")
TIMEOUT = 300.0


def run_runtime(runtime: str, path: str, inputs: list[np.ndarray]) -> list[np.ndarray]:
    import onnx

    model = onnx.load(path)
    initializers = {tensor.name for tensor in model.graph.initializer}
    names = [value.name for value in model.graph.input if value.name not in initializers]
    feed = dict(zip(names, inputs))
    if runtime == "onnxruntime":
        import onnxruntime

        session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
        return [np.asarray(value) for value in session.run(None, feed)]
    from onnx.reference import ReferenceEvaluator

    return [np.asarray(value) for value in ReferenceEvaluator(model).run(None, feed)]


def main(argv: list[str]) -> int:
    path, inputs_path, out = argv
    inputs = load_npz(inputs_path)
    for runtime in RUNTIMES:
        try:
            outputs = run_runtime(runtime, path, inputs)
            save_npz(str(Path(out) / f"{runtime}.npz"), [str(index) for index in range(len(outputs))], outputs)
        except Exception as exc:  # a runtime's refusal is an answer, recorded as such
            lines = str(exc).strip().splitlines()
            (Path(out) / f"{runtime}.error").write_text(f"{type(exc).__name__}: {lines[0] if lines else ''}"[:400])
    return 0


def agreement(expected: list[np.ndarray], produced: list[np.ndarray]) -> str:
    """"agrees", or how the outputs differ from the source's (the harness's float32 rule, no truth)."""
    if len(produced) < len(expected):
        return f"{len(produced)} outputs, expected {len(expected)}"
    for index, (want, got) in enumerate(zip(expected, produced)):
        if want.shape != got.shape:
            return f"output {index}: shape {list(got.shape)}, the source's {list(want.shape)}"
        tolerance = default_tolerance(want.dtype)
        judged = tolerance_rule(want, got.astype(want.dtype, copy=False), tolerance.atol, tolerance.rtol)
        if judged["failing"].any():
            return f"output {index}: max abs err {float(judged['error'].max()):.3g}"
    return "agrees"


def second_references(model: Path, inputs: Path, expected: list[np.ndarray]) -> dict[str, Any]:
    """What onnxruntime and onnx.reference make of `model` on `inputs`, against the source's `expected`."""
    from harness.execution.pool import worker_environment

    python = get_stack("current").ensure()
    verdicts: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as out:
        done = subprocess.run([str(python), "-m", "harness.fuzz.references", str(model), str(inputs), out],
                              capture_output=True, text=True, timeout=TIMEOUT, env=worker_environment())
        if done.returncode != 0:
            tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
            return {runtime: f"not run: {tail[:300]}" for runtime in RUNTIMES}
        for runtime in RUNTIMES:
            error = Path(out) / f"{runtime}.error"
            verdicts[runtime] = (f"fails: {error.read_text()}" if error.is_file()
                                 else agreement(expected, load_npz(str(Path(out) / f"{runtime}.npz"))))
    return verdicts


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
