"""Known failures are data that match narrowly and report themselves stale; reports render from rows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from harness.errors import UsageError
from harness.reporting.results import summary_table
from harness.reporting.write import write_reports
from harness.run.known_failures import KnownFailure, apply_known_failures, load_known_failures
from harness.run.session import known_failure_records


def make_row(**overrides: Any) -> dict[str, Any]:
    row = {"run_id": "r1", "model": "mlp", "family": "mlp", "source": "torch", "route": "torch>onnx>tf>onnx>torch",
           "hop_index": 2, "hop": "onnx->tf", "output": "logits", "converter": "TfFromOnnx",
           "converter_version": "1.10.0", "stack": "legacy", "status": "pass", "error": "", "max_abs_err": 1e-7,
           "versions": json.dumps({"onnx": "1.15.0"})}
    row.update(overrides)
    return row


def test_a_record_turns_only_the_matching_failure_into_xfail() -> None:
    record = KnownFailure(id="ir10", reason="onnx 1.15 checker", hop="onnx->tf", status="convert_error",
                          error_contains="ir_version 10")
    rows = [make_row(status="convert_error", error="ValidationError: Your model ir_version 10 is higher"),
            make_row(status="convert_error", error="BackendIsNotSupposedToImplementIt: Unsqueeze version 13"),
            make_row(status="mismatch", error="ir_version 10")]
    stale = apply_known_failures(rows, [record])
    assert [row["status"] for row in rows] == ["xfail", "convert_error", "mismatch"]
    assert rows[0]["known_failure"] == "ir10" and rows[0]["raw_status"] == "convert_error"
    assert stale == []


def test_a_record_that_matches_nothing_it_covers_is_stale() -> None:
    rows = [make_row()]
    records = [KnownFailure(id="old", reason="fixed upstream", model="mlp", status="convert_error",
                            error_contains="Frobnicate"),
               KnownFailure(id="elsewhere", reason="other model", model="text_cnn", status="convert_error",
                            error_contains="Frobnicate")]
    assert apply_known_failures(rows, records) == ["old"]


def test_a_record_naming_a_passing_cell_exactly_is_an_xpass_and_a_glob_record_is_not() -> None:
    rows = [make_row(status="pass"), make_row(status="pass", model="text_cnn")]
    exact = KnownFailure(id="fixed", reason="r", model="mlp", route="torch>onnx>tf>onnx>torch", hop="onnx->tf",
                         status="convert_error", error_contains="Unsqueeze version 13")
    broad = KnownFailure(id="broad", reason="r", model="text_*", route="*", hop="onnx->tf",
                         status="convert_error", error_contains="Unsqueeze version 13")
    apply_known_failures(rows, [exact, broad])
    assert [row["status"] for row in rows] == ["xpass", "pass"]


def test_records_need_an_id_and_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "known.toml"
    path.write_text('[[failure]]\nid = "x"\n')
    with pytest.raises(ValueError, match="needs an `id` and a `reason`"):
        load_known_failures(path)
    path.write_text('[[failure]]\nid = "x"\nreason = "r"\ncolour = "red"\n')
    with pytest.raises(ValueError, match="unknown fields"):
        load_known_failures(path)


def test_a_record_quoting_only_the_harness_wording_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "known.toml"
    path.write_text('[[failure]]\nid = "broad"\nreason = "r"\nstatus = "run_error"\n'
                    'error_contains = "examples failed"\n')
    with pytest.raises(ValueError, match="quote the converter's error"):
        load_known_failures(path)


def test_the_committed_known_failures_file_loads_and_every_record_has_a_reason() -> None:
    records = known_failure_records()
    assert all(record.reason.strip() for record in records)
    assert len({record.id for record in records}) == len(records)


def test_a_users_own_records_add_to_the_shipped_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shipped = {record.id for record in known_failure_records()}
    assert "onnx-tf-rejects-ir10" in shipped  # from the package, wherever it is installed
    mine = tmp_path / "mine.toml"
    mine.write_text('[[failure]]\nid = "my-exporter-bug"\nreason = "r"\nstatus = "convert_error"\n'
                    'error_contains = "MyOp is not supported"\n')
    monkeypatch.setenv("PARITY_KNOWN_FAILURES", str(mine))
    assert {record.id for record in known_failure_records()} == shipped | {"my-exporter-bug"}
    mine.write_text('[[failure]]\nid = "onnx-tf-rejects-ir10"\nreason = "r"\nstatus = "convert_error"\n'
                    'error_contains = "ir_version"\n')
    with pytest.raises(UsageError, match="already defined"):
        known_failure_records()
    monkeypatch.setenv("PARITY_KNOWN_FAILURES", str(tmp_path / "missing.toml"))
    with pytest.raises(UsageError, match="no such file"):
        known_failure_records()


def test_reports_are_written_and_the_summary_shows_the_worst_hop(tmp_path: Path) -> None:
    rows = [make_row(hop_index=1, hop="torch->onnx", status="pass"),
            make_row(hop_index=2, status="convert_error", error="ValidationError: ir_version 10", max_abs_err=None),
            make_row(hop_index=3, hop="tf->onnx", status="skipped", max_abs_err=None)]
    frame = write_reports(rows, tmp_path, command="parity zoo", stale=[])
    assert {p.name for p in tmp_path.iterdir()} == {"results.csv", "results.json", "summary.md"}
    assert summary_table(frame).loc["mlp", "torch>onnx>tf>onnx>torch"].startswith("convert_error at onnx->tf")
    assert len(pd.read_csv(tmp_path / "results.csv")) == 3
    assert json.loads((tmp_path / "results.json").read_text())[1]["status"] == "convert_error"
    assert "ValidationError: ir_version 10" in (tmp_path / "summary.md").read_text()
