"""`parity`: run the zoo through every round trip and write the reports."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from harness.engine import EngineOptions
from harness.search import PROFILES
from harness.session import UsageError, run_cells, select_models, select_routes
from harness.stacks import StackError, project_root


def add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--models", nargs="*", metavar="GLOB", help="zoo models to run (default: all)")
    parser.add_argument("--routes", nargs="*", metavar="GLOB", help="route ids to run, e.g. 'torch>*' (default: all)")
    parser.add_argument("--examples", type=int, default=20,
                        help="hypothesis examples per (model, route) cell (default: 20)")
    parser.add_argument("--profile", choices=PROFILES, default="dev",
                        help="hypothesis settings: dev (random, example database), ci (derandomized), thorough")
    parser.add_argument("--nonfinite", action="store_true", help="also feed NaN, Inf and subnormal inputs")
    parser.add_argument("--seed", type=int, default=0, help="seed of the export example (default: 0)")
    parser.add_argument("--convert-timeout", type=float, default=900.0, help="seconds per conversion")
    parser.add_argument("--run-timeout", type=float, default=600.0, help="seconds to run one artifact")


def command_zoo(args: argparse.Namespace) -> int:
    from harness.report import summary_table, write_reports

    if args.examples < 1:
        raise UsageError("--examples must be at least 1")
    specs = select_models(args.models)
    routes = select_routes(args.routes)
    out_dir = Path(args.out)
    work_dir = Path(args.work_dir) if args.work_dir else project_root() / ".parity" / "work"
    options = EngineOptions(examples=args.examples, profile=args.profile, nonfinite=args.nonfinite, seed=args.seed,
                            convert_timeout=args.convert_timeout, run_timeout=args.run_timeout,
                            database_dir=project_root() / ".parity" / "hypothesis")
    cells = [(spec, route) for spec in specs for route in routes]
    print(f"[parity] {len(specs)} models x {len(routes)} routes = {len(cells)} cells; artifacts in {work_dir}",
          flush=True)
    result = run_cells(cells, work_dir=work_dir, options=options, progress=lambda line: print(line, flush=True))
    command = "parity " + " ".join(shlex.quote(arg) for arg in sys.argv[1:])
    frame = write_reports(result.rows, out_dir, command=command, stale=result.stale_known_failures)
    print(summary_table(frame).to_string())
    print(f"[parity] {len(cells)} cells, {result.conversions} conversions, {result.workers_started} worker "
          f"processes, {result.seconds:.0f} s; reports in {out_dir}/ (summary.md, results.csv, results.json)")
    if result.stale_known_failures:
        print(f"[parity] stale known failures (matched nothing): {', '.join(result.stale_known_failures)}")
    return 0


def command_list(args: argparse.Namespace) -> int:
    for spec in select_models(None):
        print(f"model  {spec.name:24s} {spec.family:12s} {spec.description}")
    for route in select_routes(None):
        hops = ", ".join(f"{hop.converter.name} ({hop.converter.stack})" for hop in route.hops)
        print(f"route  {route.id:34s} {hops}")
    return 0


def command_stacks(args: argparse.Namespace) -> int:
    from harness.stacks import KNOWN_STACKS, provision_stacks, stack_versions

    provision_stacks(list(KNOWN_STACKS))
    for name in KNOWN_STACKS:
        versions = stack_versions(name)
        print(f"stack {name}: " + ", ".join(f"{package} {version}" for package, version in versions.items()))
    return 0


def command_replay(args: argparse.Namespace) -> int:
    from harness.engine import Engine
    from harness.pool import WorkerPool
    from harness.report import to_frame

    cell_dir = Path(args.cell)
    if not (cell_dir / "cell.json").is_file():
        raise UsageError(f"{cell_dir} is not a cell folder (no cell.json); pass .parity/work/<model>/<route>")
    example = Path(args.example) if args.example else cell_dir / "minimal_example.npz"
    if not example.is_file():
        raise UsageError(f"no example at {example}; pass --example FILE.npz")
    with WorkerPool(cell_dir / "replay-logs") as pool:
        rows = Engine(cell_dir / "replay", pool, progress=lambda line: None).replay(cell_dir, example)
    columns = ["hop_index", "hop", "output", "status", "max_abs_err", "hop_max_abs_err", "error"]
    print(to_frame(rows)[columns].to_string(index=False))
    return 0 if all(row["status"] in ("pass", "skipped") for row in rows) else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="parity", description=__doc__)
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    commands = parser.add_subparsers(dest="command", required=True)
    zoo = commands.add_parser("zoo", help="run zoo models through every round trip and write reports")
    add_run_options(zoo)
    zoo.add_argument("--out", default="reports", help="report directory (default: reports)")
    zoo.add_argument("--work-dir", help="where artifacts go (default: .parity/work in the checkout)")
    zoo.set_defaults(handler=command_zoo)
    listing = commands.add_parser("list", help="list zoo models and routes")
    listing.set_defaults(handler=command_list)
    replay = commands.add_parser("replay", help="re-run a cell's saved artifacts on one example (its minimal one)")
    replay.add_argument("cell", help="the cell folder, .parity/work/<model>/<route>")
    replay.add_argument("--example", help="an input .npz in the route's layout (default: minimal_example.npz)")
    replay.set_defaults(handler=command_replay)
    stacks = commands.add_parser("stacks", help="provision the converter stacks that are missing; print versions")
    stacks.set_defaults(handler=command_stacks)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except (UsageError, StackError) as exc:
        if args.debug:
            raise
        print(f"parity: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
