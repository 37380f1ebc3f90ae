"""Issue 27, item 3: work a run already has the answer to is not done again: a hop a known failure explains is
not localized, twins are not built again, and the precision check reuses the failing example's truth."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.converters.onnx_from_torch import OnnxFromTorch
from harness.converters.routes import Hop, Route
from harness.converters.tf_from_onnx import TfFromOnnx
from harness.converters.torch_from_onnx import TorchFromOnnx
from harness.execution.pool import WorkerPool
from harness.formats import TORCH
from harness.run.engine import Engine, EngineOptions
from harness.run.progress import Silent
from harness.run.session import run_cells
from model_zoo import all_models
from tests.fake_converters import PerturbingConverter

pytestmark = pytest.mark.stacks


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerPool]:
    # The perturbing converter saves its torch modules with a rebuild function of the tests: trusted here.
    with WorkerPool(tmp_path_factory.mktemp("explained_logs"),
                    trusted_rebuilds=["tests.fake_converters:rebuild_perturbed"]) as workers:
        yield workers


def test_a_hop_a_known_failure_explains_is_not_localized_and_the_row_says_so(pool: WorkerPool, tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import harness.oracle.localize

    called: list[Any] = []
    real = harness.oracle.localize.localize
    monkeypatch.setattr(harness.oracle.localize, "localize", lambda *args, **kwargs: called.append(args) or real(
        *args, **kwargs))
    # onnx-tf 1.10.0 has no opset-13 Unsqueeze: known_failures.toml's onnx-tf-lacks-opset13-squeeze.
    route = Route(TORCH, (Hop(1, OnnxFromTorch()), Hop(2, TfFromOnnx()), Hop(3, OnnxFromTorch()),
                          Hop(4, TorchFromOnnx())))
    assert route.id == "torch>onnx>tf>onnx>torch"
    engine = Engine(tmp_path, pool, EngineOptions(examples=2, profile="ci", localize=True), progress=lambda line: None)
    rows = run_cells(engine, [(all_models()["lstm_classifier"], route)], progress=Silent()).rows
    (row,) = [row for row in rows if row["hop"] == "onnx->tf"]
    assert (row["raw_status"], row["status"], row["known_failure"]) == (
        "convert_error", "xfail", "onnx-tf-lacks-opset13-squeeze")
    assert row["localization"] == "not localized: known failure onnx-tf-lacks-opset13-squeeze explains it"
    assert not called and not list((tmp_path / "lstm_classifier").rglob("localize"))


def test_a_failure_no_record_explains_is_still_localized(pool: WorkerPool, tmp_path: Path) -> None:
    route = Route(TORCH, (Hop(1, OnnxFromTorch()), Hop(2, TfFromOnnx()), Hop(3, OnnxFromTorch()),
                          Hop(4, TorchFromOnnx())))
    engine = Engine(tmp_path, pool, EngineOptions(examples=2, profile="ci", localize=True), progress=lambda line: None)
    engine.known_failures = []
    rows = engine.run_route(all_models()["lstm_classifier"], route)
    (row,) = [row for row in rows if row["hop"] == "onnx->tf"]
    assert row["status"] == "convert_error"
    assert "Unsqueeze" in row["first_divergent_node"] and not row["localization"].startswith("not localized")


def test_the_precision_check_reuses_the_truth_of_the_failing_example(pool: WorkerPool, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    engine = Engine(tmp_path, pool, EngineOptions(examples=4, profile="ci"), progress=lambda line: None)
    runs: list[Path] = []
    real = engine.run_artifact

    def counted(*args: Any, **kwargs: Any) -> Any:
        runs.append(args[5])
        return real(*args, **kwargs)

    monkeypatch.setattr(engine, "run_artifact", counted)
    (row,) = engine.run_route(all_models()["mlp"], Route(TORCH, (Hop(1, PerturbingConverter("scale_1e-3")),)))
    assert row["status"] == "mismatch" and str(row["precision"]).startswith("the function changed")
    precision_runs = [out_dir.name for out_dir in runs if out_dir.parent.name.startswith("precision_hop")]
    assert precision_runs == ["candidate"]  # the converted model in float64; the source's truth was kept


def test_a_model_built_in_one_framework_runs_its_source_on_one_example_twice_only(
        pool: WorkerPool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With no twin to agree with, the build's runs only check the source is deterministic."""
    engine = Engine(tmp_path, pool, EngineOptions(examples=2, profile="ci"), progress=lambda line: None)
    runs: list[list[Path]] = []
    real = engine.run_artifact

    def counted(*args: Any, **kwargs: Any) -> Any:
        runs.append(list(args[4]))
        return real(*args, **kwargs)

    monkeypatch.setattr(engine, "run_artifact", counted)
    context = engine.prepare(dataclasses.replace(all_models()["mlp"], build_keras=None))
    assert [len(inputs) for inputs in runs] == [2] and runs[0][0] == runs[0][1]
    assert set(context.artifacts) == {"torch"} and context.twin == [None] and not context.stochastic


class CountingPool(WorkerPool):
    """The real pool, counting the tasks that reach a worker by kind."""

    def __init__(self, log_dir: Path) -> None:
        super().__init__(log_dir)
        self.tasks: list[str] = []

    def call(self, stack: str, framework: str, task: dict[str, Any], timeout: float) -> dict[str, Any]:
        self.tasks.append(task["task"])
        return super().call(stack, framework, task, timeout)


def test_twins_are_built_once_per_model_and_a_rerun_builds_none(tmp_path: Path) -> None:
    routes = [Route(TORCH, (Hop(1, OnnxFromTorch()), Hop(2, TorchFromOnnx()))),
              Route(TORCH, (Hop(1, OnnxFromTorch("dynamo")), Hop(2, TorchFromOnnx())))]
    cells = [(all_models()["mlp"], route) for route in routes]
    options = EngineOptions(examples=2, profile="ci", cache_dir=tmp_path / "cache")
    with CountingPool(tmp_path / "logs") as pool:
        run_cells(Engine(tmp_path / "cold", pool, options, progress=lambda line: None), cells, progress=Silent())
        assert pool.tasks.count("build_source") == 2  # the torch twin and the Keras twin, for both cells
        pool.tasks.clear()
        run_cells(Engine(tmp_path / "warm", pool, options, progress=lambda line: None), cells, progress=Silent())
        assert pool.tasks == []  # nothing built, converted or run again: the task cache answered
