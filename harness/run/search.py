"""Hypothesis drives the examples of a cell: settings profiles, target() on the error, shrinking.

The converted artifacts are fixed before the search starts (convert once, run many); each example
runs the source and every hop's artifact. A failing example is shrunk by hypothesis to a minimal one,
which the engine saves beside the artifacts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings, target
from hypothesis.database import DirectoryBasedExampleDatabase
from hypothesis.errors import Flaky, Unsatisfiable
from hypothesis.strategies import SearchStrategy

from harness.spec import ExampleRecipe

PROFILES = ("dev", "ci", "thorough", "mutation")
_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
# Each example costs a few worker round trips, so no per-example deadline; the search is bounded by
# max_examples (set per run) and hypothesis's own shrink budget.
settings.register_profile("dev", max_examples=10, deadline=None, suppress_health_check=_QUIET, print_blob=False)
# Derandomized, and deaf to the clock: hypothesis looks for further distinct failures for up to 10 s after the
# first (the engine reports one) and its explain phase reruns variants, so a slow cold run and a fast cached
# rerun would draw different examples. One failure, then shrinking, draws the same on every machine.
settings.register_profile("ci", settings.get_profile("dev"), derandomize=True, database=None,
                          report_multiple_bugs=False, phases=[phase for phase in Phase if phase != Phase.explain])
settings.register_profile("thorough", settings.get_profile("dev"), max_examples=200)
# The mutation self-test plants a hundred faults: derandomized, and no shrinking (localization then runs on
# the worst failing example instead of the shrunk one), which would cost dozens of examples per mutant.
settings.register_profile("mutation", settings.get_profile("ci"),
                          phases=[phase for phase in Phase if phase not in (Phase.shrink, Phase.explain)])


@contextmanager
def library_constants_only() -> Iterator[None]:
    """Hypothesis (6.131 on) mixes into its draws the literal constants of every non-library module imported
    so far. The examples a cell draws would then depend on what else the process had imported (the probes,
    another lane's models, a user's module in the working directory) and on any constant edited anywhere in
    the harness: other verdicts from the same code, and a rerun that misses the task cache. No public
    setting turns this off; without the hook (another hypothesis) there is nothing to turn off."""
    try:
        from hypothesis.internal.conjecture import providers
        from hypothesis.internal.constants_ast import Constants
    except ImportError:
        yield
        return
    if not hasattr(providers, "_get_local_constants") or not hasattr(providers, "CONSTANTS_CACHE"):
        yield
        return
    real = providers._get_local_constants
    providers._get_local_constants = lambda *args, **kwargs: Constants()
    providers.CONSTANTS_CACHE.cache.clear()  # allowed constants computed with the local ones in them
    try:
        yield
    finally:
        providers._get_local_constants = real
        providers.CONSTANTS_CACHE.cache.clear()


class ExampleFailed(AssertionError):
    """Raised inside the hypothesis test when some hop fails on an example."""


@dataclass
class Outcome:
    """What one example did: a score per label for target(), and the failures it showed."""

    scores: dict[str, float] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


@dataclass
class SearchResult:
    examples: int
    minimal: ExampleRecipe | None  # hypothesis's shrunk failing example, when one failed
    failure: str = ""
    flaky: str = ""  # a failure that did not reproduce: the converted model is nondeterministic
    unsatisfiable: str = ""  # the source rejected every example hypothesis drew


def search(*, cell_id: str, strategy: SearchStrategy[ExampleRecipe],
           evaluate: Callable[[ExampleRecipe], Outcome], max_examples: int, profile: str,
           database_dir: Path | None, draws_key: str | None = None) -> SearchResult:
    """draws_key: derandomized, the searches that share it draw the same examples until one of them meets a
    failure (and shrinks it); by default each cell_id draws its own."""
    if profile not in PROFILES:
        raise ValueError(f"unknown hypothesis profile {profile!r}; choose from {', '.join(PROFILES)}")
    if max_examples < 1:
        raise ValueError(f"max_examples must be at least 1, got {max_examples}")
    state = {"examples": 0}
    last_failing: list[ExampleRecipe] = []

    base = settings.get_profile(profile)
    database = DirectoryBasedExampleDatabase(str(database_dir)) if database_dir and not base.derandomize else None
    phases = tuple(base.phases)

    # No @example: hypothesis does not shrink a failing explicit example (the engine runs the export
    # example itself before the search).
    @settings(base, max_examples=max_examples, database=database, phases=phases)
    @given(strategy)
    def check(recipe: ExampleRecipe) -> None:
        state["examples"] += 1
        outcome = evaluate(recipe)
        for label, score in outcome.scores.items():
            target(score if math.isfinite(score) else 1e300, label=label)
        if outcome.failures:
            last_failing[:] = [recipe]
            raise ExampleFailed("; ".join(outcome.failures))

    # The digest seeds a derandomized search. Otherwise it keys the example database: every cell its own, so a
    # failure replays for that cell only (replayed elsewhere and passing, hypothesis would delete it).
    digest = draws_key if base.derandomize and draws_key is not None else cell_id
    check.hypothesis.inner_test._hypothesis_internal_add_digest = digest.encode()  # type: ignore[attr-defined]
    try:
        with library_constants_only():
            check()
    except ExampleFailed as failure:
        # Hypothesis re-runs the minimal example last, so the last failing recipe is the shrunk one.
        return SearchResult(state["examples"], last_failing[0] if last_failing else None, str(failure))
    except Unsatisfiable:
        return SearchResult(state["examples"], None, unsatisfiable=(
            f"the source model rejected every example hypothesis drew ({state['examples']} tried)"))
    except Flaky as flaky:
        return SearchResult(state["examples"], last_failing[0] if last_failing else None,
                            flaky=f"{type(flaky).__name__}: a failing example did not fail again when replayed")
    return SearchResult(state["examples"], None)


def foreseen_draws(*, cell_id: str, strategy: SearchStrategy[ExampleRecipe], max_examples: int, profile: str,
                   draws_key: str | None = None) -> list[ExampleRecipe]:
    """The examples a derandomized search draws while every example passes, found by running it on nothing: the
    same search draws the same examples until a failure makes it shrink, or its targeting (from the middle of its
    budget on) steers it by the scores. [] for a profile that is not derandomized (its draws are random)."""
    base = settings.get_profile(profile)
    if not base.derandomize:
        return []
    drawn: list[ExampleRecipe] = []

    def record(recipe: ExampleRecipe) -> Outcome:
        drawn.append(recipe)
        return Outcome()

    # Hypothesis's first targeting pass starts here (for budgets under 1000: ConjectureRunner.generate_new_examples).
    untargeted = max(max_examples // 2, min(max_examples // 10, 50) + 1, 10)
    search(cell_id=cell_id, strategy=strategy, evaluate=record, max_examples=min(max_examples, untargeted),
           profile=profile, database_dir=None, draws_key=draws_key)
    return drawn
