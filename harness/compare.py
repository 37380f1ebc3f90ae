"""Metrics and the tolerance policy: how far a candidate output is from its reference, and the verdict."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.spec import Tolerance

# torch.testing.assert_close's per-dtype defaults; integers must match exactly.
DEFAULT_TOLERANCES = {
    "float16": Tolerance(atol=1e-5, rtol=1e-3, reason="torch.testing default for float16"),
    "bfloat16": Tolerance(atol=1e-5, rtol=1.6e-2, reason="torch.testing default for bfloat16"),
    "float32": Tolerance(atol=1e-5, rtol=1.3e-6, reason="torch.testing default for float32"),
    "float64": Tolerance(atol=1e-7, rtol=1e-7, reason="torch.testing default for float64"),
}
EXACT = Tolerance(atol=0.0, rtol=0.0, reason="integer and boolean outputs must match exactly")


def default_tolerance(dtype: np.dtype) -> Tolerance:
    return DEFAULT_TOLERANCES.get(np.dtype(dtype).name, EXACT)


@dataclass(frozen=True)
class Comparison:
    passed: bool
    max_abs_err: float
    max_rel_err: float  # |c - r| / max(|r|, atol): relative error guarded near zero by the absolute tolerance
    required_atol: float  # the smallest atol that would have passed at this rtol
    mismatched_fraction: float
    nonfinite_reference: int  # elements not compared because the reference is NaN or Inf
    error: str = ""


def compare(reference: np.ndarray, candidate: np.ndarray, tolerance: Tolerance) -> Comparison:
    if reference.shape != candidate.shape:
        return Comparison(False, np.inf, np.inf, np.inf, 1.0, 0,
                          f"shape {tuple(candidate.shape)} where the reference has {tuple(reference.shape)}")
    ref = reference.astype(np.float64)
    cand = candidate.astype(np.float64)
    compared = np.isfinite(ref)
    if compared.sum() == 0:
        return Comparison(True, 0.0, 0.0, 0.0, 0.0, int(ref.size))
    ref, cand = ref[compared], cand[compared]
    abs_err = np.where(np.isfinite(cand), np.abs(cand - ref), np.inf)
    allowed = tolerance.atol + tolerance.rtol * np.abs(ref)
    bad = abs_err > allowed
    comparison = Comparison(
        passed=not bool(bad.any()),
        max_abs_err=float(abs_err.max()),
        max_rel_err=float((abs_err / np.maximum(np.abs(ref), max(tolerance.atol, 1e-30))).max()),
        required_atol=float(max((abs_err - tolerance.rtol * np.abs(ref)).max(), 0.0)),
        mismatched_fraction=float(bad.mean()),
        nonfinite_reference=int((~compared).sum()),
    )
    if comparison.passed:
        return comparison
    nonfinite = int((~np.isfinite(cand)).sum())
    detail = f"{bad.sum()} of {bad.size} elements off; max abs err {comparison.max_abs_err:.3g}"
    detail += f" > atol {tolerance.atol:g} + rtol {tolerance.rtol:g}*|ref|"
    if nonfinite:
        detail += f"; {nonfinite} non-finite where the reference is finite"
    return Comparison(**{**comparison.__dict__, "error": detail})


def worst(comparisons: list[Comparison]) -> tuple[int, Comparison]:
    """The example index and comparison with the largest error beyond tolerance (failures first)."""
    index = max(range(len(comparisons)),
                key=lambda i: (not comparisons[i].passed, comparisons[i].required_atol, comparisons[i].max_abs_err))
    return index, comparisons[index]
