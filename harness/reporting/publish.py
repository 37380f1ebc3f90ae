"""Publication: coverage.md, a self-contained matrix.html, a matrix.png heatmap and COMPATIBILITY.md.

Everything is rendered from result rows (zoo cells and operator probes) with pandas; the HTML has no
network dependency at view time and carries every number as data-* attributes a test can check.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any, cast

import pandas as pd

from harness import __version__
from harness.reporting.advice import advice_html, advice_markdown
from harness.reporting.results import (
    COLOURS,
    cell_opset_of_rows,
    cell_rows,
    data_attributes,
    hop_order,
    opset_number,
    write_atomic,
)
from harness.statuses import worst_of


def split(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(zoo rows, node-probe rows, source-probe rows)."""
    kind = frame["probe_kind"].fillna("") if "probe_kind" in frame else pd.Series("", index=frame.index)
    return frame[kind == ""], frame[kind == "node"], frame[kind.isin(["torch", "keras"])]


def worst(statuses: Iterable[str]) -> str:
    return worst_of(statuses)


def header_lines(frame: pd.DataFrame, command: str) -> list[str]:
    stacks = frame.dropna(subset=["versions"]).drop_duplicates("stack")[["stack", "versions"]]
    lines = [f"Generated {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC by harness {__version__}; "
             f"reproduce with `{command}`.", ""]
    for row in stacks.itertuples():
        versions = json.loads(str(row.versions))
        lines.append(f"- stack `{row.stack}`: " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())))
    opsets = sorted({int(o) for o in pd.to_numeric(frame.get("opset", pd.Series(dtype=float)),
                                                      errors="coerce").dropna()})
    if opsets:
        lines.append(f"- ONNX opsets seen in the probes: {', '.join(map(str, opsets))}")
    return lines


# -- the operator table ------------------------------------------------------------------------------

def op_cell(group: list[dict[str, Any]]) -> dict[str, Any]:
    """One op at one hop, over all its cases (result rows): pass only when every tested case passed."""
    tested = [row for row in group if row["status"] not in ("untested", "skipped")]
    if not tested:
        status = "untested" if any(row["status"] == "untested" for row in group) else "skipped"
        error = str(group[0]["error"] or "")
        text = "not compared (stochastic)" if error.startswith("stochastic") else status
        return {"status": status, "text": text, "cases": len(group), "passed": 0, "error": error, "opsets": ""}
    passed = sum(row["status"] == "pass" for row in tested)
    by_opset = per_opset(tested)
    opsets = ", ".join(str(opset) for opset in by_opset)
    ranges = opset_ranges(by_opset) if len(by_opset) > 1 else ""
    if passed == len(tested):
        return {"status": "pass", "text": f"pass {passed}/{len(tested)}" + (f" (at {opsets})" if ranges else ""),
                "cases": len(tested), "passed": passed, "error": "", "opsets": opsets, "by_opset": by_opset}
    failing = [row for row in tested if row["status"] != "pass"]
    status = worst(row["status"] for row in failing)
    first = next(row for row in failing if row["status"] == status)
    error = str(first["error"] or "")
    detail = error.split(":", 1)[0] if status not in ("mismatch", "imprecise") else \
        f"{float(first['max_abs_err']):.1e}"
    label = "partial" if passed else status
    text = f"{status} {len(tested) - passed}/{len(tested)} ({detail})"
    return {"status": label, "worst": status, "text": f"{ranges} ({detail})" if ranges else text,
            "cases": len(tested), "passed": passed, "error": error, "opsets": opsets, "by_opset": by_opset}


def per_opset(tested: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Opset -> how the op's cases did at it: passed, tested, the worst status and its first error."""
    by_number: dict[int, list[dict[str, Any]]] = {}
    for row in tested:
        number = opset_number(row["opset"])
        if number is not None:
            by_number.setdefault(number, []).append(row)
    outcome: dict[int, dict[str, Any]] = {}
    for opset in sorted(by_number):
        at = by_number[opset]
        status = worst(row["status"] for row in at)
        outcome[opset] = {"passed": sum(row["status"] == "pass" for row in at), "tested": len(at), "status": status,
                          "error": str(next(row for row in at if row["status"] == status)["error"] or "")}
    return outcome


def opset_ranges(by_opset: dict[int, dict[str, Any]]) -> str:
    """"pass at 13-17; convert_error at 11, 19": consecutive tested opsets with one outcome joined."""
    groups: list[tuple[str, list[int]]] = []
    for opset, outcome in sorted(by_opset.items()):
        status = "pass" if outcome["passed"] == outcome["tested"] else outcome["status"]
        if groups and groups[-1][0] == status:
            groups[-1][1].append(opset)
        else:
            groups.append((status, [opset]))
    by_status: dict[str, list[str]] = {}
    for status, opsets in groups:
        by_status.setdefault(status, []).append(f"{opsets[0]}-{opsets[-1]}" if len(opsets) > 1 else str(opsets[0]))
    return "; ".join(f"{status} at {', '.join(spans)}" for status, spans in by_status.items())


def op_table(node: pd.DataFrame) -> pd.DataFrame:
    """One row per ONNX op type, one column per hop route: the op_cell dicts."""
    if node.empty:
        return pd.DataFrame()
    if "hop_index" in node:  # a case run again (a rerun batch) counts once, as it ran last
        node = node.drop_duplicates(["op_type", "route", "probe", "hop_index"], keep="last")
    # Plain rows: thousands of small groups are judged faster in Python than as pandas frames.
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in cast(list[dict[str, Any]], node.dropna(subset=["op_type", "route"]).to_dict("records")):
        groups.setdefault((str(row["op_type"]), str(row["route"])), []).append(row)
    cells: dict[str, dict[str, Any]] = {}
    for (op, route), group in sorted(groups.items()):
        cells.setdefault(op, {})[route] = op_cell(group)
    routes = sorted(set(node["route"]))  # whichever probe routes ran; onnx>ort sorts first
    return pd.DataFrame.from_dict(cells, orient="index")[routes].sort_index()


def final_hop(node: pd.DataFrame) -> pd.DataFrame:
    """Node probes judged at each route's last hop (a two-hop trip passes only if its end result does)."""
    if node.empty:
        return node
    last = node.groupby("route")["hop_index"].transform("max")
    return node[node["hop_index"] == last]


def column_totals(table: pd.DataFrame, node: pd.DataFrame) -> list[str]:
    lines = []
    for route in table.columns:
        rows = node[node["route"] == route]
        converter = rows["converter"].iloc[-1] if len(rows) else "?"
        version = rows["converter_version"].iloc[-1] if len(rows) else "?"
        statuses = [cell["status"] for cell in table[route] if isinstance(cell, dict)]
        tested = [s for s in statuses if s not in ("untested", "skipped")]
        lines.append(f"- `{route}` ({converter} {version}): **{statuses.count('pass')} of {len(tested)}** "
                     f"op types pass every case; {statuses.count('partial')} pass some; "
                     f"{statuses.count('skipped')} not reached (an earlier hop failed); "
                     f"{statuses.count('untested')} untested (tensor types the harness does not feed)")
    return lines


def disagreements(table: pd.DataFrame, declared: dict[str, dict[str, bool]]) -> pd.DataFrame:
    """Per (op, opset), like with like: declared supported at that opset but no case passed there, or declared
    unsupported there but a case passed. A table keyed "op@N" declares per opset (onnx-tf's handler versions);
    one keyed by op alone declares for every opset (onnx2pytorch's dispatch)."""
    rows = []
    for route, claims in declared.items():
        if route not in table.columns:
            continue
        for op, cell in table[route].items():
            if not isinstance(cell, dict) or cell["status"] in ("untested", "skipped"):
                continue
            for opset, outcome in cell.get("by_opset", {}).items():
                says = claims.get(f"{op}@{opset}", claims.get(str(op), False))
                observed = f"{outcome['passed']}/{outcome['tested']} pass"
                if says and outcome["passed"] == 0:
                    rows.append({"hop": route, "op": op, "opset": opset, "declared": "supported",
                                 "observed": f"{outcome['status']} ({observed})", "error": outcome["error"][:160]})
                elif not says and outcome["passed"] > 0:
                    rows.append({"hop": route, "op": op, "opset": opset, "declared": "not supported",
                                 "observed": observed, "error": ""})
    return pd.DataFrame(rows, columns=["hop", "op", "opset", "declared", "observed", "error"])


def probe_table(source: pd.DataFrame, kind: str) -> pd.DataFrame:
    rows = source[source["probe_kind"] == kind]
    if rows.empty:
        return pd.DataFrame()
    table = rows.pivot_table(index="probe", columns="route", values="status", aggfunc=worst)
    ops = rows.groupby("probe")["onnx_op_types"].agg(lambda values: next((v for v in values if v), ""))
    framework_op = rows.groupby("probe")["framework_op"].first() if "framework_op" in rows else None
    table["onnx ops produced"] = ops
    if framework_op is not None:
        table.insert(0, "op", framework_op)
    return table


def transpose_counts(zoo: pd.DataFrame) -> pd.DataFrame:
    """Layout Transposes per ONNX artifact, by the converter that wrote it."""
    onnx_rows = zoo[zoo["onnx_ops"].fillna("") != ""].drop_duplicates(["model", "route", "hop_index"])
    if onnx_rows.empty:
        return pd.DataFrame()

    def count(ops: str) -> int:
        return sum(int(part.rsplit(" x", 1)[1]) for part in ops.split("; ") if part.startswith("Transpose@"))

    counted = onnx_rows.assign(transposes=onnx_rows["onnx_ops"].map(count))
    return counted.groupby("converter")["transposes"].agg(["mean", "max", "count"]).round(2)


def op_changes(zoo: pd.DataFrame) -> pd.DataFrame:
    """Per zoo cell: ONNX ops the second ONNX artifact gained or lost against the first (decompositions)."""
    rows = []
    for (model, route), group in zoo[zoo["onnx_ops"].fillna("") != ""].groupby(["model", "route"]):
        artifacts = group.drop_duplicates("hop_index").sort_values("hop_index")
        if len(artifacts) < 2:
            continue

        def types(ops: str) -> set[str]:
            return {part.split("@", 1)[0] for part in ops.split("; ") if part}

        first, second = types(artifacts["onnx_ops"].iloc[0]), types(artifacts["onnx_ops"].iloc[1])
        rows.append({"model": model, "route": route, "introduced": ", ".join(sorted(second - first)),
                     "dropped": ", ".join(sorted(first - second))})
    return pd.DataFrame(rows)


# -- writers ---------------------------------------------------------------------------------------

def cell_text(value: Any) -> str:
    return str(value["text"]) if isinstance(value, dict) else ("" if pd.isna(value) else str(value))


def coverage_markdown(frame: pd.DataFrame, declared: dict[str, dict[str, bool]], command: str,
                      table: pd.DataFrame | None = None) -> str:
    """`table`: op_table(final_hop(node)) of this frame, when the caller has it already."""
    zoo, node, source = split(frame)
    final = final_hop(node)
    table = op_table(final) if table is None else table
    parts = ["# Operator coverage, observed", "", *header_lines(frame, command), ""]
    if table.empty:  # a check, or a run without probes: say so rather than describe cases that never ran
        parts += ["No ONNX backend node test case ran in this run (`parity publish` runs them; `parity zoo",
                  "--node-probes per_op` too): what follows is what the run's own models showed.", ""]
    else:
        parts += ["Each ONNX backend node test case (one tiny model per operator and variant, with the inputs and",
                  "outputs the onnx package ships) went through each hop; a cell says how the op's cases did at",
                  "the end of the route: `pass n/n` when every case matched the expected outputs within tolerance.",
                  "Observed, not declared: the converters' own support tables are compared below.", ""]
        parts += ["## Summary", "", *column_totals(table, final), "",
                  f"{len(table)} op types observed.", ""]
        disagreement = disagreements(table, declared)
        parts += ["## Declared vs observed", "",
                  "Per (op, opset), like with like: ops a converter's own table declares supported at an opset",
                  "but no case of which passed at that opset, and ops it does not declare there that passed.",
                  "onnx-tf declares per op version (an op at opset N is the op's version current at N);",
                  "onnx2pytorch keeps no table, so the ops it dispatches on count as declared at every opset.", "",
                  disagreement.to_markdown(index=False) if len(disagreement) else "None.", ""]
        parts += ["## Ops by hop", "", table.map(cell_text).to_markdown(), ""]
    for kind, title in (("torch", "PyTorch single-op probes (torch -> onnx, each exporter)"),
                        ("keras", "Keras single-layer probes (keras -> onnx with tf2onnx)")):
        probes = probe_table(source, kind) if not source.empty else pd.DataFrame()
        if len(probes):
            parts += [f"## {title}", "", f"{len(probes)} probes, compared with the framework's own output.", "",
                      probes.to_markdown(), ""]
    if not zoo.empty:
        transposes = transpose_counts(zoo)
        if len(transposes):
            parts += ["## Layout transposes per ONNX artifact, by converter", "", transposes.to_markdown(), ""]
        changes = op_changes(zoo)
        if len(changes):
            parts += ["## Ops introduced or dropped between the first and second ONNX artifact of a zoo route", "",
                      changes.to_markdown(index=False), ""]
    return "\n".join(parts)


def badge(status: str, text: str, title: str, data: dict[str, Any]) -> str:
    attributes = " ".join(f'data-{key}="{html.escape(str(value))}"' for key, value in data.items())
    colour = COLOURS.get(status, "#bdbdbd")
    return (f'<td class="cell" style="background:{colour}" title="{html.escape(title)}" {attributes}>'
            f"{html.escape(text)}</td>")


def zoo_tables(zoo: pd.DataFrame) -> list[str]:
    """One table per source framework, holding only the models built in it and a column per route that starts
    from it (its opsets collapsed into it): each model's own routes side by side at 1600 px, not spread over a
    column per hop of every route of the zoo. A cell shows the route's hops at the exporters' default opsets as
    numbered squares, then a line of squares per chosen export opset; every square is one hop's row, with its
    numbers as data-* attributes (what tests read)."""
    from harness.converters.routes import strip_opset

    out: list[str] = []
    zoo = zoo.assign(base_route=[strip_opset(str(route)) for route in zoo["route"]],
                     source=[str(route).split(">")[0] for route in zoo["route"]])  # a route starts at its source
    for source, by_source in zoo.groupby("source", sort=False):
        routes = sorted(set(by_source["base_route"].astype(str)))
        converters = {route: " ".join(sorted(set(group["converter"].dropna().astype(str))))
                      for route, group in by_source.groupby("base_route")}
        route_stacks = {str(route): " ".join(sorted(set(group["stack"].dropna().astype(str))))
                        for route, group in by_source.groupby("base_route")} if "stack" in by_source else {}
        out.append(f"<h2>From {html.escape(str(source))}: model x route</h2>"
                   f"<table id='zoo-{html.escape(str(source))}'><tr><th>model</th>")
        out += [f"<th data-converters='{html.escape(converters.get(route, ''))}' "
                f"data-stacks='{html.escape(route_stacks.get(route, ''))}'>{wrappable(route)}</th>"
                for route in routes]
        out.append("</tr>")
        for model, rows in by_source.groupby("model", sort=False):
            out.append(f"<tr><th>{html.escape(str(model))}</th>")
            cells: dict[str, list[dict[str, Any]]] = {}
            for row in cast(list[dict[str, Any]], rows.drop_duplicates(["route", "hop_index"]).to_dict("records")):
                cells.setdefault(str(row["base_route"]), []).append(row)
            out += [zoo_cell(str(model), cells[route]) if route in cells else "<td></td>" for route in routes]
            out.append("</tr>")
        out.append("</table>")
    return out


def hop_data(model: str, row: dict[str, Any]) -> dict[str, Any]:
    return {"model": model, "route": row["route"], "hop": row["hop"], "hop-index": row["hop_index"],
            "status": row["status"], "converter": row["converter"], "max-abs-err": row["max_abs_err"],
            "opset": cell_opset_of_rows([row])[1]}


def number(value: Any) -> float:
    """A float from a results cell; NaN where there is none."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def wrappable(route: str) -> str:
    """A route id, escaped, that a narrow column header may wrap after each '>'."""
    return html.escape(route).replace("&gt;", "&gt;<wbr>")


def hop_square(model: str, row: dict[str, Any]) -> str:
    """One hop of one route at one opset: its number on its status's colour, its error on hover."""
    colour = COLOURS.get(str(row["status"]), "#bdbdbd")
    error = number(row["max_abs_err"])
    title = f"{row['hop_index']}. {row['hop']} ({row['converter']}): {row['status']}"
    title += f" {error:.1e}" if math.isfinite(error) else ""
    title += "" if pd.isna(row["error"]) else f": {row['error']}"
    return (f'<span class="hop" style="background:{colour}" title="{html.escape(title)}" '
            f"{data_attributes(hop_data(model, row))}>{row['hop_index']}</span>")


def zoo_cell(model: str, rows: list[dict[str, Any]]) -> str:
    """A route of a model: its hops at the default opsets (else at the first chosen one), the worst of them in
    words, then a line per chosen export opset."""
    by_route: dict[str, list[dict[str, Any]]] = {}
    for row in sorted(rows, key=lambda row: int(row["hop_index"])):
        by_route.setdefault(str(row["route"]), []).append(row)
    default_route = next((route for route in by_route if route == rows[0]["base_route"]), next(iter(by_route)))
    default = by_route.pop(default_route)
    worst = worst_of([str(row["status"]) for row in default])
    errors = [number(row["max_abs_err"]) for row in default if math.isfinite(number(row["max_abs_err"]))]
    # A figure only where it is one: a failed run's "inf" says nothing the status does not.
    text = worst + (f" {max(errors):.1e}" if errors else "")
    lines = [f'<div class="hops">{"".join(hop_square(model, row) for row in default)}</div>',
             f'<div class="worst" style="color:{COLOURS.get(worst, "#616161")}">{html.escape(text)}</div>']
    for at_opset in sorted(by_route.values(), key=lambda rows: opset_number(rows[0].get("opset")) or 0):
        label = opset_number(at_opset[0].get("opset"))
        lines.append(f'<div class="hops"><span class="opset">{label if label is not None else "?"}</span>'
                     f'{"".join(hop_square(model, row) for row in at_opset)}</div>')
    return f"<td>{''.join(lines)}</td>"


def matrix_html(frame: pd.DataFrame, declared: dict[str, dict[str, bool]], command: str,
                table: pd.DataFrame | None = None) -> str:
    zoo, node, _ = split(frame)
    out = ["<!doctype html><html><head><meta charset='utf-8'><title>Parity compatibility matrix</title><style>",
           "body{font:13px sans-serif;margin:1em} table{border-collapse:collapse;margin-bottom:2em}",
           "td,th{border:1px solid #fff;padding:2px 5px} .cell{color:#fff;white-space:nowrap}",
           "th{background:#eee;position:sticky;top:0;max-width:8em;font-weight:normal;font-size:11px}",
           "tr>th:first-child{max-width:none;white-space:nowrap;text-align:left} .hidden{display:none}",
           "td{vertical-align:top;background:#fafafa} .hops{display:flex;gap:1px;margin:1px 0}",
           ".hop{color:#fff;font-size:10px;min-width:14px;text-align:center}",
           ".opset{font-size:9px;color:#616161;min-width:16px} .worst{font-size:11px;white-space:nowrap}",
           "</style></head><body>",
           "<h1>Parity compatibility matrix</h1><ul>"]
    out += [f"<li>{html.escape(line.lstrip('- '))}</li>" for line in header_lines(frame, command) if line]
    converters = sorted(set(frame["converter"].dropna()))
    out += ["</ul><p>Show converter: <select id='converter'><option value=''>all</option>"]
    out += [f"<option>{html.escape(str(name))}</option>" for name in converters]
    stacks = sorted(set(frame["stack"].dropna().astype(str))) if "stack" in frame else []
    out += ["</select> Show stack: <select id='stack'><option value=''>all</option>"]
    out += [f"<option>{html.escape(name)}</option>" for name in stacks]
    out += ["</select> Hover a square for its hop's error. A zoo cell is a route: its hops at the "
            "exporters' default opsets as numbered squares and the worst of them, then a line per chosen export "
            "opset.</p>"]
    if not zoo.empty:
        out += zoo_tables(zoo)
        out += advice_html(zoo)
    table = op_table(final_hop(node)) if table is None else table
    if not table.empty:
        out.append("<h2>ONNX operators by hop (node test cases)</h2><table id='ops'><tr><th>op</th>")
        final = final_hop(node)
        out += [f"<th data-converter='{html.escape(str(final[final['route'] == r]['converter'].iloc[-1]))}'>"
                f"{html.escape(r)}</th>" for r in table.columns]
        out.append("</tr>")
        for op, cells in table.iterrows():
            out.append(f"<tr><th>{html.escape(str(op))}</th>")
            for route, cell in cells.items():
                if not isinstance(cell, dict):
                    out.append("<td></td>")
                    continue
                out.append(badge(cell["status"], cell["text"], cell["error"],
                                 {"op": op, "route": route, "status": cell["status"], "passed": cell["passed"],
                                  "cases": cell["cases"]}))
            out.append("</tr>")
        out.append("</table>")
    out.append("""<script>
function filterColumns() {
  var wanted = document.getElementById('converter').value;
  var stack = document.getElementById('stack').value;
  document.querySelectorAll('table').forEach(function (table) {
    var heads = table.rows[0].cells;
    for (var i = 1; i < heads.length; i++) {
      var converters = (heads[i].dataset.converters || heads[i].dataset.converter || '').split(' ');
      var show = (!wanted || converters.indexOf(wanted) >= 0) &&
                 (!stack || heads[i].dataset.stacks === undefined ||
                  heads[i].dataset.stacks.split(' ').indexOf(stack) >= 0);
      for (var r = 0; r < table.rows.length; r++) {
        var cell = table.rows[r].cells[i];
        if (cell) { cell.classList.toggle('hidden', !show); }
      }
    }
  });
}
document.getElementById('converter').addEventListener('change', filterColumns);
document.getElementById('stack').addEventListener('change', filterColumns);
</script></body></html>""")
    return "\n".join(out)


def matrix_png(frame: pd.DataFrame, path: Path, table: pd.DataFrame | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Rectangle

    zoo, node, _ = split(frame)
    statuses = list(COLOURS)
    codes = {status: index for index, status in enumerate(statuses)}
    panels = []
    if not zoo.empty:
        grid = opset_grid(zoo)
        panels.append(("zoo: model x route at each export opset (the cell's worst hop)", grid,
                       [f"{column[0]} @{column[2]}" for column in grid.columns]))
    table = op_table(final_hop(node)) if table is None else table
    if not table.empty:
        ops = table.map(lambda cell: cell["status"] if isinstance(cell, dict) else None)
        panels.append(("ONNX ops x hop (node tests)", ops, list(ops.columns)))
    if not panels:
        return
    heights = [max(4.5, 0.18 * len(grid) + 3) for _, grid, _ in panels]
    figure, axes = plt.subplots(len(panels), 1, figsize=(14, sum(heights)), gridspec_kw={"height_ratios": heights},
                                squeeze=False)
    cmap = ListedColormap([COLOURS[s] for s in statuses])
    for axis, (title, grid, labels) in zip(axes[:, 0], panels):
        values = grid.map(lambda s: codes.get(s, codes["skipped"]) if isinstance(s, str) else codes["untested"])
        axis.imshow(values.to_numpy(dtype=float), cmap=cmap, vmin=-0.5, vmax=len(statuses) - 0.5, aspect="auto",
                    interpolation="nearest")
        axis.set_title(title)
        axis.set_yticks(range(len(grid)), [str(i) for i in grid.index], fontsize=6 if len(grid) > 40 else 8)
        axis.set_xticks(range(len(labels)), labels, rotation=60, ha="right", fontsize=7)
    handles = [Rectangle((0, 0), 1, 1, color=COLOURS[s]) for s in statuses]
    figure.legend(handles, statuses, loc="lower center", ncol=len(statuses), fontsize=8)
    figure.tight_layout(rect=(0, 0.03, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def opset_grid(zoo: pd.DataFrame) -> pd.DataFrame:
    """Model x (route, opset) of each cell's worst status: a route's opset range reads left to right."""
    from harness.converters.routes import strip_opset

    cells = []
    for (model, route), group in zoo.groupby(["model", "route"], sort=False):
        opset, label = cell_opset(group)
        cells.append({"model": model, "route": strip_opset(str(route)), "order": 10_000 if opset is None else opset,
                      "label": label, "status": worst(group["status"])})
    frame = pd.DataFrame(cells)
    grid = frame.pivot_table(index="model", columns=["route", "order", "label"], values="status", aggfunc=worst)
    models = list(dict.fromkeys(zoo["model"]))  # zoo order: the potato-leaf classifier first
    return grid.reindex([model for model in models if model in grid.index])


def cell_opset(group: pd.DataFrame) -> tuple[int | None, str]:
    """A zoo cell's export opset (its first hop's) and its label: "12" when chosen, "default (17)" otherwise."""
    return cell_opset_of_rows(cast(list[dict[str, Any]], group.to_dict("records")))


def opset_advice(zoo: pd.DataFrame, declared: dict[str, dict[str, bool]] | None = None) -> pd.DataFrame:
    """Per model and route (its opset marks removed): the export opsets that pass end to end, those that fail
    and where, and one line on what to do (with the opset to try where a failure is tied to one)."""
    from harness.converters.routes import strip_opset

    cells = []
    judged_column = "raw_status" if "raw_status" in zoo else "status"
    for (model, route), cell in cell_rows(zoo).items():
        opset, label = cell_opset_of_rows(cell)
        ordered = sorted({row["hop_index"]: {**row, "judged": row[judged_column]}
                          for row in reversed(cell)}.values(), key=hop_order)  # each hop's first row
        first = next((row for row in ordered if row["judged"] not in ("pass", "skipped")), None)
        reached = [row["hop"] for row in ordered if row["hop_index"] < first["hop_index"]] if first is not None else []
        crossing = deployment_hops(str(route))
        cells.append({"model": model, "route": strip_opset(str(route)), "opset": opset, "label": label,
                      "passed": first is None, "reached": reached,
                      "deployed": first is None or int(first["hop_index"]) > crossing,
                      "deployment": ">".join(strip_opset(str(route)).split(">")[:crossing + 1]),
                      "failure": "" if first is None else
                      f"{first['hop']}: {str(first['error'] or first['judged']).splitlines()[0][:90]}"})
    hints = opsets_to_try(zoo, declared or {})
    rows = []
    for (model, route), group in pd.DataFrame(cells).groupby(["model", "route"], sort=False):
        to_try = hints.get((str(model), str(route)), [])
        if len(group) < 2 and group["opset"].isna().all() and not to_try:
            continue
        passing = group[group["passed"]]
        failing = group[~group["passed"]]
        deployment = str(group["deployment"].iloc[0])
        deployed = group[group["deployed"]]
        to_do = advice(passing["opset"].dropna().astype(int).tolist(), failing["opset"].dropna().astype(int).tolist(),
                       failing)
        if deployment != route and len(deployed) > len(passing):
            # The way back fails more often than the way there: a deployment needs only the way there.
            way_back = sorted({str(failure).split(":", 1)[0] for failure in group[group["deployed"]
                                                                                    & ~group["passed"]]["failure"]})
            undeployed = group[~group["deployed"]]
            to_do = (f"to deploy ({deployment}): "
                     + advice(deployed["opset"].dropna().astype(int).tolist(),
                              undeployed["opset"].dropna().astype(int).tolist(), undeployed)
                     + f"; the way back fails at {', '.join(way_back)}")
        if to_try:
            to_do += "; " + "; ".join(to_try)
        rows.append({"model": model, "route": route,
                     "passes end to end at": ", ".join(passing.sort_values("opset")["label"]) or "none",
                     "deploys at": (", ".join(deployed.sort_values("opset")["label"]) or "none")
                     + ("" if deployment == route else f" ({deployment})"),
                     "fails at": "; ".join(f"{', '.join(labels)}: {failure}" for failure, labels in
                                           grouped(failing.sort_values("opset"))) or "none",
                     "what to do": to_do})
    return pd.DataFrame(rows, columns=["model", "route", "passes end to end at", "deploys at", "fails at",
                                       "what to do"])


def opsets_to_try(zoo: pd.DataFrame, declared: dict[str, dict[str, bool]]) -> dict[tuple[str, str], list[str]]:
    """Per model and route (opset marks removed): the sentences saying which opset to try, where a known-failure
    record or a declared-support table ties a failing cell's failure to its opset (harness.reporting.opset_hints)."""
    from harness.converters.routes import strip_opset
    from harness.reporting.opset_hints import opset_hint

    cells = cell_rows(zoo)
    judged = "raw_status" if "raw_status" in zoo else "status"
    failed: dict[tuple[str, str], set[int]] = {}
    for (model, route), cell in cells.items():
        opset, _ = cell_opset_of_rows(cell)
        if opset is not None and any(row[judged] not in ("pass", "skipped", "xpass") for row in cell):
            failed.setdefault((str(model), strip_opset(str(route))), set()).add(opset)
    hints: dict[tuple[str, str], list[str]] = {}
    for (model, route), cell in cells.items():
        key = (str(model), strip_opset(str(route)))
        _, sentence = opset_hint(cell, declared, failed.get(key, set()))
        if sentence and sentence not in hints.get(key, []):
            hints.setdefault(key, []).append(sentence)
    return hints


def deployment_hops(route_id: str) -> int:
    """How many hops of a route take its model into the other framework (torch>onnx>tf: 2), which is all a
    deployment needs; the rest is the way back."""
    from harness.formats import FORMATS

    names = [step.split("@")[0] for step in route_id.split(">")]
    formats = [FORMATS[name].family if name in FORMATS else name for name in names]
    for index, family in enumerate(formats[1:], start=1):
        if family not in (formats[0], "onnx"):
            return index
    return len(formats) - 1


def grouped(failing: pd.DataFrame) -> list[tuple[str, list[str]]]:
    """The failures with the opset labels that met each, in opset order."""
    by_failure: dict[str, list[str]] = {}
    for row in failing.itertuples():
        by_failure.setdefault(str(row.failure), []).append(str(row.label))
    return list(by_failure.items())


def advice(passing: list[int], failing: list[int], failed_cells: pd.DataFrame) -> str:
    """One line from the tested opsets alone: a bound only where every tested opset on one side of it passed."""
    if failed_cells.empty or (not failing and passing):
        # Nothing failed, even where no one opset names the cell (two exporters' defaults, e.g. 15/17).
        return "any tested opset works"
    if not passing:
        furthest = max(len(reached) for reached in failed_cells["reached"])
        best = failed_cells[failed_cells["reached"].map(len) == furthest]
        if furthest and len(best) < len(failed_cells):
            hops = " then ".join(best["reached"].iloc[0])
            return (f"no tested opset passes end to end; at {', '.join(best['label'])} it gets furthest ({hops} "
                    f"pass, then {best['failure'].iloc[0].split(':', 1)[0]} fails)")
        broken = sorted({str(failure).split(":", 1)[0] for failure in failed_cells["failure"]})
        return f"no tested opset passes; it breaks at {', '.join(broken)}"
    if max(passing) < min(failing):
        return f"export with opset <= {max(passing)} (fails from {min(failing)})"
    if min(passing) > max(failing):
        return f"export with opset >= {min(passing)} (fails at {max(failing)} and below)"
    return f"export with opset {', '.join(map(str, sorted(set(passing))))} (no contiguous range passes)"


def compatibility_markdown(frame: pd.DataFrame, declared: dict[str, dict[str, bool]], command: str,
                           table: pd.DataFrame | None = None) -> str:
    from harness.reporting.results import summary_table

    zoo, node, source = split(frame)
    parts = ["# Compatibility matrix", "", *header_lines(frame, command), "",
             "What the converters did to the zoo and to single operators in a real run. Details:",
             "[coverage.md](coverage.md) (operators), [summary.md](summary.md) (zoo cells and errors),",
             "matrix.html (open it locally; colour-coded, filterable), results.csv / results.json (every row).", "",
             "![matrix](matrix.png)", ""]
    if not zoo.empty:
        parts += advice_markdown(zoo)
    advice_table = opset_advice(zoo, declared) if not zoo.empty else pd.DataFrame()
    if len(advice_table):
        parts += ["## Which opset to export with", "",
                  "Per model and route, the export opsets (every exporter of the route at that opset) whose round",
                  "trip passed every hop, and where the others failed. The advice bounds only what was tested.", "",
                  advice_table.to_markdown(index=False), ""]
    if not zoo.empty:
        parts += ["## Zoo round trips", "", summary_table(zoo).to_markdown(), ""]
    table = op_table(final_hop(node)) if table is None else table
    if not table.empty:
        parts += ["## Operators (ONNX backend node tests)", "", *column_totals(table, final_hop(node)), ""]
        disagreement = disagreements(table, declared)
        parts += [f"Declared vs observed disagreements: {len(disagreement)} (listed in coverage.md).", ""]
    if not source.empty:
        counts = source.groupby(["probe_kind", "route"])["status"].value_counts().unstack(fill_value=0)
        parts += ["## Source-side probes", "", counts.to_markdown(), ""]
    return "\n".join(parts)


def write_publication(frame: pd.DataFrame, out_dir: Path, *, declared: dict[str, dict[str, bool]],
                      command: str, compatibility: bool = False) -> None:
    table = op_table(final_hop(split(frame)[1]))  # every page shows it: judged once
    write_atomic(out_dir / "coverage.md", coverage_markdown(frame, declared, command, table))
    write_atomic(out_dir / "matrix.html", matrix_html(frame, declared, command, table))
    matrix_png(frame, out_dir / "matrix.png", table)
    if compatibility:
        write_atomic(out_dir / "COMPATIBILITY.md", compatibility_markdown(frame, declared, command, table))
