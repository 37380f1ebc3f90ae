"""Compare two parity runs (say, before and after a converter upgrade) hop by hop: what regressed, what improved.

Every result row of a run is one (model, route, hop, output) key. `diff_results` pairs the rows of a baseline run
and a current run by that key and puts each pair in one class:

- ``new``: the key is only in the current run; ``gone``: only in the baseline.
- The status compared is the *effective* status: ``raw_status`` when the row has one, so a known-failure record
  (status ``xfail``) never hides a failure, and ``xpass`` counts as the ``pass`` it is. A row without raw_status
  counts ``xfail`` as failing and ``xpass`` as passing.
- ``regressed``: the baseline passed and the current row fails (mismatch, convert_error, run_error, crash,
  timeout, or xfail without a raw status); or both rows pass or both fail and
    (a) the tolerance was crossed: baseline ``required_atol <= atol`` and current ``required_atol > atol``
        (each side against its own atol, or the other side's when its own is missing), or
    (b) both fail and ``max_abs_err`` grew more than ``GROWTH`` (10) times, or went from finite to non-finite.
- ``improved``: the mirror image of each regressed rule (fail -> pass; required_atol back within atol; both
  failing and max_abs_err shrank more than 10 times, or went from non-finite to finite).
- ``unchanged``: everything else. That includes status changes that say nothing about the converter's quality:
  a hop that was not reached before or is not reached now (``skipped`` on either side: an earlier hop failed or
  the comparison does not apply), and one failure turning into another (mismatch -> convert_error). Those rows
  carry a ``reason`` and are listed under "Other status changes" in the Markdown report.

"Ops that got worse" counts, per ONNX op type, the regressed (model, route) cells whose ONNX contains it: the
ONNX the regressed hop wrote (current run, else baseline run), else the ONNX it read (the nearest earlier hop of
the same model, route and output that wrote one), else the probe's own op_type column.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from harness.reporting.results import results_in, to_frame
from harness.statuses import STATUS_ORDER, failing_statuses

GROWTH = 10.0  # max_abs_err must grow by more than this factor, while failing, to count as a regression
CLASSES = ("regressed", "improved", "new", "gone", "unchanged")
KEY_TEXT = ("model", "route", "hop", "output")
# Per-side columns of the diff: each appears as baseline_<name> and current_<name>.
SIDE_COLUMNS = ("status", "raw_status", "known_failure", "error", "max_abs_err", "required_atol", "atol",
                "converter_version", "stack")
CARRIED = (*SIDE_COLUMNS, "hop_index", "converter", "versions", "onnx_ops", "op_type", "domain", "opset")
DIFF_COLUMNS = ("model", "route", "hop_index", "hop", "output", "class", "reason", "converter",
                *(f"{side}_{name}" for name in SIDE_COLUMNS for side in ("baseline", "current")),
                "versions_changed", "onnx_ops")
MARKDOWN_ROW_LIMIT = 200  # a diff of thousands of probe rows stays readable; the CLI can write the full CSV

Key = tuple[str, str, str, str, int]


# ---------------------------------------------------------------------------------------------- loading


def load_results(path: str | Path) -> pd.DataFrame:
    """Read a results.csv or results.json a parity run wrote, or the one in a report folder (results.json first:
    it keeps the types); ValueError naming the file when it is not one."""
    path = Path(path)
    if path.is_dir():
        found = results_in(path)
        if found is None:
            raise ValueError(f"{path}: the folder holds no results.json or results.csv")
        path = found
    if not path.is_file():
        raise ValueError(f"{path}: no such results file")
    try:
        if path.suffix == ".json":
            data = json.loads(path.read_text())
            if not isinstance(data, list) or not all(isinstance(record, dict) for record in data):
                raise ValueError("expected a JSON list of row objects (orient=records)")
            frame = pd.DataFrame(data)
        elif path.suffix == ".csv":
            frame = pd.read_csv(path, low_memory=False)  # whole columns typed at once: no mixed-type warnings
        else:
            raise ValueError(f"expected a .csv or .json file, not {path.suffix or 'no suffix'!r}")
    except (json.JSONDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError,
            ValueError) as exc:
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"{path}: not a readable parity results file ({first})") from None
    missing = sorted({"model", "route", "output", "status"} - set(frame.columns))
    if "hop_index" not in frame.columns and "hop" not in frame.columns:
        missing.append("hop_index/hop")
    if missing:
        raise ValueError(f"{path}: not a parity results file: missing column(s) {', '.join(missing)}")
    unknown = sorted({str(s) for s in frame["status"].dropna()} - set(STATUS_ORDER))
    if unknown:
        raise ValueError(f"{path}: unknown status value(s) {', '.join(unknown[:5])}; expected {STATUS_ORDER}")
    return frame


@functools.lru_cache(maxsize=4)
def _cached_baseline(path: str, mtime_ns: int) -> pd.DataFrame:
    return load_results(path)


# ---------------------------------------------------------------------------------------------- helpers


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def _number(value: Any) -> float:
    """A float, NaN when the cell is empty or not a number (a CSV may hold "" or text there)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def effective_status(row: Mapping[str, Any]) -> str:
    raw = _text(row.get("raw_status"))
    if raw:
        return raw
    status = _text(row.get("status"))
    return "pass" if status == "xpass" else status


def _fails(status: str, strict: bool = False) -> bool:
    # xfail here only when the row has no raw_status; imprecise (same function, rounds worse) only when strict.
    return status in failing_statuses(strict=strict) or status == "xfail"


def _passes(status: str, strict: bool = False) -> bool:
    return status == "pass" or (status == "imprecise" and not strict)


def _grew(before: float, after: float) -> bool:
    if math.isnan(before) or math.isnan(after):
        return False
    if math.isinf(after):
        return not math.isinf(before)
    return not math.isinf(before) and after > before and after > GROWTH * before


def _crossed(before_req: float, before_atol: float, after_req: float, after_atol: float) -> bool:
    """required_atol was within its atol in `before` and is past it in `after`."""
    before_atol = after_atol if math.isnan(before_atol) else before_atol
    after_atol = before_atol if math.isnan(after_atol) else after_atol
    if any(math.isnan(x) for x in (before_req, before_atol, after_req, after_atol)):
        return False
    return before_req <= before_atol and after_req > after_atol


def _keyed(frame: pd.DataFrame) -> dict[Key, dict[str, Any]]:
    """Rows by key; the key's last part numbers the repeats of a hop within a route (its position, by hop_index)."""
    rows = [{str(k): v for k, v in record.items()} for record in frame.to_dict(orient="records")]
    for row in rows:
        for column in CARRIED:
            row.setdefault(column, None)
        row["hop_index"] = _number(row["hop_index"])
    order = sorted(range(len(rows)), key=lambda i: (math.isnan(rows[i]["hop_index"]), rows[i]["hop_index"]
                                                     if not math.isnan(rows[i]["hop_index"]) else 0.0, i))
    seen: dict[tuple[str, ...], int] = {}
    keyed: dict[Key, dict[str, Any]] = {}
    for i in order:
        row = rows[i]
        model, route, hop, output = (_text(row.get(column)) for column in KEY_TEXT)
        text_key = (model, route, hop, output)
        seen[text_key] = seen.get(text_key, 0) + 1
        keyed[(model, route, hop, output, seen[text_key])] = row
    return keyed


def _versions(row: Mapping[str, Any] | None) -> dict[str, str]:
    if row is None:
        return {}
    try:
        data = json.loads(_text(row.get("versions")) or "{}")
    except json.JSONDecodeError:
        return {}
    return {str(k): _text(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _versions_changed(base: Mapping[str, Any] | None, cur: Mapping[str, Any] | None, limit: int = 4) -> str:
    if base is None or cur is None:
        return ""
    changes = []
    for column, label in (("converter_version", "converter"), ("stack", "stack")):
        before, after = _text(base.get(column)), _text(cur.get(column))
        if before != after:
            changes.append(f"{label} {before or '?'} -> {after or '?'}")
    before_packages, after_packages = _versions(base), _versions(cur)
    packages = [f"{name} {before_packages.get(name, '-')} -> {after_packages.get(name, '-')}"
                for name in sorted(set(before_packages) | set(after_packages))
                if before_packages.get(name) != after_packages.get(name)]
    changes += packages[:limit] + ([f"+{len(packages) - limit} more"] if len(packages) > limit else [])
    return "; ".join(changes)


def parse_onnx_ops(text: str) -> list[tuple[str, str, str, int]]:
    """"Conv@ai.onnx:17 x3; Relu@ai.onnx:17 x1" -> [(op_type, domain, opset, count), ...]."""
    parsed = []
    for entry in filter(None, (part.strip() for part in _text(text).split(";"))):
        head, sep, count = entry.rpartition(" x")
        if not sep or not count.isdigit():
            head, count = entry, "1"
        op_and_domain, sep, opset = head.rpartition(":")
        if not sep:
            op_and_domain, opset = head, ""
        op_type, _, domain = op_and_domain.partition("@")
        parsed.append((op_type, domain or "ai.onnx", opset, int(count)))
    return parsed


Groups = dict[tuple[str, str, str], list[dict[str, Any]]]


def _groups(side: dict[Key, dict[str, Any]]) -> Groups:
    """A side's rows that wrote ONNX, by (model, route, output): where a hop finds the ONNX it read."""
    groups: Groups = {}
    for (model, route, _, output, _), row in side.items():
        if _text(row.get("onnx_ops")):
            groups.setdefault((model, route, output), []).append(row)
    return groups


def _ops_for(key: Key, sides: list[tuple[dict[Key, dict[str, Any]], Groups]]) -> str:
    """The ONNX the hop wrote, else the ONNX it read (nearest earlier hop with ops), else the probe's op type."""
    for side, _ in sides:
        if key in side and _text(side[key].get("onnx_ops")):
            return _text(side[key]["onnx_ops"])
    model, route, _, output, _ = key
    for side, groups in sides:
        position = side[key]["hop_index"] if key in side else math.nan
        earlier = [row for row in groups.get((model, route, output), []) if row["hop_index"] < position]
        if earlier:
            return _text(max(earlier, key=lambda row: row["hop_index"])["onnx_ops"])
    for side, _ in sides:
        if key in side and _text(side[key].get("op_type")):
            row = side[key]
            opset = _number(row.get("opset"))  # a CSV reads an int column with gaps as float
            version = "" if math.isnan(opset) else str(int(opset))
            return f"{_text(row['op_type'])}@{_text(row.get('domain')) or 'ai.onnx'}:{version} x1"
    return ""


# ---------------------------------------------------------------------------------------------- classifying


def classify(base: Mapping[str, Any] | None, cur: Mapping[str, Any] | None, *,
             strict: bool = False) -> tuple[str, str]:
    """(class, reason) of one key; see the module docstring for the rules. `imprecise` counts as passing unless
    strict."""
    if base is None:
        return "new", f"only in current ({effective_status(cur or {})})"
    if cur is None:
        return "gone", f"only in baseline ({effective_status(base)})"
    before, after = effective_status(base), effective_status(cur)
    if _passes(before, strict) and _fails(after, strict):
        return "regressed", f"{before} -> {after}"
    if _fails(before, strict) and _passes(after, strict):
        return "improved", f"{before} -> {after}"
    same_side = (before == after == "pass") or (_fails(before, strict) and _fails(after, strict))
    if same_side:
        b_req, c_req = _number(base.get("required_atol")), _number(cur.get("required_atol"))
        b_atol, c_atol = _number(base.get("atol")), _number(cur.get("atol"))
        b_err, c_err = _number(base.get("max_abs_err")), _number(cur.get("max_abs_err"))
        if _crossed(b_req, b_atol, c_req, c_atol):
            return "regressed", f"required_atol {b_req:.2g} -> {c_req:.2g}, past atol {c_atol:.2g}"
        if _crossed(c_req, c_atol, b_req, b_atol):
            return "improved", f"required_atol {b_req:.2g} -> {c_req:.2g}, back within atol {c_atol:.2g}"
        if _fails(before, strict) and _grew(b_err, c_err):
            return "regressed", f"{after}: max_abs_err {b_err:.2g} -> {c_err:.2g} (>{GROWTH:g}x) while failing"
        if _fails(before, strict) and _grew(c_err, b_err):
            return "improved", f"{after}: max_abs_err {b_err:.2g} -> {c_err:.2g} (<1/{GROWTH:g}) still failing"
        if before == after == "pass" and _grew(b_err, c_err):
            return "unchanged", f"pass: max_abs_err {b_err:.2g} -> {c_err:.2g} (>{GROWTH:g}x), within tolerance"
    if before != after:
        why = "failure changed" if same_side else "not compared on one side"
        return "unchanged", f"{why}: {before} -> {after}"
    return "unchanged", ""


def diff_results(baseline: pd.DataFrame, current: pd.DataFrame, *, strict: bool = False) -> pd.DataFrame:
    """One row per (model, route, hop, output) key with both sides' columns, its class and the reason (strict:
    `imprecise` counts as failing)."""
    base, cur = _keyed(baseline), _keyed(current)
    sides = [(cur, _groups(cur)), (base, _groups(base))]
    keys = list(cur) + [key for key in base if key not in cur]
    records = []
    for key in keys:
        b, c = base.get(key), cur.get(key)
        kind, reason = classify(b, c, strict=strict)
        either = c if c is not None else b
        assert either is not None
        record: dict[str, Any] = {"model": key[0], "route": key[1], "hop_index": either["hop_index"], "hop": key[2],
                                  "output": key[3], "class": kind, "reason": reason,
                                  "converter": _text(either.get("converter"))}
        for name in SIDE_COLUMNS:
            for side, row in (("baseline", b), ("current", c)):
                value = None if row is None else row.get(name)
                numeric = name in ("max_abs_err", "required_atol", "atol")
                record[f"{side}_{name}"] = _number(value) if numeric else _text(value)
        record["versions_changed"] = _versions_changed(b, c)
        record["onnx_ops"] = _ops_for(key, sides) if kind == "regressed" else ""
        records.append(record)
    frame = pd.DataFrame(records, columns=list(DIFF_COLUMNS))
    return frame.sort_values(["model", "route", "hop_index", "output"], kind="stable", na_position="last",
                             ignore_index=True)


def regressions(diff: pd.DataFrame) -> pd.DataFrame:
    return diff[diff["class"] == "regressed"]


def ops_that_got_worse(diff: pd.DataFrame) -> pd.DataFrame:
    """Per ONNX op type (and domain): how many regressed (model, route) cells, and hops, involve it."""
    cells: dict[tuple[str, str], set[tuple[str, str]]] = {}
    hops: dict[tuple[str, str], int] = {}
    opsets: dict[tuple[str, str], set[str]] = {}
    for row in regressions(diff).to_dict(orient="records"):
        for op_type, domain, opset in {entry[:3] for entry in parse_onnx_ops(_text(row["onnx_ops"]))}:
            cells.setdefault((op_type, domain), set()).add((str(row["model"]), str(row["route"])))
            hops[(op_type, domain)] = hops.get((op_type, domain), 0) + 1
            opsets.setdefault((op_type, domain), set()).update({opset} if opset else set())
    table = pd.DataFrame(
        [{"op_type": op, "domain": domain, "regressed_cells": len(cells[(op, domain)]),
          "regressed_hops": hops[(op, domain)], "opsets": ", ".join(sorted(opsets[(op, domain)], key=_opset_key)),
          "models": ", ".join(sorted({model for model, _ in cells[(op, domain)]}))}
         for op, domain in cells],
        columns=["op_type", "domain", "regressed_cells", "regressed_hops", "opsets", "models"])
    return table.sort_values(["regressed_cells", "regressed_hops", "op_type"], ascending=[False, False, True],
                             ignore_index=True)


def _opset_key(opset: str) -> tuple[int, str]:
    return (int(opset), "") if opset.isdigit() else (10**6, opset)


def describe(row: Mapping[Any, Any]) -> str:
    """One line for a regressed diff row: where, what changed, the current error and the versions that moved."""
    index = _number(row.get("hop_index"))
    where = f"hop {int(index)} {row['hop']}" if not math.isnan(index) else f"hop {row['hop']}"
    text = f"{where} [{row['output']}]: {row['reason']}"
    if _text(row.get("current_known_failure")):
        text += f" (covered by known failure {row['current_known_failure']}, still a regression)"
    if _text(row.get("current_error")):
        text += f"; error: {_short(_text(row['current_error']), 160)}"
    if _text(row.get("versions_changed")):
        text += f"; versions: {row['versions_changed']}"
    return text


def regressed_cells(baseline_path: str | Path, rows: list[dict[str, Any]], *,
                    strict: bool = False) -> dict[tuple[str, str], list[str]]:
    """(model, route) -> regression descriptions of `rows` (a run's result rows) against a baseline file.

    Only the baseline cells that `rows` ran are compared, so one cell's rows can be checked at a time; the baseline
    is read once per file version.
    """
    path = Path(baseline_path)
    mtime = path.stat().st_mtime_ns if path.is_file() else 0
    baseline = _cached_baseline(str(path), mtime)
    current = to_frame(rows) if rows else pd.DataFrame(columns=["model", "route", "hop", "output", "status"])
    ran = {(str(m), str(r)) for m, r in zip(current["model"], current["route"])}
    in_run = [(str(m), str(r)) in ran for m, r in zip(baseline["model"], baseline["route"])]
    found: dict[tuple[str, str], list[str]] = {}
    for row in regressions(diff_results(baseline[in_run], current, strict=strict)).to_dict(orient="records"):
        found.setdefault((str(row["model"]), str(row["route"])), []).append(describe(row))
    return found


# ---------------------------------------------------------------------------------------------- reporting


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.3g}"
    return _short(_text(value), 160).replace("|", "\\|")


def _table(header: list[str], rows: Iterable[list[Any]]) -> str:
    body = list(rows)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in body[:MARKDOWN_ROW_LIMIT]]
    if len(body) > MARKDOWN_ROW_LIMIT:
        lines.append(f"\n…and {len(body) - MARKDOWN_ROW_LIMIT} more rows.")
    return "\n".join(lines)


def _arrow(before: Any, after: Any) -> str:
    before_text, after_text = _cell(before) or "-", _cell(after) or "-"
    return before_text if before_text == after_text else f"{before_text} -> {after_text}"


def _status_arrow(row: Mapping[Any, Any], side: str) -> str:
    status, raw = _text(row[f"{side}_status"]), _text(row[f"{side}_raw_status"])
    return f"{status} ({raw})" if raw and raw != status else status


def _hop_label(row: Mapping[Any, Any]) -> str:
    index = _number(row["hop_index"])
    return f"{int(index)} {row['hop']}" if not math.isnan(index) else str(row["hop"])


def class_counts(diff: pd.DataFrame) -> dict[str, int]:
    counts = diff["class"].value_counts().to_dict()
    return {kind: int(counts.get(kind, 0)) for kind in CLASSES}


def diff_markdown(diff: pd.DataFrame, baseline_label: str, current_label: str) -> str:
    """The diff as a Markdown report: counts, regressions, ops that got worse, improvements, new/gone, the rest."""
    counts = class_counts(diff)
    records = diff.to_dict(orient="records")

    def of(kind: str) -> list[dict[Any, Any]]:
        return [row for row in records if row["class"] == kind]

    def changed_rows(kind: str) -> list[list[Any]]:
        return [[row["model"], row["route"], _hop_label(row), row["output"],
                 f"{_status_arrow(row, 'baseline')} -> {_status_arrow(row, 'current')}",
                 _arrow(row["baseline_max_abs_err"], row["current_max_abs_err"]),
                 _arrow(row["baseline_required_atol"], row["current_required_atol"]),
                 row["current_error"] or row["baseline_error"], row["versions_changed"], row["reason"]]
                for row in of(kind)]

    changed_header = ["model", "route", "hop", "output", "status", "max_abs_err", "required_atol", "error",
                      "versions changed", "why"]
    one_side_header = ["model", "route", "hop", "output", "status", "max_abs_err", "error"]

    def one_side(kind: str, side: str) -> list[list[Any]]:
        return [[row["model"], row["route"], _hop_label(row), row["output"], _status_arrow(row, side),
                 row[f"{side}_max_abs_err"], row[f"{side}_error"]] for row in of(kind)]

    ops = ops_that_got_worse(diff)
    others = [row for row in of("unchanged") if row["reason"]]
    parts = [
        f"# Parity diff: {baseline_label} -> {current_label}",
        "",
        "One row per (model, route, hop, output). Statuses compared are raw statuses: a known-failure record",
        "(xfail) does not hide a failure. Regressed: a passing hop now fails, its required_atol went past its",
        f"atol, or a failing hop's max_abs_err grew more than {GROWTH:g}x. Improved: the reverse.",
        "",
        _table(list(CLASSES), [[counts[kind] for kind in CLASSES]]),
        "",
        f"## Regressions ({counts['regressed']})",
        "",
        _table(changed_header, changed_rows("regressed")) if counts["regressed"] else "None.",
        "",
        "## Ops that got worse",
        "",
        "ONNX op types in the ONNX each regressed hop wrote or read, by the number of regressed (model, route) cells.",
        "",
        _table(list(ops.columns), ops.values.tolist()) if len(ops) else "None.",
        "",
        f"## Improvements ({counts['improved']})",
        "",
        _table(changed_header, changed_rows("improved")) if counts["improved"] else "None.",
        "",
        f"## New: only in {current_label} ({counts['new']})",
        "",
        _table(one_side_header, one_side("new", "current")) if counts["new"] else "None.",
        "",
        f"## Gone: only in {baseline_label} ({counts['gone']})",
        "",
        _table(one_side_header, one_side("gone", "baseline")) if counts["gone"] else "None.",
        "",
        f"## Other status changes ({len(others)} of the unchanged)",
        "",
        "Changes that are neither a regression nor an improvement: one failure turning into another, a hop",
        "reached or no longer reached (skipped), a passing error that grew but stayed within tolerance.",
        "",
        _table(changed_header, [[row["model"], row["route"], _hop_label(row), row["output"],
                                 f"{_status_arrow(row, 'baseline')} -> {_status_arrow(row, 'current')}",
                                 _arrow(row["baseline_max_abs_err"], row["current_max_abs_err"]),
                                 _arrow(row["baseline_required_atol"], row["current_required_atol"]),
                                 row["current_error"] or row["baseline_error"], row["versions_changed"],
                                 row["reason"]] for row in others]) if others else "None.",
        "",
    ]
    return "\n".join(parts)


def diff_summary_text(diff: pd.DataFrame, limit: int = 5) -> str:
    """A few lines for the terminal: the counts, the first regressions, the ops most often involved."""
    counts = class_counts(diff)
    lines = ["[parity] diff: " + ", ".join(f"{counts[kind]} {kind}" for kind in CLASSES)]
    regressed = regressions(diff).to_dict(orient="records")
    for row in regressed[:limit]:
        lines.append(f"  regressed {row['model']} {row['route']} {_hop_label(row)} [{row['output']}]: "
                     f"{row['reason']}")
    if len(regressed) > limit:
        lines.append(f"  …and {len(regressed) - limit} more regressions")
    ops = ops_that_got_worse(diff).head(limit)
    if len(ops):
        lines.append("  ops that got worse: " + ", ".join(
            f"{row.op_type} ({row.regressed_cells})" for row in ops.itertuples()))
    return "\n".join(lines)
