"""Which converter, per model and target: a small results table in, the advice lines and the path table out."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, ClassVar

import pytest

from harness.converters.base import Converter
from harness.formats import TFLITE, TORCH, Format
from harness.reporting.advice import ConverterFacts, converter_advice, converter_facts, facts_of, opset_spans
from harness.reporting.publish import split
from harness.reporting.results import to_frame
from harness.reporting.write import write_reports

UNSQUEEZE = "BackendIsNotSupposedToImplementIt: Unsqueeze version 13 is not implemented."
CONCAT = "ValueError: Shape must be rank 1 but is rank 0 for '{{node concat}} = ConcatV2'"
VERSIONS = {"OnnxFromTorch[torchscript]": "2.14.1", "OnnxFromTorch[dynamo]": "2.14.1", "TfFromOnnx": "1.10.0",
            "TfFromOnnxViaOnnx2tf": "2.6.9", "TfliteFromOnnx": "2.6.9", "OnnxFromSavedModel": "1.17.0",
            "TorchFromOnnx": "0.6.0", "TfliteFromTorch": "0.10.0"}


class TfliteFromTorch(Converter):
    """A record the harness does not ship (another helper adds litert-torch): the advice reads only its fields."""

    source = TORCH
    target: ClassVar[Format] = TFLITE
    framework = "torch"
    package = "litert-torch"

    def convert(self, source: Path, target: Path, io: dict[str, Any], example: list[Any]) -> None:
        raise NotImplementedError


def hop_rows(model: str, route: str, opset: int | None, hops: list[tuple[str, str, str, str]]) -> list[dict[str, Any]]:
    """One row per hop: (hop, converter, status, error); a hop after a failure is skipped, as the engine does."""
    rows = []
    for index, (hop, converter, status, error) in enumerate(hops, start=1):
        rows.append({"run_id": "r", "model": model, "source": route.split(">")[0], "route": route,
                     "hop_index": index, "hop": hop, "output": "y", "converter": converter,
                     "converter_version": VERSIONS[converter], "stack": "current", "status": status,
                     "raw_status": status, "max_abs_err": 1e-7 * index if status == "pass" else None,
                     "error": error, "opset": opset, "versions": json.dumps({"onnx": "1.23.2"})})
    return rows


def round_trip(opset: int | None, onnx_tf: str = "pass", error: str = "") -> list[dict[str, Any]]:
    mark = f"@op{opset}" if opset else ""
    route = f"torch>onnx{mark}>tf>onnx{mark}>torch"
    back = "pass" if onnx_tf == "pass" else "skipped"
    return hop_rows("resnet", route, opset or 17, [
        ("torch->onnx", "OnnxFromTorch[torchscript]", "pass", ""), ("onnx->tf", "TfFromOnnx", onnx_tf, error),
        ("tf->onnx", "OnnxFromSavedModel", back, ""), ("onnx->torch", "TorchFromOnnx", back, "")])


@pytest.fixture
def rows() -> list[dict[str, Any]]:
    """resnet from torch: onnx-tf (deprecated) passes at 11-13 and 17 and fails at 15; onnx2tf's SavedModel fails,
    its TFLite passes, and so does litert-torch, a record added beside the shipped ones."""
    return [
        *round_trip(11), *round_trip(12), *round_trip(13), *round_trip(15, "convert_error", UNSQUEEZE),
        *round_trip(None),
        *hop_rows("resnet", "torch>onnx>tf@onnx2tf>onnx>torch", 17, [
            ("torch->onnx", "OnnxFromTorch[torchscript]", "pass", ""),
            ("onnx->tf", "TfFromOnnxViaOnnx2tf", "convert_error", CONCAT),
            ("tf->onnx", "OnnxFromSavedModel", "skipped", ""), ("onnx->torch", "TorchFromOnnx", "skipped", "")]),
        *hop_rows("resnet", "torch>onnx>tflite", 17, [("torch->onnx", "OnnxFromTorch[torchscript]", "pass", ""),
                                                       ("onnx->tflite", "TfliteFromOnnx", "pass", "")]),
        *hop_rows("resnet", "torch>tflite@litert-torch", None, [("torch->tflite", "TfliteFromTorch", "pass", "")]),
        *hop_rows("resnet", "torch>onnx@dynamo>tflite", 20, [
            ("torch->onnx", "OnnxFromTorch[dynamo]", "pass", ""),
            ("onnx->tflite", "TfliteFromOnnx", "run_error", "RuntimeError: XNNPack delegate failed to reshape")]),
    ]


@pytest.fixture
def facts() -> dict[str, ConverterFacts]:
    return {**converter_facts(), "TfliteFromTorch": facts_of(TfliteFromTorch())}


def advice_for(rows: list[dict[str, Any]], facts: dict[str, ConverterFacts], target: str) -> str:
    lines, _ = converter_advice(split(to_frame(rows))[0], facts)
    (line,) = lines[lines["to"] == target]["advice"]
    return str(line)


def test_the_records_say_which_converters_are_deprecated(facts: dict[str, ConverterFacts]) -> None:
    assert facts["TfFromOnnx"].deprecated  # onnx-tf: its README says so, and its record quotes it
    assert not facts["TfFromOnnxViaOnnx2tf"].deprecated and not facts["TfliteFromTorch"].deprecated
    assert facts["OnnxFromTorch[dynamo]"].short_name == "torch (dynamo)"  # a package with variants says which
    assert facts["TfliteFromTorch"].short_name == "litert-torch"


def test_a_deprecated_path_that_alone_passes_is_marked_and_the_maintained_failure_said(
        rows: list[dict[str, Any]], facts: dict[str, ConverterFacts]) -> None:
    line = advice_for(rows, facts, "TF SavedModel")
    # The opsets onnx-tf passed at, consecutive tested ones joined: 11, 12, 13 (and not 15), then the default 17.
    assert line == ("to deploy resnet (torch) as TF SavedModel: no maintained path passes (torch (torchscript) > "
                    f"onnx2tf: onnx->tf: {CONCAT}); torch (torchscript) > onnx-tf (deprecated) passes at "
                    "11-13, 17")


def test_maintained_paths_that_pass_come_first_and_a_new_record_is_picked_up(
        rows: list[dict[str, Any]], facts: dict[str, ConverterFacts]) -> None:
    # Both pass at one opset each: the shorter path first. The failing dynamo path is not advised.
    assert advice_for(rows, facts, "TFLite") == ("to deploy resnet (torch) as TFLite: litert-torch, or "
                                                 "torch (torchscript) > onnx2tf at 17")


def test_maintained_and_deprecated_both_passing_says_the_deprecated_also_passes(
        rows: list[dict[str, Any]], facts: dict[str, ConverterFacts]) -> None:
    fixed = [row for row in rows if "onnx2tf" not in row["route"]]
    fixed += hop_rows("resnet", "torch>onnx>tf@onnx2tf>onnx>torch", 17, [
        ("torch->onnx", "OnnxFromTorch[torchscript]", "pass", ""), ("onnx->tf", "TfFromOnnxViaOnnx2tf", "pass", ""),
        ("tf->onnx", "OnnxFromSavedModel", "pass", ""), ("onnx->torch", "TorchFromOnnx", "pass", "")])
    assert advice_for(fixed, facts, "TF SavedModel") == (
        "to deploy resnet (torch) as TF SavedModel: torch (torchscript) > onnx2tf at 17; "
        "torch (torchscript) > onnx-tf (deprecated) also passes at 11-13, 17")


def test_every_path_tried_is_listed_with_its_versions_opsets_and_errors(
        rows: list[dict[str, Any]], facts: dict[str, ConverterFacts]) -> None:
    _, paths = converter_advice(split(to_frame(rows))[0], facts)
    by_path = {(row["to"], row["path"]): row for row in paths.to_dict("records")}
    assert set(by_path) == {
        ("ONNX", "torch (torchscript) 2.14.1"), ("ONNX", "torch (dynamo) 2.14.1"),
        ("TF SavedModel", "torch (torchscript) 2.14.1 > onnx-tf 1.10.0 (deprecated)"),
        ("TF SavedModel", "torch (torchscript) 2.14.1 > onnx2tf 2.6.9"),
        ("TFLite", "torch (torchscript) 2.14.1 > onnx2tf 2.6.9"), ("TFLite", "torch (dynamo) 2.14.1 > onnx2tf 2.6.9"),
        ("TFLite", "litert-torch 0.10.0")}  # the way back to torch is not a target: it is the source's format
    onnx_tf = by_path[("TF SavedModel", "torch (torchscript) 2.14.1 > onnx-tf 1.10.0 (deprecated)")]
    assert onnx_tf["deprecated"] == "yes" and onnx_tf["passes at"] == "11-13, 17"
    assert onnx_tf["fails at"] == f"15: onnx->tf: {UNSQUEEZE}"
    dynamo = by_path[("TFLite", "torch (dynamo) 2.14.1 > onnx2tf 2.6.9")]
    assert dynamo["passes at"] == "none"
    assert dynamo["fails at"] == "20: onnx->tflite: RuntimeError: XNNPack delegate failed to reshape"
    # ONNX is reached by every route's first hop: the torchscript export passed at every opset tried.
    assert by_path[("ONNX", "torch (torchscript) 2.14.1")]["passes at"] == "11-17"


def test_nothing_passing_names_the_failures(facts: dict[str, ConverterFacts]) -> None:
    rows = hop_rows("lstm", "torch>onnx>tflite", 17, [
        ("torch->onnx", "OnnxFromTorch[torchscript]", "pass", ""),
        ("onnx->tflite", "TfliteFromOnnx", "mismatch", "1 of 3 elements off the float64 truth by up to 0.0117")])
    assert advice_for(rows, facts, "TFLite") == (
        "to deploy lstm (torch) as TFLite: the one path tried fails; torch (torchscript) > onnx2tf: "
        "onnx->tflite: 1 of 3 elements off the float64 truth by up to 0.0117")


def test_a_known_failure_counts_as_the_failure_it_is(facts: dict[str, ConverterFacts]) -> None:
    rows = [{**row, "status": "xfail"} if row["status"] == "convert_error" else row
            for row in round_trip(15, "convert_error", UNSQUEEZE)]
    _, paths = converter_advice(split(to_frame(rows))[0], facts)
    (row,) = paths[paths["to"] == "TF SavedModel"].to_dict("records")
    assert row["passes at"] == "none" and row["fails at"] == f"15: onnx->tf: {UNSQUEEZE}"


def test_opset_spans_join_only_consecutive_tested_opsets() -> None:
    outcome = {11: True, 12: True, 13: False, 15: True, 17: True, 18: False, 20: True}
    assert opset_spans(outcome, True) == ["11-12", "15-17", "20"]
    assert opset_spans(outcome, False) == ["13", "18"]


class AdviceCells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.paths: list[dict[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {key: value or "" for key, value in attrs}
        if tag == "td" and "data-path" in values:
            self.paths.append({key.removeprefix("data-"): value for key, value in values.items()})


def test_compatibility_and_matrix_give_the_advice(rows: list[dict[str, Any]], tmp_path: Path) -> None:
    shipped = [row for row in rows if row["converter"] != "TfliteFromTorch"]  # no litert-torch record here
    write_reports(shipped, tmp_path, command="parity publish", stale=[], publish=True, compatibility=True)
    text = (tmp_path / "COMPATIBILITY.md").read_text()
    section = text[text.index("## Which converter, per target"):text.index("## Which opset to export with")]
    assert "torch (torchscript) > onnx-tf (deprecated) passes at 11-13, 17" in section
    assert "| resnet  | torch  | TFLite        | to deploy resnet (torch) as TFLite: torch (torchscript) > onnx2tf " \
           "at 17" in section
    parsed = AdviceCells()
    parsed.feed((tmp_path / "matrix.html").read_text())
    cells = {(cell["to"], cell["path"]): cell for cell in parsed.paths}
    onnx_tf = cells[("TF SavedModel", "torch (torchscript) 2.14.1 > onnx-tf 1.10.0 (deprecated)")]
    assert (onnx_tf["deprecated"], onnx_tf["passes"], onnx_tf["fails"]) == ("yes", "11-13, 17",
                                                                            f"15: onnx->tf: {UNSQUEEZE}")
