"""The task cache on real stacks: a rerun converts nothing, a changed converter converts again from its hop on,
and a corrupt entry is rebuilt, never trusted."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import harness.execution.cache
from harness.converters.onnx_from_torch import OnnxFromTorch
from harness.converters.routes import Hop, Route
from harness.converters.torch_from_onnx import TorchFromOnnx
from harness.execution.cache import TaskCache, digest_path
from harness.execution.pool import WorkerPool
from harness.execution.stacks import harness_import_root
from harness.formats import TORCH
from harness.run.engine import Engine, EngineOptions
from model_zoo import all_models

pytestmark = pytest.mark.stacks
ROUTE = Route(TORCH, (Hop(1, OnnxFromTorch()), Hop(2, TorchFromOnnx())))


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerPool]:
    with WorkerPool(tmp_path_factory.mktemp("cache_logs")) as workers:
        yield workers


def run(pool: WorkerPool, run_dir: Path, cache_dir: Path) -> tuple[list[dict[str, Any]], Engine]:
    engine = Engine(run_dir, pool, EngineOptions(examples=4, profile="ci", cache_dir=cache_dir),
                    progress=lambda line: None)
    return engine.run_route(all_models()["mlp"], ROUTE), engine


def verdicts(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(row["hop"], row["status"], row["examples"], row["max_abs_err"]) for row in rows]


def test_a_rerun_with_nothing_changed_converts_and_runs_nothing(pool: WorkerPool, tmp_path: Path) -> None:
    cold, _ = run(pool, tmp_path / "cold", tmp_path / "cache")
    assert [row["cached"] for row in cold] == [False, False] and sum(row["conversions"] for row in cold) == 2
    warm, engine = run(pool, tmp_path / "warm", tmp_path / "cache")
    assert [row["cached"] for row in warm] == [True, True] and engine.conversions == 0
    assert verdicts(warm) == verdicts(cold)
    assert engine.cache is not None and engine.cache.misses == 0 and engine.cache.hits > 0


def test_a_changed_converter_converts_again_from_its_hop_on(pool: WorkerPool, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    cold, _ = run(pool, tmp_path / "cold", tmp_path / "cache")
    real = harness.execution.cache.module_digest
    # As if onnx2pytorch's converter module had changed: its hop's key changes, the exporter's does not.
    monkeypatch.setattr(harness.execution.cache, "module_digest", lambda module: real(module) + (
        "-changed" if module == TorchFromOnnx.__module__ else ""))
    again, _ = run(pool, tmp_path / "again", tmp_path / "cache")
    assert [row["cached"] for row in again] == [True, False]
    assert verdicts(again) == verdicts(cold)


def test_a_corrupt_entry_is_rebuilt_not_trusted(pool: WorkerPool, tmp_path: Path) -> None:
    cold, _ = run(pool, tmp_path / "cold", tmp_path / "cache")
    cache = TaskCache(tmp_path / "cache")
    exported = digest_path(Path(cold[0]["artifact"]))
    corrupted = 0
    for entry in cache.entries():
        stored = entry / "files" / "0"
        if stored.is_file() and digest_path(stored) == exported:  # the torch->onnx conversion's model.onnx
            data = bytearray(stored.read_bytes())
            data[len(data) // 2] ^= 0xFF
            stored.write_bytes(bytes(data))
            corrupted += 1
    assert corrupted == 1
    again, engine = run(pool, tmp_path / "again", tmp_path / "cache")
    assert engine.cache is not None and engine.cache.rebuilt == 1
    assert again[0]["cached"] is False and digest_path(Path(again[0]["artifact"])) == exported
    assert verdicts(again) == verdicts(cold)


def test_an_entry_is_never_reused_for_other_input_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(harness.execution.cache, "stack_fingerprint", lambda stack: "fixed")
    source, example, target = tmp_path / "in.onnx", tmp_path / "x.npz", tmp_path / "out" / "model.onnx"
    source.write_bytes(b"first model")
    example.write_bytes(b"example")
    task = {"task": "convert", "converter": {"class": "harness.converters.tf_from_onnx:TfFromOnnx", "variant": ""},
            "source": str(source), "target": str(target), "io": {}, "example": str(example)}
    cache = TaskCache(tmp_path / "cache")
    target.parent.mkdir()
    target.write_bytes(b"converted first model")
    cache.store("current", task, {"ok": True, "result": {"onnx_ops": "Relu"}})
    target.unlink()
    assert cache.restore("current", task) == {"ok": True, "result": {"onnx_ops": "Relu"}}
    assert target.read_bytes() == b"converted first model"
    source.write_bytes(b"second model")  # same path, other bytes
    assert cache.restore("current", task) is None
    moved = tmp_path / "elsewhere.onnx"
    moved.write_bytes(b"first model")  # other path, same bytes: the same entry
    assert cache.restore("current", {**task, "source": str(moved)}) is not None


def test_node_cases_rerun_from_the_cache_with_the_same_verdicts(pool: WorkerPool, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.probes.node_cases import run_node_probes

    cache_dir, hops = tmp_path / "cache", ("onnx>tf", "onnx>torch>onnx")
    asked: list[str] = []  # what reached a worker
    real_call = pool.call
    monkeypatch.setattr(pool, "call", lambda stack, framework, task, timeout: (
        asked.append(task.get("function", task["task"])), real_call(stack, framework, task, timeout))[1])

    def probe(run_dir: Path) -> tuple[list[tuple[Any, ...]], TaskCache]:
        cache = TaskCache(cache_dir)
        rows = run_node_probes(run_dir, pool, hops=hops, case_filter="test_relu,test_add",
                               progress=lambda line: None, cache=cache, opsets=[None, 15])
        # The exported cases come from the cache too, and are named where this run restored them.
        assert all(Path(row["artifact"]).is_relative_to(run_dir) for row in rows if row["artifact"])
        return sorted((row["model"], row["route"], row["hop"], row["opset"], row["status"], row["cached"],
                       row["conversions"]) for row in rows), cache

    cold, first = probe(tmp_path / "cold")
    assert any("version_node_cases" in task for task in asked) and {row[3] for row in cold} >= {15}
    asked.clear()
    warm, second = probe(tmp_path / "warm")
    assert [row[:5] for row in warm] == [row[:5] for row in cold] and first.hits == 0
    assert second.misses == 0 and second.hits == first.misses  # every job of the rerun came from the cache
    assert asked == []  # the cases' export and their conversion to other opsets too: no worker was asked anything
    assert not any(row[5] for row in cold) and all(row[5] and row[6] == 0 for row in warm)


def test_source_probes_rerun_from_the_cache_and_say_so(pool: WorkerPool, tmp_path: Path) -> None:
    """A Keras probe is rebuilt into a file whose bytes differ each time (the archive's times): its build comes
    from the cache too, or its conversion never would."""
    from harness.probes.source_ops import run_source_probes

    def probe(run_dir: Path) -> list[dict[str, Any]]:
        return run_source_probes(run_dir, pool, name_filter=["relu", "dense"], progress=lambda line: None,
                                 cache=TaskCache(tmp_path / "cache"))

    cold, warm = probe(tmp_path / "cold"), probe(tmp_path / "warm")
    assert {row["probe_kind"] for row in cold} == {"torch", "keras"}
    assert [(row["route"], row["status"]) for row in warm] == [(row["route"], row["status"]) for row in cold]
    assert not any(row["cached"] for row in cold) and all(row["cached"] for row in warm)
    assert sum(row["conversions"] for row in warm) == 0


def test_an_onnx_file_comes_back_with_its_external_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The dynamo exporter keeps weights in model.onnx.data: a second cell sharing the hop got model.onnx
    alone and failed to load it ("External data path validation failed")."""
    monkeypatch.setattr(harness.execution.cache, "stack_fingerprint", lambda stack: "fixed")
    source, example = tmp_path / "torch_module", tmp_path / "x.npz"
    source.write_bytes(b"module")
    example.write_bytes(b"example")
    task = {"task": "convert", "converter": {"class": "harness.converters.onnx_from_torch:OnnxFromTorch",
                                             "variant": "dynamo"},
            "source": str(source), "target": str(tmp_path / "a" / "model.onnx"), "io": {}, "example": str(example)}
    cache = TaskCache(tmp_path / "cache")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "model.onnx").write_bytes(b"graph")
    (tmp_path / "a" / "model.onnx.data").write_bytes(b"weights")
    cache.store("current", task, {"ok": True, "result": {}})
    other_cell = tmp_path / "b" / "model.onnx"
    assert cache.restore("current", {**task, "target": str(other_cell)}) == {"ok": True, "result": {}}
    assert other_cell.read_bytes() == b"graph"
    assert other_cell.with_name("model.onnx.data").read_bytes() == b"weights"


def test_a_restored_file_is_never_missing_while_it_is_put_back(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Two lanes sharing a model's folder: one restored the Keras twin (the file it holds was saved by the other
    lane, seconds apart, so its bytes differ) while the other ran it. The restore removed the file and copied
    it back, the run found no file, and its "File not found" reply was cached under the file's digest: a later
    run of the same cells read a source_error from the cache (seen in test_shards under load)."""
    monkeypatch.setattr(harness.execution.cache, "stack_fingerprint", lambda stack: "fixed")
    source, example = tmp_path / "torch_module", tmp_path / "x.npz"
    source.write_bytes(b"module")
    example.write_bytes(b"example")
    target = tmp_path / "a" / "model.onnx"
    task = {"task": "convert", "converter": {"class": "harness.converters.onnx_from_torch:OnnxFromTorch",
                                             "variant": "torchscript"},
            "source": str(source), "target": str(target), "io": {}, "example": str(example)}
    cache = TaskCache(tmp_path / "cache")
    target.parent.mkdir()
    target.write_bytes(b"graph saved by this lane")
    cache.store("current", task, {"ok": True, "result": {}})
    target.write_bytes(b"graph saved by the other lane")
    seen_while_copying: list[bool] = []
    copy = harness.execution.cache.shutil.copyfile

    def watched_copy(source: Any, destination: Any) -> Any:
        seen_while_copying.append(target.is_file())
        return copy(source, destination)

    monkeypatch.setattr(harness.execution.cache.shutil, "copyfile", watched_copy)
    assert cache.restore("current", task) == {"ok": True, "result": {}}
    assert seen_while_copying == [True]
    assert target.read_bytes() == b"graph saved by this lane"
    assert [path.name for path in target.parent.iterdir()] == ["model.onnx"]  # no temporary left beside it


def test_a_run_of_an_onnx_file_is_keyed_by_its_external_data_too(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A run that failed because model.onnx.data was missing must not answer for the file with its weights."""
    monkeypatch.setattr(harness.execution.cache, "stack_fingerprint", lambda stack: "fixed")
    model, inputs, outputs = tmp_path / "model.onnx", tmp_path / "in.npz", tmp_path / "out.npz"
    model.write_bytes(b"graph")
    inputs.write_bytes(b"inputs")
    task = {"task": "run", "runner": {"class": "harness.runners.onnxruntime_runner:OnnxRuntimeRunner"}, "io": {},
            "artifact": str(model), "inputs": [str(inputs)], "outputs": [str(outputs)]}
    cache = TaskCache(tmp_path / "cache")
    cache.store("current", task, {"ok": False, "error": "External data path does not exist"})
    model.with_name("model.onnx.data").write_bytes(b"weights")
    assert cache.restore("current", task) is None


def torch_module_run(tmp_path: Path, rebuild: str, **args: Any) -> dict[str, Any]:
    """A run task on a torch module artifact whose recipe names `rebuild`, with fixed weights and inputs."""
    module_dir = tmp_path / "torch_module"
    module_dir.mkdir(exist_ok=True)
    (module_dir / "module.json").write_text(json.dumps({"rebuild": rebuild, "args": args}))
    (module_dir / "state_dict.pt").write_bytes(b"the same weights")
    (tmp_path / "in.npz").write_bytes(b"inputs")
    return {"task": "run", "runner": {"class": "harness.runners.torch_eager:TorchEagerRunner"}, "io": {},
            "artifact": str(module_dir), "inputs": [str(tmp_path / "in.npz")], "outputs": [str(tmp_path / "o.npz")]}


def test_a_torch_module_is_keyed_by_the_code_that_rebuilds_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A torch artifact holds weights and names the function that rebuilds the architecture: a user who edits
    forward() and keeps the weights must not get the outputs of the old code."""
    monkeypatch.setattr(harness.execution.cache, "stack_fingerprint", lambda stack: "fixed")
    code = tmp_path / "code"
    (code / "my_models").mkdir(parents=True)
    (code / "my_models" / "__init__.py").write_text("")
    (code / "my_models" / "nets.py").write_text("def build():\n    return Net()  # forward adds\n")
    (code / "my_models" / "layers.py").write_text("SCALE = 1.0\n")
    monkeypatch.chdir(code)  # where a user's factory module lies (the worker's last sys.path entry)
    task = torch_module_run(tmp_path, "harness.run.user_model:rebuild_factory", factory="my_models.nets:build")
    cache = TaskCache(tmp_path / "cache")
    cache.store("current", task, {"ok": True, "result": {"errors": [None]}})
    assert cache.restore("current", task) is not None
    (code / "my_models" / "layers.py").write_text("SCALE = 2.0\n")  # a helper of the factory's package
    assert cache.restore("current", task) is None
    cache.store("current", task, {"ok": True, "result": {"errors": [None]}})
    assert cache.restore("current", task) is not None
    (code / "my_models" / "nets.py").write_text("def build():\n    return Net()  # forward multiplies\n")
    assert cache.restore("current", task) is None


def test_a_torch_module_whose_code_cannot_be_found_is_never_cached(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(harness.execution.cache, "stack_fingerprint", lambda stack: "fixed")
    monkeypatch.chdir(tmp_path)
    task = torch_module_run(tmp_path, "harness.run.user_model:rebuild_factory", factory="nowhere_to_be_found:build")
    cache = TaskCache(tmp_path / "cache")
    cache.store("current", task, {"ok": True, "result": {"errors": [None]}})
    assert cache.restore("current", task) is None and not list(cache.entries())


def test_a_zoo_model_is_keyed_by_the_zoo_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(harness.execution.cache, "stack_fingerprint", lambda stack: "fixed")
    task = torch_module_run(tmp_path, "harness.execution.torch_artifact:rebuild_zoo_model", model="mlp")
    plan = harness.execution.cache.plan_for(task)
    assert plan is not None
    zoo = Path(harness.execution.cache.__file__).parents[2] / "model_zoo"
    assert {path.name for path in plan.reads if path.parent == zoo} >= {"__init__.py", "mlp.py", "trained_look.py"}


def test_a_zoo_model_is_keyed_by_the_code_its_workers_import_from_any_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from outside the checkout, an editable install's packages are found by an import hook, not on
    sys.path: the key must still find the zoo code where the workers import it, or no torch task is cached."""
    monkeypatch.setattr(harness.execution.cache, "stack_fingerprint", lambda stack: "fixed")
    monkeypatch.chdir(tmp_path)
    outside = [entry for entry in sys.path if not Path(entry or ".").joinpath("model_zoo").is_dir()]
    monkeypatch.setattr("sys.path", outside)
    task = torch_module_run(tmp_path, "harness.execution.torch_artifact:rebuild_zoo_model", model="mlp")
    plan = harness.execution.cache.plan_for(task)
    assert plan is not None
    zoo = harness_import_root() / "model_zoo"
    assert {path.name for path in plan.reads if path.parent == zoo} >= {"__init__.py", "mlp.py"}


def test_a_pure_worker_call_is_answered_from_the_cache_with_its_files(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(harness.execution.cache, "stack_fingerprint", lambda stack: "fixed")
    model = tmp_path / "model.onnx"
    model.write_bytes(b"graph")
    task = {"task": "call", "function": "harness.oracle.localize:extract_prefix", "framework": "none",
            "kwargs": {"model_path": str(model), "index": 3, "out_path": str(tmp_path / "a" / "prefix.onnx")}}
    cache = TaskCache(tmp_path / "cache")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "prefix.onnx").write_bytes(b"first four nodes")
    cache.store("current", task, {"ok": True, "result": {"value": {"outputs": ["relu_out"]}}})
    elsewhere = {**task, "kwargs": {**task["kwargs"], "out_path": str(tmp_path / "b" / "prefix.onnx")}}
    assert cache.restore("current", elsewhere) == {"ok": True, "result": {"value": {"outputs": ["relu_out"]}}}
    assert (tmp_path / "b" / "prefix.onnx").read_bytes() == b"first four nodes"
    assert cache.restore("current", {**task, "kwargs": {**task["kwargs"], "index": 4}}) is None  # other options
    model.write_bytes(b"another graph")
    assert cache.restore("current", task) is None
    unknown = {"task": "call", "function": "my_models.nets:anything", "kwargs": {}, "framework": "none"}
    assert harness.execution.cache.plan_for(unknown) is None  # a call the cache cannot vouch for always runs


class DyingPool:
    """A worker pool whose worker dies on every task, as a converter that segfaults or is killed does."""

    def __init__(self, failure: Exception) -> None:
        self.failure, self.calls = failure, 0

    def call(self, stack: str, framework: str, task: dict[str, Any], timeout: float) -> dict[str, Any]:
        self.calls += 1
        raise self.failure


def test_a_converter_that_segfaults_is_kept_a_killed_worker_is_not(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A fault signal on the same bytes in the same stack is the converter's, as its exception would be; a kill
    (out of memory, a timeout) is the machine's, and runs again."""
    from harness.errors import WorkerFailure
    from harness.execution.pool import call_task

    monkeypatch.setattr(harness.execution.cache, "stack_fingerprint", lambda stack: "fixed")
    source, example = tmp_path / "model.onnx", tmp_path / "x.npz"
    source.write_bytes(b"graph")
    example.write_bytes(b"example")
    task = {"task": "convert", "converter": {"class": "harness.converters.tf_from_onnx:TfFromOnnx", "variant": ""},
            "source": str(source), "target": str(tmp_path / "out" / "saved_model"), "io": {}, "example": str(example)}
    cache = TaskCache(tmp_path / "cache")
    segfault = DyingPool(WorkerFailure("crash", "worker process died with signal SIGSEGV", fault=True))
    first = call_task(segfault, "legacy", "tf", task, 10, cache)  # type: ignore[arg-type]
    again = call_task(segfault, "legacy", "tf", task, 10, cache)  # type: ignore[arg-type]
    assert (first.status, first.cached, again.status, again.cached) == ("crash", False, "crash", True)
    assert again.error == first.error and segfault.calls == 1
    killed = DyingPool(WorkerFailure("crash", "out of memory: the worker used 9000 MB; worker killed"))
    source.write_bytes(b"another graph")
    assert call_task(killed, "legacy", "tf", task, 10, cache).status == "crash"  # type: ignore[arg-type]
    assert call_task(killed, "legacy", "tf", task, 10, cache).status == "crash"  # type: ignore[arg-type]
    assert killed.calls == 2


def test_a_file_rewritten_at_once_is_hashed_again(tmp_path: Path) -> None:
    """The harness writes each example to the same path, by rename, a few milliseconds apart: a file system
    reuses the freed inode and its clock ticks coarser than that, so (inode, mtime, size) does not tell the
    files apart. A remembered digest of the previous example would key this example's run as the last one's."""
    import hashlib

    example = tmp_path / "example.npz"
    for number in range(300):
        content = f"example {number:05d}".encode()  # the same size every time
        staging = tmp_path / f".example-{number}"
        staging.write_bytes(content)
        staging.replace(example)
        assert digest_path(example) == hashlib.sha256(content).hexdigest(), f"example {number}"


def test_only_a_settled_file_keeps_its_digest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file hashed in the tick it was written may be followed by another with the same inode, ctime and size:
    its digest is not remembered. One unchanged for a while before the hash began is."""
    fresh = tmp_path / "fresh.npz"
    fresh.write_bytes(b"example")
    digest_path(fresh)
    assert not [key for key in harness.execution.cache._file_digests if key[0] == str(fresh)]
    created = fresh.stat().st_ctime_ns
    settled = created + harness.execution.cache.SETTLED_NS + 1
    monkeypatch.setattr(harness.execution.cache.time, "time_ns", lambda: settled)
    digest_path(fresh)
    assert [key for key in harness.execution.cache._file_digests if key[0] == str(fresh)]


def test_a_probe_is_keyed_by_the_probe_definitions(tmp_path: Path) -> None:
    """The single-op probes are data in harness/probes/torch_ops.py and keras_ops.py: a probe edited there must
    be built again, and its torch module run again, though source_ops.py did not change."""
    probes = Path(harness.execution.cache.__file__).parents[1] / "probes"
    (tmp_path / "in.npz").write_bytes(b"inputs")
    build = {"task": "call", "function": "harness.probes.source_ops:build_probes", "framework": "tf",
             "kwargs": {"kind": "keras", "jobs": [{"probe": "dense", "artifact": str(tmp_path / "model.keras"),
                                                   "inputs": [str(tmp_path / "in.npz")],
                                                   "outputs": [str(tmp_path / "out.npz")]}]}}
    run = torch_module_run(tmp_path, "harness.probes.source_ops:rebuild_torch_probe", probe="relu")
    for task in (build, run):
        plan = harness.execution.cache.plan_for(task)
        assert plan is not None
        assert {probes / "torch_ops.py", probes / "keras_ops.py"} <= set(plan.reads)


def test_a_stacks_fingerprint_is_the_same_from_any_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A checkout holds its own metadata (parity_harness.egg-info): taken from there, the fingerprint listed it
    as installed in the stack, and no run from the checkout reused an entry stored from anywhere else."""
    stray = tmp_path / "stray_package-1.0.dist-info"
    stray.mkdir()
    (stray / "METADATA").write_text("Metadata-Version: 2.1\nName: stray-package\nVersion: 1.0\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    fingerprints = []
    for folder in (tmp_path, elsewhere):
        monkeypatch.chdir(folder)
        harness.execution.cache._stack_fingerprint.cache_clear()
        fingerprints.append(harness.execution.cache.stack_fingerprint("current"))
    harness.execution.cache._stack_fingerprint.cache_clear()
    assert fingerprints[0] == fingerprints[1]


def test_a_run_on_another_thread_count_is_another_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(harness.execution.cache, "stack_fingerprint", lambda stack: "fixed")
    monkeypatch.delenv("PARITY_WORKER_THREADS", raising=False)
    model = tmp_path / "model.onnx"
    model.write_bytes(b"graph")
    task = {"task": "call", "function": "harness.oracle.localize:list_nodes", "framework": "none",
            "kwargs": {"model_path": str(model)}}
    cache = TaskCache(tmp_path / "cache")
    cache.store("current", task, {"ok": True, "result": {"value": []}})
    assert cache.restore("current", task) is not None
    monkeypatch.setenv("PARITY_WORKER_THREADS", "4")
    assert cache.restore("current", task) is None


def test_a_restored_artifact_is_hashed_once_as_it_is_copied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The artifact a warm cell restores is read by the next task at once (every example runs it): restoring
    hashes what it copies and remembers it, instead of verifying the entry and then hashing the copy again
    on every example until it has settled. A directory artifact (a SavedModel) too."""
    monkeypatch.setattr(harness.execution.cache, "stack_fingerprint", lambda stack: "fixed")
    monkeypatch.setattr(harness.execution.cache, "SETTLED_NS", 10**18)  # nothing written in this test counts as settled
    source, example = tmp_path / "in.onnx", tmp_path / "x.npz"
    source.write_bytes(b"model")
    example.write_bytes(b"example")
    cache = TaskCache(tmp_path / "cache")
    targets = {"onnx": tmp_path / "made" / "model.onnx", "saved_model": tmp_path / "made" / "saved_model"}
    targets["onnx"].parent.mkdir()
    targets["onnx"].write_bytes(b"converted" * 1000)
    (targets["saved_model"] / "variables").mkdir(parents=True)
    (targets["saved_model"] / "saved_model.pb").write_bytes(b"graph")
    (targets["saved_model"] / "variables" / "variables.data-00000-of-00001").write_bytes(b"weights" * 1000)
    tasks = {name: {"task": "convert", "converter": {"class": "harness.converters.tf_from_onnx:TfFromOnnx"},
                    "source": str(source), "target": str(target), "io": {}, "example": str(example)}
             for name, target in targets.items()}
    for task in tasks.values():
        cache.store("current", task, {"ok": True, "result": {}})
    expected = {name: digest_path(target) for name, target in targets.items()}

    hashed: list[int] = []
    real_sha256 = hashlib.sha256
    monkeypatch.setattr(harness.execution.cache.hashlib, "sha256",
                        lambda *data: (hashed.append(1), real_sha256(*data))[1])
    for name, task in tasks.items():
        restored = Path(str(targets[name]).replace("made", "restored"))
        before = len(hashed)
        assert cache.restore("current", {**task, "target": str(restored)}) == {"ok": True, "result": {}}
        files, listing = (1, 0) if name == "onnx" else (2, 1)
        assert len(hashed) - before <= 3 + files + listing  # the key (source, example, recipe), then each file once
        before = len(hashed)
        assert digest_path(restored) == expected[name] and len(hashed) - before <= 1  # a directory's listing only


def test_a_corrupt_file_found_while_restoring_leaves_nothing_behind(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(harness.execution.cache, "stack_fingerprint", lambda stack: "fixed")
    source, example, target = tmp_path / "in.onnx", tmp_path / "x.npz", tmp_path / "made" / "saved_model"
    source.write_bytes(b"model")
    example.write_bytes(b"example")
    (target / "variables").mkdir(parents=True)
    (target / "saved_model.pb").write_bytes(b"graph")
    (target / "variables" / "variables.data-00000-of-00001").write_bytes(b"weights")
    task = {"task": "convert", "converter": {"class": "harness.converters.tf_from_onnx:TfFromOnnx"},
            "source": str(source), "target": str(target), "io": {}, "example": str(example)}
    cache = TaskCache(tmp_path / "cache")
    cache.store("current", task, {"ok": True, "result": {}})
    [entry] = cache.entries()
    (entry / "files" / "0" / "variables" / "variables.data-00000-of-00001").write_bytes(b"tampered")
    elsewhere = tmp_path / "restored" / "saved_model"
    assert cache.restore("current", {**task, "target": str(elsewhere)}) is None
    assert cache.rebuilt == 1 and not elsewhere.exists() and not entry.exists()


def test_a_target_already_holding_the_entrys_bytes_is_left_in_place(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A rerun into the same folder finds each artifact where the last run left it: checked, not copied again.
    A target holding other bytes is replaced by the entry's."""
    monkeypatch.setattr(harness.execution.cache, "stack_fingerprint", lambda stack: "fixed")
    source, example = tmp_path / "in.onnx", tmp_path / "x.npz"
    source.write_bytes(b"model")
    example.write_bytes(b"example")
    onnx_file, saved_model = tmp_path / "made" / "model.onnx", tmp_path / "made" / "saved_model"
    onnx_file.parent.mkdir()
    onnx_file.write_bytes(b"converted" * 100_000)
    (saved_model / "variables").mkdir(parents=True)
    (saved_model / "saved_model.pb").write_bytes(b"graph")
    (saved_model / "variables" / "variables.data-00000-of-00001").write_bytes(b"weights" * 1000)
    cache = TaskCache(tmp_path / "cache")
    tasks = [{"task": "convert", "converter": {"class": "harness.converters.tf_from_onnx:TfFromOnnx"},
              "source": str(source), "target": str(target), "io": {}, "example": str(example)}
             for target in (onnx_file, saved_model)]
    for task in tasks:
        cache.store("current", task, {"ok": True, "result": {}})
    files = [onnx_file, saved_model / "saved_model.pb", saved_model / "variables" / "variables.data-00000-of-00001"]
    for file in files:
        os.utime(file, ns=(10**18, 10**18))  # a copy would carry the time it was made
    for task in tasks:
        assert cache.restore("current", task) == {"ok": True, "result": {}}
    assert [file.stat().st_mtime_ns for file in files] == [10**18] * len(files)  # left where they were

    onnx_file.write_bytes(b"stale" * 100_000)
    (saved_model / "saved_model.pb").write_bytes(b"stale")
    for task in tasks:
        assert cache.restore("current", task) == {"ok": True, "result": {}}
    assert onnx_file.read_bytes() == b"converted" * 100_000
    assert (saved_model / "saved_model.pb").read_bytes() == b"graph"


def test_the_budget_evicts_the_least_recently_used_entries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Three conversions of 100 KB each under a 250 KB budget: the one restored last stays with the newest."""
    monkeypatch.setattr(harness.execution.cache, "stack_fingerprint", lambda stack: "fixed")
    cache = TaskCache(tmp_path / "cache")
    tasks = []
    for name in ("a", "b", "c"):
        source, target = tmp_path / f"{name}.onnx", tmp_path / name / "model.onnx"
        source.write_bytes(name.encode())
        target.parent.mkdir()
        target.write_bytes(os.urandom(100_000))
        task = {"task": "convert", "converter": {"class": "harness.converters.tf_from_onnx:TfFromOnnx",
                                                 "variant": ""}, "source": str(source), "target": str(target),
                "io": {}, "example": str(source)}
        cache.store("current", task, {"ok": True, "result": {}})
        tasks.append(task)
    entries = sorted(cache.entries(), key=lambda entry: (entry / "entry.json").stat().st_mtime)
    for age, entry in enumerate(entries):  # stored an hour apart, a first
        os.utime(entry / "entry.json", (time.time() - 3600 * (3 - age),) * 2)
    assert cache.restore("current", tasks[0]) is not None  # a used again: now the most recently used
    monkeypatch.setenv("PARITY_CACHE_BUDGET_MB", str(250_000 / 2**20))
    removed, freed = cache.keep_to_budget()
    assert removed == 1 and freed > 100_000
    assert cache.restore("current", tasks[1]) is None  # b, the least recently used, is gone
    assert cache.restore("current", tasks[0]) is not None and cache.restore("current", tasks[2]) is not None
    monkeypatch.setenv("PARITY_CACHE_BUDGET_MB", "0")  # no limit
    assert cache.keep_to_budget() == (0, 0)


def test_an_entry_another_run_removes_while_this_one_prunes_is_skipped(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Two runs sharing the checkout's cache both kept it to its budget: one removed an entry the other had just
    listed, and the other's prune raised FileNotFoundError and ended its `parity check` (seen in the full suite
    once the published job had filled the cache to its budget)."""
    monkeypatch.setattr(harness.execution.cache, "stack_fingerprint", lambda stack: "fixed")
    cache = TaskCache(tmp_path / "cache")
    source, target = tmp_path / "a.onnx", tmp_path / "a" / "model.onnx"
    source.write_bytes(b"a")
    target.parent.mkdir()
    target.write_bytes(os.urandom(100_000))
    cache.store("current", {"task": "convert", "converter": {"class": "harness.converters.tf_from_onnx:TfFromOnnx",
                                                             "variant": ""}, "source": str(source),
                            "target": str(target), "io": {}, "example": str(source)}, {"ok": True, "result": {}})
    (kept,) = cache.entries()
    gone = kept.parent / ("0" * len(kept.name))  # listed, then removed by the other run before it is looked at
    monkeypatch.setattr(TaskCache, "entries", lambda self: iter([gone, kept]))
    assert cache.prune(keep_bytes=0) == 1 and not kept.exists()
    assert cache.info()["entries"] == 0  # neither is counted once gone, and nothing raised


def test_a_refusal_is_not_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A torch artifact refused for naming an untrusted rebuild may be trusted by the next run (a plugin declares
    the function, the user sets PARITY_TRUSTED_REBUILDS): the refusal, naming this run's folder, is not replayed."""
    monkeypatch.setattr(harness.execution.cache, "stack_fingerprint", lambda stack: "fixed")
    source, target = tmp_path / "in.onnx", tmp_path / "out" / "model.onnx"
    source.write_bytes(b"model")
    task = {"task": "convert", "converter": {"class": "harness.converters.tf_from_onnx:TfFromOnnx", "variant": ""},
            "source": str(source), "target": str(target), "io": {}, "example": str(source)}
    cache = TaskCache(tmp_path / "cache")
    refused = {"ok": False, "error": f"UntrustedArtifactError: {tmp_path}/module.json names 'mine:rebuild', which "
                                     "is not a rebuild function of the harness or of an installed plugin"}
    cache.store("current", task, refused)
    assert cache.restore("current", task) is None and not list(cache.entries())
    cache.store("current", task, {"ok": False, "error": "BackendIsNotSupposedToImplementIt: Erfc"})
    assert cache.restore("current", task) == {"ok": False, "error": "BackendIsNotSupposedToImplementIt: Erfc"}


@pytest.mark.stacks
def test_two_runs_sharing_one_cache_side_by_side_agree_and_leave_whole_entries(tmp_path: Path) -> None:
    """A user's two terminals (or xdist workers) on one cache: each entry is stored by one rename, so neither run
    half-reads one, both give the same statuses, and a third run finds every task cached."""
    import subprocess

    def parity(name: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "harness.cli", "zoo", "--models", "mlp", "--routes", "torch>onnx>tf>onnx>torch",
             "--examples", "3", "--profile", "ci", "--no-localize", "--cache-dir", str(tmp_path / "cache"),
             "--work-dir", str(tmp_path / name), "--out", str(tmp_path / name / "reports")],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    first, second = parity("first"), parity("second")
    outputs = [process.communicate(timeout=900)[0] for process in (first, second)]
    assert first.returncode == second.returncode == 0, outputs
    third = parity("third")
    output = third.communicate(timeout=900)[0]
    assert third.returncode == 0 and ", 0 conversions," in output, output
    statuses = [pd.read_csv(tmp_path / name / "reports" / "results.csv")[["hop", "status", "max_abs_err"]]
                for name in ("first", "second", "third")]
    assert statuses[0].equals(statuses[1]) and statuses[0].equals(statuses[2])
