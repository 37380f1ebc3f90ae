"""Metrics and the tolerance policy: how far a candidate output is from its reference, and the verdict."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

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
MAX_PERMUTED_RANK = 5  # 120 permutations: enough for NCDHW, cheap to try


def default_tolerance(dtype: np.dtype) -> Tolerance:
    return DEFAULT_TOLERANCES.get(np.dtype(dtype).name, EXACT)


@dataclass(frozen=True)
class Comparison:
    passed: bool
    max_abs_err: float
    max_rel_err: float  # |c - r| / max(|r|, atol): relative error guarded near zero by the absolute tolerance
    required_atol: float  # the smallest atol (in units of output_scale) that would have passed at this rtol
    mismatched_fraction: float
    nonfinite_reference: int  # elements not compared because the reference is NaN or Inf
    cosine_similarity: float = 1.0
    max_ulp: float = 0.0  # float32 only: units in the last place between candidate and reference
    top1_agreement: float | None = None  # classifier heads: fraction of rows whose argmax agrees
    transposed: str = ""  # "(0, 2, 3, 1)" when the candidate is the reference with its axes permuted
    output_scale: float = 1.0  # max(1, max |reference|): the unit atol is measured in
    error: str = ""


def ordered_float32_bits(values: np.ndarray) -> np.ndarray:
    """float32 bit patterns mapped to integers that are ordered like the floats (so ULPs subtract)."""
    bits = values.astype(np.float32).view(np.int32).astype(np.int64)
    return np.where(bits < 0, -(bits & 0x7FFFFFFF), bits)


def find_transposition(reference: np.ndarray, candidate: np.ndarray, tolerance: Tolerance) -> tuple[int, ...] | None:
    """The axis permutation that turns the candidate into the reference, if one does (identity excluded)."""
    if reference.ndim != candidate.ndim or reference.ndim > MAX_PERMUTED_RANK or reference.size != candidate.size:
        return None
    for permutation in itertools.permutations(range(candidate.ndim)):
        if permutation == tuple(range(candidate.ndim)):
            continue
        moved = candidate.transpose(permutation)
        if moved.shape == reference.shape and np.allclose(moved, reference, atol=tolerance.atol,
                                                          rtol=tolerance.rtol, equal_nan=True):
            return permutation
    return None


def compare(reference: np.ndarray, candidate: np.ndarray, tolerance: Tolerance, *,
            classifier: bool = False) -> Comparison:
    if reference.shape != candidate.shape:
        permutation = find_transposition(reference, candidate, tolerance)
        note = f"the reference transposed by {permutation}" if permutation else ""
        return Comparison(False, np.inf, np.inf, np.inf, 1.0, 0, cosine_similarity=np.nan, max_ulp=np.inf,
                          transposed=str(permutation) if permutation else "",
                          error=f"shape {tuple(candidate.shape)} where the reference has {tuple(reference.shape)}"
                          + (f": the output is {note}" if note else ""))
    comparison = measure(reference, candidate, tolerance)
    if classifier and reference.ndim >= 1 and reference.shape[-1] > 1:
        comparison = replace(comparison, top1_agreement=float(
            (reference.argmax(axis=-1) == candidate.argmax(axis=-1)).mean()))
    if comparison.passed:
        return comparison
    permutation = find_transposition(reference, candidate, tolerance)
    detail = comparison.error
    if permutation:
        detail += f"; the output is the reference transposed by {permutation}"
    return replace(comparison, transposed=str(permutation) if permutation else "", error=detail)


def measure(reference: np.ndarray, candidate: np.ndarray, tolerance: Tolerance) -> Comparison:
    ref = reference.astype(np.float64)
    cand = candidate.astype(np.float64)
    compared = np.isfinite(ref)
    if compared.sum() == 0:
        return Comparison(True, 0.0, 0.0, 0.0, 0.0, int(ref.size))
    ref, cand = ref[compared], cand[compared]
    finite_candidate = np.isfinite(cand)
    abs_err = np.where(finite_candidate, np.abs(cand - ref), np.inf)
    # atol is in units of the output's scale: float32 rounding in a layer grows with the magnitude of
    # what it sums, which the largest output bounds from below; an element near zero by cancellation
    # carries the rounding of that scale, not of its own size. For outputs within [-1, 1] this is
    # exactly torch.testing's rule.
    scale = max(1.0, float(np.abs(ref).max()))
    allowed = tolerance.atol * scale + tolerance.rtol * np.abs(ref)
    bad = abs_err > allowed
    norms = float(np.linalg.norm(ref) * np.linalg.norm(np.where(finite_candidate, cand, 0.0)))
    cosine = float(np.dot(ref, np.where(finite_candidate, cand, 0.0)) / norms) if norms > 0 else float(
        np.array_equal(ref, cand))
    ulp = np.inf
    if reference.dtype == np.float32 and finite_candidate.all():
        ulp = float(np.abs(ordered_float32_bits(cand) - ordered_float32_bits(ref)).max())
    elif reference.dtype != np.float32:
        ulp = np.nan  # ULPs are reported for float32 outputs only
    comparison = Comparison(
        passed=not bool(bad.any()),
        max_abs_err=float(abs_err.max()),
        max_rel_err=float((abs_err / np.maximum(np.abs(ref), max(tolerance.atol, 1e-30))).max()),
        required_atol=float(max((abs_err - tolerance.rtol * np.abs(ref)).max() / scale, 0.0)),
        mismatched_fraction=float(bad.mean()),
        nonfinite_reference=int((~compared).sum()),
        cosine_similarity=cosine,
        max_ulp=ulp,
        output_scale=scale,
    )
    if comparison.passed:
        return comparison
    nonfinite = int((~finite_candidate).sum())
    detail = f"{bad.sum()} of {bad.size} elements off; max abs err {comparison.max_abs_err:.3g}"
    detail += f" > atol {tolerance.atol:g}" + (f" x scale {scale:.3g}" if scale > 1 else "")
    detail += f" + rtol {tolerance.rtol:g}*|ref|"
    if nonfinite:
        detail += f"; {nonfinite} non-finite where the reference is finite"
    return replace(comparison, error=detail)


def severity(comparison: Comparison) -> tuple[bool, float, float]:
    return (not comparison.passed, comparison.required_atol, comparison.max_abs_err)


def worst(comparisons: list[Comparison]) -> tuple[int, Comparison]:
    """The example index and comparison with the largest error beyond tolerance (failures first)."""
    index = max(range(len(comparisons)), key=lambda i: severity(comparisons[i]))
    return index, comparisons[index]
