"""torch 2.14.1: Fail: [ONNXRuntimeError] : 1 : FAIL : Load model from .parity/fuzz/fuzz00669_s28/torch_onnx/hop1_onnx/model.o

OnnxFromTorch[torchscript] at hop 1 (torch->onnx) of torch>onnx>tf>onnx>torch: run_error; signature `torch->onnx | OnnxFromTorch[torchscript] | run_error | Fail: [ONNXRuntimeError] : N : FAIL : Load model from <path> failed:Node (<path>) Op (MatMul) [ShapeInferenceError] Incompatible dimensions for matrix multiplic`.
Needs only numpy, torch, onnx. Run it in this folder: python repro.py
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

DYNAMO = False
OPSET = 17  # None: the exporter's own default
DYNAMIC_AXES = {}  # input and output name -> {axis: symbolic name}


def build_module():
    sys.path.insert(0, str(HERE))
    from model import build_model  # model.py beside this file: the generated model, weights from weights.npz

    return build_model()


def convert_and_run(inputs):
    import torch

    module = build_module().eval()
    example = tuple(torch.from_numpy(array) for array in load_arrays("export_input.npz"))
    options = {"dynamo": DYNAMO}
    if OPSET is not None:
        options["opset_version"] = OPSET
    if DYNAMO:
        options["dynamic_shapes"] = tuple({axis: torch.export.Dim.DYNAMIC for axis in DYNAMIC_AXES.get(name, {})}
                                          or None for name in INPUT_NAMES)
    else:
        options["dynamic_axes"] = DYNAMIC_AXES
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "exported.onnx"
        torch.onnx.export(module, example, str(path), input_names=INPUT_NAMES, output_names=OUTPUT_NAMES, **options)
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
