"""Node probes: a handful of ONNX backend node cases through the real converters and runners of each stack."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.execution.cache import TaskCache
from harness.execution.pool import WorkerPool
from harness.probes.node_cases import NodeProbeRun, Stage, run_node_probes

pytestmark = pytest.mark.stacks

CASES = (
    "test_abs", "test_relu", "test_add",
    "test_reshape_negative_dim",  # opset 19 in onnx 1.15's data: onnx-tf 1.10 has no Reshape-19
    "test_identity_sequence",  # a sequence input: not a plain tensor, so untested
    "test_resize_upsample_sizes_nearest_axes_2_3",  # onnx2pytorch builds it; torch's interpolate refuses it
)
HOPS = ("onnx>ort", "onnx>tf", "onnx>torch", "onnx>torch>onnx")


# Loaded from a file in the test's folder: the stack's worker has no pytest to import this module with.
CRASH_ON_ADD = '''
import os, shutil, signal
from harness.converters.base import Converter
from harness.formats import ONNX


class CrashOnAdd(Converter):
    """Copies an ONNX model, but kills its worker on a model with an Add node, as a native crash would."""

    source = ONNX
    target = ONNX
    framework = "none"
    package = "numpy"

    def convert(self, source, target, io, example):
        if b"Add" in source.read_bytes():
            os.kill(os.getpid(), signal.SIGSEGV)
        shutil.copyfile(source, target)
'''


@pytest.fixture(scope="module")
def probe_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, WorkerPool, list[dict[str, Any]]]]:
    run_dir = tmp_path_factory.mktemp("node_probes")
    with WorkerPool(run_dir / "logs") as pool:
        rows = run_node_probes(run_dir, pool, hops=HOPS, case_filter=",".join(CASES), progress=lambda line: None)
        yield run_dir, pool, rows


def status(rows: list[dict[str, Any]], case: str, route: str, hop: str) -> dict[str, Any]:
    (row,) = [row for row in rows if row["probe"] == case and row["route"] == route and row["hop"] == hop]
    return row


def test_simple_ops_pass_every_hop(probe_run: tuple[Path, WorkerPool, list[dict[str, Any]]]) -> None:
    rows = probe_run[2]
    for case in ("test_abs", "test_relu", "test_add"):
        for route, hop in (("onnx>ort", "onnx->ort"), ("onnx>tf", "onnx->tf"), ("onnx>torch", "onnx->torch"),
                           ("onnx>torch>onnx", "onnx->torch"), ("onnx>torch>onnx", "torch->onnx")):
            row = status(rows, case, route, hop)
            assert row["status"] == "pass", (case, route, hop, row["error"])
            assert row["max_abs_err"] <= 1e-5 and row["atol"] == 1e-5
    relu = status(rows, "test_relu", "onnx>tf", "onnx->tf")
    assert (relu["op_type"], relu["domain"], relu["probe_kind"], relu["case_stack"]) == (
        "Relu", "ai.onnx", "node", "legacy")
    assert relu["case_onnx_version"] == "1.15.0" and relu["converter"] == "TfFromOnnx"
    assert status(rows, "test_relu", "onnx>torch", "onnx->torch")["case_onnx_version"].startswith("1.2")
    assert "Relu@ai.onnx" in status(rows, "test_relu", "onnx>torch>onnx", "torch->onnx")["onnx_ops"]


def test_an_op_version_onnx_tf_lacks_is_a_convert_error_not_a_skip(
        probe_run: tuple[Path, WorkerPool, list[dict[str, Any]]]) -> None:
    row = status(probe_run[2], "test_reshape_negative_dim", "onnx>tf", "onnx->tf")
    assert row["status"] == "convert_error"
    assert row["error"] == "BackendIsNotSupposedToImplementIt: Reshape version 19 is not implemented."
    assert (row["op_type"], row["opset"]) == ("Reshape", 19)
    assert status(probe_run[2], "test_reshape_negative_dim", "onnx>ort", "onnx->ort")["status"] == "pass"


def test_a_runtime_failure_is_a_run_error_and_the_next_hop_is_skipped(
        probe_run: tuple[Path, WorkerPool, list[dict[str, Any]]]) -> None:
    case = "test_resize_upsample_sizes_nearest_axes_2_3"
    row = status(probe_run[2], case, "onnx>torch", "onnx->torch")
    assert row["status"] == "run_error"
    assert row["error"].startswith("NotImplementedError: Pytorch's interpolate")
    # The torch module was built, so its export is still tried; it fails the same way.
    export = status(probe_run[2], case, "onnx>torch>onnx", "torch->onnx")
    assert export["status"] in ("convert_error", "run_error") and export["error"]


def test_a_sequence_case_is_untested_with_its_reason(probe_run: tuple[Path, WorkerPool, list[dict[str, Any]]]) -> None:
    rows = [row for row in probe_run[2] if row["probe"] == "test_identity_sequence"]
    assert {row["route"] for row in rows} == set(HOPS)
    assert {row["status"] for row in rows} == {"untested"}
    assert all("is a sequence, not a tensor" in row["error"] for row in rows)


def test_a_case_folder_holds_the_model_its_data_and_the_replayable_job(
        probe_run: tuple[Path, WorkerPool, list[dict[str, Any]]]) -> None:
    folder = probe_run[0] / "node" / "legacy" / "test_add"
    manifest = json.loads((folder / "case.json").read_text())
    assert manifest["io"] == {"inputs": [{"name": "x", "dtype": "float32", "shape": [3, 4, 5]},
                                         {"name": "y", "dtype": "float32", "shape": [3, 4, 5]}],
                              "outputs": ["sum"]}
    assert manifest["ops"] == [{"op_type": "Add", "domain": "ai.onnx", "opset": 14}]
    assert all((folder / name).is_file() for name in ("model.onnx", "inputs.npz", "expected.npz", "tf/job.json"))
    assert (folder / "tf" / "saved_model" / "saved_model.pb").is_file()
    assert "tf/job.json" in status(probe_run[2], "test_add", "onnx>tf", "onnx->tf")["replay"]


def exported_case(run_dir: Path, case: str) -> dict[str, Any]:
    """A current-stack case's manifest as the run holds it: its case.json, and where it lies."""
    folder = run_dir / "node" / "current" / case
    return {**json.loads((folder / "case.json").read_text()), "folder": str(folder)}


def test_a_crash_costs_only_the_crashing_case(probe_run: tuple[Path, WorkerPool, list[dict[str, Any]]],
                                              tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "crash_on_add.py").write_text(CRASH_ON_ADD)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))  # the workers of the new pool import it too
    from crash_on_add import CrashOnAdd

    run_dir = probe_run[0]
    with WorkerPool(tmp_path / "logs") as pool:
        run = NodeProbeRun(run_dir, pool, batch_size=10, case_timeout=60, progress=lambda line: None)
        stage = Stage("crash_on_add", "onnx->onnx", "current", CrashOnAdd())
        run.stages[stage.name] = stage
        cases = ("test_abs", "test_add", "test_relu")  # one batch, the crashing case in the middle
        run.run_stage(stage, [exported_case(run_dir, case) for case in cases])
        started = pool.started
    outcomes = {case: run.outcomes[(stage.name, case)] for case in cases}
    assert outcomes["test_add"].status == "crash" and "SIGSEGV" in outcomes["test_add"].error
    assert outcomes["test_abs"].status == "pass" and outcomes["test_relu"].status == "pass"
    # abs passed before the crash and kept its result: only add and relu ran again, one worker each.
    assert started == 3


def test_a_case_that_crashes_its_converter_is_kept_in_the_task_cache(
        probe_run: tuple[Path, WorkerPool, list[dict[str, Any]]], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A segfault on the same case bytes in the same stack is the converter's finding, as its exception would be:
    a rerun gives it again from the cache instead of crashing a worker again."""
    (tmp_path / "crash_on_add.py").write_text(CRASH_ON_ADD)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    from crash_on_add import CrashOnAdd

    run_dir, cache = probe_run[0], TaskCache(tmp_path / "cache")
    stage = Stage("crash_on_add", "onnx->onnx", "current", CrashOnAdd())
    manifests = [exported_case(run_dir, case) for case in ("test_abs", "test_add")]
    outcomes, started = [], []
    for attempt in ("cold", "warm"):
        with WorkerPool(tmp_path / attempt) as pool:
            run = NodeProbeRun(run_dir, pool, batch_size=10, case_timeout=60, progress=lambda line: None, cache=cache)
            run.stages[stage.name] = stage
            run.run_stage(stage, manifests)
            started.append(pool.started)
        outcomes.append({case: run.outcomes[(stage.name, case)] for case in ("test_abs", "test_add")})
    cold, warm = outcomes
    assert cold["test_add"].status == warm["test_add"].status == "crash"
    assert "SIGSEGV" in warm["test_add"].error and warm["test_add"].cached
    assert warm["test_abs"].status == "pass" and started == [2, 0]


def test_node_cases_are_judged_at_each_target_opset(tmp_path: Path) -> None:
    """onnx-tf 1.10 has Reshape handlers for versions 1, 5, 13, 14: the case shipped at opset 19 fails, the same
    case converted to opset 15 (Reshape-14) passes; onnx.version_converter has no Reshape 14->13 adapter and Gelu
    (opset 20) no earlier version, so those are untested, saying why."""
    with WorkerPool(tmp_path / "logs") as pool:
        rows = run_node_probes(tmp_path, pool, hops=("onnx>tf",), progress=lambda line: None, opsets=[None, 13, 15],
                               case_filter="test_reshape_negative_dim,test_gelu_tanh_1")
    shipped = status(rows, "test_reshape_negative_dim", "onnx>tf", "onnx->tf")
    assert shipped["opset"] == 19 and shipped["status"] == "convert_error"
    assert "Reshape version 19 is not implemented" in shipped["error"]
    at_15 = status(rows, "test_reshape_negative_dim@op15", "onnx>tf", "onnx->tf")
    assert at_15["opset"] == 15 and at_15["case"] == "test_reshape_negative_dim"
    assert at_15["op_type"] == "Reshape" and at_15["status"] == "pass", at_15
    at_13 = status(rows, "test_reshape_negative_dim@op13", "onnx>tf", "onnx->tf")
    assert at_13["opset"] == 13 and at_13["status"] == "untested"
    assert "No Adapter From Version $14 for Reshape" in at_13["error"]
    gelu = status(rows, "test_gelu_tanh_1@op15", "onnx>tf", "onnx->tf")
    assert gelu["opset"] == 15 and gelu["status"] == "untested"
    assert "cannot convert the case to opset 15" in gelu["error"] and "No Previous Version of Gelu" in gelu["error"]
