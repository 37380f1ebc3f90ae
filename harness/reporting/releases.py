"""A converter's release history: several releases side by side on the zoo (`parity releases PKG --versions ...`),
per model and route the first release that passes and every release that regressed.

Read from result rows alone: each release ran in its own stack (the home stack for the pinned release, a `--with`
layer over it for the others), its routes carry that stack's mark, and the release is the converter version its
hops' rows recorded, not the version asked for.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, cast

import pandas as pd
from packaging.version import InvalidVersion, Version

from harness.statuses import worst_of

# The stack's packages a release table shows beside each release: what the release's own pins changed.
SHOWN_PACKAGES = ("tensorflow", "tf-keras", "onnx", "onnxruntime", "numpy", "protobuf", "ai-edge-litert")


@dataclass(frozen=True)
class ReleaseStack:
    """One release of the package and the stack that ran it."""

    stack: str
    mark: str  # what its routes carry (`@onnx2tf-2.0.0`); "" for the release its home stack pins


def version_key(version: str) -> tuple[int, Any]:
    try:
        return (0, Version(version))
    except InvalidVersion:
        return (1, version)  # a checkout or a wheel label: after the releases, by name


def judged(row: Mapping[str, Any]) -> str:
    raw = row.get("raw_status")
    return str(raw) if isinstance(raw, str) and raw else str(row["status"])


def first_line(text: Any, width: int = 110) -> str:
    if not isinstance(text, str) or not text.strip():
        return ""
    line = text.strip().splitlines()[0]
    return line if len(line) <= width else line[:width - 1] + "…"


def release_cells(frame: pd.DataFrame, package_converters: Iterable[str], releases: Iterable[ReleaseStack]
                  ) -> pd.DataFrame:
    """One row per (model, route, release): the worst verdict of the release's own hops (its package's
    converters, run in its stack; a known failure counts as the failure it is) and the first error among them.
    The hops before are the same converters for every release; the hops after read what it wrote and are in
    results.csv."""
    converters = set(package_converters)
    rows = []
    for release in releases:
        own = frame[(frame["stack"].astype(str) == release.stack) & frame["converter"].isin(converters)]
        if release.mark:
            own = own[own["route"].astype(str).str.contains(mark_pattern(release.mark), regex=True)]
        for (model, route), group in own.groupby(["model", "route"], sort=False):
            records = cast(list[dict[str, Any]], group.sort_values("hop_index").to_dict("records"))
            status = worst_of(judged(row) for row in records)
            failing = next((row for row in records if judged(row) == status), records[0])
            version = str(records[0].get("converter_version") or "?")
            rows.append({"model": model, "route": re.sub(mark_pattern(release.mark), "", str(route))
                         if release.mark else str(route), "release": version, "stack": release.stack,
                         "status": status,
                         "error": "" if status == "pass" else
                         f"{failing['hop']}: {first_line(failing.get('error')) or status}"})
    return pd.DataFrame(rows, columns=["model", "route", "release", "stack", "status", "error"])


def mark_pattern(mark: str) -> str:
    return f"@{re.escape(mark)}(?=[>@]|$)"


def history(cells: pd.DataFrame) -> pd.DataFrame:
    """model x route: the status under each release (oldest first), the first release that passes, and each
    release that fails where the release before it passed."""
    if cells.empty:
        return pd.DataFrame(columns=["model", "route", "first passing", "regressed"])
    versions = sorted(set(cells["release"]), key=version_key)
    out = []
    for (model, route), group in cells.groupby(["model", "route"], sort=False):
        by_release = dict(zip(group["release"], group["status"]))
        row: dict[str, Any] = {"model": model, "route": route}
        row.update({version: by_release.get(version, "") for version in versions})
        tried = [version for version in versions if version in by_release]
        passing = [version for version in tried if by_release[version] == "pass"]
        row["first passing"] = passing[0] if passing else "none"
        row["regressed"] = ", ".join(f"{later} ({by_release[later]}; {earlier} passed)"
                                     for earlier, later in pairwise(tried)
                                     if by_release[earlier] == "pass" and by_release[later] != "pass") or "none"
        out.append(row)
    return pd.DataFrame(out, columns=["model", "route", *versions, "first passing", "regressed"])


def release_stacks(frame: pd.DataFrame, cells: pd.DataFrame) -> pd.DataFrame:
    """Per release: its stack and the versions that stack's rows recorded for the packages around it."""
    out = []
    for release, group in cells.groupby("release", sort=False):
        stack = str(group["stack"].iloc[0])
        recorded = frame[frame["stack"].astype(str) == stack]["versions"].dropna()
        versions: dict[str, str] = {}
        for text in recorded.head(1):
            try:
                versions = {str(k): str(v) for k, v in json.loads(str(text)).items()}
            except (ValueError, AttributeError):
                versions = {}
        out.append({"release": release, "stack": stack, **{name: versions.get(name, "") for name in
                                                           ("python", *SHOWN_PACKAGES)}})
    table = pd.DataFrame(out, columns=["release", "stack", "python", *SHOWN_PACKAGES])
    table = table.loc[:, [column for column in table.columns if (table[column] != "").any()]]  # recorded ones
    return table.sort_values("release", key=lambda column: column.map(version_key)).reset_index(drop=True)


def releases_markdown(package: str, frame: pd.DataFrame, cells: pd.DataFrame, command: str,
                      seconds: float | None = None) -> str:
    table = history(cells)
    passes = {version: int((cells[cells["release"] == version]["status"] == "pass").sum())
              for version in sorted(set(cells["release"]), key=version_key)}
    totals = ", ".join(f"{version} {count}/{int((cells['release'] == version).sum())}"
                       for version, count in passes.items())
    parts = [f"# {package}: release history", "",
             (f"Reproduce with `{command}`." if command else "The run's command was not recorded.")
             + (f" The run took {seconds / 60:.0f} min." if seconds else ""), "",
             f"Each release of {package} ran side by side on the same zoo cells, in its own stack: the release the",
             "harness pins in its home stack, and each other release as a `--with` layer over that stack, with",
             "whatever its own pins made the resolver install (below). A cell is the verdict of the release's own",
             "hops, against the source model and its float64 truth; the hops before it are the same for every",
             "release, and the hops after it (reading its artifact back) are in the run's results.csv.", "",
             f"Cells passing, by release: {totals}.", "",
             "## Releases and their stacks", "", release_stacks(frame, cells).to_markdown(index=False), "",
             "## Per model and route", "", table.to_markdown(index=False), ""]
    failing = cells[cells["status"] != "pass"]
    if len(failing):
        errors = []
        for (model, route), group in failing.groupby(["model", "route"], sort=False):
            by_error: dict[str, list[str]] = {}
            for release, error in zip(group["release"], group["error"]):
                by_error.setdefault(str(error), []).append(str(release))
            for error, releases in by_error.items():
                errors.append({"model": model, "route": route,
                               "releases": ", ".join(sorted(releases, key=version_key)), "error": error})
        parts += ["## Errors", "", pd.DataFrame(errors).to_markdown(index=False), ""]
    return "\n".join(parts)
