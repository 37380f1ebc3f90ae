"""The tolerance oracle: sensitive to real differences, blind to float noise, careful with non-finite values."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.oracle.compare import DEFAULT_TOLERANCES, NOISE_FACTOR, compare, default_tolerance, worst
from harness.spec import Tolerance

FP32 = DEFAULT_TOLERANCES["float32"]


@pytest.fixture
def reference() -> np.ndarray:
    return np.random.default_rng(0).standard_normal((4, 10)).astype(np.float32)


def test_identical_outputs_pass_with_zero_error(reference: np.ndarray) -> None:
    result = compare(reference, reference.copy(), FP32)
    assert result.passed and result.max_abs_err == 0.0 and result.required_atol == 0.0


def test_a_relative_perturbation_of_one_element_by_1e_3_is_caught(reference: np.ndarray) -> None:
    candidate = reference.copy()
    candidate[2, 3] *= 1 + 1e-3
    result = compare(reference, candidate, FP32)
    assert not result.passed
    assert result.mismatched_fraction == pytest.approx(1 / reference.size)
    assert result.max_abs_err == pytest.approx(abs(reference[2, 3]) * 1e-3, rel=1e-3)
    assert "1 of 40 elements off" in result.error


def few_ulps(values: np.ndarray, ulps: int) -> np.ndarray:
    """values moved `ulps` float32 steps toward +inf: float noise of the kind a reordered sum makes."""
    moved = values.copy()
    for _ in range(ulps):
        moved = np.nextafter(moved, np.float32(np.inf))
    return moved


def test_float_noise_of_a_few_ulps_passes(reference: np.ndarray) -> None:
    candidate = few_ulps(reference, 4)
    assert not np.array_equal(candidate, reference)  # a noise test must perturb something
    result = compare(reference, candidate, FP32)
    assert result.passed and 0 < result.max_ulp <= 4


def test_required_atol_is_the_smallest_passing_atol(reference: np.ndarray) -> None:
    candidate = reference + np.float32(3e-4)
    result = compare(reference, candidate, FP32)
    assert not result.passed
    just_enough = Tolerance(atol=result.required_atol * (1 + 1e-6), rtol=FP32.rtol)
    too_little = Tolerance(atol=result.required_atol * (1 - 1e-3), rtol=FP32.rtol)
    assert compare(reference, candidate, just_enough).passed
    assert not compare(reference, candidate, too_little).passed


def test_nan_where_the_reference_is_finite_fails(reference: np.ndarray) -> None:
    candidate = reference.copy()
    candidate[0, 0] = np.nan
    result = compare(reference, candidate, FP32)
    assert not result.passed and "non-finite" in result.error


def test_nan_where_the_reference_is_nan_is_counted_not_failed(reference: np.ndarray) -> None:
    ref = reference.copy()
    ref[1, 1] = np.nan
    result = compare(ref, ref.copy(), FP32)
    assert result.passed and result.nonfinite_reference == 1


def test_a_shape_change_is_a_mismatch_that_names_both_shapes(reference: np.ndarray) -> None:
    result = compare(reference, reference.T.copy(), FP32)
    assert not result.passed and "(10, 4)" in result.error and "(4, 10)" in result.error


def test_integer_outputs_must_match_exactly() -> None:
    assert default_tolerance(np.dtype("int64")).atol == 0
    assert not compare(np.array([1, 2]), np.array([1, 3]), default_tolerance(np.dtype("int64"))).passed


def test_worst_prefers_failures_then_the_largest_excess(reference: np.ndarray) -> None:
    small = compare(reference, reference + np.float32(1e-7), FP32)
    large_fail = compare(reference, reference + np.float32(1e-2), FP32)
    index, chosen = worst([small, large_fail, small])
    assert index == 1 and chosen is large_fail


def test_atol_is_measured_in_units_of_the_output_scale() -> None:
    reference = np.array([[300.0, -4.0, 0.001]], dtype=np.float32)  # one example's row
    # 2e-5 off on the element near -4 is below one float32 ULP of the row's scale (300): float noise.
    noise = reference + np.array([[0.0, 2e-5, 0.0]], dtype=np.float32)
    assert compare(reference, noise, FP32).passed
    # 1e-2 on that element is a thousand times the tolerance at that scale: a real difference.
    wrong = reference + np.array([[0.0, 1e-2, 0.0]], dtype=np.float32)
    result = compare(reference, wrong, FP32)
    assert not result.passed and result.output_scale == pytest.approx(300.0)
    assert "x scale 300" in result.error


def test_outputs_within_unit_scale_use_torch_testing_rule_exactly(reference: np.ndarray) -> None:
    small = reference / np.abs(reference).max()
    candidate = small + np.float32(1.2e-5)
    assert not compare(small, candidate, Tolerance(atol=1e-5, rtol=0)).passed
    assert compare(small, candidate, Tolerance(atol=1.3e-5, rtol=0)).passed


# -- non-finite references are verdicts, not a count --------------------------------------------------------

@pytest.mark.parametrize("candidate_value", [-np.inf, 0.0, np.nan])
def test_a_lost_or_sign_flipped_inf_is_a_mismatch(reference: np.ndarray, candidate_value: float) -> None:
    ref = reference.copy()
    ref[0, 1] = np.inf
    candidate = ref.copy()
    candidate[0, 1] = candidate_value
    result = compare(ref, candidate, FP32)
    assert not result.passed and "where the reference is inf" in result.error


def test_finite_where_the_reference_is_nan_is_a_mismatch(reference: np.ndarray) -> None:
    ref = np.full_like(reference, np.nan)
    result = compare(ref, reference, FP32)
    assert not result.passed and "where the reference is nan" in result.error


def test_matching_infs_and_nans_pass_and_are_counted(reference: np.ndarray) -> None:
    ref = reference.copy()
    ref[0, 0], ref[1, 0], ref[2, 0] = np.inf, -np.inf, np.nan
    result = compare(ref, ref.copy(), FP32)
    assert result.passed and result.nonfinite_reference == 3


# -- one large element does not loosen the others -----------------------------------------------------------

def test_a_large_row_does_not_loosen_another_row() -> None:
    reference = np.array([[1e5, 2.0, 3.0], [0.5, -0.3, 0.2]], dtype=np.float32)
    candidate = reference.copy()
    candidate[1] = [-0.5, 0.3, 0.2]  # signs flipped in the small row
    result = compare(reference, candidate, FP32)
    assert not result.passed and result.output_scale == pytest.approx(1e5)


def test_against_a_float64_truth_one_large_element_does_not_hide_sign_flips() -> None:
    reference = np.array([[1e5, 0.5, -0.3]], dtype=np.float32)
    truth = reference.astype(np.float64)
    candidate = np.array([[1e5, -0.5, 0.3]], dtype=np.float32)
    result = compare(reference, candidate, FP32, truth=truth)
    assert not result.passed and "truth" in result.error


# -- the float64 truth: float noise is judged against the reference's own noise ------------------------------

def sigmoid_like_case() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """truth, a float32 reference 2.6e-5 off it, a candidate 2.1e-5 off it the other way on the same (sensitive)
    elements, 4.7e-5 from the reference, and a candidate that is 10x the reference's noise off: the UNet false
    alarm measured on real converters."""
    rng = np.random.default_rng(1)
    truth = rng.uniform(0.05, 0.95, size=(2, 64))
    reference = truth.astype(np.float32)
    reference[0, 3] += np.float32(2.6e-5)
    reference[1, 9] -= np.float32(2.6e-5)
    candidate = truth.astype(np.float32)
    candidate[0, 3] -= np.float32(2.1e-5)
    candidate[1, 9] += np.float32(2.1e-5)
    broken = candidate.copy()
    broken[1, 9] += np.float32(2.6e-4)
    return truth, reference, candidate, broken


def test_a_candidate_closer_to_the_truth_than_the_reference_passes() -> None:
    truth, reference, candidate, _ = sigmoid_like_case()
    assert not compare(reference, candidate, FP32).passed  # the float32-reference rule: a false alarm
    result = compare(reference, candidate, FP32, truth=truth)
    assert result.passed
    assert result.error_vs_truth == pytest.approx(2.1e-5, rel=0.05)
    assert result.reference_noise == pytest.approx(2.6e-5, rel=0.05)


def test_an_error_ten_times_the_reference_noise_fails_against_the_truth() -> None:
    truth, reference, _, broken = sigmoid_like_case()
    result = compare(reference, broken, FP32, truth=truth)
    assert not result.passed
    assert "x the reference's noise there" in result.error


def test_with_an_exact_reference_the_truth_rule_is_torch_testing() -> None:
    truth = np.linspace(-1, 1, 20).reshape(2, 10)
    reference = truth.astype(np.float32)
    noise = truth.astype(np.float32) + np.float32(0.8e-5)
    assert compare(reference, noise, FP32, truth=truth).passed
    wrong = truth.astype(np.float32) + np.float32(3e-5)
    assert not compare(reference, wrong, FP32, truth=truth).passed


def test_an_output_dtype_change_is_a_mismatch() -> None:
    reference = np.arange(6, dtype=np.int64)
    result = compare(reference, reference.astype(np.int32), default_tolerance(np.dtype("int64")))
    assert not result.passed and "dtype int32 where the reference has int64" in result.error
    floats = np.linspace(0, 1, 6, dtype=np.float32)
    narrowed = compare(floats, floats.astype(np.float16), FP32)
    assert not narrowed.passed and "float16" in narrowed.error


# -- the rule as a property: within K x the reference's noise never fails, beyond it always does --------------

# Reference noise from 1e-6 of the magnitude (far beyond float32 rounding) up to 1e-4: a reference further than
# TRUTH_DISAGREEMENT of its scale from the truth sets the truth aside (test_verdict_defects).
@given(seed=st.integers(0, 2**32 - 1), noise=st.floats(1e-6, 1e-4), fraction=st.floats(0.0, 1.0),
       magnitude=st.sampled_from([1e-2, 1.0, 1e3]))
@settings(max_examples=200, deadline=None)
def test_an_error_within_k_times_the_reference_noise_passes_and_beyond_both_bounds_fails(
        seed: int, noise: float, fraction: float, magnitude: float) -> None:
    rng = np.random.default_rng(seed)
    truth = rng.standard_normal((3, 16)) * magnitude
    reference = (truth + noise * magnitude * rng.choice([-1.0, 1.0], size=truth.shape)).astype(np.float32)
    row_noise = np.abs(reference.astype(np.float64) - truth).max(axis=1, keepdims=True)
    # Stay clear of float32 rounding at the bounds: the candidate is itself rounded to float32.
    within = truth + fraction * 0.9 * NOISE_FACTOR * row_noise * rng.choice([-1.0, 1.0], size=truth.shape)
    assert compare(reference, within.astype(np.float32), FP32, truth=truth).passed
    beyond = truth.copy()
    plain_bound = FP32.atol + FP32.rtol * np.abs(truth[1, 5])
    beyond[1, 5] += 1.1 * max(NOISE_FACTOR * row_noise[1, 0], plain_bound) + 1e-6 * abs(truth[1, 5])
    assert not compare(reference, beyond.astype(np.float32), FP32, truth=truth).passed


def test_an_empty_output_compares_without_error() -> None:
    empty = np.zeros((3, 0), dtype=np.float32)
    assert compare(empty, empty.copy(), FP32).passed
    assert compare(empty, empty.copy(), FP32, truth=empty.astype(np.float64)).passed


def test_a_float_tolerance_override_never_loosens_an_integer_comparison() -> None:
    """Suspected in issue 24: a model's float tolerance override applied to integer intermediates (the localizer
    compares every prefix output with the row's tolerance). Dismissed: integers are compared exactly whatever
    the tolerance says."""
    loose = Tolerance(atol=10.0, rtol=1.0, reason="a model's float override")
    reference = np.array([3, 7, 12, 15], np.int64)
    assert not compare(reference, np.array([3, 7, 13, 15], np.int64), loose).passed
    assert compare(reference, reference.copy(), loose).passed
