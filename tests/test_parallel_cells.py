"""Cells side by side (-j 2): the same rows, in the same order, as one cell at a time."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from harness.cli import main
from harness.execution.pool import WorkerPool, call_task, worker_environment
from harness.run.session import measured_seconds, model_groups, read_cell_costs, record_cell_costs
from model_zoo import all_models


def route(route_id: str) -> Any:
    return SimpleNamespace(id=route_id)  # all model_groups reads of a route


def test_a_models_cells_stay_together_and_the_costliest_models_go_first() -> None:
    """Lanes take the next model when done with one: the costly real architectures are handed out first, so a
    run does not end with one lane converting efficientnet while the other idles."""
    zoo = all_models()
    names = ["mlp", "mlp", "mlp", "resnet18", "text_cnn", "gru_classifier", "gru_classifier", "resnet18"]
    cells = [(index, zoo[name], route(f"route{index}")) for index, name in enumerate(names)]
    groups = model_groups(cells)  # type: ignore[arg-type]
    assert [group[0][1].name for group in groups] == ["resnet18", "mlp", "gru_classifier", "text_cnn"]
    assert [index for index, _, _ in groups[0]] == [3, 7]
    assert sorted(index for group in groups for index, _, _ in group) == list(range(len(names)))


def test_fewer_models_than_lanes_spread_their_cells_over_the_lanes() -> None:
    """`parity check` runs one model: its cells together would leave every lane but one idle."""
    zoo = all_models()
    cells = [(index, zoo["resnet18"], route(f"route{index}")) for index in range(3)]
    cells.append((3, zoo["mlp"], route("route3")))
    # Two models for two lanes, but resnet18's three cells cost more than a lane's share: they are split.
    assert [[index for index, _, _ in group] for group in model_groups(cells, lanes=2)] == [  # type: ignore[arg-type]
        [0, 1], [2], [3]]
    groups = model_groups(cells, lanes=3)  # type: ignore[arg-type]
    assert [[index for index, _, _ in group] for group in groups] == [[0], [1], [2], [3]]


def test_lanes_are_balanced_by_the_seconds_each_cell_took_not_by_counting_cells() -> None:
    """Issue 27, item 4: a hand-written model whose cells were measured slow goes first, before a real
    architecture measured cheap; a model costing more than a lane's share is split over the lanes."""
    zoo = all_models()
    names = ["resnet18", "resnet18", "mlp", "mlp", "mlp", "text_cnn"]
    cells = [(index, zoo[name], route(route_id)) for index, (name, route_id) in enumerate(zip(names, "ababca"))]
    by_count = model_groups(cells, lanes=2)  # type: ignore[arg-type]
    assert by_count[0][0][1].name == "resnet18"  # nothing measured: the real architecture is assumed costly
    costs = {"resnet18:a": 2.0, "resnet18:b": 2.0, "mlp:a": 30.0, "mlp:b": 1.0, "mlp:c": 29.0, "text_cnn:a": 3.0}
    groups = model_groups(cells, lanes=2, costs=costs)  # type: ignore[arg-type]
    # mlp's 60 s are more than half of the 67 s: cut into two pieces of about 30 s, handed out first.
    assert [[index for index, _, _ in group] for group in groups] == [[2], [3, 4], [0, 1], [5]]


def test_a_cells_cost_is_kept_only_when_it_did_its_work(tmp_path: Path) -> None:
    converted = [{"model": "mlp", "route": "a", "hop_index": 1, "output": "y", "conversions": 1, "seconds": 2.5},
                 {"model": "mlp", "route": "a", "hop_index": 1, "output": "z", "conversions": 1, "seconds": 2.5},
                 {"model": "mlp", "route": "a", "hop_index": 2, "output": "y", "conversions": 1, "seconds": 1.0}]
    cached = [{**row, "route": "b", "conversions": 0, "seconds": 0.1} for row in converted]
    assert measured_seconds(converted) == 3.5 and measured_seconds(cached) is None
    path = tmp_path / "costs.json"
    record_cell_costs([converted, cached], path)
    assert read_cell_costs(path) == {"mlp:a": 3.5}
    path.write_text("{not json")
    assert read_cell_costs(path) == {}


def test_every_worker_runs_each_framework_on_one_thread_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    """Float rounding, and with it a verdict near its bound, depends on how many threads split an op: a worker
    runs on the same count with -j 1 and -j 8, on any machine."""
    monkeypatch.delenv("PARITY_WORKER_THREADS", raising=False)
    names = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "PARITY_WORKER_THREADS")
    monkeypatch.setenv("OMP_NUM_THREADS", "8")  # the caller's own setting does not leak into the workers
    assert [worker_environment()[name] for name in names] == ["1"] * 4
    monkeypatch.setenv("PARITY_WORKER_THREADS", "3")  # a user who trades that for speed says so
    assert [worker_environment()[name] for name in names] == ["3"] * 4


@pytest.mark.stacks
def test_a_workers_frameworks_keep_to_its_thread_count(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PARITY_WORKER_THREADS", raising=False)
    with WorkerPool(tmp_path / "logs") as pool:
        for stack, framework, expected in (("current", "torch", {"torch": 1, "onnxruntime": 1}),
                                            ("current", "tf", {"tf": 1, "onnxruntime": 1}),
                                            ("legacy", "tf", {"tf": 1, "onnxruntime": 1})):
            task = {"task": "call", "function": "tests.thread_probe:framework_threads",
                    "kwargs": {"framework": framework}, "framework": framework}
            step = call_task(pool, stack, framework, task, 300)
            assert step.status == "ok", step.error
            assert step.result["value"] == expected, (stack, framework)


@pytest.mark.stacks
def test_two_lanes_give_the_rows_of_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    common = ["--models", "mlp", "potato_leaf_cnn", "--routes", "torch>onnx>tf>onnx>torch", "--profile", "ci",
              "--examples", "3", "--no-cache"]
    for jobs in (1, 2):
        capsys.readouterr()
        assert main(["zoo", *common, "-j", str(jobs), "--work-dir", str(tmp_path / f"w{jobs}"),
                     "--out", str(tmp_path / f"j{jobs}")]) == 0
    # The lanes' news reaches the parent's progress line, which counts the finished cells.
    shown = capsys.readouterr().out
    for model in ("mlp", "potato_leaf_cnn"):
        assert f"] {model} torch>onnx>tf>onnx>torch hop 1 torch->onnx" in shown
    assert "[2/2]" in shown

    def table(folder: Path) -> list[tuple[str, str, str, str]]:
        return [(row["model"], row["route"], row["hop"], row["status"])
                for row in json.loads((folder / "results.json").read_text())]

    assert table(tmp_path / "j2") == table(tmp_path / "j1")
    assert (tmp_path / "w2" / "logs" / "lane1").is_dir()  # the second lane had its own workers


@pytest.mark.stacks
def test_probes_run_by_the_lanes_give_the_rows_of_probes_run_after_the_cells(tmp_path: Path) -> None:
    from harness.probes.node_cases import run_node_probes
    from harness.probes.source_ops import run_source_probes
    from harness.run.engine import EngineOptions
    from harness.run.session import open_engine, run_cells

    def node_probes(engine: Any, note: Any) -> list[dict[str, Any]]:
        return run_node_probes(engine.run_dir / "probes", engine.pool, hops=("onnx>tf", "onnx>torch"),
                               case_filter="test_relu,test_add", progress=note, opsets=[None, 13])

    def source_probes(engine: Any, note: Any) -> list[dict[str, Any]]:
        return run_source_probes(engine.run_dir / "probes", engine.pool, name_filter=["relu", "activation_relu"],
                                 progress=note)

    def table(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return [(row.get("case") or row.get("probe"), row["route"], row["hop"], row.get("opset"), row["status"],
                 row.get("max_abs_err")) for row in rows]

    tables = {}
    for jobs in (1, 2):
        work = tmp_path / f"j{jobs}"
        with open_engine(work, EngineOptions(cache_dir=None), lambda text: None) as engine:
            result = run_cells(engine, [], jobs=jobs, alongside=[node_probes, source_probes])
            assert engine.pool.started == 0 or jobs == 1  # with lanes, the parent starts no worker of its own
        node_rows, source_rows = result.alongside
        # Rows name the run's own folder, however many lanes ran them.
        assert all(Path(row["artifact"]).is_relative_to(work) for row in node_rows + source_rows if row["artifact"])
        tables[jobs] = table(node_rows) + table(source_rows)
    assert len(tables[1]) > 10 and tables[2] == tables[1]


@pytest.mark.stacks
def test_a_keras_twin_is_named_as_a_fresh_process_names_it_whatever_its_worker_built_before(tmp_path: Path) -> None:
    """Keras numbers the layers it names itself process-wide (rescaling, then rescaling_1): a twin built in a
    worker that had built another model (a lane's Keras probes, say) came out with other layer names, and so
    did the error messages quoting them and every cache key after it."""
    import zipfile

    def layer_names(path: Path) -> list[str]:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
        return [layer["config"]["name"] for layer in config["config"]["layers"]]

    built = []
    with WorkerPool(tmp_path / "logs") as pool:
        for attempt in ("first", "again"):
            (tmp_path / attempt).mkdir()
            task = {"task": "build_source", "model": "keras_efficientnet_b0", "format": "keras",
                    "target": str(tmp_path / attempt / "model.keras"), "state": str(tmp_path / attempt / "state.npz")}
            step = call_task(pool, "current", "tf", task, 600)
            assert step.status == "ok", step.error
            built.append(layer_names(tmp_path / attempt / "model.keras"))
    assert "rescaling" in built[0] and built[1] == built[0]
