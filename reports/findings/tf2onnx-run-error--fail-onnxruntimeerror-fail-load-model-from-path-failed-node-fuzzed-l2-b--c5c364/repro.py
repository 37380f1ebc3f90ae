"""tf2onnx 1.17.0: Fail: [ONNXRuntimeError] : 1 : FAIL : Load model from .parity/fuzz/fuzz00224_s22/keras_onnx/hop1_onnx/model.o

OnnxFromKeras at hop 1 (keras->onnx) of keras>onnx>torch>onnx>tf: run_error; signature `keras->onnx | OnnxFromKeras | run_error | Fail: [ONNXRuntimeError] : N : FAIL : Load model from <path> failed:Node (fuzzed_N/l2_N/BiasAdd) Op (ConvTranspose) [ShapeInferenceError] Attribute pads must no`.
Needs only numpy, tensorflow, tf2onnx, onnx. Run it in this folder: python repro.py
Exit 1: the bug reproduces (an exception, or outputs beyond tolerance of expected.npz); exit 0: it is fixed.
"""

import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
INPUT_NAMES = ['x']
OUTPUT_NAMES = ['y']
# torch.testing.assert_close's float32 defaults, with atol in units of each output's scale.
ATOL, RTOL = 1e-5, 1.3e-6

OPSET = 17
# (name, shape with None for a dynamic axis, dtype) of each input, as the Keras model takes it.
SIGNATURE = [('x', [1, 12, 10, 6], 'float32')]


def convert_and_run(inputs):
    import keras
    import tensorflow as tf
    import tf2onnx

    model = keras.saving.load_model(str(HERE / "model.keras"))
    specs = [tf.TensorSpec(shape, dtype, name=name) for name, shape, dtype in SIGNATURE]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "converted.onnx"
        tf2onnx.convert.from_keras(model, input_signature=specs, opset=OPSET, output_path=str(path))
        return run_onnx(path, inputs, OPSET)


def load_arrays(name):
    with np.load(HERE / name, allow_pickle=False) as data:
        return [data[key] for key in data.files]


def run_onnx(path, inputs, opset=None):
    """Check the written model (at the opset asked for, when one was) and run it with onnx's reference evaluator."""
    import onnx
    from onnx.reference import ReferenceEvaluator

    onnx.checker.check_model(str(path))
    model = onnx.load(str(path))
    written = next((entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx")), None)
    if opset is not None and written != opset:
        raise RuntimeError(f"{path.name}: the converter wrote opset {written}, not {opset} as asked")
    initializers = {tensor.name for tensor in model.graph.initializer}
    names = [value.name for value in model.graph.input if value.name not in initializers]
    return ReferenceEvaluator(model).run(None, dict(zip(names, inputs)))


def within_tolerance(name, expected, produced):
    if expected.shape != produced.shape:
        print(f"{name}: shape {produced.shape}, expected {expected.shape}")
        return False
    if expected.dtype != produced.dtype and not (expected.dtype.kind == produced.dtype.kind == "f"):
        print(f"{name}: dtype {produced.dtype}, expected {expected.dtype}")
        return False
    ref, out = expected.astype(np.float64), produced.astype(np.float64)
    infinite = np.isinf(ref)
    if not np.array_equal(np.isnan(ref), np.isnan(out)) or not np.array_equal(ref[infinite], out[infinite]):
        print(f"{name}: NaN or Inf where expected.npz has other values")
        return False
    finite = np.isfinite(ref)
    if not finite.any():
        return True
    error = np.abs(out[finite] - ref[finite])
    allowed = ATOL * max(1.0, float(np.abs(ref[finite]).max())) + RTOL * np.abs(ref[finite])
    worst = float(np.nan_to_num(error, nan=np.inf).max())
    print(f"{name}: max abs err {worst:.6g}")
    return bool((error <= allowed).all())


def main():
    inputs = load_arrays("input.npz")
    expected = load_arrays("expected.npz")
    try:
        produced = convert_and_run(inputs)
    except Exception as exc:
        # TensorFlow and torch.export put the cause on the last line that names an error.
        lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()] or [""]
        telling = lines[0]
        if telling.endswith(":") and len(lines) > 1:
            named = [line for line in lines[1:] if "Error" in line.split(":")[0] or "Exception" in line]
            telling = named[-1] if named else lines[-1]
        if not telling.startswith(type(exc).__name__):
            telling = f"{type(exc).__name__}: {telling}"
        print(f"FAILED: {telling[:500]}")
        return 1
    produced = [np.asarray(output) for output in produced]
    if len(produced) < len(expected):
        print(f"FAILED: {len(produced)} outputs, expected {len(expected)}")
        return 1
    ok = all([within_tolerance(name, want, got) for name, want, got in zip(OUTPUT_NAMES, expected, produced)])
    print("outputs match" if ok else "FAILED: outputs beyond tolerance of expected.npz")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
