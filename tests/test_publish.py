"""The publication: matrix.html shows the numbers of results.json; coverage and disagreements add up."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from harness.reporting.publish import disagreements, final_hop, op_table, split
from harness.reporting.results import to_frame
from harness.reporting.write import write_reports

REPORTS = Path(__file__).resolve().parent.parent / "reports"


class Cells(HTMLParser):
    """Every cell (<td>) and opset square (<span>) that carries data-* attributes, as a dict of them."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[dict[str, str]] = []
        self.scripts = 0
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {key: value or "" for key, value in attrs}
        if tag in ("td", "span") and any(key.startswith("data-") for key in values):
            self.cells.append({key.removeprefix("data-"): value for key, value in values.items()
                               if key.startswith("data-")})
        if tag == "script":
            self.scripts += 1
        for key in ("src", "href"):
            if values.get(key, "").startswith(("http:", "https:", "//")):
                self.external.append(values[key])


def zoo_row(model: str, route: str, hop_index: int, hop: str, status: str, err: float | None,
            error: str = "") -> dict[str, Any]:
    return {"run_id": "r", "model": model, "route": route, "hop_index": hop_index, "hop": hop, "output": "y",
            "converter": {"onnx->tf": "TfFromOnnx"}.get(hop, "OnnxFromTorch[torchscript]"), "stack": "current",
            "status": status, "raw_status": status, "max_abs_err": err, "error": error,
            "onnx_ops": "Conv@ai.onnx:17 x2; Transpose@ai.onnx:17 x3" if hop.endswith("onnx") else "",
            "versions": json.dumps({"onnx": "1.23.2"})}


def node_row(case: str, op: str, route: str, status: str, error: str = "") -> dict[str, Any]:
    return {"run_id": "r", "probe_kind": "node", "probe": case, "model": case, "op_type": op, "route": route,
            "hop_index": 1, "hop": route.replace(">", "->"), "output": "y", "status": status, "raw_status": status,
            "converter": "TfFromOnnx", "converter_version": "1.10.0", "stack": "legacy", "error": error,
            "max_abs_err": 0.0 if status == "pass" else 1.0, "opset": 13, "versions": json.dumps({"onnx": "1.15.0"})}


@pytest.fixture
def rows() -> list[dict[str, Any]]:
    return [
        zoo_row("cnn", "torch>onnx>tf", 1, "torch->onnx", "pass", 1e-7),
        zoo_row("cnn", "torch>onnx>tf", 2, "onnx->tf", "convert_error", None, "BackendIsNotSupposedToImplementIt: x"),
        zoo_row("mlp", "torch>onnx>tf", 1, "torch->onnx", "mismatch", 3e-2, "2 of 10 elements off"),
        zoo_row("mlp", "torch>onnx>tf", 2, "onnx->tf", "skipped", None),
        node_row("test_relu", "Relu", "onnx>tf", "pass"),
        node_row("test_abs", "Abs", "onnx>tf", "convert_error", "BackendIsNotSupposedToImplementIt: Abs 13"),
        node_row("test_gelu", "Gelu", "onnx>tf", "pass"),
        node_row("test_gelu_tanh", "Gelu", "onnx>tf", "mismatch"),
        node_row("test_sequence_map", "SequenceMap", "onnx>tf", "untested", "sequence input"),
    ]


def test_matrix_html_cells_match_the_results(rows: list[dict[str, Any]], tmp_path: Path) -> None:
    write_reports(rows, tmp_path, command="parity zoo", stale=[], publish=True,
                  declared={"onnx>tf": {"Relu": True, "Abs": True}})
    parsed = Cells()
    parsed.feed((tmp_path / "matrix.html").read_text())
    assert parsed.external == []  # self-contained: nothing fetched at view time
    by_key = {(c["model"], c["route"], c["hop-index"]): c for c in parsed.cells if "model" in c}
    results = json.loads((tmp_path / "results.json").read_text())
    for row in results:
        if row["probe_kind"]:
            continue
        cell = by_key[(row["model"], row["route"], str(row["hop_index"]))]
        assert cell["status"] == row["status"]
        if row["max_abs_err"] is not None:
            assert float(cell["max-abs-err"]) == pytest.approx(row["max_abs_err"])
    ops = {c["op"]: c for c in parsed.cells if "op" in c}
    assert ops["Relu"]["status"] == "pass" and ops["Abs"]["status"] == "convert_error"
    assert ops["Gelu"]["status"] == "partial" and ops["Gelu"]["passed"] == "1" and ops["Gelu"]["cases"] == "2"
    assert ops["SequenceMap"]["status"] == "untested"
    coverage = (tmp_path / "coverage.md").read_text()
    assert "**2 of 3** op types pass every case" in coverage or "**1 of 3**" in coverage
    assert (tmp_path / "matrix.png").stat().st_size > 10_000


def test_declared_and_observed_disagree_where_they_should(rows: list[dict[str, Any]]) -> None:
    _, node, _ = split(to_frame(rows))
    table = op_table(final_hop(node))
    found = disagreements(table, {"onnx>tf": {"Abs": True, "Relu": False}})
    # Gelu is undeclared, yet one of its two cases passed: also news.
    assert set(zip(found["op"], found["declared"])) == {("Abs", "supported"), ("Relu", "not supported"),
                                                        ("Gelu", "not supported")}


@pytest.mark.skipif(not (REPORTS / "matrix.html").exists(), reason="no published matrix in reports/ yet")
def test_the_published_matrix_shows_the_published_results() -> None:
    parsed = Cells()
    parsed.feed((REPORTS / "matrix.html").read_text())
    assert parsed.external == []
    by_key = {(c["model"], c["route"], c["hop-index"]): c for c in parsed.cells if "model" in c}
    results = [row for row in json.loads((REPORTS / "results.json").read_text()) if not row.get("probe_kind")]
    assert results and len(by_key) == len({(r["model"], r["route"], r["hop_index"]) for r in results})
    for row in results:
        assert by_key[(row["model"], row["route"], str(row["hop_index"]))]["status"] == row["status"]


def opset_rows(opset: int, onnx_tf: str, error: str = "") -> list[dict[str, Any]]:
    route = f"torch>onnx@op{opset}>tf"
    return [{**zoo_row("lstm", route, 1, "torch->onnx", "pass", 1e-8), "opset": opset},
            {**zoo_row("lstm", route, 2, "onnx->tf", onnx_tf, 3e-8 if onnx_tf == "pass" else None, error),
             "opset": opset}]


def advice_cells(section: str, model: str) -> dict[str, str]:
    """One model's row of the "Which opset" table, by column name."""
    def cells(line: str) -> list[str]:
        return [cell.strip() for cell in line.strip().strip("|").split("|")]

    lines = section.splitlines()
    header = cells(next(line for line in lines if line.startswith("| model")))
    (row,) = [line for line in lines if line.startswith(f"| {model} ")]
    return dict(zip(header, cells(row)))


def test_compatibility_leads_with_the_opsets_that_pass_and_what_to_do(tmp_path: Path) -> None:
    unsqueeze = "BackendIsNotSupposedToImplementIt: Unsqueeze version 13 is not implemented."
    rows = [*opset_rows(11, "pass"), *opset_rows(12, "pass"), *opset_rows(13, "convert_error", unsqueeze),
            *opset_rows(17, "convert_error", unsqueeze)]
    write_reports(rows, tmp_path, command="parity publish", stale=[], publish=True, compatibility=True)
    text = (tmp_path / "COMPATIBILITY.md").read_text()
    assert text.index("## Which opset to export with") < text.index("## Zoo round trips")
    advice = text[text.index("## Which opset"):text.index("## Zoo round trips")]
    cells = advice_cells(advice, "lstm")
    assert [cells["model"], cells["route"], cells["passes end to end at"]] == ["lstm", "torch>onnx>tf", "11, 12"]
    assert cells["fails at"] == f"13, 17: onnx->tf: {unsqueeze}"
    assert cells["what to do"] == "export with opset <= 12 (fails from 13)"
    # matrix.html collapses the opsets of a route into one column: a square per chosen export opset.
    html_text = (tmp_path / "matrix.html").read_text()
    assert html_text.count("<th data-converters") == 1  # torch>onnx>tf, one column for its every opset
    assert 'class="opset"' in html_text and 'data-opset="12"' in html_text


def test_coverage_compares_a_declared_op_at_the_opset_it_was_judged_at(rows: list[dict[str, Any]]) -> None:
    unsqueeze = [{**node_row("test_unsqueeze", "Unsqueeze", "onnx>tf", "pass"), "opset": 11},
                 {**node_row("test_unsqueeze@op13", "Unsqueeze", "onnx>tf", "convert_error",
                             "BackendIsNotSupposedToImplementIt: Unsqueeze version 13 is not implemented."),
                  "opset": 13}]
    _, node, _ = split(to_frame(unsqueeze))
    table = op_table(final_hop(node))
    assert table.loc["Unsqueeze", "onnx>tf"]["text"].startswith("pass at 11; convert_error at 13")
    # onnx-tf declares Unsqueeze versions 1 and 11: supported at opset 11, not at 13. Like with like: no news.
    declared = {"Unsqueeze": True, "Unsqueeze@11": True, "Unsqueeze@13": False}
    assert disagreements(table, {"onnx>tf": declared}).empty
    # A table that claimed opset 13 too would disagree there, and only there.
    found = disagreements(table, {"onnx>tf": {**declared, "Unsqueeze@13": True}})
    assert list(zip(found["op"], found["opset"], found["declared"])) == [("Unsqueeze", 13, "supported")]


def test_matrix_html_filters_zoo_columns_by_stack(rows: list[dict[str, Any]], tmp_path: Path) -> None:
    second = {**zoo_row("cnn", "torch>onnx>tf@tf2onnx116", 2, "onnx->tf", "pass", 1e-7), "stack": "tf2onnx116"}
    write_reports([*rows, zoo_row("cnn", "torch>onnx>tf@tf2onnx116", 1, "torch->onnx", "pass", 1e-7), second],
                  tmp_path, command="parity zoo", stale=[], publish=True)
    page = (tmp_path / "matrix.html").read_text()
    assert "<select id='stack'><option value=''>all</option><option>current</option><option>legacy</option>" \
           "<option>tf2onnx116</option>" in page.replace("\n", "")
    assert "data-stacks='current tf2onnx116'" in page  # the route that runs a hop in the second stack
    assert "data-stacks='current'" in page


def test_publish_sweeps_the_opsets_users_choose_between_and_is_derandomized() -> None:
    from harness.cli import build_parser

    args = build_parser().parse_args(["publish"])
    # Each exporter's default (None) plus the opsets a deployment target commonly pins.
    assert {None, 11, 13, 15} <= set(args.opsets)
    # A derandomized run gives the same examples again, so a rerun with nothing changed reuses every task.
    assert args.profile == "ci"
    assert build_parser().parse_args(["zoo"]).profile == "dev"
    # A user's check answers the same on the same model twice (a random profile reported 3.7e-9, then 7.2e-7).
    assert build_parser().parse_args(["check", "model.onnx"]).profile == "ci"


def round_trip_rows(opset: int, onnx_tf: str, error: str = "") -> list[dict[str, Any]]:
    route = f"torch>onnx@op{opset}>tf>onnx@op{opset}>torch"
    saved_model_error = "InvalidArgumentError: input resource[0] expected type resource != float"
    rows = [zoo_row("lstm", route, 1, "torch->onnx", "pass", 1e-8),
            zoo_row("lstm", route, 2, "onnx->tf", onnx_tf, 3e-8 if onnx_tf == "pass" else None, error)]
    if onnx_tf == "pass":
        rows.append(zoo_row("lstm", route, 3, "tf->onnx", "convert_error", None, saved_model_error))
    return [{**row, "opset": opset} for row in rows]


def test_a_round_trip_that_fails_on_the_way_back_still_says_where_the_model_deploys(tmp_path: Path) -> None:
    unsqueeze = "BackendIsNotSupposedToImplementIt: Unsqueeze version 13 is not implemented."
    rows = [*round_trip_rows(11, "pass"), *round_trip_rows(12, "pass"),
            *round_trip_rows(13, "convert_error", unsqueeze), *round_trip_rows(15, "convert_error", unsqueeze)]
    write_reports(rows, tmp_path, command="parity publish", stale=[], publish=True, compatibility=True)
    text = (tmp_path / "COMPATIBILITY.md").read_text()
    advice = text[text.index("## Which opset"):text.index("## Zoo round trips")]
    cells = advice_cells(advice, "lstm")
    assert cells["passes end to end at"] == "none"
    # The first crossing into the other framework (torch>onnx>tf) is what a deployment needs.
    assert cells["deploys at"] == "11, 12 (torch>onnx>tf)"
    assert cells["what to do"].startswith("to deploy (torch>onnx>tf): export with opset <= 12 (fails from 13)")
    assert "the way back fails at tf->onnx" in cells["what to do"]


def test_matrix_png_lays_out_each_route_by_export_opset(tmp_path: Path) -> None:
    from harness.reporting.publish import opset_grid

    unsqueeze = "BackendIsNotSupposedToImplementIt: Unsqueeze version 13 is not implemented."
    rows = [*round_trip_rows(13, "convert_error", unsqueeze), *round_trip_rows(11, "pass"),
            *round_trip_rows(12, "pass")]
    zoo, _, _ = split(to_frame(rows))
    grid = opset_grid(zoo)
    assert [label for _, _, label in grid.columns] == ["11", "12", "13"]
    assert grid.loc["lstm"].tolist() == ["convert_error", "convert_error", "convert_error"]
    write_reports(rows, tmp_path, command="parity publish", stale=[], publish=True, compatibility=True)
    assert (tmp_path / "matrix.png").stat().st_size > 10_000


def test_the_summary_counts_cells_by_their_worst_hop_and_hop_rows_apart(tmp_path: Path) -> None:
    route = "torch>onnx>tf>onnx>torch"
    rows = [zoo_row("cnn", route, 1, "torch->onnx", "pass", 1e-7),
            zoo_row("cnn", route, 2, "onnx->tf", "mismatch", 1e-2),
            zoo_row("cnn", route, 3, "tf->onnx", "skipped", None),
            zoo_row("mlp", route, 1, "torch->onnx", "pass", 1e-7),
            zoo_row("mlp", route, 2, "onnx->tf", "pass", 1e-7)]
    write_reports(rows, tmp_path, command="parity zoo", stale=[])
    summary = (tmp_path / "summary.md").read_text()
    assert "Cells by status (the worst hop of each): mismatch 1, pass 1\n" in summary
    assert "Hop rows by status: mismatch 1, skipped 1, pass 3\n" in summary


UNSQUEEZE_13 = "BackendIsNotSupposedToImplementIt: Unsqueeze version 13 is not implemented."


def default_opset_cell(model: str) -> list[dict[str, Any]]:
    """A user's model checked at the exporter's default opset (17) only: onnx-tf fails on the opset-13 Unsqueeze."""
    route = "torch>onnx>tf>onnx>torch"
    exported = {**zoo_row(model, route, 1, "torch->onnx", "pass", 1e-8), "opset": 17,
                "onnx_ops": "Conv@ai.onnx:17 x4; Unsqueeze@ai.onnx:17 x1; Relu@ai.onnx:17 x4"}
    rows = [exported, {**zoo_row(model, route, 2, "onnx->tf", "convert_error", None, UNSQUEEZE_13), "opset": 17}]
    rows += [{**zoo_row(model, route, index, hop, "skipped", None), "opset": 17}
             for index, hop in ((3, "tf->onnx"), (4, "onnx->torch"))]
    return rows


def test_a_known_failure_record_tied_to_an_opset_says_which_opset_to_try(tmp_path: Path) -> None:
    """shufflenet's advice said only "no tested opset passes; it breaks at onnx->tf" where opset 12 avoids it."""
    from harness.run.known_failures import apply_known_failures
    from harness.run.session import known_failure_records

    rows = default_opset_cell("shufflenet_v2_x0_5")
    apply_known_failures(rows, known_failure_records())
    assert rows[1]["status"] == "convert_error"  # the record names other models: not an xfail of this one
    write_reports(rows, tmp_path, command="parity check", stale=[], publish=True, compatibility=True)
    text = (tmp_path / "COMPATIBILITY.md").read_text()
    cells = advice_cells(text[text.index("## Which opset"):text.index("## Zoo round trips")], "shufflenet_v2_x0_5")
    assert "try opset 12 (--opsets 12)" in cells["what to do"]
    assert "onnx-tf-lacks-opset13-squeeze" in cells["what to do"]


def test_a_declared_support_table_tied_to_an_opset_says_which_opset_to_try(tmp_path: Path) -> None:
    rows = default_opset_cell("my_model")
    # onnx-tf's own table: Unsqueeze handled in its opset-1 and opset-11 forms, not in the opset-13 one.
    declared = {"onnx>tf": {"Unsqueeze": True, **{f"Unsqueeze@{n}": n < 13 for n in range(1, 24)},
                            **{f"Conv@{n}": True for n in range(1, 24)}, **{f"Relu@{n}": True for n in range(1, 24)}}}
    write_reports(rows, tmp_path, command="parity check", stale=[], declared=declared, publish=True,
                  compatibility=True)
    text = (tmp_path / "COMPATIBILITY.md").read_text()
    cells = advice_cells(text[text.index("## Which opset"):text.index("## Zoo round trips")], "my_model")
    assert "onnx-tf declares no Unsqueeze at opset 17: try opset 12 (--opsets 12)" in cells["what to do"]
    # Tested at 12 already and failing there too, 12 is not advised again: the next opset the table supports is.
    at_12 = [{**row, "route": "torch>onnx@op12>tf>onnx@op12>torch", "opset": 12}
             for row in default_opset_cell("my_model")]
    write_reports(rows + at_12, tmp_path, command="parity check", stale=[], declared=declared, publish=True,
                  compatibility=True)
    text = (tmp_path / "COMPATIBILITY.md").read_text()
    cells = advice_cells(text[text.index("## Which opset"):text.index("## Zoo round trips")], "my_model")
    assert "try opset 12" not in cells["what to do"] and "try opset 11 (--opsets 11)" in cells["what to do"]


def test_an_op_the_opset_does_not_have_yet_is_written_as_other_ops() -> None:
    """convnext_tiny: onnx-tf has no LayerNormalization (opset 17); below 17 torch writes it as other ops."""
    from harness.reporting.opset_hints import opset_hint

    cell = default_opset_cell("convnext_tiny")
    cell[0]["onnx_ops"] = "Conv@ai.onnx:17 x4; LayerNormalization@ai.onnx:17 x2"
    cell[1]["error"] = "BackendIsNotSupposedToImplementIt: LayerNormalization is not implemented."
    declared = {"onnx>tf": {"LayerNormalization": False, **{f"LayerNormalization@{n}": False for n in range(17, 24)},
                            **{f"Conv@{n}": True for n in range(1, 24)}}}
    assert opset_hint(cell, declared, set())[0] == 16
    assert opset_hint(cell, declared, {16, 15})[0] == 14  # not an opset already tested and failing


def test_coverage_of_a_run_without_node_cases_does_not_say_they_ran(rows: list[dict[str, Any]]) -> None:
    """Issue 25 item 7: `parity check` ran no node test case, and its coverage.md said each one went through each
    hop."""
    from harness.reporting.publish import coverage_markdown

    zoo_only = to_frame([row for row in rows if "probe_kind" not in row])
    text = coverage_markdown(zoo_only, {}, "parity check model.onnx")
    assert "went through each hop" not in text and "No ONNX backend node test case ran in this run" in text
    assert "went through each hop" in coverage_markdown(to_frame(rows), {}, "parity publish")


def test_a_cell_exported_at_two_default_opsets_that_deploys_and_fails_on_the_way_back_gets_advice(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Keras's own export writes opset 15 and torch's 17, so the cell has no one opset; it deploys (keras to
    torch) and fails at onnx->tf. With an opset to try from a declared table, the advice once raised on the empty
    list of deployed opsets and lost COMPATIBILITY.md at the end of a 23-minute published run."""
    import pandas as pd

    from harness.reporting import publish

    route = "keras>onnx@keras-export>torch>onnx>tf"
    hops = ["keras->onnx", "onnx->torch", "torch->onnx", "onnx->tf"]
    rows = [{"model": "potato_leaf_cnn", "route": route, "hop_index": index, "hop": hop, "opset": opset,
             "status": status, "raw_status": status, "error": error}
            for index, (hop, opset, status, error) in enumerate(
                zip(hops, [15, None, 17, None], ["pass", "pass", "pass", "convert_error"],
                    ["", "", "", "ValueError: a transpose it could not name"]), 1)]
    monkeypatch.setattr(publish, "opsets_to_try", lambda zoo, declared: {
        ("potato_leaf_cnn", route): ["onnx-tf declares no Squeeze at opset 17: try opset 12 (--opsets 12)"]})

    table = publish.opset_advice(pd.DataFrame(rows), {})

    advice = table.set_index("route").loc[route].to_dict()
    assert advice["passes end to end at"] == "none"
    assert advice["deploys at"] == "default (15/17) (keras>onnx@keras-export>torch)"
    assert advice["what to do"].startswith("to deploy (keras>onnx@keras-export>torch): any tested opset works; "
                                           "the way back fails at onnx->tf; onnx-tf declares no Squeeze")
