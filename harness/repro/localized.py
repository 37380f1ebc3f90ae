"""The localizer's repro.py: the smallest failing ONNX subgraph through one converter, judged against
onnxruntime's outputs. A converter's record gives the convert_and_run snippet; these are the rest."""

LOCALIZED_HEADER = '''"""Standalone repro: {converter} ({package} {version}) on the smallest failing ONNX subgraph.

First divergent node: #{index} {op_type} {name!r} ({domain} opset {opset}); harness status {status}.
Needs only numpy, onnx and {package} (with what it imports itself). Exit 1: the divergence reproduces.
"""

import sys
from pathlib import Path

import numpy as np
import onnx

HERE = Path(__file__).resolve().parent
ATOL, RTOL = {atol!r}, {rtol!r}  # None: the harness default for the output's dtype
DEFAULTS = {{"float16": (1e-5, 1e-3), "float32": (1e-5, 1.3e-6), "float64": (1e-7, 1e-7)}}
'''

# convert_and_run snippets of the built-in ONNX consumers (their records point here)
ONNX_TF_SNIPPET = '''

def convert_and_run(model, inputs, input_names, output_names):
    from onnx_tf.backend import prepare

    # Positional: the outputs come back in graph output order (onnx-tf may sanitise their names).
    outputs = prepare(model).run({name: inputs[name] for name in input_names})
    return [np.asarray(output) for output in outputs]
'''

ONNX2PYTORCH_SNIPPET = '''

def convert_and_run(model, inputs, input_names, output_names):
    import torch  # onnx2pytorch builds a torch module
    from onnx2pytorch import ConvertModel

    module = ConvertModel(model).eval()
    with torch.no_grad():
        outputs = module(*(torch.from_numpy(inputs[name]) for name in input_names))
    if not isinstance(outputs, (list, tuple)):
        outputs = [outputs]
    return [output.detach().numpy() for output in outputs]
'''

LOCALIZED_MAIN = '''

def verdict(name, reference, candidate):
    """The harness's rule: |c - r| <= atol * max(1, max|r|) + rtol * |r| over finite reference elements."""
    if reference.shape != candidate.shape:
        print(f"{name}: shape {candidate.shape} where onnxruntime gives {reference.shape}")
        return False, float("inf")
    atol, rtol = (ATOL, RTOL) if ATOL is not None else DEFAULTS.get(reference.dtype.name, (0.0, 0.0))
    ref, cand = reference.astype(np.float64), candidate.astype(np.float64)
    finite = np.isfinite(ref)
    if not finite.any():
        return True, 0.0
    ref, cand = ref[finite], cand[finite]
    err = np.where(np.isfinite(cand), np.abs(cand - ref), np.inf)
    allowed = atol * max(1.0, float(np.abs(ref).max())) + rtol * np.abs(ref)
    return not bool((err > allowed).any()), float(err.max())


def main():
    model = onnx.load(str(HERE / "model.onnx"))
    with np.load(HERE / "input.npz") as data:
        inputs = {name: data[name] for name in data.files}
    with np.load(HERE / "expected.npz") as data:
        expected = {name: data[name] for name in data.files}
    initializers = {tensor.name for tensor in model.graph.initializer}
    input_names = [value.name for value in model.graph.input if value.name not in initializers]
    output_names = [value.name for value in model.graph.output]
    try:
        produced = convert_and_run(model, inputs, input_names, output_names)
    except Exception as exc:
        # TensorFlow opens with "in user code:" and puts the cause on the last line naming an error.
        lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()] or [""]
        telling = lines[0]
        if telling.endswith(":") and len(lines) > 1:
            named = [line for line in lines[1:] if "Error" in line.split(":")[0] or "Exception" in line]
            telling = named[-1] if named else lines[-1]
        if not telling.startswith(type(exc).__name__):
            telling = f"{type(exc).__name__}: {telling}"
        print(f"conversion or run failed: {telling[:500]}")
        return 1
    worst, failed = 0.0, False
    for name, candidate in zip(output_names, produced):
        ok, err = verdict(name, expected[name], np.asarray(candidate))
        worst, failed = max(worst, err), failed or not ok
        print(f"{name}: max abs err {err:.6g}" + ("" if ok else "  EXCEEDS tolerance"))
    print(f"max abs err {worst:.6g} vs onnxruntime: " + ("DIVERGES" if failed else "within tolerance"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
'''
