"""The oracle with fake hops that change a real model's output in known ways: sensitive and specific."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from harness.converters.routes import Hop, Route
from harness.execution.pool import WorkerPool
from harness.formats import TORCH
from harness.run.engine import (
    COMPARISONS,
    CONVERSIONS,
    HOP_RUNS,
    LOCALIZATION,
    PRECISION,
    ROWS,
    SEARCH,
    SOURCE_RUNS,
    STAGES,
    TWINS,
    Engine,
    EngineOptions,
)
from model_zoo import all_models
from tests.fake_converters import PerturbingConverter

pytestmark = pytest.mark.stacks


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    run_dir = tmp_path_factory.mktemp("oracle")
    # The perturbing converter saves its torch modules with a rebuild function of the tests: trusted here.
    with WorkerPool(run_dir / "logs", trusted_rebuilds=["tests.fake_converters:rebuild_perturbed"]) as pool:
        yield Engine(run_dir, pool, EngineOptions(examples=8, profile="ci"), progress=lambda line: None)


def run(engine: Engine, *variants: str) -> list[dict[str, object]]:
    route = Route(TORCH, tuple(Hop(i, PerturbingConverter(v)) for i, v in enumerate(variants, 1)))
    return engine.run_route(all_models()["mlp"], route)


def test_a_1e_3_relative_change_of_one_element_is_caught_and_shrunk(engine: Engine) -> None:
    (row,) = run(engine, "scale_1e-3")
    assert row["status"] == "mismatch" and row["float32_rule"] == "mismatch" and row["truth"] == "torch float64"
    assert str(row["precision"]).startswith("the function changed")
    assert row["mismatched_fraction"] > 0 and "elements off" in str(row["error"])
    minimal = Path(str(row["minimal_example"]))
    assert minimal.exists()
    # Shrunk to the simplest failing example: the smallest batch, the first value kind, seed 0.
    assert (minimal.parent / "minimal_example.txt").read_text().strip() == "B=1; normal(1e+0, seed 0)"


def test_float_noise_of_four_ulps_on_every_element_passes(engine: Engine) -> None:
    (row,) = run(engine, "ulps_4")
    assert row["status"] == "pass" and row["examples"] >= 8
    assert float(row["max_abs_err"]) > 0  # the hop did change the numbers
    assert row["minimal_example"] == ""


def test_nan_where_the_reference_is_finite_fails_and_nan_against_nan_does_not(engine: Engine) -> None:
    nan_hop, after = run(engine, "nan", "identity")
    assert nan_hop["status"] == "mismatch" and "non-finite where the reference is finite" in str(nan_hop["error"])
    # The second hop repeats the NaN: against the source it still fails, but its own drift is nil.
    assert after["status"] == "mismatch" and after["hop_status"] == "pass" and after["hop_max_abs_err"] == 0


def test_a_transposed_output_is_named_as_such(engine: Engine) -> None:
    (row,) = run(engine, "transpose")
    assert row["status"] == "mismatch"
    assert "the output is the reference transposed by (1, 0)" in str(row["error"])


def test_a_numerically_unstable_but_equal_function_fails_and_is_told_apart(engine: Engine) -> None:
    (row,) = run(engine, "cancel")
    # Rounding far beyond the reference's noise is the converter's doing, and the function is kept: imprecise.
    assert row["status"] == "imprecise" and "x the reference's noise" in str(row["error"]), row["error"]
    assert str(row["precision"]).startswith("float32 rounding only"), row["precision"]
    assert float(row["candidate_float64_err"]) < 1e-6


def test_rounding_is_told_apart_from_a_function_change_made_by_an_earlier_hop(engine: Engine) -> None:
    # Hop 1 moves one output by 1e-7 relative: a new function in float64, one float32 step, so it passes.
    # Hop 2 keeps hop 1's function and rounds it badly: its float64 run is hop 1's, not the source's truth.
    first, second = run(engine, "scale_1e-7", "cancel")
    assert first["status"] == "pass" and second["status"] == "imprecise"
    assert str(second["precision"]).startswith("float32 rounding only"), second["precision"]
    assert "before this hop" in str(second["precision"]) and "hop 1" in str(second["precision"])


def test_an_observer_sees_the_stages_of_a_cell_in_the_engines_order(engine: Engine) -> None:
    """The order of a cell's stages is the engine's alone: an observer (parity bench's clock) is told each one
    by name, and every example's input file, without overriding any method."""
    seen: list[str] = []
    examples: list[Path] = []

    @contextmanager
    def observe(stage: str) -> Iterator[None]:
        seen.append(stage)
        yield

    engine.stage_observer, engine.example_observer = observe, examples.append
    try:
        run(engine, "scale_1e-3", "identity")
    finally:
        engine.stage_observer = engine.example_observer = None
    assert set(seen) == set(STAGES)
    assert seen[:3] == [TWINS, CONVERSIONS, SEARCH] and seen[-3:] == [ROWS, PRECISION, LOCALIZATION]
    per_example = seen[3:-3]
    # A round of examples runs through the source, then hop by hop (one task each); then each is judged.
    assert per_example[:4] == [SOURCE_RUNS, HOP_RUNS, HOP_RUNS, COMPARISONS]
    assert per_example.count(COMPARISONS) >= len(examples) >= 8  # every example judged at every hop it reached
    assert per_example.count(SOURCE_RUNS) < len(examples)


def test_the_hops_before_a_failing_one_are_topped_up_and_the_row_says_how(engine: Engine) -> None:
    first, failing = run(engine, "identity", "scale_1e-3")
    assert failing["status"] == "mismatch" and first["status"] == "pass" and first["examples"] >= 8
    assert "seeded over every value kind" in str(first["examples_drawn"])


def test_an_artifact_that_runs_only_in_the_converting_process_is_a_run_error(engine: Engine) -> None:
    """Issue 25: an artifact is judged as a user would run it, loaded from its files by a process that converted
    nothing; one that needs the converting process's state (here a registry the converter filled) cannot pass."""
    (row,) = run(engine, "process_local")
    assert row["status"] == "run_error", row
    assert "scale" in str(row["error"])
