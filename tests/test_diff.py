"""reporting.diff on two small hand-built runs: every class, the Markdown report, ops that got worse, bad files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from harness.reporting.diff import (
    diff_markdown,
    diff_results,
    diff_summary_text,
    load_results,
    ops_that_got_worse,
    parse_onnx_ops,
    regressed_cells,
    regressions,
)
from harness.reporting.results import to_frame

OLD = {"onnx": "1.15.0", "onnx-tf": "1.10.0"}
NEW = {"onnx": "1.16.0", "onnx-tf": "1.11.0"}
CONV_RELU = "Conv@ai.onnx:17 x2; Relu@ai.onnx:17 x1"
GEMM_RELU = "Gemm@ai.onnx:17 x1; Relu@ai.onnx:17 x2"


def row(model: str, route: str, hop_index: int, hop: str, status: str, *, new: bool = False,
        **extra: Any) -> dict[str, Any]:
    raw = extra.pop("raw_status", "pass" if status == "xpass" else status)
    return {"model": model, "route": route, "hop_index": hop_index, "hop": hop, "output": "logits",
            "converter": "onnx-tf" if hop == "onnx->tf" else "torch.onnx", "status": status, "raw_status": raw,
            "known_failure": "", "max_abs_err": None, "required_atol": None, "atol": 1e-5, "error": "",
            "converter_version": NEW["onnx-tf"] if new else OLD["onnx-tf"], "stack": "legacy",
            "versions": json.dumps(NEW if new else OLD), "onnx_ops": "", **extra}


def baseline_rows() -> list[dict[str, Any]]:
    return [
        row("m1", "torch>onnx>tf", 1, "torch->onnx", "pass", max_abs_err=1e-7, required_atol=1e-7,
            onnx_ops=CONV_RELU),
        row("m1", "torch>onnx>tf", 2, "onnx->tf", "pass", max_abs_err=2e-7, required_atol=2e-7),
        row("m2", "torch>onnx>tf", 1, "torch->onnx", "pass", max_abs_err=1e-7, required_atol=1e-7,
            onnx_ops=GEMM_RELU),
        row("m2", "torch>onnx>tf", 2, "onnx->tf", "mismatch", max_abs_err=1e-3, required_atol=1e-3),
        row("m3", "onnx>tf", 1, "onnx->tf", "pass", max_abs_err=0.0, required_atol=0.0, op_type="Softmax",
            domain="", opset=13),
        row("m4", "torch>onnx", 1, "torch->onnx", "mismatch", max_abs_err=0.5, required_atol=0.5),
        row("m6", "keras>onnx", 1, "keras->onnx", "pass", max_abs_err=1e-8, required_atol=1e-8),
        row("m7", "torch>onnx", 1, "torch->onnx", "pass", max_abs_err=5e-6, required_atol=5e-6),
        row("m8", "onnx>tf", 1, "onnx->tf", "xfail", raw_status="convert_error", known_failure="kf-old",
            error="BackendIsNotSupposedToImplementIt: Foo"),
        row("m9", "torch>onnx>tf", 1, "torch->onnx", "mismatch", max_abs_err=1e-2, required_atol=1e-2),
        row("m9", "torch>onnx>tf", 2, "onnx->tf", "pass", max_abs_err=1e-7, required_atol=1e-7),
    ]


def current_rows() -> list[dict[str, Any]]:
    return [
        row("m1", "torch>onnx>tf", 1, "torch->onnx", "pass", new=True, max_abs_err=1e-7, required_atol=1e-7,
            onnx_ops=CONV_RELU),
        # pass -> convert_error: the hop wrote no artifact, so its ops are the ONNX it read (hop 1's)
        row("m1", "torch>onnx>tf", 2, "onnx->tf", "convert_error", new=True,
            error="ValueError: unsupported | layout"),
        row("m2", "torch>onnx>tf", 1, "torch->onnx", "pass", new=True, max_abs_err=1e-7, required_atol=1e-7,
            onnx_ops=GEMM_RELU),
        # still a mismatch, but 50x worse
        row("m2", "torch>onnx>tf", 2, "onnx->tf", "mismatch", new=True, max_abs_err=5e-2, required_atol=5e-2),
        # a known-failure record now covers it (xfail), yet it passed in the baseline: a regression
        row("m3", "onnx>tf", 1, "onnx->tf", "xfail", new=True, raw_status="convert_error", known_failure="kf-new",
            error="BackendIsNotSupposedToImplementIt: Softmax", op_type="Softmax", domain="", opset=13),
        row("m4", "torch>onnx", 1, "torch->onnx", "pass", new=True, max_abs_err=1e-6, required_atol=1e-6),
        row("m5", "torch>onnx", 1, "torch->onnx", "pass", new=True, max_abs_err=1e-6, required_atol=1e-6),
        # both "pass" but the needed atol went past the tolerance
        row("m7", "torch>onnx", 1, "torch->onnx", "pass", new=True, max_abs_err=2e-5, required_atol=2e-5),
        row("m8", "onnx>tf", 1, "onnx->tf", "xfail", new=True, raw_status="convert_error", known_failure="kf-old",
            error="BackendIsNotSupposedToImplementIt: Foo"),
        # one failure turned into another, and the hop after it is no longer reached
        row("m9", "torch>onnx>tf", 1, "torch->onnx", "convert_error", new=True, error="RuntimeError: export"),
        row("m9", "torch>onnx>tf", 2, "onnx->tf", "skipped", new=True),
    ]


@pytest.fixture(scope="module")
def diff() -> pd.DataFrame:
    return diff_results(to_frame(baseline_rows()), to_frame(current_rows()))


def classes(diff: pd.DataFrame) -> dict[tuple[str, int], str]:
    return {(str(r["model"]), int(r["hop_index"])): str(r["class"]) for r in diff.to_dict(orient="records")}


def test_every_class(diff: pd.DataFrame) -> None:
    assert classes(diff) == {
        ("m1", 1): "unchanged", ("m1", 2): "regressed", ("m2", 1): "unchanged", ("m2", 2): "regressed",
        ("m3", 1): "regressed", ("m4", 1): "improved", ("m5", 1): "new", ("m6", 1): "gone",
        ("m7", 1): "regressed", ("m8", 1): "unchanged", ("m9", 1): "unchanged", ("m9", 2): "unchanged",
    }


def test_reasons_and_both_sides_kept(diff: pd.DataFrame) -> None:
    by = {(r["model"], int(r["hop_index"])): r for r in diff.to_dict(orient="records")}
    assert by[("m1", 2)]["reason"] == "pass -> convert_error"
    assert "(>10x) while failing" in by[("m2", 2)]["reason"]
    assert "past atol" in by[("m7", 1)]["reason"]
    m3 = by[("m3", 1)]
    assert (m3["baseline_status"], m3["current_status"], m3["current_raw_status"]) == ("pass", "xfail",
                                                                                      "convert_error")
    assert m3["current_known_failure"] == "kf-new"
    assert by[("m9", 1)]["reason"] == "failure changed: mismatch -> convert_error"
    assert by[("m9", 2)]["reason"] == "not compared on one side: pass -> skipped"
    assert by[("m8", 1)]["reason"] == ""
    assert "converter 1.10.0 -> 1.11.0" in by[("m1", 2)]["versions_changed"]
    assert "onnx 1.15.0 -> 1.16.0" in by[("m1", 2)]["versions_changed"]


def test_ops_that_got_worse(diff: pd.DataFrame) -> None:
    ops = ops_that_got_worse(diff).set_index("op_type")
    # m1's failing onnx->tf read Conv+Relu, m2's read Gemm+Relu, m3's probe is Softmax; m7 wrote no ops
    assert ops["regressed_cells"].to_dict() == {"Relu": 2, "Conv": 1, "Gemm": 1, "Softmax": 1}
    assert ops.loc["Relu", "models"] == "m1, m2"
    assert ops.loc["Softmax", "opsets"] == "13"
    assert parse_onnx_ops("Conv@ai.onnx:17 x3; FusedConv@com.microsoft:1 x1") == [
        ("Conv", "ai.onnx", "17", 3), ("FusedConv", "com.microsoft", "1", 1)]


def test_markdown_and_summary(diff: pd.DataFrame) -> None:
    text = diff_markdown(diff, "onnx-tf 1.10", "onnx-tf 1.11")
    for heading in ("# Parity diff: onnx-tf 1.10 -> onnx-tf 1.11", "## Regressions (4)", "## Ops that got worse",
                    "## Improvements (1)", "## New: only in onnx-tf 1.11 (1)", "## Gone: only in onnx-tf 1.10 (1)",
                    "## Other status changes (2 of the unchanged)"):
        assert heading in text
    assert "| 4 | 1 | 1 | 1 | 5 |" in text  # regressed, improved, new, gone, unchanged
    assert "| Relu | ai.onnx | 2 | 2 | 17 | m1, m2 |" in text
    assert "xfail (convert_error)" in text and "ValueError: unsupported \\| layout" in text
    summary = diff_summary_text(diff)
    assert summary.splitlines()[0] == "[parity] diff: 4 regressed, 1 improved, 1 new, 1 gone, 5 unchanged"
    assert "Relu (2)" in summary


def test_no_raw_status_counts_xfail_as_failing() -> None:
    base = pd.DataFrame([{"model": "a", "route": "r", "hop": "h", "output": "y", "status": "pass"}])
    cur = pd.DataFrame([{"model": "a", "route": "r", "hop": "h", "output": "y", "status": "xfail"}])
    assert list(regressions(diff_results(base, cur))["reason"]) == ["pass -> xfail"]


def test_regressed_cells_against_files(tmp_path: Path) -> None:
    frame = to_frame(baseline_rows())
    (tmp_path / "results.csv").write_text(frame.to_csv(index=False))
    (tmp_path / "results.json").write_text(frame.to_json(orient="records"))
    for name in ("results.csv", "results.json"):
        found = regressed_cells(tmp_path / name, current_rows())
        assert sorted(found) == [("m1", "torch>onnx>tf"), ("m2", "torch>onnx>tf"), ("m3", "onnx>tf"),
                                 ("m7", "torch>onnx")]
        assert "still a regression" in found[("m3", "onnx>tf")][0]
    one_cell = [r for r in current_rows() if r["model"] == "m4"]
    assert regressed_cells(tmp_path / "results.csv", one_cell) == {}


@pytest.mark.parametrize(("name", "content", "message"), [
    ("results.csv", "model,route,status\na,b,pass\n", "missing column(s) output, hop_index/hop"),
    ("results.json", "[{\"model\": 1,", "not a readable parity results file"),
    ("results.json", "{\"model\": 1}", "expected a JSON list of row objects"),
    ("results.csv", "", "not a readable parity results file"),
    ("results.csv", "model,route,hop,output,status\na,b,c,d,great\n", "unknown status value(s) great"),
    ("results.txt", "model", "expected a .csv or .json file"),
])
def test_bad_files(tmp_path: Path, name: str, content: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(ValueError, match=r"results\.") as info:
        load_results(path)
    assert str(path) in str(info.value) and message in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no such results file"):
        load_results(tmp_path / "nope.csv")


def test_a_report_folder_stands_for_its_results_file(tmp_path: Path) -> None:
    """`parity merge` takes report folders; `parity diff reports shard-merged` refused them."""
    (tmp_path / "run").mkdir()
    pd.DataFrame(baseline_rows()).to_csv(tmp_path / "run" / "results.csv", index=False)
    assert load_results(tmp_path / "run").equals(load_results(tmp_path / "run" / "results.csv"))
    with pytest.raises(ValueError, match=r"holds no results\.json or results\.csv"):
        load_results(tmp_path)


def test_parity_diff_exits_1_on_a_regression_and_0_on_itself(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    from harness.cli import main

    before, after = tmp_path / "before.csv", tmp_path / "after.csv"
    pd.DataFrame(baseline_rows()).to_csv(before, index=False)
    pd.DataFrame(current_rows()).to_csv(after, index=False)
    assert main(["diff", str(before), str(after), "--out", str(tmp_path / "out")]) == 1
    assert "regressed" in capsys.readouterr().out
    assert (tmp_path / "out" / "diff.md").read_text().startswith("# Parity diff")
    assert main(["diff", str(before), str(before), "--out", str(tmp_path / "same")]) == 0
    (tmp_path / "broken.json").write_text("{not json")
    assert main(["diff", str(tmp_path / "broken.json"), str(after), "--out", str(tmp_path / "x")]) == 2


def test_parity_diff_compares_the_same_cells_at_two_opsets(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    from harness.cli import main

    def row(opset: int, status: str) -> dict[str, object]:
        return {"model": "lstm", "route": f"torch>onnx@op{opset}>tf>onnx@op{opset}>torch", "hop_index": 2,
                "hop": "onnx->tf", "output": "y", "status": status, "raw_status": status, "max_abs_err": 3e-8,
                "error": "" if status == "pass" else "Unsqueeze version 13 is not implemented.", "onnx_ops": ""}

    results = tmp_path / "results.csv"
    pd.DataFrame([row(12, "pass"), row(13, "convert_error")]).to_csv(results, index=False)
    assert main(["diff", str(results), str(results), "--baseline-mark", "op12", "--current-mark", "op13",
                 "--out", str(tmp_path / "out")]) == 1
    report = (tmp_path / "out" / "diff.md").read_text()
    assert "routes @op12" in report and "routes @op13" in report and "Unsqueeze version 13" in report
