"""The derandomized search draws the same examples on every machine, however long each example takes: a rerun
from the task cache (milliseconds an example) must meet the examples of the cold run (seconds an example)."""

from __future__ import annotations

import itertools
import time

import pytest
from hypothesis import strategies as st

from harness.search import Outcome, search


def drawn(profile: str) -> list[int]:
    seen: list[int] = []

    def evaluate(value: int) -> Outcome:
        seen.append(value)
        return Outcome(scores={"value": float(value)}, failures=["fails"] if value % 7 == 3 else [])

    search(cell_id="model:route", strategy=st.integers(0, 10_000), evaluate=evaluate,  # type: ignore[arg-type]
           max_examples=30, profile=profile, database_dir=None)
    return seen


@pytest.mark.parametrize("profile", ["ci", "mutation"])
def test_a_slow_machine_draws_the_examples_of_a_fast_one(profile: str, monkeypatch: pytest.MonkeyPatch) -> None:
    fast = drawn(profile)
    assert any(value % 7 == 3 for value in fast)  # the search met a failure, where time could matter
    clock = itertools.count()
    real = time.monotonic
    # Every reading of the clock 11 s later than the last: hypothesis stops looking for more failures 10 s
    # after the first one, unless it reports only one.
    monkeypatch.setattr(time, "monotonic", lambda: real() + 11.0 * next(clock))
    assert drawn(profile) == fast
