"""An installed plugin package adds a converter: it appears in the routes and runs in its stack."""

from __future__ import annotations

import json
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


# What each part of the harness reads of the plugin converter's record, asked in a process that has the plugin
# installed: the harness code itself is untouched by the plugin.
RECORD_PROBE = """
import json
from harness.converters import default_converters, tracked_packages
from harness.probes.node_cases import probe_routes, probe_stages
from harness.oracle.compare import rule_source
from harness.oracle.localize import repro_snippet
from harness.repro.templates import plan_for, render
from harness.bench.timing import BARE_RUNS

plugin = next(c for c in default_converters() if c.package == "onnx2torch")
stages = probe_stages()
plan = plan_for(plugin, "onnx")
print(json.dumps({
    "tracked": "onnx2torch" in tracked_packages(),
    "bare_call": plugin.bare_call,
    "bare_runs": plugin.target.name in BARE_RUNS,
    "probe_routes": sorted(route for route in probe_routes(stages) if "onnx2torch" in route),
    "localizer_repro": "from onnx2torch import convert" in repro_snippet(plugin),
    "finding_repro": plan.kind,
    "finding_packages": list(plan.packages),
    "finding_compiles": bool(compile(render(plan, title="t", what="w", input_names=["x"], output_names=["y"],
                                            rule=rule_source()), "repro.py", "exec")),
}))
"""


def test_every_part_reads_the_plugin_converters_record(plugin_site: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(plugin_site)}
    probed = subprocess.run([sys.executable, "-c", RECORD_PROBE], capture_output=True, text=True, env=env)
    assert probed.returncode == 0, probed.stderr
    seen = json.loads(probed.stdout.strip().splitlines()[-1])
    assert seen == {
        "tracked": True,  # its version column
        "bare_call": "parity_onnx2torch:bare_convert",  # parity bench's counterpart
        "bare_runs": True,
        # the node-case probes: from ONNX, and back to it by either torch exporter
        "probe_routes": ["onnx>torch@onnx2torch", "onnx>torch@onnx2torch>onnx", "onnx>torch@onnx2torch>onnx@dynamo"],
        "localizer_repro": True,
        "finding_repro": "onnx-snippet",
        "finding_packages": ["numpy", "onnx", "torch", "onnx2torch"],
        "finding_compiles": True,
    }
