"""The tolerance oracle: sensitive to real differences, blind to float noise, careful with non-finite values."""

from __future__ import annotations

import numpy as np
import pytest

from harness.compare import DEFAULT_TOLERANCES, compare, default_tolerance, worst
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


def test_float_noise_below_tolerance_passes(reference: np.ndarray) -> None:
    candidate = (reference.astype(np.float64) * (1 + 1e-9)).astype(np.float32)
    assert compare(reference, candidate, FP32).passed


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
    reference = np.array([300.0, -4.0, 0.001], dtype=np.float32)
    # 2e-5 off on the element near -4 is below one float32 ULP of the output's scale (300): float noise.
    noise = reference + np.array([0.0, 2e-5, 0.0], dtype=np.float32)
    assert compare(reference, noise, FP32).passed
    # 1e-2 on that element is a thousand times the tolerance at that scale: a real difference.
    wrong = reference + np.array([0.0, 1e-2, 0.0], dtype=np.float32)
    result = compare(reference, wrong, FP32)
    assert not result.passed and result.output_scale == pytest.approx(300.0)
    assert "x scale 300" in result.error


def test_outputs_within_unit_scale_use_torch_testing_rule_exactly(reference: np.ndarray) -> None:
    small = reference / np.abs(reference).max()
    candidate = small + np.float32(1.2e-5)
    assert not compare(small, candidate, Tolerance(atol=1e-5, rtol=0)).passed
    assert compare(small, candidate, Tolerance(atol=1.3e-5, rtol=0)).passed
