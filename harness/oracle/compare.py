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


# The verdict against a float64 truth: an element fails only when its error against the truth exceeds
# both the torch.testing tolerance and NOISE_FACTOR times the float32 reference's own error against the
# same truth (the largest in its row). Chosen from measurements on the zoo; README "Tolerance policy".
NOISE_FACTOR = 8.0


@dataclass(frozen=True)
class Comparison:
    passed: bool
    max_abs_err: float  # against the float32 reference
    max_rel_err: float  # |c - r| / max(|r|, atol): relative error guarded near zero by the absolute tolerance
    required_atol: float  # the smallest passing atol at this rtol (in units of output_scale without a truth)
    mismatched_fraction: float
    nonfinite_reference: int  # NaN/Inf reference elements, judged by kind (the candidate must match them)
    cosine_similarity: float = 1.0
    max_ulp: float = 0.0  # float32 only: units in the last place between candidate and reference
    top1_agreement: float | None = None  # classifier heads: fraction of rows whose argmax agrees
    transposed: str = ""  # "(0, 2, 3, 1)" when the candidate is the reference with its axes permuted
    output_scale: float = 1.0  # without a truth: the largest row's max(1, max |reference|), the unit of atol
    error_vs_truth: float = float("nan")  # max |candidate - float64 truth|; NaN when there is no truth
    reference_noise: float = float("nan")  # max |float32 reference - float64 truth|
    noise_multiple: float = 0.0  # the largest error beyond tolerance, in units of its row's reference noise
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
            truth: np.ndarray | None = None, classifier: bool = False) -> Comparison:
    """Judge a candidate output against the float32 reference, and against the float64 truth when given."""
    if reference.shape != candidate.shape:
        permutation = find_transposition(reference, candidate, tolerance)
        note = f"the reference transposed by {permutation}" if permutation else ""
        return Comparison(False, np.inf, np.inf, np.inf, 1.0, 0, cosine_similarity=np.nan, max_ulp=np.inf,
                          transposed=str(permutation) if permutation else "",
                          error=f"shape {tuple(candidate.shape)} where the reference has {tuple(reference.shape)}"
                          + (f": the output is {note}" if note else ""))
    if truth is not None and truth.shape != reference.shape:
        truth = None  # a truth of another shape says nothing about these elements
    comparison = measure(reference, candidate, tolerance, truth)
    if classifier and reference.ndim >= 1 and reference.shape[-1] > 1:
        comparison = replace(comparison, top1_agreement=float(
            (reference.argmax(axis=-1) == candidate.argmax(axis=-1)).mean()))
    if candidate.dtype != reference.dtype:
        # A converter that narrows int64 to int32 or float32 to float16 changed the model's interface.
        comparison = replace(comparison, passed=False, error="; ".join(filter(None, [
            f"dtype {candidate.dtype} where the reference has {reference.dtype}", comparison.error])))
    if comparison.passed:
        return comparison
    permutation = find_transposition(reference, candidate, tolerance)
    detail = comparison.error
    if permutation:
        detail += f"; the output is the reference transposed by {permutation}"
    return replace(comparison, transposed=str(permutation) if permutation else "", error=detail)


def row_max(values: np.ndarray) -> np.ndarray:
    """Each element replaced by the largest value of its row (the leading axis: one example of a batch)."""
    if values.ndim < 2 or values.size == 0:  # an empty output has no rows to take a maximum over
        return np.full_like(values, values.max() if values.size else 0.0)
    rows = values.reshape(values.shape[0], -1).max(axis=1)
    return np.broadcast_to(rows.reshape((-1,) + (1,) * (values.ndim - 1)), values.shape)


def nonfinite_disagreements(ref: np.ndarray, cand: np.ndarray) -> tuple[np.ndarray, str]:
    """Where the reference is NaN or Inf the candidate must be the same: a lost or sign-flipped Inf, or a
    number where the reference is NaN, is a difference, not float noise."""
    nonfinite = ~np.isfinite(ref)
    same = (np.isnan(ref) & np.isnan(cand)) | (ref == cand)
    wrong = nonfinite & ~same
    notes = []
    for label, where in (("inf", np.isposinf(ref)), ("-inf", np.isneginf(ref)), ("nan", np.isnan(ref))):
        count = int((wrong & where).sum())
        if count:
            example = cand[wrong & where][0]
            notes.append(f"{count} element(s) {example:g} where the reference is {label}")
    return wrong, "; ".join(notes)


def measure(reference: np.ndarray, candidate: np.ndarray, tolerance: Tolerance,
            truth: np.ndarray | None = None) -> Comparison:
    ref = reference.astype(np.float64)
    cand = candidate.astype(np.float64)
    wrong_nonfinite, nonfinite_note = nonfinite_disagreements(ref, cand)
    finite_ref = np.isfinite(ref)
    finite_candidate = np.isfinite(cand)
    # Differences of finite values only (no inf - inf warnings); a non-finite candidate is infinitely off.
    safe_ref, safe_cand = np.where(finite_ref, ref, 0.0), np.where(finite_candidate, cand, 0.0)
    against_ref = np.where(finite_ref & finite_candidate, np.abs(safe_cand - safe_ref),
                           np.where(finite_ref, np.inf, 0.0))
    error_vs_truth = reference_noise = np.nan
    noise_multiple = 0.0
    if truth is not None:
        exact = truth.astype(np.float64)
        judged = finite_ref & np.isfinite(exact)  # elsewhere the float32 reference stands in for the truth
        basis = np.where(judged, exact, safe_ref)
        error = np.where(finite_ref & finite_candidate, np.abs(safe_cand - basis), np.where(finite_ref, np.inf, 0.0))
        noise = np.where(judged, np.abs(safe_ref - basis), 0.0)
        row_noise = row_max(noise)
        plain = tolerance.atol + tolerance.rtol * np.abs(basis)
        allowed = np.maximum(plain, NOISE_FACTOR * row_noise)
        scale = 1.0
        beyond_tolerance = finite_ref & (error > plain)
        if beyond_tolerance.any():
            noise_multiple = float(np.max(np.where(beyond_tolerance, error / np.maximum(row_noise, 1e-300), 0.0)))
        if judged.any():
            error_vs_truth = float(error[judged].max())
            reference_noise = float(noise[judged].max())
        required = np.where(error > NOISE_FACTOR * row_noise, error - tolerance.rtol * np.abs(basis), 0.0)
    else:
        # Without a truth, atol is in units of the row's scale: float32 rounding in a layer grows with the
        # magnitude of what it sums, which the row's largest output bounds from below. Per row, so one large
        # example of a batch does not loosen the others. For rows within [-1, 1] this is torch.testing's rule.
        row_scale = np.maximum(1.0, row_max(np.where(finite_ref, np.abs(ref), 0.0)))
        error = against_ref
        allowed = tolerance.atol * row_scale + tolerance.rtol * np.abs(ref)
        scale = float(row_scale.max()) if row_scale.size else 1.0
        required = (error - tolerance.rtol * np.abs(ref)) / row_scale
    bad = (finite_ref & (error > allowed)) | wrong_nonfinite
    compared_ref, compared_cand = ref[finite_ref], safe_cand[finite_ref]
    norms = float(np.linalg.norm(compared_ref) * np.linalg.norm(compared_cand))
    cosine = float(np.dot(compared_ref, compared_cand) / norms) if norms > 0 else float(
        np.array_equal(compared_ref, compared_cand))
    ulp = np.nan  # ULPs are reported for float32 outputs only
    if reference.dtype == np.float32 and candidate.dtype == np.float32:
        ulp = float(np.abs(ordered_float32_bits(candidate[finite_ref & finite_candidate])
                           - ordered_float32_bits(reference[finite_ref & finite_candidate])).max(initial=0))
        if (finite_ref & ~finite_candidate).any():
            ulp = np.inf
    finite_errors = against_ref[finite_ref]
    max_abs = float(finite_errors.max()) if finite_errors.size else 0.0
    comparison = Comparison(
        passed=not bool(bad.any()),
        max_abs_err=max_abs,
        max_rel_err=float((finite_errors / np.maximum(np.abs(ref[finite_ref]), max(tolerance.atol, 1e-30))).max(
            initial=0.0)),
        required_atol=float(max(np.max(np.where(finite_ref, required, 0.0), initial=0.0), 0.0)),
        mismatched_fraction=float(bad.mean()) if bad.size else 0.0,
        nonfinite_reference=int((~finite_ref).sum()),
        cosine_similarity=cosine,
        max_ulp=ulp,
        output_scale=scale,
        error_vs_truth=error_vs_truth,
        reference_noise=reference_noise,
        noise_multiple=noise_multiple,
    )
    if comparison.passed:
        return comparison
    notes = []
    finite_bad = bad & finite_ref
    if finite_bad.any():
        nonfinite = int((finite_ref & ~finite_candidate).sum())
        if truth is not None:
            detail = (f"{finite_bad.sum()} of {bad.size} elements off the float64 truth by up to "
                      f"{error_vs_truth:.3g} > atol {tolerance.atol:g} + rtol {tolerance.rtol:g}*|truth| and > "
                      f"{NOISE_FACTOR:g} x the reference's own noise ({reference_noise:.3g})")
        else:
            detail = f"{finite_bad.sum()} of {bad.size} elements off; max abs err {max_abs:.3g}"
            detail += f" > atol {tolerance.atol:g}" + (f" x scale {scale:.3g}" if scale > 1 else "")
            detail += f" + rtol {tolerance.rtol:g}*|ref|"
        if nonfinite:
            detail += f"; {nonfinite} non-finite where the reference is finite"
        notes.append(detail)
    if nonfinite_note:
        notes.append(nonfinite_note)
    return replace(comparison, error="; ".join(notes))


def severity(comparison: Comparison) -> tuple[bool, float, float]:
    return (not comparison.passed, comparison.required_atol, comparison.max_abs_err)


def worst(comparisons: list[Comparison]) -> tuple[int, Comparison]:
    """The example index and comparison with the largest error beyond tolerance (failures first)."""
    index = max(range(len(comparisons)), key=lambda i: severity(comparisons[i]))
    return index, comparisons[index]
