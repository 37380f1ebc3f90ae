"""Issue 24: the ways the oracle said the wrong thing, each a small case of arrays (or fake hops) fed to it."""

from __future__ import annotations

import inspect
import json
import math
import sys
import types
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import pytest

from harness.converters.routes import Hop, Route
from harness.errors import describe_error
from harness.execution.pool import Step, WorkerPool
from harness.formats import TORCH
from harness.oracle.compare import DEFAULT_TOLERANCES, EXACT, NOISE_FACTOR, compare, rule_source, tolerance_rule
from harness.oracle.verdict import OutputTrack, comparison_columns, settle_rounding
from harness.pytest_plugin import cell_fails
from harness.reporting.diff import diff_results, regressions
from harness.repro.localized import LOCALIZED_HEADER, ONNX2PYTORCH_SNIPPET, localized_repro
from harness.repro.templates import TEMPLATE_FILES, ReproPlan, render
from harness.run.engine import Cell, Engine, EngineOptions, HopState, RunResult
from harness.run.known_failures import KnownFailure, apply_known_failures, load_known_failures
from harness.run.search import SearchResult
from harness.spec import OutputSpec
from harness.statuses import FAILING, STATUS_ORDER, status_rank
from model_zoo import all_models
from tests.fake_converters import PerturbingConverter

FP32 = DEFAULT_TOLERANCES["float32"]


# -- 3. the noise allowance comes from the element's own noise -----------------------------------------------

def test_one_cancelling_element_does_not_loosen_another_logit_of_its_row() -> None:
    truth = np.array([[1000.0, 2.05, 0.3, -1.0]])
    reference = truth.astype(np.float32)
    reference[0, 2] += np.float32(2.5e-2)  # a cancelling computation: the reference's own noise is large here
    candidate = truth.astype(np.float32)
    candidate[0, 1] *= np.float32(1.02)  # another logit's weights scaled by 2%: 4.1e-2 off
    assert not compare(reference, candidate, FP32).passed  # the float32 rule alone fails it
    result = compare(reference, candidate, FP32, truth=truth)
    assert not result.passed
    # The cancelling element itself may be off by up to K times its own noise.
    noisy = truth.astype(np.float32)
    noisy[0, 2] -= np.float32(2.5e-2)
    assert compare(reference, noisy, FP32, truth=truth).passed


def test_one_tokens_cancellation_does_not_loosen_the_other_tokens() -> None:
    truth = np.array([[[1000.0, 0.5, 0.25], [1000.0, 2.0, -0.5]]])  # (B, S, H)
    reference = truth.astype(np.float32)
    reference[0, 0, 1] += np.float32(2.5e-2)  # token 0's LayerNorm cancels
    candidate = truth.astype(np.float32)
    candidate[0, 1, 1] += np.float32(4e-2)  # token 1 is wrong
    assert not compare(reference, candidate, FP32, truth=truth).passed


@pytest.mark.parametrize("shape", [(3,), (3, 1)])
def test_a_rank_1_output_is_judged_per_example_like_its_column_twin(shape: tuple[int, ...]) -> None:
    truth = np.array([1e6 + 0.03, 1.0, 2.0]).reshape(shape)
    reference = truth.astype(np.float32)  # 0.03 of float32 rounding on example 0
    candidate = reference.copy()
    candidate.reshape(-1)[2] *= np.float32(1.1)  # a 10% error on example 2
    assert not compare(reference, candidate, FP32).passed
    assert not compare(reference, candidate, FP32, truth=truth).passed


def test_a_truth_that_disagrees_with_the_reference_beyond_rounding_is_set_aside_and_said() -> None:
    reference = np.random.default_rng(3).standard_normal((4, 10)).astype(np.float32)
    truth = reference.astype(np.float64)
    truth[:, 0] += 0.05  # a wrong float64 twin: 0.05 off on one element per row
    candidate = reference * np.float32(1.03)
    result = compare(reference, candidate, FP32, truth=truth)
    assert not result.passed
    assert "float64 truth set aside" in result.note and "4 row" in result.note
    assert "float64 truth set aside" in compare(reference, reference.copy(), FP32, truth=truth).note


def test_a_truth_within_rounding_of_the_reference_is_used() -> None:
    truth = np.linspace(-3, 3, 40).reshape(4, 10) + 1e-9
    reference = truth.astype(np.float32)
    assert compare(reference, reference.copy(), FP32, truth=truth).note == ""


# -- 4. integer and bool outputs are exact, whatever the truth -------------------------------------------------

def test_a_bool_mask_with_every_bit_flipped_fails_though_the_reference_flips_one_bit() -> None:
    reference = np.array([[True, False, True, False]])
    truth = np.array([[True, False, False, False]])  # the float32 reference flipped a near-threshold bit
    result = compare(reference, ~reference, EXACT, truth=truth)
    assert not result.passed


def test_int64_indices_must_match_exactly_and_a_disagreeing_reference_is_called_ambiguous() -> None:
    reference = np.array([[3, 7, 1, 0]], dtype=np.int64)
    truth = np.array([[3, 7, 1, 1]], dtype=np.int64)
    assert not compare(reference, np.array([[3, 7, 12, 15]], dtype=np.int64), EXACT, truth=truth).passed
    agreeing_with_truth = compare(reference, truth.copy(), EXACT, truth=truth)
    assert agreeing_with_truth.passed and "1 element(s) ambiguous" in agreeing_with_truth.note


# -- 5. a more accurate candidate where the reference overflowed ---------------------------------------------

def test_a_finite_candidate_where_the_reference_overflowed_is_judged_against_a_finite_truth() -> None:
    reference = np.array([[np.inf, 1.0]], dtype=np.float32)  # a naive float32 logsumexp overflowed
    truth = np.array([[100.4076, 1.0]])
    shifted = np.array([[100.40761, 1.0]], dtype=np.float32)  # a max-shifted logsumexp
    assert compare(reference, shifted, FP32, truth=truth).passed
    assert compare(reference, reference.copy(), FP32, truth=truth).passed  # overflowing like the source
    wrong = np.array([[50.0, 1.0]], dtype=np.float32)
    assert not compare(reference, wrong, FP32, truth=truth).passed
    assert not compare(reference, shifted, FP32).passed  # without a truth the reference's inf stands


# -- 13. messages and figures describe the failing elements ---------------------------------------------------

def test_the_message_quotes_the_failing_element_not_the_global_maxima() -> None:
    truth = np.array([[5.0, 1.0, -1.0, 20.0]])
    reference = truth.astype(np.float32)
    reference[0, 0] += np.float32(0.01)  # noisy element
    candidate = truth.astype(np.float32)
    candidate[0, 0] += np.float32(0.05)  # within K x its own noise
    candidate[0, 1] += np.float32(1e-3)  # off, where the reference is exact
    result = compare(reference, candidate, FP32, truth=truth)
    assert not result.passed
    assert result.error.startswith("1 of 4 elements off the float64 truth by up to 0.001 (")
    assert "0.05" not in result.error and "0.01" not in result.error


def test_figures_without_a_value_are_inf_not_huge_or_zero() -> None:
    truth = np.array([[0.5, 1.0]])
    reference = truth.astype(np.float32)  # exact: no noise at all
    off = reference + np.float32(1e-3)
    assert math.isinf(compare(reference, off, FP32, truth=truth).noise_multiple)
    lost_inf = compare(np.array([[np.inf, 1.0]], np.float32), np.array([[0.0, 1.0]], np.float32), FP32)
    assert not lost_inf.passed and math.isinf(lost_inf.required_atol)


def test_an_all_nan_truth_is_not_quoted_as_an_error_of_nan() -> None:
    reference = np.array([[0.5, 1.0]], dtype=np.float32)
    result = compare(reference, reference + np.float32(0.1), FP32, truth=np.full((1, 2), np.nan))
    assert not result.passed and "nan" not in result.error


def test_noise_multiple_above_k_fails_and_below_passes() -> None:
    truth = np.array([[100.0, 1.0, 2.0]])
    reference = truth.astype(np.float32)
    reference[0, 1] += np.float32(1e-4)
    within = truth.astype(np.float32)
    within[0, 1] += np.float32(0.5 * NOISE_FACTOR * 1e-4)
    beyond = truth.astype(np.float32)
    beyond[0, 1] += np.float32(2 * NOISE_FACTOR * 1e-4)
    passed, failed = compare(reference, within, FP32, truth=truth), compare(reference, beyond, FP32, truth=truth)
    assert passed.passed and passed.noise_multiple <= NOISE_FACTOR
    assert not failed.passed and failed.noise_multiple > NOISE_FACTOR


# -- 11, 12. a row aggregates every example and computes both rules --------------------------------------------

def judge_all(tmp_path: Path, examples: list[tuple[np.ndarray, np.ndarray | None, np.ndarray]],
              classifier: bool = True) -> dict[str, object]:
    """Judge (reference, truth, candidate) examples of one output as a hop does, and return its row columns."""
    track, output = OutputTrack(), OutputSpec("logits", is_classifier=classifier)
    example = tmp_path / "example.npz"
    np.savez(example, x=np.zeros(1))
    for index, (reference, truth, candidate) in enumerate(examples):
        track.judge(output, FP32, reference, truth, None, candidate, 1, f"example {index}", example, tmp_path)
    return comparison_columns(track, "torch float64" if examples[0][1] is not None else "none: test")


def test_a_class_flip_on_one_example_is_not_hidden_by_a_larger_error_on_another(tmp_path: Path) -> None:
    large = np.array([[1.0, 5.0]], np.float32)
    flip = np.array([[1.0, 1.0000001]], np.float32)
    row = judge_all(tmp_path, [(large, None, large + np.float32(0.5)), (flip, None, flip[:, ::-1].copy())])
    assert row["status"] == "mismatch" and row["top1_agreement"] == 0.0


def test_a_lost_inf_is_reported_beside_a_larger_finite_error(tmp_path: Path) -> None:
    finite = np.array([[1.0, 2.0]], np.float32)
    infinite = np.array([[np.inf, 2.0]], np.float32)
    row = judge_all(tmp_path, [(finite, None, finite + np.float32(1e-2)),
                               (infinite, None, np.array([[0.0, 2.0]], np.float32))], classifier=False)
    assert row["status"] == "mismatch"
    assert "where the reference is inf" in str(row["error"]) and "elements off" in str(row["error"])
    assert row["max_abs_err"] == pytest.approx(1e-2, rel=1e-3) and math.isinf(float(row["required_atol"]))


def test_the_float32_rule_column_is_computed_not_assumed(tmp_path: Path) -> None:
    truth = np.array([[1000.0, 999.0, -998.0]])
    reference = truth.astype(np.float32)  # exact: no noise to allow
    candidate = reference + np.float32(5e-3)
    row = judge_all(tmp_path, [(reference, truth, candidate)], classifier=False)
    assert row["status"] == "mismatch" and row["float32_rule"] == "pass"


def test_a_truth_set_aside_is_said_in_the_row(tmp_path: Path) -> None:
    reference = np.array([[0.5, 1.0]], np.float32)
    truth = np.array([[0.5, 1.2]])
    row = judge_all(tmp_path, [(reference, truth, reference.copy())], classifier=False)
    assert row["status"] == "pass" and "float64 truth set aside" in str(row["verdict_note"])


def test_a_row_labelled_with_a_truth_says_which_examples_had_none(tmp_path: Path) -> None:
    """Suspected in issue 24 and confirmed: the truth is decided per example, the label once per cell."""
    reference = np.array([[0.5, 1.0]], np.float32)
    row = judge_all(tmp_path, [(reference, reference.astype(np.float64), reference.copy()),
                               (reference, None, reference.copy())], classifier=False)
    assert row["truth"] == "torch float64 (1 of 2 examples had none: judged by the float32 rule)"


# -- 1. a run error does not hide a mismatch, and a record covers a row only when it covers all of it ------------

class ScriptedHops:
    """A fake run_artifact: the source gives (batch, 4) logits and their truth; the hop gives what `hop` says for
    each batch size (an array, or the text of a run error)."""

    def __init__(self, hop: dict[int, np.ndarray | str]) -> None:
        self.hop = hop

    def __call__(self, stack: str, runner_format: str, artifact: Path, io: dict[str, Any], inputs: list[Path],
                 out_dir: Path, *, truth: bool = False) -> RunResult:
        with np.load(inputs[0]) as data:
            batch = int(data["x"].shape[0])
        reference = np.arange(batch * 4, dtype=np.float32).reshape(batch, 4)
        if out_dir.name == "source":
            return RunResult(Step("ok"), [[reference]], [[reference.astype(np.float64)]], "torch float64")
        produced = self.hop[batch]
        if isinstance(produced, str):
            return RunResult(Step("run_error", produced))
        return RunResult(Step("ok"), [[produced]])


def scripted_cell(tmp_path: Path, hop: dict[int, np.ndarray | str]) -> tuple[Engine, Cell]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    engine = Engine(tmp_path, cast(WorkerPool, None), EngineOptions(), progress=lambda line: None)
    engine.run_artifact = ScriptedHops(hop)  # type: ignore[method-assign]
    spec = replace(all_models()["mlp"], outputs=(OutputSpec("logits", is_classifier=True),))
    route = Route(TORCH, (Hop(1, PerturbingConverter("identity")),))
    state = HopState(route.hops[0], tmp_path / "hop1", "current", outputs=[OutputTrack()])
    cell = Cell(spec, route, tmp_path / "cell", {}, tmp_path / "source", [state])
    for batch in sorted(hop):
        example = tmp_path / f"batch{batch}.npz"
        np.savez(example, x=np.zeros((batch, 64), np.float32))
        engine.evaluate_file(cell, example, f"batch {batch}")
    return engine, cell


BAKED = "Non-zero status code returned while running Reshape node"


def hop_row(engine: Engine, cell: Cell) -> dict[str, Any]:
    return {"model": "mlp", "route": "torch>torch", "hop": "torch->torch", **engine.verdict(cell, cell.hops[0], 0)}


def test_a_run_error_does_not_hide_a_silent_wrong_shape_nor_does_a_record_quoting_it(tmp_path: Path) -> None:
    engine, cell = scripted_cell(tmp_path, {1: np.zeros((4, 4), np.float32), 2: BAKED, 3: BAKED})
    row = hop_row(engine, cell)
    assert row["status"] == "run_error"
    assert "shape (4, 4) where the reference has (1, 4)" in row["error"] and BAKED in row["error"]
    record = KnownFailure(id="baked-batch", reason="test", status="run_error", error_contains=BAKED)
    apply_known_failures([row], [record])
    assert row["status"] == "run_error" and not row["known_failure"]


def test_a_second_distinct_run_error_is_listed_and_not_covered_by_a_record_of_the_first(tmp_path: Path) -> None:
    other = "Attempting to broadcast an axis by a dimension other than 1"
    engine, cell = scripted_cell(tmp_path, {1: BAKED, 2: BAKED, 3: other})
    row = hop_row(engine, cell)
    assert BAKED in row["error"] and other in row["error"]
    apply_known_failures([row], [KnownFailure(id="baked", reason="test", status="run_error", error_contains=BAKED)])
    assert row["status"] == "run_error"
    covered = hop_row(*scripted_cell(tmp_path / "again", {1: BAKED, 2: BAKED}))
    apply_known_failures([covered], [KnownFailure(id="baked", reason="test", status="run_error",
                                                  error_contains=BAKED)])
    assert covered["status"] == "xfail"


# -- 2. a known-failure record must say what it covers, in the converter's words --------------------------------

@pytest.mark.parametrize(("body", "why"), [
    ('', "needs a `status`"),
    ('status = "convert_error"\n', "needs `error_contains`"),
    ('status = "mismatch"\nerror_contains = "elements off the float64 truth"\n', "mismatch record"),
    ('status = "run_error"\nerror_contains = "elements off the float64 truth"\n', "harness's own wording"),
    ('status = "run_error"\nerror_contains = "dtype"\n', "harness's own wording"),
    ('status = "run_error"\nerror_contains = "shape ("\n', "harness's own wording"),
    ('status = "run_error"\nerror_contains = "is missing"\n', "harness's own wording"),
    ('status = "mismatch"\n', "mismatch record"),
    ('status = "spoiled"\nerror_contains = "Reshape"\n', "not a failing status"),
])
def test_a_record_that_could_cover_anything_is_refused_in_one_line(tmp_path: Path, body: str, why: str) -> None:
    path = tmp_path / "known.toml"
    path.write_text(f'[[failure]]\nid = "too-broad"\nreason = "r"\n{body}')
    with pytest.raises(ValueError, match=why) as refused:
        load_known_failures(path)
    assert "'too-broad'" in str(refused.value) and "\n" not in str(refused.value)


def test_a_mismatch_record_is_bounded_by_the_figures_it_quotes(tmp_path: Path) -> None:
    path = tmp_path / "known.toml"
    path.write_text('[[failure]]\nid = "rounds-worse"\nreason = "r"\nmodel = "m"\nstatus = "mismatch"\n'
                    'max_noise_multiple = 9.0\nprecision = "float32 rounding only"\n')
    (record,) = load_known_failures(path)
    base = {"model": "m", "route": "r", "hop": "h", "status": "mismatch", "error": "1 of 4 elements off"}
    within = {**base, "noise_multiple": 8.2, "precision": "float32 rounding only: in float64 ..."}
    beyond = {**base, "noise_multiple": 50.0, "precision": "float32 rounding only: in float64 ..."}
    changed = {**base, "noise_multiple": 8.2, "precision": "the function changed: ..."}
    apply_known_failures([within, beyond, changed], [record])
    assert [row["status"] for row in (within, beyond, changed)] == ["xfail", "mismatch", "mismatch"]


# -- 14. rounding worse, same function: `imprecise`, failing only when asked to be strict -------------------------

ROUNDING_ROW = {
    "model": "keras_densenet121", "route": "keras>onnx>torch", "hop": "onnx->torch", "status": "mismatch",
    "error": "1 of 1000 elements off the float64 truth by up to 0.0067", "noise_multiple": 8.19,
    "failures": json.dumps([["mismatch", "1 of 1000 elements off the float64 truth by up to 0.0067"]]),
    "precision": "float32 rounding only: in float64 the converted model computes what the artifact it converted "
                 "computes (6.4e-12); the converter kept the function but rounds worse.",
}


def test_rounding_worse_with_the_function_kept_is_imprecise_not_mismatch() -> None:
    row = dict(ROUNDING_ROW)
    settle_rounding(row)
    assert row["status"] == "imprecise" and "8.19 x" in row["error"]
    changed = {**ROUNDING_ROW, "precision": "the function changed: in float64 the converted model is 0.3 off"}
    settle_rounding(changed)
    assert changed["status"] == "mismatch"
    reshaped = {**ROUNDING_ROW, "failures": json.dumps([["mismatch", "shape (4, 4) where the reference has (1, 4)"],
                                                        ["mismatch", "1 of 1000 elements off the float64 truth"]])}
    settle_rounding(reshaped)
    assert reshaped["status"] == "mismatch"


def test_imprecise_is_a_status_that_fails_only_when_strict() -> None:
    assert "imprecise" in STATUS_ORDER and "imprecise" not in FAILING
    assert status_rank("mismatch") < status_rank("imprecise") < status_rank("pass")
    assert cell_fails(["pass", "imprecise"], strict=True) and not cell_fails(["pass", "imprecise"], strict=False)
    assert cell_fails(["mismatch"], strict=False)


def test_parity_diff_counts_pass_to_imprecise_as_a_regression_only_when_strict() -> None:
    key = {"model": "m", "route": "r", "hop_index": 1, "hop": "h", "output": "o"}
    baseline = pd.DataFrame([{**key, "status": "pass"}])
    current = pd.DataFrame([{**key, "status": "imprecise"}])
    assert regressions(diff_results(baseline, current)).empty
    assert len(regressions(diff_results(baseline, current, strict=True))) == 1


def test_one_status_ranking_ranks_an_unknown_status_worst_everywhere() -> None:
    from harness.reporting.publish import worst as publish_worst
    from harness.reporting.results import worst_status

    assert publish_worst(["pass", "weird"]) == worst_status(pd.Series(["pass", "weird"])) == "weird"
    assert publish_worst(["pass", "imprecise", "xfail"]) == "imprecise"


# -- 6. a search the source could not satisfy is not a plain pass ---------------------------------------------

def test_a_cell_judged_only_on_its_export_example_because_the_source_rejected_every_draw_is_source_error(
        tmp_path: Path) -> None:
    engine, cell = scripted_cell(tmp_path, {2: np.arange(8, dtype=np.float32).reshape(2, 4)})
    cell.search = SearchResult(1, None, unsatisfiable="the source model rejected every example hypothesis drew "
                                                      "(100 tried)")
    row = hop_row(engine, cell)
    assert row["status"] == "source_error" and "rejected every example" in row["error"]
    assert "1 example" in row["error"]


# -- 8. hypothesis is steered by how much of its allowance an output used -------------------------------------

def test_the_search_score_is_the_error_over_its_allowance() -> None:
    reference = np.array([[1e-6, 1000.0]], np.float32)
    near_zero = reference.copy()
    near_zero[0, 0] += np.float32(0.5 * (1e-5 * 1000 + 1.3e-6 * 1e-6))  # half of its allowance (scale 1000)
    logit = reference.copy()
    logit[0, 1] = np.nextafter(np.float32(1000.0 + 0.93 * (1e-5 * 1000 + 1.3e-6 * 1000)), np.float32(0))
    near, far = compare(reference, near_zero, FP32), compare(reference, logit, FP32)
    assert near.passed and far.passed
    assert far.allowance_used > near.allowance_used and 0.85 < far.allowance_used < 1.0


def test_the_engine_scores_examples_by_allowance_used(tmp_path: Path) -> None:
    engine, cell = scripted_cell(tmp_path, {1: np.array([[0.0, 1.0, 2.0, 3.0 + 2e-5]], np.float32)})
    example = tmp_path / "batch1.npz"
    outcome = engine.evaluate_file(cell, example, "again")
    assert outcome is not None
    # Against the exact truth of the scripted source the allowance is atol + rtol * |truth|.
    assert outcome.scores["hop1:logits"] == pytest.approx(2e-5 / (1e-5 + 1.3e-6 * 3), rel=1e-2)


# -- 10. one tolerance rule, and one "most telling line", rendered verbatim into every generated repro ------------

def fuzz_repro_text() -> str:
    plan = ReproPlan("onnx2pytorch", "onnx2pytorch", TEMPLATE_FILES["onnx2pytorch"], ("onnx2pytorch",))
    return render(plan, title="t", what="w", input_names=["x"], output_names=["y"], rule=rule_source())


def localized_repro_text() -> str:
    header = LOCALIZED_HEADER.format(converter="C", package="p", version="1", index=1, op_type="Relu", name="r",
                                     domain="ai.onnx", opset=17, status="mismatch", atol=None, rtol=None)
    return localized_repro(header, ONNX2PYTORCH_SNIPPET, rule_source())


@pytest.mark.parametrize("text", [fuzz_repro_text, localized_repro_text])
def test_every_repro_embeds_the_harness_rule_and_error_line_verbatim(text: Any) -> None:
    rendered = text()
    assert inspect.getsource(tolerance_rule) in rendered
    assert inspect.getsource(describe_error) in rendered
    assert f"NOISE_FACTOR = {NOISE_FACTOR!r}" in rendered
    compile(rendered, "repro.py", "exec")
    assert "harness" not in fuzz_repro_text()  # an upstream reader's repro names nothing of ours


def load_repro(text: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Any]:
    """The repro's functions, defined as its module would define them; main() is not run, onnx not needed."""
    monkeypatch.setitem(sys.modules, "onnx", types.ModuleType("onnx"))
    namespace: dict[str, Any] = {"__name__": "repro", "__file__": str(tmp_path / "repro.py")}
    exec(compile(text, "repro.py", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("text, judge", [(fuzz_repro_text, "within_tolerance"), (localized_repro_text, "verdict")])
def test_a_repro_fails_what_the_harness_fails(text: Any, judge: str, monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    namespace = load_repro(text(), monkeypatch, tmp_path)
    judged = namespace[judge]

    def repro_passes(reference: np.ndarray, candidate: np.ndarray) -> bool:
        result = judged("y", reference, candidate)
        return bool(result[0] if isinstance(result, tuple) else result)

    scaled = np.array([[100.0, 1.0], [1.0, 1.0]], np.float32)
    off = scaled.copy()
    off[1, 1] += np.float32(1e-4)  # a row of scale 1, beside a row of scale 100
    nan_reference = np.array([[np.nan, 1.0]], np.float32)
    for reference, candidate in ((scaled, off), (nan_reference, np.array([[0.5, 1.0]], np.float32))):
        assert not compare(reference, candidate, FP32).passed
        assert not repro_passes(reference, candidate)
    assert repro_passes(scaled, scaled.copy())


def test_a_repro_names_the_telling_line_as_the_harness_does(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    namespace = load_repro(fuzz_repro_text(), monkeypatch, tmp_path)
    error = RuntimeError("\x1b[31mfailed:\x1b[0m\nsome context\nValueError: the real cause")
    assert namespace["describe_error"](error) == describe_error(error) == "RuntimeError: ValueError: the real cause"
