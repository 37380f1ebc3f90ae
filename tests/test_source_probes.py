"""Source-side single-op probes: the registries, the runner's bookkeeping, and real exports of a few probes."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from harness.errors import WorkerFailure
from harness.execution.pool import WorkerPool
from harness.probes.source_ops import (
    RunContext,
    all_probes,
    example_arrays,
    find_probe,
    inventory_columns,
    prepare_sources,
    run_hop,
    run_source_probes,
    select_probes,
)


def test_the_registries_hold_enough_probes_with_unique_names() -> None:
    torch_names = [probe.name for probe in all_probes(["torch"])]
    keras_names = [probe.name for probe in all_probes(["keras"])]
    assert len(torch_names) >= 40 and len(keras_names) >= 30
    assert len(set(torch_names)) == len(torch_names)
    assert len(set(keras_names)) == len(keras_names)
    for probe in all_probes():
        assert probe.tags and probe.inputs and probe.outputs and probe.op, probe.name


def test_reading_the_registries_imports_no_framework() -> None:
    code = ("import sys; from harness.probes.source_ops import all_probes; all_probes(); "
            "print(sorted({'torch', 'tensorflow', 'keras'} & set(sys.modules)))")
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert completed.stdout.strip() == "[]"


def test_examples_respect_each_inputs_domain_and_are_seeded() -> None:
    for probe in all_probes():
        examples = example_arrays(probe)
        assert len(examples) == 3
        for arrays in examples:
            for spec, array in zip(probe.inputs, arrays):
                assert array.shape == spec.shape and array.dtype == np.dtype(spec.dtype)
                if spec.domain == "positive":
                    assert (array > 0).all(), probe.name
                if spec.domain == "index":
                    assert spec.high is not None and array.min() >= 0 and array.max() < spec.high, probe.name
        assert all(np.array_equal(a, b) for a, b in zip(examples[0], example_arrays(probe)[0]))


def test_selecting_by_glob() -> None:
    assert [probe.name for probe in select_probes(["torch"], ["relu", "conv2d"])] == ["relu", "conv2d"]
    assert {probe.kind for probe in select_probes(name_filter="lstm")} == {"torch", "keras"}


def test_the_inventory_gives_op_types_opset_and_missing_tags() -> None:
    columns = inventory_columns("Conv@ai.onnx:17 x3; Relu@ai.onnx:17 x1; Foo@com.microsoft:1 x2", ("Conv", "Gemm"))
    assert columns["onnx_op_types"] == "Conv, Foo, Relu"
    assert columns["opset"] == 17
    assert columns["expected_ops_missing"] == "Gemm"


class ScriptedPool:
    """Answers worker calls from a script, so the runner's bookkeeping is tested without any stack."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.tasks: list[dict[str, Any]] = []

    def call(self, stack: str, framework: str, task: dict[str, Any], timeout: float) -> dict[str, Any]:
        self.tasks.append(task)
        result: dict[str, Any] = self.answer(task)
        return result


def scripted_context(pool: ScriptedPool) -> RunContext:
    return RunContext(pool, lambda line: None, "test-run", 10.0, 10.0, {"torch": "0"})  # type: ignore[arg-type]


def test_a_crashed_batch_is_retried_one_probe_at_a_time(tmp_path: Path) -> None:
    def answer(task: dict[str, Any]) -> dict[str, Any]:
        names = [job["probe"] for job in task["kwargs"]["jobs"]]
        if "sqrt" in names:  # this probe "segfaults" its worker
            raise WorkerFailure("crash", "worker process died with signal SIGSEGV")
        return {"ok": True, "result": {"value": {name: {"ok": True} for name in names}}}

    pool = ScriptedPool(answer)
    batch = [find_probe("torch", name) for name in ("relu", "sqrt", "exp")]
    sources = prepare_sources(scripted_context(pool), tmp_path, "torch", batch)
    assert [source.status for source in sources] == ["ok", "crash", "ok"]
    assert "SIGSEGV" in sources[1].error
    assert len(pool.tasks) == 4  # the batch, then each probe alone
    rows = run_hop(scripted_context(pool), sources[1], converter=_torchscript())
    assert rows[0]["status"] == "skipped" and "crash" in rows[0]["error"] and rows[0]["conversions"] == 0


def test_a_converter_error_is_a_convert_error_row_with_its_error(tmp_path: Path) -> None:
    def answer(task: dict[str, Any]) -> dict[str, Any]:
        if task["task"] == "call":
            return {"ok": True, "result": {"value": {"relu": {"ok": True}}}}
        return {"ok": False, "error": "UnsupportedOperatorError: Exporting the operator 'aten::relu' is not supported"}

    pool = ScriptedPool(answer)
    (source,) = prepare_sources(scripted_context(pool), tmp_path, "torch", [find_probe("torch", "relu")])
    (row,) = run_hop(scripted_context(pool), source, _torchscript())
    assert row["status"] == "convert_error" and row["error"].startswith("UnsupportedOperatorError")
    assert row["route"] == "torch>onnx" and row["probe_kind"] == "torch" and row["replay"]


def _torchscript() -> Any:
    from harness.converters.onnx_from_torch import OnnxFromTorch

    return OnnxFromTorch("torchscript")


# -- real exports in the current stack -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def probe_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, WorkerPool]]:
    run_dir = tmp_path_factory.mktemp("probes")
    with WorkerPool(run_dir / "logs") as pool:
        yield run_dir, pool


@pytest.mark.stacks
def test_relu_passes_both_torch_exporters_and_tf2onnx(probe_pool: tuple[Path, WorkerPool]) -> None:
    run_dir, pool = probe_pool
    rows = run_source_probes(run_dir, pool, name_filter=["relu", "activation_relu"], progress=lambda line: None)
    by_route = {row["route"]: row for row in rows}
    assert set(by_route) == {"torch>onnx", "torch>onnx@dynamo", "keras>onnx", "keras>onnx@keras-export"}
    for row in rows:
        assert row["status"] == "pass", row
        assert "Relu" in row["onnx_op_types"].split(", ") and row["expected_ops_missing"] == ""
        assert row["max_abs_err"] == 0.0 and row["examples"] == 3
    assert by_route["torch>onnx"]["opset"] == 17


@pytest.mark.stacks
def test_failing_exports_are_recorded_with_their_errors(probe_pool: tuple[Path, WorkerPool]) -> None:
    run_dir, pool = probe_pool
    rows = run_source_probes(run_dir, pool, kinds=["torch"], name_filter=["adaptive_avg_pool2d", "atan2"],
                             progress=lambda line: None)
    cells = {(row["probe"], row["route"]): row for row in rows}
    # The TorchScript exporter refuses an adaptive pool whose output size does not divide the input's.
    refused = cells["adaptive_avg_pool2d", "torch>onnx"]
    assert refused["status"] == "convert_error" and "not factor of input size" in refused["error"]
    assert refused["onnx_ops"] == ""
    assert cells["adaptive_avg_pool2d", "torch>onnx@dynamo"]["status"] == "pass"
    # Its atan2 divides y by x: where x is an exact zero (the sparse example) ONNX gives NaN/Inf, torch does not.
    divided = cells["atan2", "torch>onnx"]
    assert divided["status"] == "mismatch" and "non-finite where the reference is finite" in divided["error"]
    assert "Atan" in divided["onnx_op_types"] and divided["worst_example"].startswith("example 2")
