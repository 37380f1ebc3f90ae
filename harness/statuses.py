"""The status vocabulary of a result row, in one place (README "Reading a result"), and its one ranking."""

from collections.abc import Iterable

# Worst first: the status a (model, route) cell shows is the worst of its hops. `imprecise`: the converted model
# computes the same function (shown in float64) but its float32 rounding is worse than the reference's by more
# than K; it fails a run only when asked to be strict.
STATUS_ORDER = ("crash", "timeout", "source_error", "convert_error", "run_error", "mismatch", "imprecise", "xpass",
                "xfail", "skipped", "untested", "pass")
# What a known-failure record may cover, a diff counts as failing, and `parity check` exits 1 on.
FAILING = ("mismatch", "convert_error", "run_error", "crash", "timeout", "source_error")
# What fails under the strict option (`pytest --zoo --zoo-strict`, `parity diff --strict`).
STRICT_FAILING = (*FAILING, "imprecise")


def failing_statuses(*, strict: bool = False) -> tuple[str, ...]:
    return STRICT_FAILING if strict else FAILING


def status_rank(status: str) -> int:
    """Position in STATUS_ORDER, worst first; a status this version does not know ranks worst, so it is seen."""
    return STATUS_ORDER.index(status) if status in STATUS_ORDER else -1


def worst_of(statuses: Iterable[str]) -> str:
    return str(min(statuses, key=status_rank))
