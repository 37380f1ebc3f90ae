"""tf2onnx 1.17.0: Fail: [ONNXRuntimeError] : 1 : FAIL : Load model from <campaign work folder>/fuzz00044_s57/torch_onnx_tf-onnx2tf_onnx/hop3_o

OnnxFromSavedModel at hop 3 (tf->onnx) of torch>onnx>tf@onnx2tf>onnx>torch: run_error; signature `tf->onnx | OnnxFromSavedModel | run_error | Fail: [ONNXRuntimeError] : N : FAIL : Load model from <path> failed:Node (<name>) Op (ConvTranspose) [ShapeInferenceError] Attribute pads must not contain negat`.
Needs only numpy, tensorflow, tf2onnx, onnx. Run it in this folder: python repro.py
Exit 1: the bug reproduces (an exception, or outputs beyond tolerance of expected.npz); exit 0: it is fixed.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
INPUT_NAMES = ['x']
OUTPUT_NAMES = ['y']

OPSET = 17


def convert_and_run(inputs):
    import subprocess

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "converted.onnx"
        # tf2onnx's command line, as its README gives it for a SavedModel.
        done = subprocess.run([sys.executable, "-m", "tf2onnx.convert", "--saved-model", str(HERE / "saved_model"),
                               "--output", str(path), "--opset", str(OPSET)], capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError((done.stderr.strip().splitlines() or ["tf2onnx.convert failed"])[-1])
        return run_onnx(path, inputs, OPSET)


# -- the tolerance rule and error line of parity's verdict, verbatim ------------------------------

NOISE_FACTOR = 8.0
TRUTH_DISAGREEMENT = 0.001
# torch.testing.assert_close's (atol, rtol) per dtype; other dtypes (integers, bool) are exact.
DEFAULTS = {'float16': (1e-05, 0.001), 'bfloat16': (1e-05, 0.016), 'float32': (1e-05, 1.3e-06), 'float64': (1e-07, 1e-07)}


def tolerance_rule(reference: np.ndarray, candidate: np.ndarray, atol: float, rtol: float,
                   truth: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The one tolerance rule of every verdict (parity's docs/tolerance.md), element by element; generated repros
    embed this function verbatim. reference and candidate have one shape; truth, when given, is the float64 truth of
    that shape. Rows are the leading axis (one example of a batch); rank 0 and 1: each element is its own row.

    Returns arrays of the reference's shape: failing; error (against what the element was judged by); allowed;
    by_truth (judged against the truth); own_noise (the reference's error against the truth); pooled_noise
    (own_noise's largest along the last axis); noise (what K multiplies); row_scale; ambiguous (integer elements
    where the reference disagrees with the truth); set_aside (rows whose truth disagrees with the reference
    beyond float32 rounding); disagreement (|reference - truth|)."""
    ref = np.asarray(reference).astype(np.float64)
    cand = np.asarray(candidate).astype(np.float64)
    zero, nothing = np.zeros(ref.shape), np.zeros(ref.shape, dtype=bool)

    def per_row(values: np.ndarray) -> np.ndarray:  # the largest value of each element's row
        if values.ndim < 2 or values.size == 0:
            return values
        rows = values.reshape(values.shape[0], -1).max(axis=1)
        return np.broadcast_to(rows.reshape((-1,) + (1,) * (values.ndim - 1)), values.shape)

    def per_last_axis(values: np.ndarray) -> np.ndarray:  # the largest value along the last axis
        if values.ndim < 2 or values.size == 0:
            return values
        return np.broadcast_to(values.max(axis=-1, keepdims=True), values.shape)

    found = {"by_truth": nothing, "own_noise": zero, "pooled_noise": zero, "noise": zero, "row_scale": zero + 1.0,
             "ambiguous": nothing, "set_aside": nothing, "disagreement": zero}
    if np.asarray(reference).dtype.kind not in "fc":
        # Integers and bools are exact. Where the reference itself disagrees with the truth the element is
        # ambiguous: the candidate may give either value there, and the row says so.
        exact = ref if truth is None else np.asarray(truth).astype(np.float64)
        ambiguous = ref != exact
        agrees = (cand == ref) | (ambiguous & (cand == exact))
        return {**found, "failing": ~agrees, "error": np.where(agrees, 0.0, np.inf), "allowed": zero,
                "ambiguous": ambiguous}
    finite_ref, finite_cand = np.isfinite(ref), np.isfinite(cand)
    # A candidate that repeats the reference's NaN or Inf does what the source does.
    same_nonfinite = ~finite_ref & ((np.isnan(ref) & np.isnan(cand)) | (ref == cand))
    safe_ref, safe_cand = np.where(finite_ref, ref, 0.0), np.where(finite_cand, cand, 0.0)
    error = np.where(finite_ref & finite_cand, np.abs(safe_cand - safe_ref), np.inf)
    # Without a truth: atol in units of the row's scale (float32 rounding in a layer grows with the magnitude of
    # what it sums), per row so one large example of a batch does not loosen the others.
    row_scale = np.maximum(1.0, per_row(np.abs(safe_ref)))
    float32_allowed = atol * row_scale + rtol * np.abs(safe_ref)
    allowed = float32_allowed
    found["row_scale"] = row_scale
    if truth is not None:
        exact = np.asarray(truth).astype(np.float64)
        usable = np.isfinite(exact)  # where the truth is finite it is the basis, even where the reference is not
        safe_truth = np.where(usable, exact, 0.0)
        disagreement = np.where(usable & finite_ref, np.abs(safe_ref - safe_truth), 0.0)
        set_aside = per_row(disagreement) > TRUTH_DISAGREEMENT * np.maximum(1.0, per_row(np.abs(safe_truth)))
        by_truth = usable & ~set_aside
        own_noise = np.where(by_truth, disagreement, 0.0)
        # An element's allowance is its own noise; the noise pooled along the last axis (one token, one logit
        # vector) counts only up to the float32 rule's allowance, so a cancelling element loosens no other
        # element beyond what the float32 reference rule allows anyway.
        pooled_noise = per_last_axis(own_noise)
        noise = np.maximum(own_noise, np.minimum(pooled_noise, float32_allowed / NOISE_FACTOR))
        error = np.where(by_truth, np.where(finite_cand, np.abs(safe_cand - safe_truth), np.inf), error)
        allowed = np.where(by_truth, np.maximum(atol + rtol * np.abs(safe_truth), NOISE_FACTOR * noise), allowed)
        found.update(by_truth=by_truth, own_noise=own_noise, pooled_noise=pooled_noise, noise=noise,
                     set_aside=set_aside, disagreement=disagreement)
    failing = ~same_nonfinite & (error > allowed)
    return {**found, "failing": failing, "error": np.where(same_nonfinite, 0.0, error), "allowed": allowed}


ANSI_ESCAPE = re.compile('\\x1b\\[[0-9;]*m')
NAMED_ERROR = re.compile("^\\s*(<class '[\\w.]+'>|[\\w.]*(Error|Exception)):")


def describe_error(exc: BaseException) -> str:
    """The error's class and its most telling line.

    TensorFlow ("in user code:") and torch.export ("## Exception summary") put the real cause at the
    end of a long message; there the last line naming an error is more telling than the first line.
    """
    lines = [ANSI_ESCAPE.sub("", line).strip() for line in str(exc).strip().splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        return type(exc).__name__
    telling = lines[0]
    if len(lines) > 1 and (telling.endswith(":") or "Exception summary" in str(exc)):
        named = [line for line in lines[1:] if NAMED_ERROR.match(line)]
        telling = named[-1] if named else lines[-1]
    if not telling.startswith(f"{type(exc).__name__}:"):
        telling = f"{type(exc).__name__}: {telling}"
    return telling[:500]



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
    """The verdict without a float64 truth: tolerance_rule (above, verbatim) at the dtype's defaults."""
    if expected.shape != produced.shape:
        print(f"{name}: shape {list(produced.shape)}, expected {list(expected.shape)}")
        return False
    if expected.dtype != produced.dtype and not (expected.dtype.kind == produced.dtype.kind == "f"):
        print(f"{name}: dtype {produced.dtype}, expected {expected.dtype}")
        return False
    atol, rtol = DEFAULTS.get(expected.dtype.name, (0.0, 0.0))
    judged = tolerance_rule(expected, produced, atol, rtol)
    failing = judged["failing"]
    worst = float(judged["error"][failing].max()) if failing.any() else float(judged["error"].max(initial=0.0))
    print(f"{name}: max abs err {worst:.6g}" + (f", {int(failing.sum())} element(s) beyond tolerance"
                                                if failing.any() else ""))
    return not bool(failing.any())


def main():
    inputs = load_arrays("input.npz")
    expected = load_arrays("expected.npz")
    try:
        produced = convert_and_run(inputs)
    except Exception as exc:
        print(f"FAILED: {describe_error(exc)}")
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
