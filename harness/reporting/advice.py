"""Which converter: per model and target format, every converter path that was tried, the export opsets it passes
at, the error of those that fail, and one line of advice that prefers a maintained path that passes.

A path is the first hops of a route, up to where the model first arrives in the target format (torch>onnx>tflite
is a path to TFLite; torch>onnx>tf>onnx>torch holds a path to ONNX and one to TF SavedModel). Everything is read from
result rows and the converters' records (their package, variants and `deprecated` field), so a converter added as
a record appears here with no change.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from harness.converters.base import Converter
from harness.reporting.results import COLOURS, cell_opset_of_rows, cell_rows, data_attributes, hop_order
from harness.statuses import worst_of

# What a target is called in a sentence; a format not listed goes by its route name.
TARGET_TITLES = {"tf": "TF SavedModel", "keras": "Keras", "tflite": "TFLite", "onnx": "ONNX", "torch": "torch"}
ERROR_WIDTH = 100  # characters of an error kept in a table cell


@dataclass(frozen=True)
class ConverterFacts:
    """What the advice reads of a converter's record."""

    short_name: str  # its package, with the variant where the record has several: "torch (dynamo)", "onnx2tf"
    deprecated: str  # upstream's word that it is deprecated; "" when maintained


@dataclass(frozen=True)
class Attempt:
    """One path, at one export opset, as one route's rows judged it."""

    model: str
    source: str
    target: str
    hops: tuple[tuple[str, str], ...]  # (converter name, its version) per hop
    opset: int | None  # the one export opset the path ran at; None where its exporters wrote two, or none is known
    label: str  # the opset as the opset table says it: "12", "default (17)", "default (15/17)"
    status: str
    error: str  # "hop: first line of the error" of the first hop that did not pass
    max_abs_err: float  # at the target, against the source model; NaN where nothing ran


def facts_of(converter: Converter) -> ConverterFacts:
    several = len(type(converter).variants) > 1
    return ConverterFacts(converter.package + (f" ({converter.variant})" if several and converter.variant else ""),
                          converter.deprecated)


def converter_facts() -> dict[str, ConverterFacts]:
    """By the name result rows give a converter (`OnnxFromTorch[dynamo]`): the built-in records and plugins'."""
    from harness.converters import default_converters

    facts: dict[str, ConverterFacts] = {}
    for converter in default_converters():
        facts.setdefault(converter.name, facts_of(converter))
    return facts


def judged(row: Mapping[str, Any]) -> str:
    """A row's own verdict: a known failure counts as the failure it is (the advice is about what works)."""
    raw = row.get("raw_status")
    return str(raw) if isinstance(raw, str) and raw else str(row["status"])


def first_line(text: Any) -> str:
    if not isinstance(text, str) or not text.strip():
        return ""
    line = text.strip().splitlines()[0]
    return line if len(line) <= ERROR_WIDTH else line[:ERROR_WIDTH - 1] + "…"


def number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def attempts(zoo: pd.DataFrame) -> list[Attempt]:
    """Every path of every zoo cell: for each format a route reaches that is not its source's, the hops up to the
    first arrival there, judged by the worst of their rows."""

    found: list[Attempt] = []
    for (model, route), cell in cell_rows(zoo).items():
        steps = [part.split("@")[0] for part in str(route).split(">")]
        by_hop: dict[int, list[dict[str, Any]]] = {}
        for row in sorted(cell, key=hop_order):
            if not pd.isna(row.get("hop_index")):
                by_hop.setdefault(int(row["hop_index"]), []).append(row)
        reached = {steps[0]}
        for index in range(1, len(steps)):
            target = steps[index]
            if target in reached or index not in by_hop:
                continue
            reached.add(target)
            prefix = [by_hop.get(hop, []) for hop in range(1, index + 1)]
            if not all(prefix):
                continue  # a hop without rows: the path was not judged whole
            statuses = [worst_of(judged(row) for row in rows) for rows in prefix]
            failed = next((position for position, status in enumerate(statuses) if status != "pass"), None)
            error = ""
            if failed is not None:
                rows = prefix[failed]
                row = next(row for row in rows if judged(row) == statuses[failed])
                error = f"{row['hop']}: {first_line(row.get('error')) or statuses[failed]}"
            errors = [number(row.get("max_abs_err")) for row in prefix[-1]]
            finite = [value for value in errors if math.isfinite(value)]
            opset, label = cell_opset_of_rows([row for rows in prefix for row in rows])
            hops = tuple((str(rows[0]["converter"]), "" if pd.isna(rows[0].get("converter_version"))
                          else str(rows[0]["converter_version"])) for rows in prefix)
            found.append(Attempt(str(model), steps[0], target, hops, opset, label, worst_of(statuses), error,
                                 max(finite) if finite else math.nan))
    return found


def path_name(hops: tuple[tuple[str, str], ...], facts: Mapping[str, ConverterFacts], *,
              versions: bool) -> str:
    """"torch (torchscript) > onnx-tf (deprecated)": each hop's converter by its record, marked deprecated where
    its record says so (a converter without a record here, from a plugin not installed, by its row name)."""
    names = []
    for converter, version in hops:
        fact = facts.get(converter)
        name = fact.short_name if fact else converter
        name += f" {version}" if versions and version else ""
        names.append(name + (" (deprecated)" if fact and fact.deprecated else ""))
    return " > ".join(names)


def is_deprecated(hops: tuple[tuple[str, str], ...], facts: Mapping[str, ConverterFacts]) -> bool:
    return any(facts[converter].deprecated for converter, _ in hops if converter in facts)


def opset_spans(outcomes: Mapping[int, bool], wanted: bool) -> list[str]:
    """The tested opsets with the wanted outcome, consecutive ones (among those tested) joined: {11: True,
    12: True, 13: True, 15: False, 17: True} -> ["11-13", "17"] for True."""
    spans: list[list[int]] = []
    previous: bool | None = None
    for opset in sorted(outcomes):
        if outcomes[opset] == wanted:
            if previous == wanted and spans:
                spans[-1].append(opset)
            else:
                spans.append([opset])
        previous = outcomes[opset]
    return [f"{span[0]}-{span[-1]}" if len(span) > 1 else str(span[0]) for span in spans]


@dataclass(frozen=True)
class PathOutcome:
    """One path over every opset it was tried at."""

    model: str
    source: str
    target: str
    hops: tuple[tuple[str, str], ...]
    passes: tuple[str, ...]  # opset spans and labels it passed at ("default": a path that exports no ONNX)
    passed_opsets: int  # how many tested opsets it passed at
    imprecise: tuple[str, ...]  # where it computes the same function but rounds worse than float32 noise
    failures: tuple[tuple[str, str], ...]  # (opsets, error), one per distinct error, in opset order
    max_abs_err: float  # the largest error where it passed

    @property
    def passed(self) -> bool:
        return bool(self.passes)


def outcomes(found: list[Attempt]) -> list[PathOutcome]:
    """Attempts of one path gathered over its opsets: the same path at one opset from two routes counts as its
    worse verdict (the same conversion, judged on each route's examples)."""
    by_path: dict[tuple[str, str, str, tuple[tuple[str, str], ...]], dict[str, Attempt]] = {}
    for attempt in found:
        key = (attempt.model, attempt.source, attempt.target, attempt.hops)
        at = by_path.setdefault(key, {})
        label = str(attempt.opset) if attempt.opset is not None else attempt.label
        kept = at.get(label)
        if kept is None or worst_of([kept.status, attempt.status]) == attempt.status != kept.status:
            at[label] = attempt
    result = []
    for (model, source, target, hops), at in by_path.items():
        numbered = {attempt.opset: attempt for attempt in at.values() if attempt.opset is not None}
        labelled = [attempt for attempt in at.values() if attempt.opset is None]
        status_of = {opset: attempt.status for opset, attempt in numbered.items()}
        passes = opset_spans({opset: status == "pass" for opset, status in status_of.items()}, True)
        passes += [attempt.label for attempt in labelled if attempt.status == "pass"]
        imprecise = opset_spans({opset: status == "imprecise" for opset, status in status_of.items()}, True)
        imprecise += [attempt.label for attempt in labelled if attempt.status == "imprecise"]
        by_error: dict[str, list[Attempt]] = {}
        failing = sorted((a for a in at.values() if a.status not in ("pass", "imprecise")),
                         key=lambda a: (a.opset is None, a.opset or 0))
        for attempt in failing:
            by_error.setdefault(attempt.error, []).append(attempt)
        failures = tuple((", ".join(fail_labels(group)), error) for error, group in by_error.items())
        passed_errors = [a.max_abs_err for a in at.values() if a.status == "pass" and math.isfinite(a.max_abs_err)]
        passed_opsets = sum(attempt.status == "pass" for attempt in at.values())
        result.append(PathOutcome(model, source, target, hops, tuple(passes), passed_opsets, tuple(imprecise),
                                  failures,
                                  max(passed_errors) if passed_errors else math.nan))
    return result


def fail_labels(group: list[Attempt]) -> list[str]:
    numbered = {attempt.opset: False for attempt in group if attempt.opset is not None}
    return opset_spans(numbered, False) + [attempt.label for attempt in group if attempt.opset is None]


def preference(outcome: PathOutcome) -> tuple[int, int, float]:
    """Paths that pass at more opsets first, then shorter ones, then the smaller error."""
    error = outcome.max_abs_err if math.isfinite(outcome.max_abs_err) else math.inf
    return (-outcome.passed_opsets, len(outcome.hops), error)


def advice_line(model: str, source: str, target: str, paths: list[PathOutcome],
                facts: Mapping[str, ConverterFacts]) -> str:
    """One sentence: the maintained paths that pass, best first; the deprecated ones that also pass, marked; what
    is left when none passes."""
    title = TARGET_TITLES.get(target, target)
    opening = f"to deploy {model} ({source}) as {title}: "

    def at(path: PathOutcome, where: tuple[str, ...], verb: str = "") -> str:
        opsets = [label for label in where if label != "default"]  # "default" alone: no ONNX on the path
        said = f" {verb}" if verb else ""
        return f"{path_name(path.hops, facts, versions=False)}{said}" + (f" at {', '.join(opsets)}" if opsets else "")

    passing = sorted((path for path in paths if path.passed), key=preference)
    maintained = [path for path in passing if not is_deprecated(path.hops, facts)]
    deprecated = [path for path in passing if is_deprecated(path.hops, facts)]
    imprecise = [path for path in paths if path.imprecise and not path.passed]
    parts: list[str] = []
    if maintained:
        parts.append(", or ".join(at(path, path.passes) for path in maintained))
    elif deprecated:
        tried = sorted((path for path in paths if not is_deprecated(path.hops, facts) and path.failures),
                       key=lambda path: len(path.hops))
        why = f" ({path_name(tried[0].hops, facts, versions=False)}: {tried[0].failures[0][1]})" if tried else ""
        parts.append("no maintained path passes" + why)
    if deprecated:
        verb = "also passes" if maintained else "passes"
        parts.append("; ".join(at(path, path.passes, verb) for path in deprecated))
    if imprecise:
        parts.append("; ".join(f"{at(path, path.imprecise)} computes the same function but rounds worse than "
                               "float32 noise (imprecise)" for path in imprecise))
    if not parts:
        failing = sorted(paths, key=lambda path: (is_deprecated(path.hops, facts), len(path.hops)))
        parts.append(f"none of the {len(paths)} paths tried passes" if len(paths) > 1 else "the one path tried fails")
        parts.append("; ".join(f"{path_name(path.hops, facts, versions=False)}: "
                               f"{path.failures[0][1] if path.failures else 'not judged'}" for path in failing[:2])
                     + ("; ..." if len(failing) > 2 else ""))
    line = opening + "; ".join(parts)
    if source_family(target) == source_family(source):
        line += f" (only paths through other frameworks were tried, not {source}'s own export)"
    return line


def source_family(format_name: str) -> str:
    from harness.formats import FORMATS

    return FORMATS[format_name].family if format_name in FORMATS else format_name


def converter_advice(zoo: pd.DataFrame, facts: Mapping[str, ConverterFacts] | None = None
                     ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(one advice line per model, source and target; one row per path tried), from the zoo's rows."""
    facts = converter_facts() if facts is None else facts
    paths = outcomes(attempts(zoo))
    grouped: dict[tuple[str, str, str], list[PathOutcome]] = {}
    for path in paths:
        grouped.setdefault((path.model, path.source, path.target), []).append(path)
    order = {name: index for index, name in enumerate(TARGET_TITLES)}
    models = list(dict.fromkeys(str(model) for model in zoo["model"]))
    keys = sorted(grouped, key=lambda key: (models.index(key[0]) if key[0] in models else len(models), key[1],
                                            order.get(key[2], len(order)), key[2]))
    lines, rows = [], []
    for model, source, target in keys:
        group = grouped[(model, source, target)]
        lines.append({"model": model, "from": source, "to": TARGET_TITLES.get(target, target),
                      "advice": advice_line(model, source, target, group, facts)})
        for path in sorted(group, key=preference):
            rows.append({"model": model, "from": source, "to": TARGET_TITLES.get(target, target),
                         "path": path_name(path.hops, facts, versions=True),
                         "deprecated": "yes" if is_deprecated(path.hops, facts) else "",
                         "passes at": ", ".join(path.passes) or "none",
                         "largest error": f"{path.max_abs_err:.1e}" if math.isfinite(path.max_abs_err) else "",
                         "imprecise at": ", ".join(path.imprecise),
                         "fails at": "; ".join(f"{opsets}: {error}" for opsets, error in path.failures)})
    return (pd.DataFrame(lines, columns=["model", "from", "to", "advice"]),
            pd.DataFrame(rows, columns=["model", "from", "to", "path", "deprecated", "passes at", "largest error",
                                        "imprecise at", "fails at"]))


def advice_markdown(zoo: pd.DataFrame, facts: Mapping[str, ConverterFacts] | None = None) -> list[str]:
    """COMPATIBILITY.md's "Which converter" section: the advice lines, then every path tried."""
    lines, paths = converter_advice(zoo, facts)
    if lines.empty:
        return []
    return ["## Which converter, per target", "",
            "Per model and target format, every converter path the routes tried (the hops up to where the model",
            "first arrives in that format), the export opsets it passed at (a range spans the opsets tested in it),",
            "and the error of those that failed. The advice prefers a maintained path that passes; a converter its",
            "maintainers call deprecated is marked so.", "",
            lines.to_markdown(index=False), "", "### Every path tried", "",
            paths.to_markdown(index=False), ""]


def advice_html(zoo: pd.DataFrame, facts: Mapping[str, ConverterFacts] | None = None) -> list[str]:
    """matrix.html's "Which converter" tables: the advice lines, then a row per path with its numbers as data-*
    attributes (what tests read; data-advice-model, as readers of the zoo's squares key on data-model)."""
    import html


    lines, paths = converter_advice(zoo, facts)
    if lines.empty:
        return []
    out = ["<h2>Which converter, per target</h2><table id='advice'><tr><th>model</th><th>from</th><th>to</th>"
           "<th>advice</th></tr>"]
    for line in lines.itertuples(index=False):
        out.append(f"<tr><th>{html.escape(str(line.model))}</th><td>{html.escape(str(line[1]))}</td>"
                   f"<td>{html.escape(str(line.to))}</td><td class='advice' "
                   f"{data_attributes({'advice-model': line.model, 'from': line[1], 'to': line.to})}>"
                   f"{html.escape(str(line.advice))}</td></tr>")
    out.append("</table><table id='paths'><tr><th>model</th><th>from</th><th>to</th><th>path</th><th>passes at</th>"
               "<th>largest error</th><th>fails at</th></tr>")
    for path in paths.to_dict("records"):
        status = "pass" if path["passes at"] != "none" else "convert_error"
        data = {"advice-model": path["model"], "from": path["from"], "to": path["to"], "path": path["path"],
                "deprecated": path["deprecated"], "passes": path["passes at"], "fails": path["fails at"]}
        out.append(f"<tr><th>{html.escape(str(path['model']))}</th><td>{html.escape(str(path['from']))}</td>"
                   f"<td>{html.escape(str(path['to']))}</td><td>{html.escape(str(path['path']))}</td>"
                   f"<td class='cell' style='background:{COLOURS[status]}' {data_attributes(data)}>"
                   f"{html.escape(str(path['passes at']))}</td><td>{html.escape(str(path['largest error']))}</td>"
                   f"<td class='fails'>{html.escape(str(path['fails at']))}</td></tr>")
    out.append("</table>")
    return out
