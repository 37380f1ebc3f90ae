"""Known failures as data: records that turn a matching failed cell into `xfail`, and report themselves stale.

A record matches a result row when every field it sets matches: model, route and hop are glob
patterns (or lists of them), status is exact, and error_contains must appear in the row's error text. A record that
matches no row of a run that reached its hop in a model and route it names is stale and is reported as such.
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

    def matches(self, row: dict[str, Any]) -> bool:
        """The row is this record's: its model, route and hop match, and the record covers every failure the row
        lists (a row with a run error and a mismatch is covered only by a record that covers both)."""
        return (
            matches_any(str(row["model"]), self.model)
            and matches_any(str(row["route"]), self.route)
            and matches_any(str(row["hop"]), self.hop)
            and all((not self.status or status == self.status) and self.error_contains in error
                    for status, error in row_failures(row))
        )


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
        quoted = str(entry.get("error_contains", ""))
        if quoted.strip() and any(quoted in wording for wording in HARNESS_WORDING):
            raise ValueError(f"{path}: failure {entry['id']!r} quotes the harness's own wording "
                             f"({quoted!r}); quote the converter's error instead")
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
            # A record without a status or error filter that now meets a passing cell: the fix landed.
            if (row["raw_status"] == "pass" and not record.status and not record.error_contains
                    and record.matches({**row, "raw_status": "pass"})):
                row["status"], row["known_failure"] = "xpass", record.id
                used.add(record.id)
                break
    # Stale: the run reached the record's hop (not skipped) in a model and route it names, yet nothing matched.
    reached = {(row["model"], row["route"], row["hop"]) for row in rows if row["raw_status"] != "skipped"}
    return [record.id for record in records if record.id not in used and any(
        matches_any(model, record.model) and matches_any(route, record.route) and matches_any(hop, record.hop)
        for model, route, hop in reached)]
