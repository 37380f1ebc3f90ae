"""The mutation self-test's report: mutation.md and mutation.csv."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from harness.oracle.mutants import CONTROLS, FAULTS, MUTATION_COLUMNS, MutationRun, Totals, summarize


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def mutation_markdown(runs: list[MutationRun], *, command: str, seconds: float) -> str:
    totals = summarize(runs)
    lines = [
        "# Mutation self-test",
        "",
        "How much the harness's verdict is worth on each model: faults of known kinds are planted one at a time in",
        "the model's exported ONNX graph through a converter (`harness.oracle.mutants.MutantConverter`), each hop",
        "judged and localized exactly as a real converter's would be. A fault is *detected* when its hop does not",
        "pass, *localized* when the first divergent node the localizer names is the planted node; a *control* is",
        "a change below float32 noise that must pass.",
        "",
        f"Command: `{command}`  ",
        f"Total: {totals.figures()}; {seconds:.0f} s.",
        "",
        "## Kinds",
        "",
        "| kind | what is planted |",
        "| --- | --- |",
        *[f"| {kind} | {text} |" for kind, text in FAULTS.items()],
        *[f"| {kind} (control) | {text} |" for kind, text in CONTROLS.items()],
        "",
        "## Per model",
        "",
        "| model | source | faults planted | detected | localized | controls passed | kinds not applicable |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for run in runs:
        model = Totals().add(run.rows)
        absent = "; ".join(f"{kind}: {why}" for kind, why in run.not_applicable.items())
        if run.skipped:
            lines.append(f"| {run.model} | {run.source} | not run: {_cell(run.skipped)} | | | | |")
            continue
        lines.append(f"| {run.model} | {run.source} | {model.faults} | {model.detected} | {model.localized} | "
                     f"{model.controls_passed}/{model.controls} | {_cell(absent)} |")
    lines += ["", "## Every mutant", "",
              "| model | kind | node | status | detected | first divergent node | localized | localized on | "
              "error vs truth | error |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for run in runs:
        for row in run.rows:
            kind = row["kind"] + (" (control)" if row["control"] else "")
            lines.append(f"| {row['model']} | {kind} | #{row['node_index']} {row['op_type']} `{_cell(row['node'])}` | "
                         f"{row['status']} | {'yes' if row['detected'] else 'no'} | "
                         f"{_cell(row['first_divergent_node'])} | {'yes' if row['localized'] else 'no'} | "
                         f"{_cell(row['localized_on'])} | {_cell(row['error_vs_truth'])} | "
                         f"{_cell(str(row['error'])[:160])} |")
    return "\n".join(lines) + "\n"


def write_mutation_report(runs: list[MutationRun], out_dir: Path, *, command: str, seconds: float) -> Path:
    """mutation.md and mutation.csv beside the other reports."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "mutation.md"
    path.write_text(mutation_markdown(runs, command=command, seconds=seconds))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=MUTATION_COLUMNS)
    writer.writeheader()
    for run in runs:
        writer.writerows(run.rows)
    (out_dir / "mutation.csv").write_text(buffer.getvalue())
    return path
