"""`parity check` on models that are not in the zoo: a torch factory, a Keras factory, an ONNX file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from harness.cli import main

pytestmark = pytest.mark.stacks


def check(tmp_path: Path, *args: str) -> tuple[int, pd.DataFrame]:
    code = main(["check", *args, "--examples", "3", "--profile", "ci",
                 "--work-dir", str(tmp_path / "work"), "--out", str(tmp_path / "reports")])
    assert {"results.csv", "results.json", "summary.md"} <= {p.name for p in (tmp_path / "reports").iterdir()}
    return code, pd.read_csv(tmp_path / "reports" / "results.csv")


def test_a_torch_factory_goes_through_the_torch_round_trip(tmp_path: Path) -> None:
    code, rows = check(tmp_path, "tests.user_models:small_torch_regressor", "--input", "x:Nx6:float32",
                       "--dim", "N=1:3", "--routes", "torch>onnx>tf>onnx>torch")
    assert list(rows["hop"]) == ["torch->onnx", "onnx->tf", "tf->onnx", "onnx->torch"]
    assert (rows["status"] == "pass").all() and code == 0
    assert rows["model"].iloc[0] == "small_torch_regressor" and (rows["examples"] >= 4).all()
    # The advice a published run gives, for this model: it passes end to end at the default opset.
    advice = (tmp_path / "reports" / "COMPATIBILITY.md").read_text()
    assert "small_torch_regressor" in advice and "torch>onnx>tf>onnx>torch" in advice


def test_a_keras_factory_reads_its_inputs_from_the_model(tmp_path: Path) -> None:
    code, rows = check(tmp_path, "tests.user_models:small_keras_classifier", "--routes", "keras>onnx>torch>onnx>tf")
    assert rows["source"].iloc[0] == "keras" and rows["hop"].iloc[0] == "keras->onnx"
    assert rows["status"].iloc[0] == "pass"
    # Whatever the later hops did, the exit status says whether every hop passed.
    assert code == (0 if (rows["raw_status"] == "pass").all() else 1)


def test_a_keras_model_with_a_dict_of_heads_is_compared_head_by_head(tmp_path: Path) -> None:
    _, rows = check(tmp_path, "tests.user_models:two_head_keras_model", "--routes", "keras>onnx>torch>onnx>tf")
    assert sorted(set(rows["output"])) == ["alpha", "zeta"]
    first_two = rows[rows["hop"].isin(["keras->onnx", "onnx->torch"])]
    assert len(first_two) == 4 and (first_two["status"] == "pass").all(), first_two[["hop", "output", "error"]]


def test_an_onnx_file_starts_at_the_onnx_hub(tmp_path: Path) -> None:
    code, first = check(tmp_path / "torch", "tests.user_models:small_torch_regressor", "--input", "x:Bx6:float32",
                        "--routes", "torch>onnx>tf>onnx>torch")
    exported = Path(first["artifact"].iloc[0])
    model = tmp_path / "regressor.onnx"
    shutil.copyfile(exported, model)
    code, rows = check(tmp_path / "onnx", str(model), "--routes", "onnx>tf>onnx", "onnx>torch>onnx", "-j", "1")
    assert sorted(set(rows["route"])) == ["onnx>tf>onnx", "onnx>torch>onnx"]
    assert (rows["status"] == "pass").all() and code == 0
    results = json.loads((tmp_path / "onnx" / "reports" / "results.json").read_text())
    assert {row["source"] for row in results} == {"onnx"}
    # One model's two cells in two lanes, side by side (each starting workers: nothing comes from the cache),
    # with the rows of one lane.
    code, in_lanes = check(tmp_path / "lanes", str(model), "--routes", "onnx>tf>onnx", "onnx>torch>onnx", "-j", "2",
                           "--no-cache")
    assert {(tmp_path / "lanes" / "work" / "logs" / f"lane{lane}").is_dir() for lane in (1, 2)} == {True}
    key = ["route", "hop", "output"]
    assert in_lanes[[*key, "status"]].equals(rows[[*key, "status"]]) and code == 0


def test_a_mismatching_input_spec_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "m.onnx"
    _, first = check(tmp_path / "torch", "tests.user_models:small_torch_regressor", "--input", "x:Bx6:float32",
                     "--routes", "torch>onnx>tf>onnx>torch")
    shutil.copyfile(first["artifact"].iloc[0], model)
    capsys.readouterr()
    assert main(["check", str(model), "--input", "x:Bx7:float32", "--work-dir", str(tmp_path / "w")]) == 2
    error = capsys.readouterr().err.strip()
    assert error == f"parity: error: --input x: axis 1 is 7, but {model} fixes it to 6"


def test_a_check_cell_whose_later_hops_were_skipped_replays_the_hops_that_exist(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    code, rows = check(tmp_path, "tests.user_models:layer_norm_regressor", "--input", "x:Bx6:float32",
                       "--routes", "torch>onnx>tf>onnx>torch", "--no-localize")
    assert list(rows["raw_status"]) == ["pass", "convert_error", "skipped", "skipped"] and code == 1
    cell = tmp_path / "work" / "layer_norm_regressor" / "torch_onnx_tf_onnx_torch"
    # The user trusts their own factory again to replay it (parity check trusted it for naming it).
    monkeypatch.setenv("PARITY_TRUSTED_REBUILDS", "tests.user_models:layer_norm_regressor")
    capsys.readouterr()
    assert main(["replay", str(cell), "--example", str(cell / "export_example.npz")]) == 1
    printed = capsys.readouterr().out
    assert "torch->onnx" in printed and "convert_error" in printed and "skipped" in printed


def test_a_model_whose_outputs_ignore_the_input_is_said_to_pass_vacuously(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, rows = check(tmp_path, "tests.user_models:constant_torch_model", "--input", "x:Bx6:float32",
                       "--routes", "torch>onnx>tf>onnx>torch", "--no-localize")
    assert code == 0 and (rows["status"] == "pass").all()
    assert (rows["input_dependence"] == 0).all()
    assert rows["vacuous"].str.contains("do not depend on the input").all()
    assert "## Vacuous verdicts" in (tmp_path / "reports" / "summary.md").read_text()
    assert "are vacuous: the outputs do not depend on the input" in capsys.readouterr().err


def test_a_model_whose_outputs_move_with_the_input_is_not_vacuous(tmp_path: Path) -> None:
    _, rows = check(tmp_path, "tests.user_models:small_torch_regressor", "--input", "x:Bx6:float32",
                    "--routes", "torch>onnx>tf>onnx>torch", "--no-localize")
    assert (rows["input_dependence"] > 0).all() and rows["vacuous"].isna().all() | (rows["vacuous"] == "").all()


def test_the_self_test_fails_below_its_detection_floor_and_says_why(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """googlenet's --mutants detected 1 of 9 planted faults and still exited 0; a constant model detects 2 of 5."""
    argv = ["check", "tests.user_models:constant_torch_model", "--input", "x:Bx6:float32", "--mutants",
            "--work-dir", str(tmp_path / "work"), "--out", str(tmp_path / "reports")]
    assert main(argv) == 1
    assert "below the floor of 90% (--mutant-floor)" in capsys.readouterr().err
    assert main([*argv, "--mutant-floor", "0.2"]) == 0  # the floor is the user's to set


def test_the_advice_of_a_check_says_which_opset_to_try(tmp_path: Path) -> None:
    """shufflenet's check said only "no tested opset passes; it breaks at onnx->tf", where opset 12 avoids the
    opset-13 Unsqueeze onnx-tf lacks; and at the default opset alone it gave no advice at all."""
    code, rows = check(tmp_path, "tests.user_models:unsqueezing_regressor", "--input", "x:Bx6:float32",
                       "--routes", "torch>onnx>tf>onnx>torch", "--no-localize")
    assert list(rows["raw_status"])[:2] == ["pass", "convert_error"] and code == 1
    advice = (tmp_path / "reports" / "COMPATIBILITY.md").read_text()
    opset_section = advice[advice.index("## Which opset to export with"):]
    line = next(line for line in opset_section.splitlines() if line.startswith("| unsqueezing_regressor "))
    assert "try opset 12 (--opsets 12)" in line
    # And it is right: at opset 12 the route passes onnx-tf.
    code, rows = check(tmp_path / "at12", "tests.user_models:unsqueezing_regressor", "--input", "x:Bx6:float32",
                       "--routes", "torch>onnx@op12>tf>onnx@op12>torch", "--opsets", "12", "--no-localize")
    assert rows[rows["hop"] == "onnx->tf"]["raw_status"].iloc[0] == "pass"


def test_trained_look_gives_a_user_model_weights_whose_verdicts_mean_something(tmp_path: Path) -> None:
    """The zoo's models get trained-looking weights; a user's model got no such care (issue 25, item 2)."""
    argv = ["tests.user_models:zero_headed_regressor", "--input", "x:Bx6:float32",
            "--routes", "torch>onnx>tf>onnx>torch", "--no-localize"]
    _, as_built = check(tmp_path / "as-built", *argv)
    assert as_built["vacuous"].str.contains("do not depend on the input").all()
    assert as_built["weights"].isna().all()  # nothing to state: the model runs as its factory built it
    code, reinitialised = check(tmp_path / "trained-look", *argv, "--trained-look")
    assert (reinitialised["input_dependence"] > 0).all() and reinitialised["vacuous"].isna().all()
    assert reinitialised["weights"].str.startswith("re-initialised to look trained (--trained-look").all()
    assert code == 0 and (reinitialised["status"] == "pass").all()
