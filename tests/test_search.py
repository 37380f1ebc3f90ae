"""The derandomized search draws the same examples on every machine, however long each example takes: a rerun
from the task cache (milliseconds an example) must meet the examples of the cold run (seconds an example)."""

from __future__ import annotations

import dataclasses
import importlib
import itertools
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import strategies as st

from harness.converters.onnx_from_torch import OnnxFromTorch
from harness.converters.routes import Hop, Route
from harness.converters.torch_from_onnx import TorchFromOnnx
from harness.execution.pool import WorkerPool
from harness.formats import TORCH
from harness.run.engine import Cell, Engine, EngineOptions
from harness.run.search import Outcome, search
from harness.spec import ExampleRecipe, InputRecipe, ModelSpec
from model_zoo import all_models


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


def test_the_examples_drawn_do_not_depend_on_which_of_our_modules_are_imported(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Hypothesis mixes into its draws literal constants read from the source of every non-library module
    imported so far. A lane that had imported the probes, a user's module in the working directory, or an
    edit to a constant anywhere in the harness would then draw other examples: other verdicts, and a rerun
    that misses the task cache."""

    def many_draws() -> list[int]:
        seen: list[int] = []

        def evaluate(value: int) -> Outcome:
            seen.append(value)
            return Outcome(scores={"value": float(value)})

        search(cell_id="model:route", strategy=st.integers(0, 10**12), evaluate=evaluate,  # type: ignore[arg-type]
               max_examples=300, profile="ci", database_dir=None)
        return seen

    before = many_draws()
    planted = list(range(123_456_789_000, 123_456_789_000 + 200 * 7, 7))
    (tmp_path / "planted_constants.py").write_text(f"PLANTED = {planted!r}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.import_module("planted_constants")
    after = many_draws()
    assert after == before and not set(after) & set(planted)


def labels_per_route(tmp_path: Path, spec: ModelSpec, routes: list[Route],
                     options: EngineOptions) -> tuple[dict[str, list[str]], list[dict[str, Any]], int]:
    """The examples each route ran, in order (by their recipes), its rows, and the task cache's hits."""
    labels: dict[str, list[str]] = {}

    class Recording(Engine):
        def evaluate_file(self, cell: Cell, input_file: Path, label: str, key: str | None = None) -> Outcome | None:
            labels.setdefault(cell.route.id, []).append(label)
            return super().evaluate_file(cell, input_file, label, key)

    with WorkerPool(tmp_path / "logs") as pool:
        engine = Recording(tmp_path / "run", pool, options, progress=lambda line: None)
        rows = [row for route in routes for row in engine.run_route(spec, route)]
    return labels, rows, engine.cache.hits if engine.cache else 0


@pytest.mark.stacks
def test_the_routes_of_a_model_meet_the_same_examples(tmp_path: Path) -> None:
    """Derandomized, the routes from one source draw the same examples: their columns in the matrix (one opset
    against another, one exporter against the other) are judged on the same inputs, and the source's runs and
    float64 truths, done for the first route, come from the task cache for the others."""
    routes = [Route(TORCH, (Hop(1, OnnxFromTorch()), Hop(2, TorchFromOnnx()))),
              Route(TORCH, (Hop(1, OnnxFromTorch(opset=13)),))]
    labels, rows, hits = labels_per_route(tmp_path, all_models()["mlp"], routes,
                                          EngineOptions(examples=6, profile="ci", cache_dir=tmp_path / "cache"))
    assert {row["status"] for row in rows} == {"pass"}  # no failure, so no shrinking to tell them apart
    first, second = (labels[route.id] for route in routes)
    assert len(first) == 7 and second == first  # the export example, then the search's six
    # The second route's source runs (one task for the round of its seven examples) were not made again.
    assert hits >= 1


@pytest.mark.stacks
def test_a_models_regression_examples_run_in_every_route(tmp_path: Path) -> None:
    """An input a search once found failing, kept in the model's spec, is judged in every route after the
    export example, whatever the search then draws."""
    kept = ExampleRecipe(dims={"B": 3}, inputs=(InputRecipe("large", 2, 438878),))
    spec = dataclasses.replace(all_models()["mlp"], regression_examples=(kept,))
    routes = [Route(TORCH, (Hop(1, OnnxFromTorch()),)), Route(TORCH, (Hop(1, OnnxFromTorch(opset=13)),))]
    labels, rows, _ = labels_per_route(tmp_path, spec, routes, EngineOptions(examples=2, profile="ci"))
    assert all(labels[route.id][1] == kept.describe() for route in routes), labels
    assert all(row["examples"] == 4 for row in rows)  # the export example, the kept one, the search's two


def test_top_ups_cover_every_value_kind_and_scale_not_standard_values_only() -> None:
    """After the search stops at a later hop's failure, the earlier hops' remaining examples came all from
    normal(1e0) (49 of 49 measured): zeros, ties, sparse, wide and large inputs never reached them."""
    from harness.run.inputs import REAL_KINDS, spread_recipes

    spec = all_models()["mlp"]
    recipes = spread_recipes(spec, count=len(REAL_KINDS) * 2, seed=7919)
    kinds = {recipe.inputs[0].kind for recipe in recipes}
    assert kinds == set(REAL_KINDS)
    assert len({recipe.inputs[0].scale_exponent for recipe in recipes}) > 2
    assert spread_recipes(spec, count=5, seed=7919) == recipes[:5]  # seeded: the same examples every run
