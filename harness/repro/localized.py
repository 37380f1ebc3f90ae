"""The localizer's repro.py: the smallest failing ONNX subgraph through one converter, judged against
onnxruntime's outputs and the subgraph's float64 truth, by the harness's rule.
A converter's record gives the convert_and_run snippet; these are the rest."""

from harness.repro.templates import shared_rules

LOCALIZED_HEADER = '''"""Standalone repro: {converter} ({package} {version}) on the smallest failing ONNX subgraph.

First divergent node: #{index} {op_type} {name!r} ({domain} opset {opset}); harness status {status}.
Needs only numpy, onnx and {package} (with what it imports itself). Exit 1: the divergence reproduces.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import onnx

HERE = Path(__file__).resolve().parent
ATOL, RTOL = {atol!r}, {rtol!r}  # None: the harness default for the output's dtype
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

def verdict(name, reference, candidate, truth=None):
    """The verdict against onnxruntime's outputs and, when given, the float64 truth: tolerance_rule, verbatim above."""
    if reference.shape != candidate.shape:
        print(f"{name}: shape {candidate.shape} where onnxruntime gives {reference.shape}")
        return False, float("inf")
    atol, rtol = (ATOL, RTOL) if ATOL is not None else DEFAULTS.get(reference.dtype.name, (0.0, 0.0))
    if truth is not None and truth.shape != reference.shape:
        truth = None
    judged = tolerance_rule(reference, candidate, atol, rtol, truth)
    return not bool(judged["failing"].any()), float(judged["error"].max(initial=0.0))


def main():
    model = onnx.load(str(HERE / "model.onnx"))
    with np.load(HERE / "input.npz") as data:
        inputs = {name: data[name] for name in data.files}
    with np.load(HERE / "expected.npz") as data:
        expected = {name: data[name] for name in data.files}
    truths = {}
    if (HERE / "truth.npz").exists():  # the subgraph computed in float64: what rounding is judged against
        with np.load(HERE / "truth.npz") as data:
            truths = {name: data[name] for name in data.files}
    initializers = {tensor.name for tensor in model.graph.initializer}
    input_names = [value.name for value in model.graph.input if value.name not in initializers]
    output_names = [value.name for value in model.graph.output]
    try:
        produced = convert_and_run(model, inputs, input_names, output_names)
    except Exception as exc:
        print(f"conversion or run failed: {describe_error(exc)}")
        return 1
    worst, failed = 0.0, False
    for name, candidate in zip(output_names, produced):
        ok, err = verdict(name, expected[name], np.asarray(candidate), truths.get(name))
        worst, failed = max(worst, err), failed or not ok
        print(f"{name}: max abs err {err:.6g}" + ("" if ok else "  EXCEEDS tolerance"))
    print(f"max abs err {worst:.6g} vs onnxruntime: " + ("DIVERGES" if failed else "within tolerance"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
'''


def localized_repro(header: str, snippet: str, rule: str) -> str:
    """The localizer's repro.py: its header, the converter's convert_and_run snippet, the harness's tolerance rule
    (oracle.compare.rule_source(), verbatim) and error line, and the main that judges by them."""
    return header + snippet + shared_rules(rule) + LOCALIZED_MAIN
