"""Verdict defects, each reproduced on real stacks: a stochastic source, a source that fails, faults that show
only on some inputs, and the interface findings (input casts, outputs matched by name)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness.converters.onnx_from_torch import OnnxFromTorch
from harness.converters.routes import Hop, Route
from harness.execution.pool import WorkerPool
from harness.formats import TORCH
from harness.run.engine import Engine, EngineOptions, stochastic
from harness.runners.base import cast_input, match_outputs
from model_zoo import all_models
from tests.fake_converters import PerturbingConverter
from tests.fake_localize import MiscompilingOnnxConverter


def test_an_input_cast_that_changes_values_is_refused_and_a_lossless_one_noted() -> None:
    notes: list[str] = []
    with pytest.raises(ValueError, match="changes its values"):
        cast_input(np.array([0.5, 1.5], np.float32), np.int32, "x", notes)
    widened = cast_input(np.array([1, 2], np.int32), np.int64, "ids", notes)
    assert widened.dtype == np.int64 and notes == ["input ids: int32 fed as int64"]


def test_outputs_are_matched_by_name_and_numbered_names_in_natural_order() -> None:
    zeta, alpha = np.zeros((4, 3)), np.zeros((4, 7))
    ordered, how = match_outputs({"alpha": alpha, "zeta": zeta}, ["zeta", "alpha"])
    assert ordered[0] is zeta and ordered[1] is alpha and how == "name"
    ordered, how = match_outputs({"zeta:0": zeta, "alpha:0": alpha}, ["zeta", "alpha"])
    assert ordered[0] is zeta and how == "name"
    # tf2onnx sorts signature outputs by key; output_2 still comes before output_10.
    produced = {f"output_{index}": np.full(1, index) for index in (10, 2, 0, 1)}
    ordered, how = match_outputs(produced, ["a", "b", "c", "d"])
    assert [int(array[0]) for array in ordered] == [0, 1, 2, 10] and how.startswith("position")




@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    run_dir = tmp_path_factory.mktemp("verdict")
    # The fakes save torch modules with rebuild functions of the tests: trusted here, and only here.
    pool = WorkerPool(run_dir / "logs", trusted_rebuilds=["tests.fake_converters:rebuild_perturbed",
                                                          "tests.fake_converters:rebuild_failing"])
    yield Engine(run_dir, pool, EngineOptions(examples=6, profile="ci", localize=True), progress=lambda line: None)
    pool.close()


@pytest.mark.stacks
def test_a_stochastic_artifact_run_twice_on_one_input_gives_two_outputs(engine: Engine, tmp_path: Path) -> None:
    spec = all_models()["mlp"]
    source = engine.prepare(spec).artifacts["torch"]
    noisy, example = tmp_path / "noisy", tmp_path / "x.npz"
    np.savez(example, features=np.ones((2, 64), np.float32))
    converted = engine.call("current", "torch", {
        "task": "convert", "converter": PerturbingConverter("noise").reference, "source": str(source),
        "target": str(noisy), "io": {}, "example": str(example), "framework": "torch"}, 120)
    assert converted.status == "ok", converted.error
    run = engine.run_artifact("current", "torch", noisy, {"inputs": [{"name": "features"}], "outputs": ["logits"]},
                              [example, example], tmp_path / "out")
    assert run.step.status == "ok" and stochastic(run.outputs[0], run.outputs[1])
    deterministic = engine.run_artifact("current", "torch", source, {"inputs": [{"name": "features"}],
                                                                      "outputs": ["logits"]},
                                        [example, example], tmp_path / "out_source")
    assert not stochastic(deterministic.outputs[0], deterministic.outputs[1])


@pytest.mark.stacks
def test_a_source_that_fails_on_every_input_fails_its_cells(engine: Engine, tmp_path: Path) -> None:
    spec = all_models()["mlp"]
    broken = tmp_path / "broken_source"
    engine.call_function("current", "torch", "tests.fake_converters:write_failing_source", target=str(broken))
    engine.register_source(spec, TORCH, broken)
    try:
        rows = engine.run_route(spec, Route(TORCH, (Hop(1, PerturbingConverter("identity")),)))
    finally:
        del engine.contexts[spec.name]
    (row,) = rows
    assert row["status"] == "source_error"
    assert "rejected every example" in row["error"] or "failed on every example" in row["error"]


@pytest.mark.stacks
def test_a_fault_on_large_inputs_only_is_localized_on_the_input_that_failed(engine: Engine) -> None:
    route = Route(TORCH, (Hop(1, OnnxFromTorch()), Hop(2, MiscompilingOnnxConverter("clip_large"))))
    rows = engine.run_route(all_models()["mlp"], route)
    exported, clipped = rows
    assert exported["status"] == "pass"
    assert clipped["status"] == "mismatch"
    assert clipped["localized_on"].startswith(("minimal example", "worst example")), clipped["localized_on"]
    assert "Relu" in clipped["first_divergent_node"], clipped["localization"]


@pytest.mark.stacks
def test_every_hop_before_a_failing_hop_runs_the_full_example_budget(engine: Engine) -> None:
    route = Route(TORCH, (Hop(1, PerturbingConverter("identity")), Hop(2, PerturbingConverter("scale_1e-3"))))
    first, failing = engine.run_route(all_models()["mlp"], route)
    assert failing["status"] == "mismatch" and first["status"] == "pass"
    assert first["examples"] >= engine.options.examples
