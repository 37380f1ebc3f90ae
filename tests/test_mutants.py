"""The mutation self-test: what the planner targets, that a planted fault changes its node and nothing before
it, and the whole self-test on the zoo `mlp` (detected, localized to the planted node, controls pass)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.converters import default_converters
from harness.execution.pool import WorkerPool
from harness.formats import TORCH
from harness.oracle.mutants import CONTROLS, FAULTS, MutantConverter, Plan, summarize
from harness.reporting.mutation import mutation_markdown
from harness.run.engine import Engine, EngineOptions
from model_zoo import all_models

pytestmark = pytest.mark.stacks


def test_a_plan_survives_the_trip_to_a_worker_and_names_a_folder_safe_route() -> None:
    plan = Plan("weight", "/fc1/Gemm", 0, "Gemm", {"input": 1, "axis": 0})
    converter = MutantConverter(plan.encode())
    rebuilt = MutantConverter(converter.reference["variant"])
    assert rebuilt.plan == plan
    assert converter.marks == ["mutant-weight-0"] and "/" not in "".join(converter.marks)
    with pytest.raises(ValueError, match="unknown mutant kind"):
        MutantConverter(Plan("typo", "n", 0, "Relu").encode())


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    folder = tmp_path_factory.mktemp("mutants")
    with WorkerPool(folder / "logs") as pool:
        engine = Engine(folder, pool, EngineOptions(), progress=lambda line: None)
        built = engine.call_function("current", "none", "tests.fake_localize:build_chain_model",
                                     out_dir=str(folder / "chain"))
        planned = engine.call_function("current", "none", "harness.oracle.mutants:plan_mutants",
                                       model_path=built["model"], inputs_npz=built["inputs"], seed=0)
        one_at_a_time = engine.call_function("current", "none", "harness.oracle.mutants:plan_mutants",
                                             model_path=built["model"], inputs_npz=built["inputs"], seed=0,
                                             batch_symbolic=False)
        changes = {plan["kind"]: engine.call_function("current", "none", "tests.mutant_checks:node_change",
                                                      model_path=built["model"], inputs_npz=built["inputs"],
                                                      plan=plan)
                   for plan in planned["plans"]}
    return {"planned": planned, "one_at_a_time": one_at_a_time, "changes": changes}


def test_the_planner_targets_one_node_per_applicable_kind_and_says_why_not_for_the_others(
        chain: dict[str, object]) -> None:
    planned = chain["planned"]
    assert isinstance(planned, dict)
    targets = {plan["kind"]: plan["op_type"] for plan in planned["plans"]}
    # The chain is MatMul/Add/Mul/Relu/Sigmoid/Tanh: no pooling, softmax, normalization or padding.
    assert set(planned["not_applicable"]) == {"pooling", "softmax_axis", "norm_epsilon", "padding"}
    assert set(targets) | set(planned["not_applicable"]) == set(FAULTS) | set(CONTROLS)
    assert targets["weight"] == "MatMul" and targets["float64"] == "MatMul"
    assert targets["bias"] == "Add" and targets["activation"] in ("Relu", "Sigmoid", "Tanh")
    assert targets["commute"] in ("Add", "Mul")
    # Saturation needs a node whose values grow with the input: none after the Sigmoid or the Tanh.
    saturated = next(plan for plan in planned["plans"] if plan["kind"] == "saturation")
    assert saturated["index"] < 7
    one_at_a_time = chain["one_at_a_time"]
    assert isinstance(one_at_a_time, dict)
    assert "batch fixed at 1" in one_at_a_time["not_applicable"]["batch_mix"]


def test_a_planted_fault_changes_its_node_and_a_graph_cut_before_it_stays_unchanged(
        chain: dict[str, object]) -> None:
    changes = chain["changes"]
    assert isinstance(changes, dict)
    for kind, change in changes.items():
        assert change["planted"] and change["prefix_untouched"], kind
        on_example, on_large = change["relative_change"]
        if kind in CONTROLS:
            # Below float noise: at most a couple of float32 ULPs of the node's largest value.
            assert max(on_example, on_large) <= 3e-7, (kind, change)
        elif kind == "saturation":
            assert on_example == 0.0 and on_large > 1e-2, change  # only large inputs reach the threshold
        else:
            assert on_example > 1e-4, (kind, change)


def test_every_fault_planted_in_the_mlp_is_detected_and_localized_and_the_controls_pass(tmp_path: Path) -> None:
    from harness.run.self_test import run_mutation

    with WorkerPool(tmp_path / "logs") as pool:
        engine = Engine(tmp_path, pool, EngineOptions(examples=10, profile="mutation", localize=True),
                        progress=lambda line: None)
        run = run_mutation(engine, all_models()["mlp"], TORCH, default_converters(), progress=lambda line: None)
    kinds = {row["kind"] for row in run.rows}
    assert {"weight", "bias", "activation", "precision", "layout", "batch_mix", "saturation"} <= kinds
    assert set(CONTROLS) <= kinds
    for row in run.rows:
        if row["control"]:
            assert row["status"] == "pass", row
        else:
            assert row["detected"], row
            assert row["localized"], row
    totals = summarize([run])
    assert totals.faults == totals.detected == totals.localized >= 7
    assert "| mlp | torch | 7 | 7 | 7 | 3/3 |" in mutation_markdown([run], command="test", seconds=1.0)
