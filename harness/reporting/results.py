"""Result rows -> a pandas DataFrame -> results.csv, results.json and a short summary.md."""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import pandas as pd

from harness import __version__, atomic
from harness.execution.stacks import path_scrubber
from harness.statuses import STATUS_ORDER, worst_of

COLUMNS = (
    "run_id", "model", "family", "source", "route", "hop_index", "hop", "output", "converter", "converter_version",
    "stack", "status", "raw_status", "known_failure", "max_abs_err", "max_rel_err", "required_atol",
    "mismatched_fraction", "cosine_similarity", "max_ulp", "top1_agreement", "transposed", "hop_max_abs_err",
    "hop_status", "truth", "error_vs_truth", "reference_noise", "noise_multiple", "noise_factor", "float32_rule",
    "verdict_note", "candidate_float64_err", "precision",
    "twin_max_abs_err", "twin_status", "atol", "rtol", "tolerance_reason", "conversions", "cached", "examples",
    "examples_drawn",
    "source_rejections", "worst_example", "output_scale", "input_dependence", "vacuous", "nonfinite_reference",
    "lost_dynamic_axes", "onnx_ops", "error", "failures", "interface", "first_divergent_node", "localization",
    "localized_on", "repro", "seconds",
    "artifact", "minimal_example", "replay_example", "replay", "harness_version", "versions", "command",
)


def to_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Rows as a frame in COLUMNS order; paths inside the checkout are written relative to it, so a
    report names no folder of the machine that made it (its commands run from the checkout)."""
    frame = pd.DataFrame(rows)
    for column in (*COLUMNS, "probe_kind"):
        if column not in frame:
            frame[column] = None
    extra = [column for column in frame.columns if column not in COLUMNS]
    frame = frame[list(COLUMNS) + extra]
    scrub = path_scrubber()
    for column in frame.columns:
        if not pd.api.types.is_numeric_dtype(frame[column]):
            frame[column] = frame[column].map(scrub)
    return frame


def write_atomic(path: Path, text: str) -> None:
    """Write through a temporary file and rename, so a killed run never leaves half a report; the file
    gets the mode a plain open() gives (published reports are served to others)."""
    atomic.write_atomic(path, text)


def results_in(folder: Path) -> Path | None:
    """The results file of a report folder: results.json (it keeps the types), else results.csv, else None."""
    return next((folder / name for name in ("results.json", "results.csv") if (folder / name).is_file()), None)


def read_results(path: Path) -> pd.DataFrame:
    if path.suffix == ".json":
        return pd.DataFrame(json.loads(path.read_text()))
    return pd.read_csv(path)


def worst_status(statuses: pd.Series) -> str:
    return worst_of(str(status) for status in statuses)


def hop_order(row: dict[str, Any]) -> float:
    """A row's hop index for sorting; rows without one last."""
    index = row.get("hop_index")
    return math.inf if index is None or pd.isna(index) else float(index)


def cell_rows(zoo: pd.DataFrame) -> dict[tuple[Any, Any], list[dict[str, Any]]]:
    """The zoo's rows as plain dicts by (model, route), in order of appearance: hundreds of small groups are
    judged faster in Python than as pandas frames."""
    groups: dict[tuple[Any, Any], list[dict[str, Any]]] = {}
    for row in cast(list[dict[str, Any]], zoo.dropna(subset=["model", "route"]).to_dict("records")):
        groups.setdefault((row["model"], row["route"]), []).append(row)
    return groups


def summary_table(frame: pd.DataFrame) -> pd.DataFrame:
    """model x route: the worst status, where it happened, and the largest cumulative error."""
    plain = frame[["model", "route", "status", "hop_index", "hop"]].assign(
        error=pd.to_numeric(frame["max_abs_err"], errors="coerce"))
    cells = []
    for (model, route), group in cell_rows(plain).items():
        status = worst_status(pd.Series([row["status"] for row in group]))
        first_bad = min((row for row in group if row["status"] == status), key=hop_order)
        errors = [row["error"] for row in group if pd.notna(row["error"])]
        text = status if status in ("pass", "skipped") else f"{status} at {first_bad['hop']}"
        if errors:
            text += f" ({max(errors):.1e})"
        cells.append({"model": model, "route": route, "cell": text})
    return pd.DataFrame(cells).pivot(index="model", columns="route", values="cell").fillna("not run")


def failure_table(frame: pd.DataFrame) -> pd.DataFrame:
    failed = frame[~frame["status"].isin(("pass", "skipped"))]
    return failed[["model", "route", "hop", "converter", "converter_version", "status", "known_failure", "error",
                   "replay_example"]]


def vacuous_table(frame: pd.DataFrame) -> pd.DataFrame:
    """One line per (model, output) whose verdicts are vacuous, with the routes it concerns and why."""
    if "vacuous" not in frame:
        return pd.DataFrame()
    flagged = frame[frame["vacuous"].fillna("").astype(str) != ""]
    if flagged.empty:
        return pd.DataFrame()
    return (flagged.groupby(["model", "output", "vacuous"], sort=False)["route"].nunique().rename("routes")
            .reset_index()[["model", "output", "routes", "vacuous"]])


def versions_table(frame: pd.DataFrame) -> pd.DataFrame:
    stacks = frame.drop_duplicates("stack")[["stack", "versions"]]
    return pd.DataFrame({str(row.stack): json.loads(str(row.versions)) for row in stacks.itertuples()}).fillna("")


def by_status(counts: Mapping[Any, int]) -> str:
    return ", ".join(f"{status} {counts[status]}" for status in STATUS_ORDER if status in counts)


def summary_markdown(frame: pd.DataFrame, *, command: str, stale: list[str]) -> str:
    hop_counts = frame.groupby("status").size().to_dict()
    cell_statuses = [worst_status(pd.Series([row["status"] for row in group]))
                     for group in cell_rows(frame[["model", "route", "status"]]).values()]
    cell_counts = pd.Series(cell_statuses, dtype=object).value_counts().to_dict()
    twins = frame.drop_duplicates(["model", "output"])[["model", "output", "twin_status", "twin_max_abs_err"]]
    parts = [
        "# Round-trip parity summary",
        "",
        f"Run `{frame['run_id'].iloc[0]}`, harness {__version__}. Reproduce with `{command}`.",
        "",
        "Each cell is the worst status over the route's hops (`pass` means every hop, compared with the",
        "source model on the same inputs, stayed within tolerance) and the largest cumulative max abs error.",
        "",
        f"Cells by status (the worst hop of each): {by_status(cell_counts)}",
        "",
        f"Hop rows by status: {by_status(hop_counts)}",
        "",
        "## Model x route",
        "",
        summary_table(frame).to_markdown(),
        "",
        "## Native twin agreement (torch model vs Keras twin, before any conversion)",
        "",
        twins.to_markdown(index=False),
        "",
        "## Failing hops",
        "",
        failure_table(frame).to_markdown(index=False) if len(failure_table(frame)) else "None.",
        "",
        "## Vacuous verdicts",
        "",
        "Outputs of the source model that do not move with its input, or sit far below the tolerance: a pass on",
        "them says nothing about the converter.",
        "",
        vacuous_table(frame).to_markdown(index=False) if len(vacuous_table(frame)) else "None.",
        "",
        "## Stacks",
        "",
        versions_table(frame).to_markdown(),
        "",
    ]
    if stale:
        parts += ["## Stale known failures", "", "These records matched no cell: " + ", ".join(stale), ""]
    return "\n".join(parts)


# Shared by the published pages (publish.py) and the converter advice (advice.py).
COLOURS = {"pass": "#2e7d32", "xpass": "#558b2f", "mismatch": "#f9a825", "imprecise": "#fdd835",
           "convert_error": "#c62828", "run_error": "#ef6c00", "crash": "#6a1b9a", "timeout": "#4527a0",
           "xfail": "#8d6e63", "skipped": "#9e9e9e", "untested": "#e0e0e0", "partial": "#9ccc65"}


def opset_number(value: Any) -> int | None:
    """A row's opset as a number; None where it names none ("default", empty)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else int(number)


def data_attributes(data: dict[str, Any]) -> str:
    return " ".join(f'data-{key}="{html.escape(str(value))}"' for key, value in data.items())


def cell_opset_of_rows(rows: list[dict[str, Any]]) -> tuple[int | None, str]:
    """cell_opset of a cell's rows as plain dicts."""
    from harness.converters.routes import opsets_in

    chosen = opsets_in(str(rows[0]["route"]))[0]
    if chosen is not None:
        return chosen, str(chosen)
    # At the defaults a route may export at two opsets (the dynamo exporter's and tf2onnx's): say both.
    ordered = sorted(rows, key=hop_order)
    seen = list(dict.fromkeys(number for number in (opset_number(row.get("opset")) for row in ordered)
                              if number is not None))
    if not seen:
        return None, "default"
    return (seen[0] if len(seen) == 1 else None), f"default ({'/'.join(map(str, seen))})"
