"""The one place that knows which files a run writes: results, summary and, when publishing, the published pages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from harness.reporting.publish import split, write_publication
from harness.reporting.results import summary_markdown, to_frame, write_atomic


def write_reports(rows: list[dict[str, Any]], out_dir: Path, *, command: str, stale: list[str],
                  declared: dict[str, dict[str, bool]] | None = None, publish: bool = False,
                  compatibility: bool = False) -> pd.DataFrame:
    """results.csv/json and summary.md; with publish, also coverage.md, matrix.html and matrix.png
    (and COMPATIBILITY.md with compatibility). `declared`: converters' own support tables."""
    frame = to_frame(rows)
    write_atomic(out_dir / "results.csv", frame.to_csv(index=False))
    write_atomic(out_dir / "results.json", frame.to_json(orient="records", indent=1))
    zoo = split(frame)[0]
    if len(zoo):
        write_atomic(out_dir / "summary.md", summary_markdown(zoo, command=command, stale=stale))
    if publish:
        if declared is None and (out_dir / "declared.json").exists():
            declared = json.loads((out_dir / "declared.json").read_text())
        elif declared is not None:
            write_atomic(out_dir / "declared.json", json.dumps(declared, indent=1, sort_keys=True))
        write_publication(frame, out_dir, declared=declared or {}, command=command, compatibility=compatibility)
    return frame
