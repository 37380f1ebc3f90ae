"""Shared fixtures: an engine whose workers run in the real converter stacks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.execution.pool import WorkerPool
from harness.run.engine import Engine, EngineOptions


@pytest.fixture(scope="session")
def stack_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """One engine for the session: the twins of a model are built once and reused across tests."""
    run_dir = tmp_path_factory.mktemp("run")
    with WorkerPool(run_dir / "logs") as pool:
        # Derandomized: a test sees the same examples on every run, so its outcome does not depend on the draw.
        yield Engine(run_dir, pool, EngineOptions(examples=2, profile="ci", convert_timeout=600, run_timeout=300),
                     progress=lambda line: None)


@pytest.fixture
def fresh_engine(tmp_path: Path) -> Iterator[Engine]:
    with WorkerPool(tmp_path / "logs") as pool:
        yield Engine(tmp_path, pool, EngineOptions(examples=1, convert_timeout=300, run_timeout=300),
                     progress=lambda line: None)


# Files whose tests each stand alone (a subprocess or a repro per test, no engine shared across them): with
# `--dist loadgroup` they are spread over the test processes test by test. Every other file stays whole on one
# process, where its tests share the session engine's built twins and live workers.
SPREAD_TEST_BY_TEST = frozenset({"test_check.py", "test_finding_rules.py"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.name not in SPREAD_TEST_BY_TEST:
            item.add_marker(pytest.mark.xdist_group(item.path.name))


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist: plain pytest runs without it
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: one test process per core, bounded by memory as `parity zoo -j` is: each process runs its
    own stack workers (torch, TensorFlow twice, onnxruntime)."""
    from harness.run.session import default_jobs

    return default_jobs()
