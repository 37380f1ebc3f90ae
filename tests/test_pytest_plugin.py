"""`pytest --zoo` in a project: red exactly on a regression against the published run, or absolutely when asked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

CHECKOUT = Path(__file__).resolve().parents[1]
# A cell the published matrix shows failing, with no known-failure record: the dynamo exporter cannot capture
# onnx2pytorch's module (GuardOnDataDependentSymNode).
MODEL, ROUTE = "potato_leaf_cnn", "keras>onnx>torch>onnx@dynamo>tf"


def zoo(project: Path, *options: str) -> subprocess.CompletedProcess[str]:
    (project / "pytest.ini").write_text("[pytest]\n")
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--zoo", "--zoo-models",
                           MODEL, "--zoo-routes", ROUTE, "--zoo-examples", "2", "--zoo-findings", str(project),
                           *options], cwd=project, capture_output=True, text=True, timeout=900)


@pytest.mark.stacks
def test_a_failure_the_published_run_already_shows_is_no_regression(tmp_path: Path) -> None:
    published = pd.read_csv(CHECKOUT / "reports" / "results.csv", low_memory=False)
    cell = published[(published["model"] == MODEL) & (published["route"] == ROUTE)]
    assert set(cell["status"]) >= {"convert_error"}, "the published cell no longer fails: choose another"
    (tmp_path / "reports").mkdir()
    cell.to_csv(tmp_path / "reports" / "results.csv", index=False)
    judged = zoo(tmp_path)
    assert judged.returncode == 0 and "1 xfailed" in judged.stdout, judged.stdout[-2000:]
    absolute = zoo(tmp_path, "--zoo-absolute")
    assert absolute.returncode == 1 and "1 failed" in absolute.stdout and "convert_error" in absolute.stdout
    # Against a baseline in which the cell passed, the same failure is a regression.
    cell.assign(status="pass", raw_status="pass").to_csv(tmp_path / "passed.csv", index=False)
    regressed = zoo(tmp_path, "--zoo-baseline", str(tmp_path / "passed.csv"))
    assert regressed.returncode == 1 and "regressed against" in regressed.stdout
