"""Throttled: the reports written while a run goes, at most once per interval."""

from __future__ import annotations

from harness.run.progress import Throttled


def test_a_throttled_action_runs_first_then_at_most_once_per_interval() -> None:
    now = [0.0]
    written: list[int] = []
    write = Throttled(written.append, 30.0, clock=lambda: now[0])
    for second, cell in [(0, 1), (10, 2), (29.9, 3), (30, 4), (45, 5), (61, 6)]:
        now[0] = second
        write(cell)
    assert written == [1, 4, 6]
