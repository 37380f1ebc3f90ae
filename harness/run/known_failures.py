"""Known failures as data: records that turn a matching failed cell into `xfail`, and report themselves stale.

A record matches a result row when model, route and hop (glob patterns, or lists of them) match and the record
covers every failure the row lists: the same status, and error_contains (the converter's own words) in its error;
a `mismatch` record instead bounds the figures it covers (max_noise_multiple, max_error_vs_truth) or the kind of
difference (precision = "float32 rounding only"). A record that could cover anything is refused at load. A record
that matches no row of a run that reached its hop in a model and route it names is stale and is reported as such.
"""

from __future__ import annotations

import fnmatch
import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.statuses import FAILING

Patterns = str | tuple[str, ...]
# What the harness itself writes around a converter's error. A record quoting only this would cover every
# future failure of its hop, whatever the converter said.
HARNESS_WORDING = ("2 of 3 examples failed to run: on inputs 1x2x3: ", "hop 1 (a->b) ended convert_error",
                   "the torch source failed: ", "not compared: ")
# Phrases of the harness's own mismatch messages: a record quoting one covers every wrong answer of its hop.
HARNESS_MISMATCH_PHRASES = ("elements off", "float64 truth", "dtype", "shape (", "is missing", "elements differ",
                            "where the reference is", "non-finite where")
ROUNDING_ONLY = "float32 rounding only"


def matches_any(value: str, patterns: Patterns) -> bool:
    return any(fnmatch.fnmatchcase(value, p) for p in ((patterns,) if isinstance(patterns, str) else patterns))


@dataclass(frozen=True)
class KnownFailure:
    id: str
    reason: str
    model: Patterns = "*"
    route: Patterns = "*"
    hop: Patterns = "*"
    status: str = ""
    error_contains: str = ""
    evidence: str = ""
    max_noise_multiple: float | None = None  # mismatch records: the largest noise_multiple covered
    max_error_vs_truth: float | None = None  # mismatch records: the largest error_vs_truth covered
    precision: str = ""  # mismatch records: "float32 rounding only" (the row's precision check says so)
    try_opset: int | None = None  # exporting at this opset avoids the failure (the evidence says so)

    def matches(self, row: dict[str, Any]) -> bool:
        """The row is this record's: its model, route and hop match, and the record covers every failure the row
        lists (a row with a run error and a mismatch is covered only by a record that covers both)."""
        return (
            matches_any(str(row["model"]), self.model)
            and matches_any(str(row["route"]), self.route)
            and matches_any(str(row["hop"]), self.hop)
            and all(self.covers(status, error, row) for status, error in row_failures(row))
        )

    def names_exactly(self, row: dict[str, Any]) -> bool:
        return all(isinstance(pattern, str) and not any(c in pattern for c in "*?[") and pattern == str(row[key])
                   for key, pattern in (("model", self.model), ("route", self.route), ("hop", self.hop)))

    def covers(self, status: str, error: str, row: dict[str, Any]) -> bool:
        if status != self.status:
            return False
        if status != "mismatch":
            return self.error_contains in error
        return (within(row.get("noise_multiple"), self.max_noise_multiple)
                and within(row.get("error_vs_truth"), self.max_error_vs_truth)
                and str(row.get("precision") or "").startswith(self.precision))


def within(value: Any, bound: float | None) -> bool:
    """A figure at or below the record's bound; a row without the figure is not within any bound."""
    if bound is None:
        return True
    try:
        return float(value) <= bound
    except (TypeError, ValueError):
        return False


def refusal(entry: dict[str, Any]) -> str:
    """Why a record could cover failures it does not name ("" when it is narrow enough)."""
    status = str(entry.get("status", ""))
    quoted = str(entry.get("error_contains", ""))
    bounded = any(key in entry for key in ("max_noise_multiple", "max_error_vs_truth"))
    if not status:
        return "needs a `status`: without one it covers a mismatch, a crash and a source_error alike"
    if status not in FAILING:
        return f"status {status!r} is not a failing status ({', '.join(FAILING)})"
    if status == "mismatch":
        if quoted or not (bounded or entry.get("precision") == ROUNDING_ONLY):
            return ("a mismatch record is made specific only by a bound (max_noise_multiple, max_error_vs_truth) "
                    f"or precision = {ROUNDING_ONLY!r}, not by the harness's message")
        return ""
    if bounded or entry.get("precision"):
        return "bounds and precision narrow mismatch records only"
    if not quoted.strip():
        return "needs `error_contains`: a quote of the converter's own error"
    if any(quoted in wording for wording in HARNESS_WORDING) or any(
            phrase in quoted for phrase in HARNESS_MISMATCH_PHRASES):
        return f"quotes the harness's own wording ({quoted!r}); quote the converter's error instead"
    return ""


def row_failures(row: dict[str, Any]) -> list[tuple[str, str]]:
    """(status, error) of every distinct failure of a row: its `failures` column, else its one status and error."""
    listed = row.get("failures")
    if isinstance(listed, str) and listed:
        return [(str(status), str(error)) for status, error in json.loads(listed)]
    return [(str(row["raw_status"]), str(row.get("error") or ""))]


def load_known_failures(path: Path) -> list[KnownFailure]:
    if not path.exists():
        return []
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML ({exc})") from exc
    records = []
    for index, entry in enumerate(data.get("failure", [])):
        if "id" not in entry or "reason" not in entry:
            raise ValueError(f"{path}: [[failure]] number {index + 1} needs an `id` and a `reason`")
        unknown = set(entry) - set(KnownFailure.__dataclass_fields__)
        if unknown:
            raise ValueError(f"{path}: failure {entry['id']!r} has unknown fields {sorted(unknown)}")
        why = refusal(entry)
        if why:
            raise ValueError(f"{path}: failure {entry['id']!r} {why}")
        if "try_opset" in entry and not isinstance(entry["try_opset"], int):
            raise ValueError(f"{path}: failure {entry['id']!r}: try_opset must be an opset number")
        fields: dict[str, Any] = {key: tuple(value) if isinstance(value, list) else value
                                  for key, value in entry.items()}
        records.append(KnownFailure(**fields))
    return records


def apply_known_failures(rows: list[dict[str, Any]], records: list[KnownFailure]) -> list[str]:
    """Mark rows covered by a record (status xfail, or xpass when it passed); return stale record ids."""
    used: set[str] = set()
    for row in rows:
        row.setdefault("raw_status", row["status"])
        row["status"] = row["raw_status"]
        row["known_failure"] = ""
        for record in records:
            if record.matches({**row, "status": row["raw_status"]}) and row["raw_status"] in FAILING:
                row["status"], row["known_failure"] = "xfail", record.id
                used.add(record.id)
                break
            # A record naming one cell exactly (no glob) that now passes: the fix landed.
            if row["raw_status"] == "pass" and record.names_exactly(row):
                row["status"], row["known_failure"] = "xpass", record.id
                used.add(record.id)
                break
    note_opset_hints(rows, records)
    # Stale: the run reached the record's hop (not skipped) in a model and route it names, yet nothing matched.
    reached = {(row["model"], row["route"], row["hop"]) for row in rows if row["raw_status"] != "skipped"}
    return [record.id for record in records if record.id not in used and any(
        matches_any(model, record.model) and matches_any(route, record.route) and matches_any(hop, record.hop)
        for model, route, hop in reached)]


def note_opset_hints(rows: list[dict[str, Any]], records: list[KnownFailure]) -> None:
    """A failing row whose failure a record ties to an opset (`try_opset`) gets `opset_hint`, whatever its model:
    a user's model meets the same converter gap the record's models did, and the advice can say which opset
    to export with instead."""
    tied = [record for record in records if record.try_opset is not None]
    for row in rows:
        row["opset_hint"] = ""
        if row["raw_status"] not in FAILING:
            continue
        for record in tied:
            if (matches_any(str(row["route"]), record.route) and matches_any(str(row["hop"]), record.hop)
                    and all(record.covers(status, error, row) for status, error in row_failures(row))):
                row["opset_hint"] = f"try opset {record.try_opset} (--opsets {record.try_opset}): known failure " \
                                    f"{record.id}"
                break
