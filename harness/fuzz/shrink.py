"""Shrink a failing generated model: greedily take the first simpler description that still fails with the same
signature, until none does or the time is up."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Generic, Protocol, Self, TypeVar


class Shrinkable(Protocol):
    def simplifications(self) -> Iterator[Self]: ...

    def summary(self) -> str: ...

    def layer_count(self) -> int: ...


D = TypeVar("D", bound=Shrinkable)


@dataclass
class ShrinkResult(Generic[D]):
    description: D  # the smallest description found that fails the same way
    steps: list[str] = field(default_factory=list)  # each accepted simplification, as the model it left
    tried: int = 0  # candidates evaluated
    seconds: float = 0.0
    finished: bool = False  # no simplification keeps the failure (else the time ran out)


def layers_and_summary(description: Shrinkable) -> str:
    return f"{description.layer_count()} layers: {description.summary()}"


def shrink(description: D, still_fails: Callable[[D], bool], *, budget_seconds: float,
           clock: Callable[[], float] = time.monotonic,
           describe: Callable[[D], str] = layers_and_summary) -> ShrinkResult[D]:
    """Greedy descent over `description.simplifications()` (most aggressive first): the first candidate for which
    `still_fails` holds replaces the current description and the search starts again from it. A candidate is
    only ever simpler, so the descent ends; `budget_seconds` bounds it (a candidate under way is finished)."""
    started = clock()
    result = ShrinkResult(description)
    while True:
        accepted = False
        for candidate in result.description.simplifications():
            if clock() - started >= budget_seconds:
                result.seconds = clock() - started
                return result
            result.tried += 1
            if still_fails(candidate):
                result.description = candidate
                result.steps.append(describe(candidate))
                accepted = True
                break
        if not accepted:
            result.finished = True
            result.seconds = clock() - started
            return result
