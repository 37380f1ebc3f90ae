"""`parity`: run the zoo or your own model through every round trip and write the reports."""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.converters import default_converters, hosted_by_definition, tracked_packages
from harness.converters.routes import Route, pass_marks
from harness.errors import ParityError, UsageError
from harness.execution.stacks import BASE_STACKS, KNOWN_STACKS, get_stack, project_root, stacks_with
from harness.run.engine import EngineOptions
from harness.run.progress import REPORT_INTERVAL, Progress, Throttled
from harness.run.search import PROFILES
from harness.run.selection import all_routes, filter_routes, select_models, select_routes, zoo_cells
from harness.run.session import Job, default_jobs, open_engine, run_cells
from harness.run.shards import EVERYTHING, Shard
from harness.run.user_model import recognise
from harness.spec import ModelSpec

DEFAULT_EXAMPLES = 20
# ONNX opsets an exporter may be asked for: 7 is torch.onnx.export's oldest, 23 the newest the current stack's
# onnx and torch know.
MIN_OPSET, MAX_OPSET = 7, 23
# The committed matrix: the exporters' defaults, and either side of onnx-tf's opset-13 cliff.
PUBLISH_OPSETS = "default,11,12,13,15"
MUTANT_EXAMPLES = 10  # a mutant is one hop on one model: fewer examples keep a whole-zoo self-test short


MUTANT_FLOOR = 0.9  # of planted faults detected; below it the self-test exits 1


def add_mutant_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mutants", action="store_true",
                        help="mutation self-test instead of the round trips: plant known faults and benign "
                             "controls in the exported ONNX graph, one per hop, and write mutation.md "
                             "(hypothesis profile 'mutation': derandomized, no shrinking)")
    parser.add_argument("--mutant-floor", type=float, default=MUTANT_FLOOR, metavar="FRACTION",
                        help="with --mutants, exit 1 when fewer of the planted faults than this are detected "
                             f"(default {MUTANT_FLOOR:g}; the zoo's hand-written models detect 96%%)")


def add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--routes", nargs="*", metavar="GLOB", help="route ids to run, e.g. 'torch>*' (default: all)")
    parser.add_argument("--examples", type=int, default=None,
                        help=f"hypothesis examples per (model, route) cell (default: {DEFAULT_EXAMPLES}; "
                             f"{MUTANT_EXAMPLES} per mutant with --mutants)")
    parser.add_argument("--profile", choices=PROFILES, default="dev",
                        help="hypothesis settings: dev (random, example database), ci (derandomized), thorough "
                             "(default: dev; parity check and parity publish: ci)")
    parser.add_argument("--nonfinite", action="store_true", help="also feed NaN, Inf and subnormal inputs")
    parser.add_argument("--seed", type=int, default=0, help="seed of the export example (default: 0)")
    parser.add_argument("--convert-timeout", type=float, default=900.0, help="seconds per conversion (default 900)")
    parser.add_argument("--run-timeout", type=float, default=600.0, help="seconds per artifact run (default 600)")
    parser.add_argument("--memory-limit-mb", type=float, default=8192.0,
                        help="kill a worker whose resident memory exceeds this (default 8192)")
    parser.add_argument("--out", default="reports", help="report directory (default: reports)")
    parser.add_argument("--work-dir", help="artifacts and the run journal (default: .parity/runs in the checkout)")
    parser.add_argument("--resume", action="store_true", help="keep the cells an interrupted run finished")
    parser.add_argument("--known-failures", action="append", metavar="FILE",
                        help="your own known-failure records, added to the shipped ones and the project's "
                             "known_failures.toml; repeat per file")
    parser.add_argument("-j", "--jobs", type=int, default=None, metavar="N",
                        help="cells run side by side, each lane with its own worker processes (default: the "
                             "number of cores, bounded by memory at about 6 GB a lane)")
    parser.add_argument("--shard", type=parse_shard, default=EVERYTHING, metavar="K/N",
                        help="run only this shard's part of the work (zoo cells, node cases, source probes), "
                             "e.g. 2/3; `parity merge` joins the shards' reports")
    parser.add_argument("--no-cache", action="store_true",
                        help="convert and run everything again instead of reusing the task cache")
    parser.add_argument("--cache-dir", help="the task cache (default: .parity/cache in the checkout)")
    parser.add_argument("--no-localize", action="store_true",
                        help="skip finding the first divergent ONNX node of failing hops (and their repros)")
    parser.add_argument("--opsets", type=parse_opsets, default=[None], metavar="LIST",
                        help="export at these ONNX opsets: comma-separated numbers and 'default' (each exporter's "
                             "own); routes at a chosen opset carry it, e.g. torch>onnx@op12>tf>onnx@op12>torch "
                             f"(default: default; parity publish: {PUBLISH_OPSETS})")
    parser.add_argument("--stacks", default=",".join(BASE_STACKS),
                        help="comma-separated stacks; extra ones add a second version of the converters they host, "
                             f"side by side (default {','.join(BASE_STACKS)}; known: {', '.join(KNOWN_STACKS)})")
    add_with_option(parser)


def add_with_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--with", dest="with_packages", action="append", default=[], metavar="PKG==VER",
                        help="also run a second version of the converters of PKG, side by side, in a stack derived "
                             "from the base stack that pins PKG (provisioned once into the per-user cache, keyed "
                             "by its pins): PKG==VER, a .whl file, a source checkout folder or NAME@PATH; "
                             "STACK:SPEC when several stacks pin PKG. Repeatable; routes carry the stack's mark")


def parse_opsets(text: str) -> list[int | None]:
    """"default,11,13" -> [None, 11, 13]: None is each exporter at its own default opset."""
    opsets: list[int | None] = []
    for item in (part.strip() for part in text.split(",")):
        if item == "default":
            opsets.append(None)
        elif item.isdigit() and MIN_OPSET <= int(item) <= MAX_OPSET:
            opsets.append(int(item))
        else:
            raise argparse.ArgumentTypeError(f"{item!r} is not 'default' or an ONNX opset {MIN_OPSET}..{MAX_OPSET}")
    return list(dict.fromkeys(opsets))


def parse_shard(text: str) -> Shard:
    try:
        return Shard.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def chosen_converters(args: argparse.Namespace) -> list[Any]:
    from harness.converters import default_converters

    stacks = [name.strip() for name in args.stacks.split(",") if name.strip()]
    for name in stacks:
        get_stack(name)  # an unknown name is a usage error
    missing = [name for name in BASE_STACKS if name not in stacks]
    if missing:
        raise UsageError(f"--stacks must include the base stacks {', '.join(BASE_STACKS)} "
                         f"(missing {', '.join(missing)})")
    stacks += [name for name in stacks_with(getattr(args, "with_packages", [])) if name not in stacks]
    return default_converters(stacks, opsets=args.opsets)


def engine_options(args: argparse.Namespace) -> EngineOptions:
    if args.examples is None:
        args.examples = MUTANT_EXAMPLES if getattr(args, "mutants", False) else DEFAULT_EXAMPLES
    if args.examples < 1:
        raise UsageError("--examples must be at least 1")
    if args.memory_limit_mb <= 0 or args.convert_timeout <= 0 or args.run_timeout <= 0:
        raise UsageError("--memory-limit-mb, --convert-timeout and --run-timeout must be positive")
    return EngineOptions(examples=args.examples, profile=args.profile, nonfinite=args.nonfinite, seed=args.seed,
                         convert_timeout=args.convert_timeout, run_timeout=args.run_timeout,
                         memory_limit_mb=args.memory_limit_mb, localize=not args.no_localize,
                         database_dir=project_root() / ".parity" / "hypothesis",
                         cache_dir=None if args.no_cache else cache_dir_for(args))


def cache_dir_for(args: argparse.Namespace) -> Path:
    return Path(args.cache_dir) if getattr(args, "cache_dir", None) else project_root() / ".parity" / "cache"


def work_dir_for(args: argparse.Namespace, default: str) -> Path:
    return Path(args.work_dir) if args.work_dir else project_root() / ".parity" / default


def fetch_declared(engine: Any, used: set[type] | None = None) -> dict[str, dict[str, bool]]:
    """The converters' own support tables, read inside their stacks, keyed by the probe route they judge;
    `used`: only those of these converter classes."""
    from harness.converters import declared_tables

    declared: dict[str, dict[str, bool]] = {}
    for route, converter in declared_tables().items():
        if used is not None and type(converter) not in used:
            continue
        try:
            declared[route] = engine.call_function(converter.stack, converter.framework, str(converter.declared_table),
                                                   pure=True)
        except RuntimeError as exc:  # a table that cannot be read is left out, and said so
            print(f"[parity] could not read the declared support of {route}: {exc}", file=sys.stderr)
    return declared


def probe_jobs(args: argparse.Namespace) -> list[Job]:
    """The operator probes as jobs beside the zoo's cells (harness.run.session.Job): each returns its rows."""
    from harness.probes.node_cases import run_node_probes
    from harness.probes.source_ops import run_source_probes

    def node_probes(engine: Any, note: Any) -> list[dict[str, Any]]:
        note(f"[parity] ONNX node test cases ({args.node_probes}) through every ONNX-consuming hop")
        return run_node_probes(engine.run_dir / "probes", engine.pool, sample=args.node_probes, progress=note,
                               shard=args.shard, cache=engine.cache, opsets=args.opsets)

    def source_probes(engine: Any, note: Any) -> list[dict[str, Any]]:
        note("[parity] single-op torch and Keras probes through their exporters")
        return run_source_probes(engine.run_dir / "probes", engine.pool, progress=note, shard=args.shard,
                                 cache=engine.cache)

    # The longest first: with -j, the first free lanes take them, and the lanes end on the zoo's cheapest cells.
    jobs: list[Job] = [node_probes] if args.node_probes != "none" else []
    return jobs + ([source_probes] if args.source_probes else [])


def reproduce_command(argv: Sequence[str]) -> str:
    """The command that reproduces this run, as the reports print it: run from the checkout, with paths
    relative to it. A path outside the checkout (another machine's folder) is named by its last part."""
    root = project_root().resolve()

    def portable(path: str) -> str:
        if not Path(path).is_absolute():
            return path
        resolved = Path(path).resolve()
        return str(resolved.relative_to(root)) if resolved.is_relative_to(root) else resolved.name

    words: list[str] = []
    machine_only = False  # the task cache's options: where a machine keeps its cache changes no result
    for arg in argv:
        option, equals, value = arg.partition("=")
        if machine_only or option in ("--cache-dir", "--no-cache"):
            machine_only = option == "--cache-dir" and not equals  # its value is the next word
            continue
        words.append(f"{option}={portable(value)}" if equals and option.startswith("--") else portable(arg))
    return "parity " + " ".join(shlex.quote(word) for word in words)


def run_and_report(args: argparse.Namespace, work_dir: Path, cells_for: Any, *, probes: bool = False,
                   compatibility: bool = False, trusted_rebuilds: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Open an engine, let `cells_for(engine)` choose the cells, run them, write reports after each cell."""
    out_dir = Path(args.out)
    command = reproduce_command(sys.argv[1:])
    progress = Progress()
    with open_engine(work_dir, engine_options(args), progress, trusted_rebuilds=trusted_rebuilds) as engine:
        cells: Sequence[tuple[ModelSpec, Route]] = [
            (spec, route) for spec, route in cells_for(engine) if args.shard.owns(f"cell:{spec.name}:{route.id}")]
        # Imported once the cells are chosen: pandas costs a bad input half a second before its one line.
        from harness.reporting.publish import split
        from harness.reporting.results import summary_table
        from harness.reporting.write import write_reports

        shard = f" (shard {args.shard})" if args.shard.count > 1 else ""
        progress.note(f"[parity] {len(cells)} cells{shard}; artifacts in {work_dir}; reports in {out_dir}/")

        def write_partial_reports(rows: list[dict[str, Any]]) -> None:
            write_reports(rows, out_dir, command=command, stale=[])

        # Reports while the run goes, at most every REPORT_INTERVAL seconds; the journal holds every cell.
        on_cell = Throttled(write_partial_reports, REPORT_INTERVAL)

        jobs = args.jobs if args.jobs is not None else default_jobs()
        if jobs < 1:
            raise UsageError("--jobs must be at least 1")
        jobs_beside = probe_jobs(args) if probes else []
        # A user's check reads the tables of its routes' converters only: its advice says which opset a table
        # supports where a hop failed on an operator (harness.reporting.opset_hints).
        user_check = any(spec.family == "user" for spec, _ in cells)
        used = {type(hop.converter) for _, route in cells for hop in route.hops} if user_check else None
        reads_declared = bool(cells or jobs_beside) and (compatibility or not user_check)
        if reads_declared:
            jobs_beside.append(lambda engine, note: fetch_declared(engine, used))
        # With -j, the lanes take these before any cell, with their own workers; serially they run after the cells.
        result = run_cells(engine, cells, resume=args.resume, progress=progress, on_cell=on_cell, jobs=jobs,
                           alongside=jobs_beside)
    declared: dict[str, dict[str, bool]] = result.alongside.pop() if reads_declared else {}
    probe_rows = [row for rows in result.alongside for row in rows]
    for row in result.rows + probe_rows:
        row["command"] = command  # the reports rendered again later still name the run that made them
    frame = write_reports(result.rows + probe_rows, out_dir, command=command, stale=result.stale_known_failures,
                          declared=declared, publish=True, compatibility=compatibility)
    zoo_frame = split(frame)[0]
    if not zoo_frame.empty:  # a shard may own no zoo cell
        print(summary_table(zoo_frame).to_string())
    print(f"[parity] {len(cells)} cells ({result.resumed_cells} kept from the interrupted run), "
          f"{result.conversions} conversions, {result.workers_started} worker processes, {result.seconds:.0f} s; "
          f"reports in {out_dir}/ (summary.md, results.csv, results.json)")
    if result.stale_known_failures:
        print(f"[parity] stale known failures (matched nothing): {', '.join(result.stale_known_failures)}")
    vacuous = {(row["model"], row["output"]): row["vacuous"] for row in result.rows if row.get("vacuous")}
    # A factory's freshly initialised model can be given weights that look trained, as the zoo's are.
    factory = "trained_look" in args and not args.trained_look and recognise(args.model).kind == "factory"
    for (model, output), why in vacuous.items():
        hint = " (a factory's model: try --trained-look)" if factory else ""
        print(f"[parity] warning: the verdicts on {model} output {output} are vacuous: {why}{hint}", file=sys.stderr)
    return result.rows


def run_mutants(args: argparse.Namespace, work_dir: Path, models_for: Any,
                trusted_rebuilds: Sequence[str] = ()) -> int:
    """The mutation self-test: `models_for(engine)` gives (spec, source format) pairs; writes mutation.md."""
    import time

    from harness.oracle.mutants import summarize
    from harness.reporting.mutation import write_mutation_report
    from harness.run.self_test import run_mutation

    options = engine_options(args)
    options.localize = True  # localization is half of what the self-test measures
    options.profile = "mutation"  # derandomized, no shrinking: see harness.run.search
    command = reproduce_command(sys.argv[1:])
    progress = Progress()
    started = time.perf_counter()
    runs = []
    with open_engine(work_dir, options, progress, trusted_rebuilds=trusted_rebuilds) as engine:
        converters = chosen_converters(args)
        for spec, source in models_for(engine):
            progress.note(f"[parity] mutation self-test of {spec.name} ({source.name})")
            runs.append(run_mutation(engine, spec, source, converters, progress=progress.note))
            write_mutation_report(runs, Path(args.out), command=command, seconds=time.perf_counter() - started)
    path = write_mutation_report(runs, Path(args.out), command=command, seconds=time.perf_counter() - started)
    totals = summarize(runs)
    print(f"[parity] mutation self-test of {len(runs)} model(s): {totals.figures()}; "
          f"{time.perf_counter() - started:.0f} s; report in {path}")
    # A verdict that misses planted faults, or fails benign changes, is worth little on this model: say so.
    detected = totals.detected / totals.faults if totals.faults else 0.0
    problems = []
    if detected < args.mutant_floor:
        problems.append(f"only {totals.detected} of {totals.faults} planted faults detected, below the floor of "
                        f"{args.mutant_floor:.0%} (--mutant-floor): passes on this model say little; see the "
                        "vacuous column of a round trip, and consider trained-looking weights (--trained-look)")
    if totals.controls_passed < totals.controls:
        problems.append(f"{totals.controls - totals.controls_passed} of {totals.controls} benign controls failed: "
                        "false alarms")
    for problem in problems:
        print(f"[parity] self-test failed: {problem}", file=sys.stderr)
    return 1 if problems else 0


def command_zoo(args: argparse.Namespace) -> int:
    specs = select_models(args.models)
    if args.mutants:
        from harness.formats import FORMATS

        source = FORMATS[args.mutant_source]
        return run_mutants(args, work_dir_for(args, "mutants"),
                           lambda engine: [(spec, source) for spec in specs if source.name in spec.source_formats])
    cells = zoo_cells(specs, select_routes(args.routes, chosen_converters(args)))
    probes = args.node_probes != "none" or args.source_probes
    run_and_report(args, work_dir_for(args, "runs"), lambda engine: cells,
                   probes=probes, compatibility=args.publish)
    return 0


def check_run_options(args: argparse.Namespace) -> list[Any]:
    """The run options' own mistakes, answered before anything starts; the chosen converters."""
    engine_options(args)
    if args.jobs is not None and args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    if getattr(args, "mutants", False) and not 0 <= args.mutant_floor <= 1:
        raise UsageError("--mutant-floor must be a fraction between 0 and 1")
    return chosen_converters(args)


def user_requirements(args: argparse.Namespace) -> list[str]:
    """The packages the user's model needs besides the stack's: the project's `[tool.parity] requires` (its
    pyproject.toml, in the directory parity runs from), then --requires, which wins for a package named twice."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    from harness.run.user_model import project_requirements

    chosen: dict[str, str] = {}
    for line in [*project_requirements(Path.cwd()), *(args.requires or [])]:
        try:
            name = canonicalize_name(Requirement(line).name)
        except InvalidRequirement:
            name = line  # layer_requirements refuses it in one line
        chosen[name] = line
    return list(chosen.values())


def command_check(args: argparse.Namespace) -> int:
    from harness.execution.stacks import layer_requirements, layered

    converters = check_run_options(args)
    # The stack that runs the model, with the packages it needs layered on (a no-op when it needs none).
    with layered(layer_requirements("current", user_requirements(args))):
        return check_model(args, converters)


def check_model(args: argparse.Namespace, converters: list[Any]) -> int:
    from harness.run.check import prepare_user_model, read_check_request, routes_from

    # Every mistake the command line shows is answered before a worker starts: the options first, then the
    # model and its inputs (a factory's framework is found in a throwaway process), then the routes.
    request = read_check_request(args.model, inputs=args.input or (), dims=args.dim or (),
                                 trained_look=args.trained_look)
    routes = filter_routes(routes_from(request.source, converters), args.routes)

    def cells_for(engine: Any) -> list[tuple[ModelSpec, Route]]:
        spec, _ = prepare_user_model(engine, request)
        return [(spec, route) for route in routes]

    # The factory named on the command line is the user's own code: its workers may rebuild from it.
    factory = (args.model,) if request.user.kind == "factory" else ()
    if args.mutants:
        def models_for(engine: Any) -> list[tuple[ModelSpec, Any]]:
            return [prepare_user_model(engine, request)]

        return run_mutants(args, work_dir_for(args, "check"), models_for, trusted_rebuilds=factory)
    # The same advice a published run gives (COMPATIBILITY.md: which opset and route to use), for this model.
    rows = run_and_report(args, work_dir_for(args, "check"), cells_for, trusted_rebuilds=factory, compatibility=True)
    # A known converter failure (xfail) is still a failure of this model's round trip.
    return 1 if any(row.get("raw_status", row["status"]) != "pass" for row in rows) else 0


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of a results.csv or results.json a parity run wrote (or the folder holding one)."""
    from harness.reporting.results import read_results, results_in

    if path.is_dir():
        path = results_in(path) or path / "results.json"
    try:
        frame = read_results(path)
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: cannot read results ({type(exc).__name__}: {str(exc).splitlines()[0][:160]}); "
                         "pass the results.csv or results.json a parity run wrote") from None
    if frame.empty and not len(frame.columns):
        return []  # a run with no rows, such as a shard that owned no cell
    missing = {"model", "route", "hop", "status"} - set(frame.columns)
    if missing:
        raise UsageError(f"{path}: not a parity results file (no {', '.join(sorted(missing))} column)")
    return [{str(key): (None if isinstance(value, float) and value != value else value)
             for key, value in row.items()} for row in frame.to_dict(orient="records")]


def report_rows(rows: list[dict[str, Any]], out: Path, command: str, *, publish: bool) -> None:
    """Every report of a run again, from its rows, with the current known-failure records applied."""
    from harness.probes.node_cases import classify_stochastic
    from harness.reporting.write import write_reports
    from harness.run.known_failures import apply_known_failures
    from harness.run.session import known_failure_records

    classify_stochastic(rows)
    zoo_rows = [row for row in rows if not row.get("probe_kind")]
    stale = apply_known_failures(zoo_rows, known_failure_records()) if zoo_rows and all(
        row.get("raw_status") for row in zoo_rows) else []
    original = next((str(row["command"]) for row in rows if row.get("command")), "")
    write_reports(rows, out, command=original or command, stale=stale, publish=True, compatibility=publish)


def command_report(args: argparse.Namespace) -> int:
    rows = read_rows(Path(args.results))
    report_rows(rows, Path(args.out), f"parity report {args.results}", publish=args.publish)
    print(f"[parity] reports for {len(rows)} rows written to {args.out}/")
    return 0


ROW_IDENTITY = ("model", "route", "hop_index", "hop", "output", "probe_kind", "case", "probe")


def command_merge(args: argparse.Namespace) -> int:
    """The shards' rows as one run: every row kept once; the same row from two shards is refused."""
    rows: list[dict[str, Any]] = []
    seen: dict[tuple[Any, ...], str] = {}
    for source in args.shards:
        for row in read_rows(Path(source)):
            identity = tuple(row.get(column) for column in ROW_IDENTITY)
            if identity in seen:
                raise UsageError(f"{source} and {seen[identity]} both hold {row['model']} {row['route']} "
                                 f"{row['hop']}: merge the shards of one split, each once")
            seen[identity] = source
            rows.append(row)
    command = "parity merge " + " ".join(shlex.quote(source) for source in args.shards)
    report_rows(rows, Path(args.out), command, publish=args.publish)
    print(f"[parity] {len(rows)} rows from {len(args.shards)} shards written to {args.out}/")
    return 0


def mark_pattern(mark: str) -> str:
    # A whole mark only: @onnx2pytorch-0.5.1 is not part of @onnx2pytorch-0.5.1-wheel.
    return f"@{re.escape(mark)}(?=[>@]|$)"


def by_mark(frame: Any, mark: str, *, keep: bool) -> Any:
    """Rows whose route carries @mark, with the mark removed (keep), or the rows without it."""
    has = frame["route"].astype(str).str.contains(mark_pattern(mark), regex=True)
    if not keep:
        return frame[~has]
    chosen = frame[has].copy()
    chosen["route"] = chosen["route"].astype(str).str.replace(mark_pattern(mark), "", regex=True)
    return chosen


def command_diff(args: argparse.Namespace) -> int:
    from harness.reporting.diff import load_results

    try:
        baseline, current = load_results(args.baseline), load_results(args.current)
    except ValueError as exc:  # the message names the file and what is wrong with it
        raise UsageError(str(exc)) from None
    return write_diff(baseline, current, [args.baseline, args.current], Path(args.out), args.name,
                      baseline_mark=args.baseline_mark, current_mark=args.current_mark, strict=args.strict)


def write_diff(baseline: Any, current: Any, labels: list[str], out_dir: Path, name: str, *,
               baseline_mark: str | None = None, current_mark: str | None = None, strict: bool = False) -> int:
    """Diff two result frames (or the marked and unmarked routes of them), write diff.md and its CSV;
    1 when anything regressed."""
    from harness.reporting.diff import diff_markdown, diff_results, diff_summary_text, regressions
    from harness.reporting.results import write_atomic

    # Two versions side by side in one run: the routes of one carry a mark (@dynamo, @tf2onnx116).
    if baseline_mark:
        baseline, current = by_mark(baseline, baseline_mark, keep=True), by_mark(current, baseline_mark, keep=False)
        labels[0] += f" (routes @{baseline_mark})"
    if current_mark:
        current, baseline = by_mark(current, current_mark, keep=True), by_mark(baseline, current_mark, keep=False)
        labels[1] += f" (routes @{current_mark})"
    if baseline_mark or current_mark:
        # Compare only the routes that ran in both versions; the others have no counterpart by design.
        both = set(zip(baseline["model"], baseline["route"])) & set(zip(current["model"], current["route"]))
        baseline = baseline[[key in both for key in zip(baseline["model"], baseline["route"])]]
        current = current[[key in both for key in zip(current["model"], current["route"])]]
    if baseline.empty or current.empty:
        raise UsageError("nothing to compare: a side has no rows (check --baseline-mark / --current-mark)")
    diff = diff_results(baseline, current, strict=strict)
    write_atomic(out_dir / name, diff_markdown(diff, *labels))
    write_atomic(out_dir / Path(name).with_suffix(".csv").name, diff.to_csv(index=False))
    print(diff_summary_text(diff))
    print(f"[parity] diff written to {out_dir / name}")
    return 1 if len(regressions(diff)) else 0


def command_upgrade(args: argparse.Namespace) -> int:
    """Zoo cells under the base stack and a stack with PKG==NEW side by side, then their diff; 1 on a regression."""
    from harness.execution.stacks import derive, provision_stacks, safe_label
    from harness.reporting.diff import load_results

    derivation = derive(args.package)  # a bad spec or an unknown package is one line and exit 2
    mark = derivation.stack.name
    if not hosted_by_definition(derivation.stack, default_converters()):
        raise UsageError(f"no converter uses {derivation.package}: no converter's record names it and it is not a "
                         "framework package every converter uses, so no route would exercise it (install the "
                         "converter plugin that uses it)")
    folder = f"{derivation.package}-{derivation.old_version}-to-{safe_label(derivation.new_version)}"
    args.out = args.out or str(Path("reports") / "upgrades" / folder)
    args.with_packages = [args.package, *args.with_packages]
    specs = select_models(args.models)
    routes = select_routes(args.routes, chosen_converters(args))
    upgraded = {route.id for route in routes if re.search(mark_pattern(mark), route.id)}
    if not upgraded:
        raise UsageError(f"no chosen route runs a converter of stack {mark}; routes: "
                         f"{', '.join(route.id for route in routes)}")
    before = {re.sub(mark_pattern(mark), "", route_id) for route_id in upgraded}
    routes = [route for route in routes if route.id in upgraded | before]
    print(f"[parity] {derivation.package} {derivation.old_version} (stack {derivation.base}) against "
          f"{derivation.new_version} (stack {mark}): {len(upgraded)} routes each way", flush=True)
    # On a fresh machine: every stack the routes need at once, side by side, not one per worker as it starts.
    provision_stacks(sorted({hop.converter.stack for route in routes for hop in route.hops}))
    run_and_report(args, work_dir_for(args, "upgrades"), lambda engine: [(s, r) for s in specs for r in routes])
    frame = from_the_upgraded_hop(load_results(Path(args.out) / "results.json"), mark)
    labels = [f"{derivation.package} {derivation.old_version} (stack {derivation.base})",
              f"{derivation.package} {derivation.new_version} (stack {mark}; hops from its first on)"]
    return write_diff(frame, frame.copy(), labels, Path(args.out), "diff.md", current_mark=mark)


def command_releases(args: argparse.Namespace) -> int:
    """Several releases of one package side by side on the zoo cells that run its converters, each in its own stack
    (the release pinned in its home stack, the others as --with layers over it); writes OUT/PKG.md and the run's
    reports in OUT/PKG/."""
    import fnmatch
    import time

    import pandas as pd
    from packaging.utils import canonicalize_name

    from harness.execution.stacks import derive, provision_stacks
    from harness.reporting.diff import load_results
    from harness.reporting.releases import ReleaseStack, release_cells, releases_markdown
    from harness.reporting.results import write_atomic

    package = canonicalize_name(args.package)
    versions = list(dict.fromkeys(version.strip() for version in args.versions.split(",") if version.strip()))
    if len(versions) < 2:
        raise UsageError("--versions needs at least two releases, comma-separated (e.g. 2.0.0,2.6.9)")
    releases: list[ReleaseStack] = []
    derived_specs: list[str] = []
    for version in versions:
        derivation = derive(f"{package}=={version}")  # a bad spec or an unknown package is one line and exit 2
        if derivation.new_version == derivation.old_version:
            releases.append(ReleaseStack(derivation.base, ""))  # the release its home stack pins: no layer
        else:
            releases.append(ReleaseStack(derivation.stack.name, derivation.stack.name))
            derived_specs.append(f"{package}=={version}")
    owners = [converter for converter in default_converters()
              if package in {canonicalize_name(name) for name in (converter.package, *converter.extra_packages)}]
    if not owners:
        raise UsageError(f"no converter's record names {package}: no route would run it")
    out = Path(args.out)
    run_out = out / package
    started = time.perf_counter()
    if args.from_results:
        results = Path(args.from_results)
        seconds = None
    else:
        args.with_packages = [*derived_specs, *args.with_packages]
        args.out = str(run_out)
        converters = chosen_converters(args)
        stacks = {release.stack for release in releases}
        marks = [release.mark for release in releases if release.mark]

        def unmarked(route: Route) -> str:
            route_id = route.id
            for mark in marks:
                route_id = re.sub(mark_pattern(mark), "", route_id)
            return route_id

        names = {converter.name for converter in owners}
        routes = [route for route in all_routes(converters)
                  if any(hop.converter.name in names and hop.converter.stack in stacks for hop in route.hops)
                  and (not args.routes or any(fnmatch.fnmatchcase(unmarked(route), p) for p in args.routes))]
        if not routes:
            raise UsageError(f"no route runs {package} in the chosen releases' stacks"
                             + (f" and matches {', '.join(args.routes)}" if args.routes else ""))
        cells = zoo_cells(select_models(args.models), routes)
        if not cells:
            raise UsageError("no chosen model starts from a format these routes take")
        print(f"[parity] {package} releases {', '.join(versions)}: {len(cells)} cells over {len(routes)} routes "
              f"({len(routes) // len(releases)} per release)", flush=True)
        provision_stacks([release.stack for release in releases])  # the layers one after another
        run_and_report(args, work_dir_for(args, "releases"), lambda engine: cells)
        results = run_out / "results.json"
        seconds = time.perf_counter() - started
    try:
        frame = load_results(results)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    cells_table = release_cells(frame, [converter.name for converter in owners], releases)
    if cells_table.empty:
        raise UsageError(f"{results}: no rows of {package}'s converters in the releases' stacks "
                         f"({', '.join(release.stack for release in releases)})")
    # The command that ran the releases; a page written again from its results names that run's command.
    ran = frame["command"].dropna() if "command" in frame else pd.Series(dtype=str)
    command = (str(ran.iloc[0]) if len(ran) else "") if args.from_results else reproduce_command(sys.argv[1:])
    target = out / f"{package}.md"
    write_atomic(target, releases_markdown(package, frame, cells_table, command, seconds))
    print(f"[parity] release history written to {target}")
    return 0


def from_the_upgraded_hop(frame: Any, mark: str) -> Any:
    """The rows of each marked route, and of its unmarked twin, from the first hop the marked stack runs on.
    The hops before it are the same converters on both sides; they differ only where the input search, steered
    by the later hops, drew other examples, which is not the upgrade's doing (results.csv keeps them)."""
    marked = frame[frame["stack"].astype(str) == mark]
    first = {route: index for route, index in marked.groupby("route")["hop_index"].min().items()}
    first |= {re.sub(mark_pattern(mark), "", str(route)): index for route, index in first.items()}
    keep = [index >= first.get(str(route), 0) for route, index in zip(frame["route"], frame["hop_index"])]
    return frame[keep]


def check_torch_recipes(cell_dir: Path) -> None:
    """Refuse a cell folder (perhaps from someone else) whose torch artifacts name an untrusted rebuild
    function, before any worker starts; the workers check again before they load anything."""
    from harness.execution.torch_artifact import read_recipe

    try:
        manifest = json.loads((cell_dir / "cell.json").read_text())
        artifacts = [(manifest["source_format"], manifest["source_artifact"])]
        # A skipped or failed hop left no artifact to load: nothing of it runs again.
        artifacts += [(hop["format"], hop["artifact"]) for hop in manifest["hops"] if hop.get("status") == "ok"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{cell_dir / 'cell.json'} is not a cell manifest ({type(exc).__name__}: "
                         f"{str(exc)[:120]})") from None
    for format_name, artifact in artifacts:
        if format_name == "torch":
            read_recipe(Path(str(artifact)))


def command_replay(args: argparse.Namespace) -> int:
    from harness.execution.pool import WorkerPool
    from harness.reporting.results import to_frame
    from harness.run.engine import Engine

    cell_dir = Path(args.cell)
    if not (cell_dir / "cell.json").is_file():
        raise UsageError(f"{cell_dir} is not a cell folder (no cell.json); pass .parity/runs/<model>/<route>")
    example = Path(args.example) if args.example else cell_dir / "minimal_example.npz"
    if not example.is_file():
        raise UsageError(f"no example at {example}; pass --example FILE.npz")
    check_torch_recipes(cell_dir)
    with WorkerPool(cell_dir / "replay-logs") as pool:
        rows = Engine(cell_dir / "replay", pool, progress=lambda line: None).replay(cell_dir, example)
    columns = ["hop_index", "hop", "output", "status", "max_abs_err", "hop_max_abs_err", "error"]
    print(to_frame(rows)[columns].to_string(index=False))
    return 0 if all(row["status"] in ("pass", "skipped") for row in rows) else 1


def command_bench(args: argparse.Namespace) -> int:
    from harness.bench.timing import DEFAULT_ROUTES, format_bench, run_bench

    if args.examples < 1:
        raise UsageError("--examples must be at least 1")
    routes = select_routes(args.routes or list(DEFAULT_ROUTES))
    cells = zoo_cells(select_models(args.models), routes)
    work_dir = work_dir_for(args, "bench")
    print(f"[parity] bench: {len(cells)} cells, {args.examples} examples each, task cache off; work in {work_dir}")
    result = run_bench(cells, examples=args.examples, work_dir=work_dir)
    print(format_bench(result))
    return 0


def command_list(args: argparse.Namespace) -> int:
    from harness.converters import default_converters

    converters = default_converters([*BASE_STACKS, *stacks_with(args.with_packages)])
    for spec in select_models(None):
        print(f"model  {spec.name:24s} {spec.family:12s} {spec.description}")
    for route in select_routes(None, converters):
        hops = ", ".join(f"{hop.converter.name} ({hop.converter.stack})" for hop in route.hops)
        print(f"route  {route.id:34s} {hops}")
    # Routes through an ONNX -> ONNX pass run only when a --routes pattern names the pass (`*@onnxslim*`).
    for route in all_routes(converters, passes=True):
        if pass_marks(route):
            hops = ", ".join(f"{hop.converter.name} ({hop.converter.stack})" for hop in route.hops)
            print(f"route  {route.id:34s} {hops} [by name only]")
    return 0


def command_stacks(args: argparse.Namespace) -> int:
    from packaging.requirements import Requirement

    from harness.execution.stacks import BASE_STACKS, get_stack, provision_stacks, stack_versions

    derived = stacks_with(args.with_packages)
    # Named stacks, else the base stacks every run uses; an optional stack is provisioned only when named.
    names = [*(args.names or ([] if derived else list(BASE_STACKS))), *derived]
    for name in names:
        get_stack(name)  # an unknown name is a usage error before anything is provisioned
    if args.python:
        for name in names:
            print(get_stack(name).python)
        return 0
    provision_stacks(names)
    for name in names:
        # What the rows record, and whatever else the stack pins (transformers for the zoo's BERT, ...).
        pinned = [Requirement(line).name for line in get_stack(name).definition.requirements]
        versions = stack_versions(name, tuple(dict.fromkeys([*tracked_packages(), *pinned])))
        print(f"stack {name}: " + ", ".join(f"{package} {version}" for package, version in versions.items()))
    if not args.names and not derived:
        for name in (name for name in KNOWN_STACKS if name not in BASE_STACKS):
            state = "provisioned" if get_stack(name).is_provisioned() else f"not provisioned: parity stacks {name}"
            print(f"stack {name} (optional, {get_stack(name).definition.description}): {state}")
    return 0


def command_cache(args: argparse.Namespace) -> int:
    from harness.execution.cache import TaskCache, cache_budget_bytes

    cache = TaskCache(cache_dir_for(args))
    if args.action == "prune":
        if args.older_than_days is None and args.keep_mb is None:
            raise UsageError("parity cache prune needs --older-than-days N or --keep-mb N")
        keep = None if args.keep_mb is None else int(args.keep_mb * 2**20)
        removed = cache.prune(older_than_days=args.older_than_days, keep_bytes=keep)
        print(f"removed {removed} entries")
    info = cache.info()
    budget = cache_budget_bytes()
    limit = f"budget {budget / 2**20:.0f} MiB" if budget else "no budget"
    print(f"cache {info['root']}: {info['entries']} entries, {info['bytes'] / 2**20:.1f} MiB ({limit}: the least "
          "recently used entries beyond it are evicted after each run; PARITY_CACHE_BUDGET_MB sets it)")
    return 0


def command_fuzz(args: argparse.Namespace) -> int:
    """Generated models through every route; new failure signatures shrunk and written up as findings."""
    import time

    from harness.converters import default_converters
    from harness.execution.stacks import provision_stacks
    from harness.fuzz.campaign import Campaign, CampaignOptions, drawn_models
    from harness.fuzz.findings import load_description

    if args.rejudge:
        from harness.fuzz.campaign import rejudge_all

        count = rejudge_all(Path(args.out), lambda line: print(line, flush=True))
        print(f"[parity] fuzz: {count} findings judged again; {Path(args.out) / 'README.md'}")
        return 0
    given = None
    if args.description:
        try:
            given = load_description(Path(args.description))
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    elif args.budget is None:
        raise UsageError("parity fuzz needs --budget MINUTES (or --description FILE for one model)")
    if args.budget is not None and args.budget <= 0:
        raise UsageError("--budget must be a positive number of minutes")
    if args.examples < 1 or args.max_layers < 1 or args.jobs < 1 or args.shrink_minutes < 0:
        raise UsageError("--examples, --max-layers and --jobs must be at least 1, --shrink-minutes not negative")
    routes = select_routes(args.routes, default_converters(opsets=args.opsets))
    provision_stacks(sorted({hop.converter.stack for route in routes for hop in route.hops} | {"current"}))
    # Derandomized and without shrinking the inputs: the model is what gets shrunk, and an input search that
    # shrinks a failing example runs a hundred examples through every hop of a failing route.
    options = EngineOptions(examples=args.examples, profile="mutation", seed=args.seed,
                            convert_timeout=args.convert_timeout,
                            run_timeout=args.run_timeout, memory_limit_mb=args.memory_limit_mb, localize=False,
                            cache_dir=None if args.no_cache else cache_dir_for(args))
    out = Path(args.out)
    command = reproduce_command(sys.argv[1:]) if sys.argv[1:2] == ["fuzz"] else "parity fuzz"
    budget = (args.budget if args.budget is not None else 10**6) * 60
    campaign_options = CampaignOptions(out_dir=out, budget_seconds=budget, seed=args.seed, max_layers=args.max_layers,
                                       shrink_seconds=args.shrink_minutes * 60, command=command)
    work_dir = work_dir_for(args, "fuzz")
    started = time.monotonic()
    print(f"[parity] fuzz: {len(routes)} routes ({', '.join(route.id for route in routes)}); seed {args.seed}; "
          f"findings in {out}/; artifacts in {work_dir}", flush=True)
    with open_engine(work_dir, options, lambda line: None) as engine:
        campaign = Campaign(engine, routes, campaign_options, progress=lambda line: print(line, flush=True))
        models = iter([given]) if given is not None else drawn_models(args.seed, args.max_layers)
        try:
            summary = campaign.run(models, jobs=1 if given is not None else args.jobs)
        except KeyboardInterrupt:
            print(f"parity: interrupted; the models that finished are in {out / 'models.jsonl'}, their findings "
                  f"and totals in {out}/", file=sys.stderr)
            return 130
    print(f"[parity] fuzz: {summary['models']} models in {time.monotonic() - started:.0f} s, {summary['failures']} "
          f"failing routes, {len(summary['signatures'])} signatures: {len(summary['new'])} new findings, "
          f"{len(summary['known'])} known failure records met; {out / 'README.md'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="parity", description=__doc__)
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    commands = parser.add_subparsers(dest="command", required=True)
    zoo = commands.add_parser("zoo", help="run zoo models through every round trip and write reports")
    zoo.add_argument("--models", nargs="*", metavar="GLOB", help="zoo models to run (default: all)")
    zoo.add_argument("--node-probes", choices=("none", "per_op", "all"), default="none",
                     help="also run the ONNX backend node test cases through every ONNX-consuming hop: "
                          "per_op (the first case of each op type) or all")
    zoo.add_argument("--source-probes", action="store_true",
                     help="also run the single-op torch and Keras probes through their exporters")
    zoo.add_argument("--publish", action="store_true", help="also write COMPATIBILITY.md (for the committed matrix)")
    add_mutant_options(zoo)
    zoo.add_argument("--mutant-source", choices=("torch", "keras"), default="torch",
                     help="with --mutants: which twin is exported and mutated (default: torch)")
    add_run_options(zoo)
    zoo.set_defaults(handler=command_zoo)
    publish = commands.add_parser("publish", help="the full run behind the committed matrix: every zoo cell, the "
                                  "per-op node probes and the source probes; writes COMPATIBILITY.md too")
    publish.add_argument("--node-probes", choices=("per_op", "all"), default="per_op",
                         help="the ONNX backend node cases: the first case of each op type (default) or all")
    add_run_options(publish)
    # Derandomized: the published run is reproducible, and a rerun with nothing changed is all cache hits.
    publish.set_defaults(handler=command_zoo, models=None, source_probes=True, publish=True, mutants=False,
                         opsets=parse_opsets(PUBLISH_OPSETS), profile="ci")
    check = commands.add_parser("check", help="run your own model through every route from its framework")
    check.add_argument("model", help="an .onnx file, a SavedModel directory, a .keras file, or package.module:factory")
    check.add_argument("--input", action="append", metavar="NAME:SHAPE:DTYPE[:HIGH]",
                       help="an input, e.g. x:Bx3x224x224:float32 (symbolic dims by name); repeat per input")
    check.add_argument("--dim", action="append", metavar="NAME=LOW:HIGH",
                       help="bounds of a symbolic dimension (default 1:4)")
    check.add_argument("--requires", action="append", metavar="PKG==VER",
                       help="a package the model needs that the stack lacks (e.g. timm==1.0.31), layered onto the "
                            "stack that runs it; repeatable; adds to requires = [...] under [tool.parity] in "
                            "pyproject.toml of the directory parity runs from")
    check.add_argument("--trained-look", action="store_true",
                       help="re-initialise a factory's model with weights that look trained, as the zoo's real "
                            "architectures are (norm statistics randomised, no two weight tensors alike; seed 0), "
                            "so that a freshly initialised model's verdicts are not vacuous; the rows say so "
                            "(weights column)")
    add_mutant_options(check)
    add_run_options(check)
    check.set_defaults(handler=command_check, profile="ci")  # the same answer for the same model, run after run
    report = commands.add_parser("report", help="write the reports again from a results.csv or results.json")
    report.add_argument("results")
    report.add_argument("--out", default="reports")
    report.add_argument("--publish", action="store_true", help="also write COMPATIBILITY.md")
    report.set_defaults(handler=command_report)
    merge = commands.add_parser("merge", help="join the reports of a run split with --shard K/N into one")
    merge.add_argument("shards", nargs="+", metavar="DIR", help="each shard's report folder (or its results file)")
    merge.add_argument("--out", default="reports")
    merge.add_argument("--publish", action="store_true", help="also write COMPATIBILITY.md")
    merge.set_defaults(handler=command_merge)
    diff = commands.add_parser("diff", help="compare two runs' results, e.g. before and after a converter upgrade")
    diff.add_argument("baseline", help="results.csv or results.json of the earlier run, or its report folder")
    diff.add_argument("current", help="results.csv or results.json of the later run, or its report folder")
    diff.add_argument("--out", default="reports", help="where the diff report goes (default: reports)")
    diff.add_argument("--name", default="diff.md", help="the report's file name (default: diff.md)")
    diff.add_argument("--baseline-mark", metavar="MARK",
                      help="the baseline is the routes marked @MARK (a second version run side by side)")
    diff.add_argument("--current-mark", metavar="MARK", help="the current side is the routes marked @MARK")
    diff.add_argument("--strict", action="store_true",
                      help="count imprecise rows (same function, float32 rounding worse) as failing")
    diff.set_defaults(handler=command_diff)
    replay = commands.add_parser("replay", help="re-run a cell's saved artifacts on one example (its minimal one)")
    replay.add_argument("cell", help="the cell folder, .parity/runs/<model>/<route>")
    replay.add_argument("--example", help="an input .npz in the route's layout (default: minimal_example.npz)")
    replay.set_defaults(handler=command_replay)
    bench = commands.add_parser("bench", help="time the harness on some cells next to a bare script making the "
                                "same converter calls and runs (task cache off)")
    bench.add_argument("--models", nargs="*", metavar="GLOB", help="zoo models (default: all)")
    bench.add_argument("--routes", nargs="*", metavar="GLOB",
                       help="route ids (default: torch>onnx>tf>onnx>torch and keras>onnx>torch>onnx>tf)")
    bench.add_argument("--examples", type=int, default=10, help="hypothesis examples per cell (default: 10)")
    bench.add_argument("--work-dir", help="artifacts, logs and bench.json (default: .parity/bench in the checkout)")
    bench.set_defaults(handler=command_bench)
    listing = commands.add_parser("list", help="list zoo models and routes")
    add_with_option(listing)
    listing.set_defaults(handler=command_list)
    stacks = commands.add_parser("stacks", help="provision the converter stacks that are missing; print versions")
    stacks.add_argument("names", nargs="*", metavar="STACK",
                        help=f"stacks (default: the base stacks; all: {', '.join(KNOWN_STACKS)})")
    add_with_option(stacks)
    stacks.add_argument("--python", action="store_true",
                        help="print each stack's interpreter (where it is or would be) instead of provisioning")
    stacks.set_defaults(handler=command_stacks)
    upgrade = commands.add_parser("upgrade", help="try a converter release: the zoo under the base stack and a "
                                  "stack with PKG==NEW side by side; writes reports/upgrades/<pkg>-<old>-to-<new>/ "
                                  "(results, diff.md) and exits 1 on a regression")
    upgrade.add_argument("package", metavar="PKG==NEW",
                         help="the release to try: PKG==VERSION, a .whl file, a source checkout folder or NAME@PATH")
    upgrade.add_argument("--models", nargs="*", metavar="GLOB", help="zoo models to run (default: all)")
    add_run_options(upgrade)
    # Derandomized by default: both sides of the diff are judged on the same drawn examples where they agree.
    upgrade.set_defaults(handler=command_upgrade, out=None, profile="ci", node_probes="none", source_probes=False)
    releases = commands.add_parser("releases", help="several releases of a converter package side by side on the "
                                   "zoo: per model and route the first release that passes and any that regressed; "
                                   "writes OUT/PKG.md and the run's reports in OUT/PKG/")
    releases.add_argument("package", metavar="PKG", help="the package whose converters to run (onnx2tf)")
    releases.add_argument("--versions", required=True, metavar="V1,V2,...",
                          help="the releases, comma-separated; the one its stack pins runs there, each other in a "
                               "stack derived with --with PKG==V")
    releases.add_argument("--models", nargs="*", metavar="GLOB", help="zoo models to run (default: all)")
    releases.add_argument("--from-results", metavar="RESULTS",
                          help="write PKG.md from a finished run's results.json instead of running")
    add_run_options(releases)
    releases.set_defaults(handler=command_releases, out=str(Path("reports") / "releases"), profile="ci",
                          node_probes="none", source_probes=False)
    fuzz = commands.add_parser("fuzz", help="generate random valid models, run them through every route, shrink each "
                               "new failure to its smallest model and write it up under reports/findings/")
    fuzz.add_argument("--budget", type=float, metavar="MINUTES", help="stop drawing models after this many minutes")
    fuzz.add_argument("--seed", type=int, default=0, help="the models drawn depend only on it (default 0)")
    fuzz.add_argument("--routes", nargs="*", metavar="GLOB", help="route ids to run, e.g. 'torch>*' (default: all)")
    fuzz.add_argument("--opsets", type=parse_opsets, default=[None], metavar="LIST",
                      help="export at these ONNX opsets, as in `parity zoo` (default: default)")
    fuzz.add_argument("--out", default=str(Path("reports") / "findings"),
                      help="findings folder (default: reports/findings)")
    fuzz.add_argument("--work-dir", help="artifacts and worker logs (default: .parity/fuzz in the checkout)")
    fuzz.add_argument("--description", metavar="FILE",
                      help="run this one model description (JSON, e.g. a finding's description.json) instead")
    fuzz.add_argument("-j", "--jobs", type=int, default=1, metavar="N",
                      help="models evaluated side by side, each lane with its own worker processes (default 1); "
                           "new signatures are shrunk in the main process as they come in")
    fuzz.add_argument("--examples", type=int, default=3, help="hypothesis input examples per route (default 3)")
    fuzz.add_argument("--max-layers", type=int, default=5, help="layers per generated model at most (default 5)")
    fuzz.add_argument("--shrink-minutes", type=float, default=4.0, help="time to shrink each finding (default 4)")
    fuzz.add_argument("--convert-timeout", type=float, default=300.0, help="seconds per conversion (default 300)")
    fuzz.add_argument("--run-timeout", type=float, default=120.0, help="seconds per artifact run (default 120)")
    fuzz.add_argument("--memory-limit-mb", type=float, default=8192.0,
                      help="kill a worker whose resident memory exceeds this (default 8192)")
    fuzz.add_argument("--no-cache", action="store_true", help="convert and run everything again")
    fuzz.add_argument("--cache-dir", help="the task cache (default: .parity/cache in the checkout)")
    fuzz.add_argument("--rejudge", action="store_true",
                      help="judge every finding in --out again under the rules (whose it is, two references, a "
                           "self-contained repro run from an empty folder) and rewrite its files; no campaign")
    fuzz.set_defaults(handler=command_fuzz)
    cache = commands.add_parser("cache", help="show or trim the task cache (conversions, runs, twin builds)")
    cache.add_argument("action", choices=("info", "prune"))
    cache.add_argument("--cache-dir", help="the task cache (default: .parity/cache in the checkout)")
    cache.add_argument("--older-than-days", type=float, help="prune: remove entries last used longer ago than this")
    cache.add_argument("--keep-mb", type=float, help="prune: then the least recently used entries beyond this size")
    cache.set_defaults(handler=command_cache)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if getattr(args, "known_failures", None):
            missing = [path for path in args.known_failures if not Path(path).is_file()]
            if missing:  # said now, not once the cells have run (and nothing is set for a run that never starts)
                raise UsageError(f"--known-failures {missing[0]}: no such file")
            os.environ["PARITY_KNOWN_FAILURES"] = os.pathsep.join(str(Path(path).resolve())
                                                                  for path in args.known_failures)
        return int(args.handler(args))
    except ParityError as exc:
        if args.debug:
            raise
        print(f"parity: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("parity: interrupted; finished cells are kept, run again with --resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
