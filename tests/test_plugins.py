"""An installed plugin package adds a converter: it appears in the routes and runs in its stack."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

PLUGIN_SOURCE = Path(__file__).parent / "plugin_demo"


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo plugin installed by pip into a folder of its own, as a package index would deliver it."""
    site = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site),
                    str(PLUGIN_SOURCE)], check=True)
    return site


def parity(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, env=env)


def test_the_plugin_converter_appears_in_the_routes(plugin_site: Path) -> None:
    listed = parity(plugin_site, "list")
    assert listed.returncode == 0, listed.stderr
    assert "torch>onnx>tf>onnx>torch@onnx2torch" in listed.stdout
    assert "TorchFromOnnxViaOnnx2Torch (current)" in listed.stdout
    assert "torch>onnx>tf>onnx>torch@onnx2torch" not in parity(Path("/nonexistent"), "list").stdout


@pytest.mark.stacks
def test_the_plugin_converter_runs_in_its_stack(plugin_site: Path, tmp_path: Path) -> None:
    ran = parity(plugin_site, "zoo", "--models", "mlp", "--routes", "keras>onnx>torch@onnx2torch>onnx>tf",
                 "--examples", "2", "--profile", "ci", "--work-dir", str(tmp_path / "work"),
                 "--out", str(tmp_path / "out"))
    assert ran.returncode == 0, ran.stderr
    rows = pd.read_csv(tmp_path / "out" / "results.csv")
    hop = rows[rows["hop"] == "onnx->torch"].iloc[0]
    assert hop["converter"] == "TorchFromOnnxViaOnnx2Torch" and hop["stack"] == "current"
    assert hop["converter_version"] == "1.5.15"
    assert hop["status"] in ("pass", "mismatch", "convert_error", "run_error"), hop["error"]
