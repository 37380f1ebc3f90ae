"""A verdict that says nothing says so: outputs that do not move with the input, or sit far below atol."""

from __future__ import annotations

import math

import numpy as np

from harness.oracle.sensitivity import Sensitivity
from harness.spec import Tolerance

FLOAT32 = Tolerance(atol=1e-5, rtol=1.3e-6)


def measured(*outputs: np.ndarray) -> Sensitivity:
    sensitivity = Sensitivity()
    for output in outputs:
        sensitivity.add(output)
    return sensitivity


def test_an_output_that_ignores_its_input_is_vacuous() -> None:
    # googlenet with weights=None and 10 classes gave max |y(x) - y(0)| = 0
    constant = np.array([[0.3, -1.2, 4.0]], np.float32)
    sensitivity = measured(constant, constant.copy(), constant.copy())
    assert sensitivity.input_dependence == 0.0
    assert "do not depend on the input" in sensitivity.vacuous(FLOAT32)


def test_outputs_far_below_the_tolerance_are_vacuous() -> None:
    # mnasnet0_5's outputs were at most 2.7e-7 on unit-scale inputs, 40 times below atol
    rng = np.random.default_rng(0)
    sensitivity = measured(*(rng.normal(scale=1e-7, size=(2, 10)).astype(np.float32) for _ in range(3)))
    assert sensitivity.input_dependence > 0
    reason = sensitivity.vacuous(FLOAT32)
    assert "below 10 x the tolerance's atol (1e-05)" in reason


def test_outputs_that_move_with_the_input_at_a_useful_scale_are_not() -> None:
    rng = np.random.default_rng(1)
    sensitivity = measured(*(rng.normal(size=(2, 10)).astype(np.float32) for _ in range(3)))
    assert sensitivity.vacuous(FLOAT32) == "" and sensitivity.input_dependence > 0.1


def test_outputs_of_different_shapes_are_compared_only_with_their_own_shape() -> None:
    sensitivity = measured(np.ones((1, 4)), np.ones((2, 4)))
    assert sensitivity.compared == 0 and math.isnan(sensitivity.input_dependence)
    assert sensitivity.vacuous(FLOAT32) == ""  # nothing compared, and at a useful scale: no claim either way
    sensitivity.add(np.ones((2, 4)))
    assert "do not depend on the input" in sensitivity.vacuous(FLOAT32)
