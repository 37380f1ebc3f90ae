"""`parity bench` on real stacks: one small cell, the harness and the bare script timed side by side."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from harness.bench.timing import BARE_CONVERSIONS, BARE_SOURCE_RUNS, CONVERSIONS, StageClock
from harness.cli import main

pytestmark = pytest.mark.stacks


def test_bench_prints_a_ratio_of_two_measured_sides_with_the_same_conversions(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["bench", "--models", "mlp", "--routes", "torch>onnx>tf>onnx>torch", "--examples", "2",
                   "--work-dir", str(tmp_path)])
    printed = capsys.readouterr().out
    assert status == 0
    ratio = re.search(r"^harness / bare: (\d+\.\d+)$", printed, re.MULTILINE)
    assert ratio is not None, printed
    (cell,) = json.loads((tmp_path / "bench.json").read_text())
    assert cell["harness_seconds"] > 0 and cell["bare_seconds"] > 0
    assert float(ratio.group(1)) == pytest.approx(cell["harness_seconds"] / cell["bare_seconds"], abs=0.01)
    assert cell["harness_conversions"] == cell["bare_conversions"] == 4  # every hop of the route, once each side
    assert cell["examples"] >= 3  # the export example plus the 2 searched, all replayed by the bare script
    assert cell["harness_stages"][CONVERSIONS] > 0
    assert cell["bare_stages"][BARE_CONVERSIONS] > 0 and cell["bare_stages"][BARE_SOURCE_RUNS] > 0
    # The bare script wrote the outputs of every run: source and four hops, on every recorded example.
    assert len(list((tmp_path / "bare" / "mlp").rglob("run*.npz"))) == 5 * cell["examples"]


def test_a_nested_stage_is_counted_once_in_the_inner_stage() -> None:
    clock = StageClock()
    with clock.stage("outer"), clock.stage("inner"):
        time.sleep(0.2)
    seconds = clock.take()
    assert seconds["inner"] >= 0.2
    assert seconds["outer"] < 0.1  # the inner stage's sleep is not counted again in the outer one
    assert clock.take() == {}
