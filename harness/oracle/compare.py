"""Metrics and the tolerance policy: how far a candidate output is from its reference, and the verdict."""

from __future__ import annotations

import inspect
import itertools
import math
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


# The verdict against a float64 truth: an element fails only when its error against the truth exceeds the
# torch.testing tolerance and NOISE_FACTOR times the float32 reference's own error against the same truth at that
# element. Chosen from measurements on the zoo; docs/tolerance.md.
NOISE_FACTOR = 8.0
# A float64 truth further than this fraction of its row's scale from the float32 reference is not that
# reference's float32 rounding (one float32 step is 6e-8 of it): the twin computes something else, so the row is
# judged by the float32 rule and says so.
TRUTH_DISAGREEMENT = 1e-3


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


def rule_source() -> str:
    """tolerance_rule and the constants it reads, as the text every generated repro embeds (so a repro judges by
    this rule, verbatim, not by a copy that drifts), with torch.testing's per-dtype defaults."""
    defaults = {name: (tolerance.atol, tolerance.rtol) for name, tolerance in DEFAULT_TOLERANCES.items()}
    return (f"NOISE_FACTOR = {NOISE_FACTOR!r}\nTRUTH_DISAGREEMENT = {TRUTH_DISAGREEMENT!r}\n"
            f"# torch.testing.assert_close's (atol, rtol) per dtype; other dtypes (integers, bool) are exact.\n"
            f"DEFAULTS = {defaults!r}\n\n\n" + inspect.getsource(tolerance_rule))


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
    noise_multiple: float = 0.0  # the largest error beyond tolerance in units of the noise K multiplies (inf: none)
    error: str = ""
    allowance_used: float = 0.0  # the largest error / allowed over the elements: above 1 fails (hypothesis's score)
    note: str = ""  # what the verdict rests on when it is not plain: a truth set aside, ambiguous integer elements


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
                          allowance_used=np.inf, transposed=str(permutation) if permutation else "",
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


def nonfinite_note(ref: np.ndarray, cand: np.ndarray, failing: np.ndarray) -> str:
    """Failing elements where the reference is NaN or Inf: a lost or sign-flipped Inf, or a number where the
    reference is NaN, is a difference, not float noise."""
    notes = []
    for label, where in (("inf", np.isposinf(ref)), ("-inf", np.isneginf(ref)), ("nan", np.isnan(ref))):
        count = int((failing & where).sum())
        if count:
            notes.append(f"{count} element(s) {cand[failing & where][0]:g} where the reference is {label}")
    return "; ".join(notes)


def figure(value: float) -> str:
    """A figure for a message: 'inf' or 'n/a' where it has no finite value."""
    return "n/a" if math.isnan(value) else f"{value:.3g}"


def measure(reference: np.ndarray, candidate: np.ndarray, tolerance: Tolerance,
            truth: np.ndarray | None = None) -> Comparison:
    rule = tolerance_rule(reference, candidate, tolerance.atol, tolerance.rtol, truth)
    failing, error, by_truth = rule["failing"], rule["error"], rule["by_truth"]
    ref = reference.astype(np.float64)
    cand = candidate.astype(np.float64)
    finite_ref, finite_candidate = np.isfinite(ref), np.isfinite(cand)
    safe_cand = np.where(finite_candidate, cand, 0.0)
    against_ref = np.where(finite_ref & finite_candidate, np.abs(safe_cand - np.where(finite_ref, ref, 0.0)),
                           np.where(finite_ref, np.inf, 0.0))
    error_vs_truth = reference_noise = np.nan
    noise_multiple = 0.0
    judged = by_truth & finite_ref
    if truth is not None and by_truth.any():
        error_vs_truth = float(error[by_truth].max())
        reference_noise = float(rule["own_noise"][judged].max()) if judged.any() else np.nan
        plain = tolerance.atol + tolerance.rtol * np.abs(np.where(by_truth, truth.astype(np.float64), 0.0))
        beyond_tolerance = by_truth & (error > plain)
        if beyond_tolerance.any():
            # In units of the noise K multiplies at that element: above K fails; no noise at all is inf.
            with np.errstate(divide="ignore", invalid="ignore"):
                multiples = np.where(rule["noise"] > 0, error / np.where(rule["noise"] > 0, rule["noise"], 1.0),
                                     np.inf)
            noise_multiple = float(multiples[beyond_tolerance].max())
    comparison_required = required_atol(rule, tolerance, reference, truth)
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
    scale = float(rule["row_scale"].max()) if rule["row_scale"].size else 1.0
    notes = []
    if rule["set_aside"].any():
        rows = int(rule["set_aside"].reshape(rule["set_aside"].shape[0], -1).any(axis=1).sum()) \
            if reference.ndim >= 2 else int(rule["set_aside"].sum())
        notes.append(f"float64 truth set aside in {rows} row(s): it is up to "
                     f"{float(rule['disagreement'].max()):.3g} from the float32 reference, beyond float32 "
                     "rounding (a twin that computes something else); those rows are judged by the float32 rule")
    if rule["ambiguous"].any():
        notes.append(f"{int(rule['ambiguous'].sum())} element(s) ambiguous: the float32 reference itself disagrees "
                     "with the float64 truth there, and either value is accepted")
    with np.errstate(divide="ignore", invalid="ignore"):
        used = np.where(rule["allowed"] > 0, error / np.where(rule["allowed"] > 0, rule["allowed"], 1.0),
                        np.where(error > 0, np.inf, 0.0))
    comparison = Comparison(
        passed=not bool(failing.any()),
        allowance_used=float(used.max(initial=0.0)),
        max_abs_err=max_abs,
        max_rel_err=float((finite_errors / np.maximum(np.abs(ref[finite_ref]), max(tolerance.atol, 1e-30))).max(
            initial=0.0)),
        required_atol=comparison_required,
        mismatched_fraction=float(failing.mean()) if failing.size else 0.0,
        nonfinite_reference=int((~finite_ref).sum()),
        cosine_similarity=cosine,
        max_ulp=ulp,
        output_scale=scale,
        error_vs_truth=error_vs_truth,
        reference_noise=reference_noise,
        noise_multiple=noise_multiple,
        note="; ".join(notes),
    )
    if comparison.passed:
        return comparison
    return replace(comparison, error=failure_message(reference, rule, tolerance, cand))


def required_atol(rule: dict[str, np.ndarray], tolerance: Tolerance, reference: np.ndarray,
                  truth: np.ndarray | None) -> float:
    """The smallest atol that passes at this rtol (in units of the row's scale where judged without a truth).
    Against the truth an element within K x its own noise needs none, and the noise pooled along its last axis
    counts only while the float32 rule's allowance (atol x scale) reaches it; a non-finite failure: inf."""
    error, by_truth, scale = rule["error"], rule["by_truth"], rule["row_scale"]
    ref = np.abs(np.where(np.isfinite(reference), reference.astype(np.float64), 0.0))
    exact = np.abs(np.where(by_truth, truth, 0.0)) if truth is not None else np.zeros(ref.shape)
    with np.errstate(invalid="ignore"):
        by_float32_rule = (error - tolerance.rtol * ref) / scale
        by_plain = error - tolerance.rtol * exact
        pooled_reaches = NOISE_FACTOR * rule["pooled_noise"] >= error
        against_truth = np.where(error <= NOISE_FACTOR * rule["own_noise"], 0.0,
                                 np.minimum(by_plain, np.where(pooled_reaches, by_float32_rule, np.inf)))
        needed = np.where(by_truth, against_truth, by_float32_rule)
    needed = np.where(rule["failing"] & ~np.isfinite(error), np.inf, needed)
    return float(max(np.max(needed, initial=0.0), 0.0))


def failure_message(reference: np.ndarray, rule: dict[str, np.ndarray], tolerance: Tolerance,
                    cand: np.ndarray) -> str:
    """What failed, in the figures of the failing elements (the worst of them by error over allowance)."""
    failing, error, allowed = rule["failing"], rule["error"], rule["allowed"]
    ref = reference.astype(np.float64)
    finite_ref = np.isfinite(ref)
    notes = []
    if reference.dtype.kind not in "fc":
        notes.append(f"{int(failing.sum())} of {failing.size} elements differ (integer and bool outputs are exact)")
    finite_bad = failing & finite_ref & np.isfinite(error)
    by_truth = rule["by_truth"]
    for judged_by_truth in (True, False):
        group = finite_bad & (by_truth if judged_by_truth else ~by_truth)
        if not group.any():
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(group, error / np.where(allowed > 0, allowed, 1e-300), -1.0)
        worst = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
        if judged_by_truth:
            notes.append(f"{int(group.sum())} of {failing.size} elements off the float64 truth by up to "
                         f"{float(error[group].max()):.3g} (the worst, {float(error[worst]):.3g} off, exceeds atol "
                         f"{tolerance.atol:g} + rtol {tolerance.rtol:g}*|truth| and {NOISE_FACTOR:g} x the "
                         f"reference's noise there, {float(rule['noise'][worst]):.3g})")
        else:
            scale = float(rule["row_scale"][worst])
            notes.append(f"{int(group.sum())} of {failing.size} elements off; max abs err "
                         f"{float(error[group].max()):.3g} > atol {tolerance.atol:g}"
                         + (f" x scale {scale:.3g}" if scale > 1 else "") + f" + rtol {tolerance.rtol:g}*|ref|")
    nonfinite = int((failing & finite_ref & ~np.isfinite(cand)).sum())
    if nonfinite:
        notes.append(f"{nonfinite} non-finite where the reference is finite")
    if reference.dtype.kind in "fc":
        wrong_nonfinite = nonfinite_note(ref, cand, failing & ~finite_ref)
        if wrong_nonfinite:
            notes.append(wrong_nonfinite)
    return "; ".join(notes)


def severity(comparison: Comparison) -> tuple[bool, float, float]:
    return (not comparison.passed, comparison.required_atol, comparison.max_abs_err)


def worst(comparisons: list[Comparison]) -> tuple[int, Comparison]:
    """The example index and comparison with the largest error beyond tolerance (failures first)."""
    index = max(range(len(comparisons)), key=lambda i: severity(comparisons[i]))
    return index, comparisons[index]
