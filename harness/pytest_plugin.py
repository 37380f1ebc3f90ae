"""`pytest --zoo`: one test per (model, route) cell, failing with its result table. Imports nothing heavy at load."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from harness.converters.routes import Route
    from harness.run.engine import Engine
    from harness.spec import ModelSpec

ZOO = "--zoo"
ZOO_MODELS = "--zoo-models"
ZOO_ROUTES = "--zoo-routes"
ZOO_EXAMPLES = "--zoo-examples"
ZOO_OUT = "--zoo-out"
ZOO_PROFILE = "--zoo-profile"
ZOO_BASELINE = "--zoo-baseline"
ZOO_SHARD = "--zoo-shard"
ZOO_NO_CACHE = "--zoo-no-cache"
ZOO_FINDINGS = "--zoo-findings"
ZOO_ABSOLUTE = "--zoo-absolute"
PUBLISHED_RESULTS = Path("reports") / "results.csv"  # under the rootdir: the published run, the default baseline
ZOO_STRICT = "--zoo-strict"


def cell_fails(statuses: list[str], *, strict: bool) -> bool:
    """A cell fails on any failing status of its rows (`imprecise`: only when strict); xfail never fails it."""
    from harness.statuses import failing_statuses

    return any(status in failing_statuses(strict=strict) for status in statuses)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("parity", "cross-framework parity zoo")
    group.addoption(ZOO, action="store_true", help="collect one test per zoo (model, route) cell")
    group.addoption(ZOO_MODELS, nargs="*", metavar="GLOB", help="zoo models to collect (default: all)")
    group.addoption(ZOO_ROUTES, nargs="*", metavar="GLOB", help="route ids to collect (default: all)")
    group.addoption(ZOO_EXAMPLES, type=int, default=10, metavar="N",
                    help="hypothesis examples per cell (default: 10)")
    group.addoption(ZOO_PROFILE, default="ci", choices=("dev", "ci", "thorough"),
                    help="hypothesis settings profile (default: ci, derandomized)")
    group.addoption(ZOO_OUT, metavar="DIR", help="write the zoo reports (results.csv, summary.md) here")
    group.addoption(ZOO_SHARD, metavar="K/N", default="1/1",
                    help="collect only this shard's cells (a deterministic split over N machines), e.g. 2/3")
    group.addoption(ZOO_STRICT, action="store_true",
                    help="fail imprecise cells too (same function, float32 rounding worse than the reference's)")
    group.addoption(ZOO_NO_CACHE, action="store_true", help="convert and run every cell again (no task cache)")
    group.addoption(ZOO_FINDINGS, metavar="DIR",
                    help="replay every finding folder here as a test (default: reports/findings under the rootdir)")
    group.addoption(ZOO_BASELINE, metavar="FILE",
                    help="a results.csv/.json of an earlier run: fail a cell only on regressions against it "
                         f"(default: {PUBLISHED_RESULTS} under the rootdir, the published run, where it exists)")
    group.addoption(ZOO_ABSOLUTE, action="store_true",
                    help="judge every cell absolutely: fail on any failure a known-failure record does not cover")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "zoo: one (model, route) cell of the parity zoo")
    config.addinivalue_line("markers", "stacks: needs the converter stacks (provisioned on first use)")
    baseline = zoo_baseline(config) if config.getoption(ZOO, False) else None
    if baseline:
        from harness.reporting.diff import load_results

        try:
            load_results(baseline)  # a bad file stops the session before any cell runs
        except ValueError as exc:
            raise pytest.UsageError(f"{ZOO_BASELINE}: {exc}") from None


def zoo_baseline(config: pytest.Config) -> str | None:
    """The results a cell is judged against (regressions only): --zoo-baseline, else the published run's; None
    with --zoo-absolute, or where neither exists. A gate that is red on an unchanged main gets switched off."""
    if config.getoption(ZOO_ABSOLUTE, False):
        return None
    given = config.getoption(ZOO_BASELINE, None)
    if given:
        return str(given)
    published = Path(config.rootpath) / PUBLISHED_RESULTS
    return str(published) if published.is_file() else None


class ZooState:
    """The engine and worker pool shared by every zoo item of a session."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.rows: list[dict[str, Any]] = []
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            from harness.execution.pool import WorkerPool
            from harness.run.engine import Engine, EngineOptions

            parity_dir = Path(self.config.rootpath) / ".parity"
            # Under pytest-xdist every worker process runs its own cells, in its own folder.
            work_dir = parity_dir / "pytest-zoo" / os.environ.get("PYTEST_XDIST_WORKER", "main")
            pool = WorkerPool(work_dir / "logs")
            options = EngineOptions(examples=self.config.getoption(ZOO_EXAMPLES),
                                    profile=self.config.getoption(ZOO_PROFILE),
                                    database_dir=parity_dir / "hypothesis",
                                    cache_dir=None if self.config.getoption(ZOO_NO_CACHE) else parity_dir / "cache")
            self._engine = Engine(work_dir, pool, options, progress=lambda line: None)
        return self._engine

    def finish(self) -> None:
        if self._engine is None:
            return
        self._engine.pool.close()
        out = self.config.getoption(ZOO_OUT)
        if out and self.rows:
            from harness.reporting.write import write_reports
            from harness.run.known_failures import apply_known_failures
            from harness.run.session import known_failure_records

            stale = apply_known_failures(self.rows, known_failure_records())
            worker = os.environ.get("PYTEST_XDIST_WORKER")
            # xdist: one report folder per worker process; `parity merge OUT/gw*` joins them.
            write_reports(self.rows, Path(out) / worker if worker else Path(out), command="pytest --zoo", stale=stale)


zoo_state_key = pytest.StashKey[ZooState]()


class ZooCellFailure(Exception):
    pass


class ZooItem(pytest.Item):
    def __init__(self, *, spec: ModelSpec, route: Route, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec, self.route = spec, route
        self.add_marker("zoo")

    def runtest(self) -> None:
        from harness.reporting.results import to_frame
        from harness.run.known_failures import apply_known_failures
        from harness.run.session import known_failure_records

        state = self.config.stash[zoo_state_key]
        rows = state.engine.run_route(self.spec, self.route)
        apply_known_failures(rows, known_failure_records())
        state.rows += rows
        table = to_frame(rows)[["hop_index", "hop", "output", "converter", "converter_version", "stack",
                                "status", "max_abs_err", "hop_max_abs_err", "known_failure", "error"]]
        baseline = zoo_baseline(self.config)
        strict = bool(self.config.getoption(ZOO_STRICT))
        if baseline:
            from harness.reporting.diff import regressed_cells

            found = regressed_cells(baseline, rows, strict=strict).get((self.spec.name, self.route.id), [])
            if found:
                raise ZooCellFailure(f"regressed against {baseline}:\n  " + "\n  ".join(found) + "\n\n"
                                     + table.to_string(index=False))
            if any(row.get("raw_status", row["status"]) not in ("pass", "skipped") for row in rows):
                pytest.xfail(f"fails, but no worse than in {baseline} (or the cell is new)")
            return
        if cell_fails([row["status"] for row in rows], strict=strict):
            raise ZooCellFailure(table.to_string(index=False))
        known = sorted({row["known_failure"] for row in rows if row["status"] == "xfail"})
        if known:
            pytest.xfail("known failure: " + ", ".join(known))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, ZooCellFailure):
            return f"{self.spec.name} through {self.route.id}:\n{excinfo.value}"
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return Path(self.config.rootpath), 0, self.name


class FindingItem(pytest.Item):
    """A committed `parity fuzz` finding: passes while its repro.py, run from an empty folder in its stack, exits 1."""

    def __init__(self, *, folder: Path, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.folder = folder
        self.add_marker("zoo")

    def runtest(self) -> None:
        from harness.fuzz.rejudge import replay_repro

        try:
            reproduces, printed = replay_repro(self.folder)
        except ValueError as exc:  # the folder's files are data, and these are not valid
            raise ZooCellFailure(f"invalid finding {self.folder}: {exc}") from None
        if not reproduces:
            raise ZooCellFailure(f"stale finding: {self.folder}: {printed}. Check it upstream, then remove the folder")

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, ZooCellFailure):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.folder, 0, self.name


def collect_findings(session: pytest.Session, config: pytest.Config, items: list[pytest.Item], shard: Any) -> None:
    option = config.getoption(ZOO_FINDINGS)
    folder = Path(option) if option else Path(config.rootpath) / "reports" / "findings"
    if not folder.is_dir():
        return
    for finding in sorted(path for path in folder.iterdir() if (path / "finding.json").is_file()):
        if not shard.owns(f"finding:{finding.name}"):
            continue
        name = f"finding[{finding.name}]"
        items.append(FindingItem.from_parent(session, name=name, nodeid=name, folder=finding))


@pytest.hookimpl(tryfirst=True)  # before -k/-m deselection, which also runs in this hook
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption(ZOO):
        return
    from harness.run.selection import select_models, select_routes, zoo_cells
    from harness.run.shards import Shard

    try:
        shard = Shard.parse(config.getoption(ZOO_SHARD))
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[zoo_state_key] = ZooState(config)
    specs, routes = select_models(config.getoption(ZOO_MODELS)), select_routes(config.getoption(ZOO_ROUTES))
    for spec, route in zoo_cells(specs, routes):
        if not shard.owns(f"cell:{spec.name}:{route.id}"):
            continue
        name = f"zoo[{spec.name}-{route.id}]"
        items.append(ZooItem.from_parent(session, name=name, nodeid=name, spec=spec, route=route))
    collect_findings(session, config, items, shard)


def pytest_sessionfinish(session: pytest.Session) -> None:
    state = session.config.stash.get(zoo_state_key, None)
    if state is not None:
        state.finish()
