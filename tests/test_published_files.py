"""Published reports: files as readable as any other the user writes, and no folder names of the machine."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.cli import reproduce_command
from harness.execution.stacks import project_root
from harness.reporting.write import write_reports
from tests.test_publish import node_row, zoo_row


@pytest.fixture
def rows() -> list[dict[str, Any]]:
    return [zoo_row("cnn", "torch>onnx>tf", 1, "torch->onnx", "pass", 1e-7),
            zoo_row("cnn", "torch>onnx>tf", 2, "onnx->tf", "convert_error", None, "BackendIsNotSupposedToImplementIt"),
            node_row("test_relu", "Relu", "onnx>tf", "pass")]


@pytest.fixture
def umask_027() -> Iterator[None]:
    previous = os.umask(0o027)
    yield
    os.umask(previous)


def test_published_files_get_the_mode_the_umask_gives(rows: list[dict[str, Any]], tmp_path: Path,
                                                      umask_027: None) -> None:
    write_reports(rows, tmp_path, command="parity publish", stale=[], declared={}, publish=True, compatibility=True)
    modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in tmp_path.iterdir()}
    assert {"results.csv", "summary.md", "matrix.html", "matrix.png", "COMPATIBILITY.md"} <= set(modes)
    assert modes == dict.fromkeys(modes, 0o640)  # what open() gives under umask 027, matrix.png included


def test_the_reproduce_command_names_paths_relative_to_the_checkout(rows: list[dict[str, Any]],
                                                                    tmp_path: Path) -> None:
    root = project_root()
    # What `tox -e zoo` runs: parity publish --out {toxinidir}/reports
    command = reproduce_command(["publish", "--out", f"{root}/reports", "--work-dir", str(root / ".parity" / "x")])
    assert command == "parity publish --out reports --work-dir .parity/x"
    # Where this machine keeps its task cache changes no result: the published command does not name it.
    for cache in (["--cache-dir", "/tmp/pub_cache"], ["--cache-dir=/tmp/pub_cache"], ["--no-cache"]):
        published = reproduce_command(["publish", "--out", "reports", *cache, "-j", "2"])
        assert published == "parity publish --out reports -j 2"
    for row in rows:
        row["command"] = command
    write_reports(rows, tmp_path, command=command, stale=[], declared={}, publish=True, compatibility=True)
    for path in tmp_path.iterdir():
        if path.suffix != ".png":
            assert str(root) not in path.read_text(), path.name


def test_a_path_outside_the_checkout_is_named_by_its_last_part() -> None:
    """A folder of another machine means nothing to the reader; its name is what they can act on."""
    assert (reproduce_command(["check", "/home/alice/models/net.onnx", "--out=/srv/www/reports"])
            == "parity check net.onnx --out=reports")
