"""Issue 27, item 2: one worker task per artifact and round of examples, not per example, with the verdicts of
one task per example."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.converters.onnx_from_torch import OnnxFromTorch
from harness.converters.routes import Hop, Route
from harness.converters.torch_from_onnx import TorchFromOnnx
from harness.execution.pool import WorkerPool
from harness.formats import TORCH
from harness.run.engine import Cell, Engine, EngineOptions
from harness.spec import ExampleRecipe
from model_zoo import all_models
from tests.fake_converters import PerturbingConverter

pytestmark = pytest.mark.stacks
TRUSTED = ["tests.fake_converters:rebuild_perturbed"]


class CountingPool(WorkerPool):
    """The real pool, keeping every task that reaches a worker."""

    def __init__(self, log_dir: Path) -> None:
        super().__init__(log_dir, trusted_rebuilds=TRUSTED)
        self.tasks: list[dict[str, Any]] = []

    def call(self, stack: str, framework: str, task: dict[str, Any], timeout: float) -> dict[str, Any]:
        self.tasks.append(task)
        return super().call(stack, framework, task, timeout)


class OneTaskPerExample(Engine):
    """The engine as it was: nothing run ahead, every example its own task per artifact."""

    def prefetch(self, cell: Cell, recipes: list[ExampleRecipe], round_name: str) -> None:
        return None


def verdicts(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    columns = ("hop", "status", "error", "failures", "examples", "max_abs_err", "error_vs_truth", "worst_example",
               "truth", "precision", "interface", "source_rejections", "input_dependence")
    return [(*(row.get(column) for column in columns), bool(row["minimal_example"])) for row in rows]


def test_a_passing_cell_runs_each_artifact_once_for_all_its_examples(tmp_path: Path) -> None:
    route = Route(TORCH, (Hop(1, OnnxFromTorch()), Hop(2, TorchFromOnnx())))
    with CountingPool(tmp_path / "logs") as pool:
        engine = Engine(tmp_path / "run", pool, EngineOptions(examples=6, profile="ci"), progress=lambda line: None)
        rows = engine.run_route(all_models()["mlp"], route)
    assert {row["status"] for row in rows} == {"pass"} and {row["examples"] for row in rows} == {7}
    runs = [task for task in pool.tasks if task["task"] == "run"]
    cell_runs = [task for task in runs if "/scratch/" in task["outputs"][0]]  # not the twins' agreement runs
    # The source (with its truth) and each hop: one task each, for the export example and the search's six.
    assert [len(task["inputs"]) for task in cell_runs] == [7, 7, 7]
    assert len({task["artifact"] for task in cell_runs}) == 3


@pytest.mark.parametrize("variants", [("identity", "scale_1e-3"), ("ulps_4",), ("nan", "identity")])
def test_batched_runs_give_the_verdicts_of_one_task_per_example(tmp_path: Path, variants: tuple[str, ...]) -> None:
    """A failure makes hypothesis shrink (examples nobody foresaw, run one by one) and the earlier hops top up
    (a second round): the rows are those of one task per example all the same."""
    route = Route(TORCH, tuple(Hop(i, PerturbingConverter(v)) for i, v in enumerate(variants, 1)))
    spec = all_models()["mlp"]
    results = []
    for engine_class in (OneTaskPerExample, Engine):
        with CountingPool(tmp_path / engine_class.__name__ / "logs") as pool:
            engine = engine_class(tmp_path / engine_class.__name__, pool, EngineOptions(examples=8, profile="ci"),
                                  progress=lambda line: None)
            results.append((verdicts(engine.run_route(spec, route)),
                            sum(task["task"] == "run" for task in pool.tasks)))
    (before, tasks_before), (after, tasks_after) = results
    assert after == before
    assert tasks_after < tasks_before
