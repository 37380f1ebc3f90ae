"""Localizing the first divergent node: a converter broken at one known node, and onnx-tf, which is right."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from harness.converters.tf_from_onnx import TfFromOnnx
from harness.execution.cache import TaskCache
from harness.execution.pool import WorkerPool, call_task
from harness.execution.stacks import get_stack
from harness.execution.worker import load_npz
from harness.oracle.compare import compare, default_tolerance
from harness.oracle.localize import Localization, bisect, localize, named_node, prefix_outputs, write_repro
from tests.fake_localize import CANCELLING, CHAIN, WRONG_NODE, MiscompilingOnnxConverter

CANCELLING_SUB = [name for _, name in CANCELLING].index("centered")


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerPool]:
    with WorkerPool(tmp_path_factory.mktemp("localize_logs")) as workers:
        yield workers


@pytest.fixture(scope="module")
def chain(pool: WorkerPool, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("chain")
    reply = pool.call("current", "none", {"task": "call", "function": "tests.fake_localize:build_chain_model",
                                          "kwargs": {"out_dir": str(folder)}, "framework": "none"}, 120)
    assert reply["ok"], reply.get("error")
    return {key: Path(value) for key, value in reply["result"]["value"].items()}


def test_prefix_outputs_keep_a_skip_connection_visible() -> None:
    # a -> relu -> b; a + b -> c: cut after relu, `a` is still read later, so it stays an output.
    nodes = [SimpleNamespace(input=["x"], output=["a"]), SimpleNamespace(input=["a"], output=["b"]),
             SimpleNamespace(input=["a", "b"], output=["c"])]
    assert prefix_outputs(nodes, {"c"}, 0) == ["a"]
    assert prefix_outputs(nodes, {"c"}, 1) == ["a", "b"]
    assert prefix_outputs(nodes, {"c"}, 2) == ["c"]


def assert_names(result: Localization, name: str, status: str) -> None:
    index = [node for _, node, _ in CHAIN].index(name)
    assert result.found, result.summary()
    assert (result.node_index, result.node_name, result.op_type) == (index, name, CHAIN[index][0])
    assert (result.domain, result.opset, result.status) == ("ai.onnx", 13, status)
    assert result.verified, result.summary()
    passed = {check.index: check.passed for check in result.checks}
    assert passed[index - 1] and not passed[index]


@pytest.mark.parametrize("scan", [False, True], ids=["bisect", "scan"])
def test_one_wrong_node_is_named(pool: WorkerPool, chain: dict[str, Path], tmp_path: Path, scan: bool) -> None:
    converter = MiscompilingOnnxConverter("leaky")
    result = localize(pool, chain["model"], converter, chain["inputs"], tmp_path, scan=scan)
    assert_names(result, WRONG_NODE, "mismatch")
    assert result.max_abs_err > 1e-3
    if not scan:
        assert result.conversions <= 5  # the full model plus ceil(log2(11)) prefixes
    assert (tmp_path / "localization.json").is_file()


def test_a_conversion_error_is_named_with_its_error(pool: WorkerPool, chain: dict[str, Path],
                                                    tmp_path: Path) -> None:
    result = localize(pool, chain["model"], MiscompilingOnnxConverter("reject_sigmoid"), chain["inputs"], tmp_path)
    assert_names(result, "sigmoid_1", "convert_error")
    assert "Sigmoid version 13 is not implemented" in result.error
    # The error names the op: its first node is tried first and verified by the prefix before it, three
    # conversions (the whole graph, prefix 7, prefix 6) where bisection alone takes five.
    assert [check.index for check in result.checks] == [10, 7, 6]


class FakeLocalizer:
    """Prefixes from `first_failing` on fail. Records the order the prefixes were first tried (the real one
    evaluates each prefix once)."""

    def __init__(self, first_failing: int) -> None:
        self.first_failing, self.tried = first_failing, list[int]()

    def check(self, index: int) -> SimpleNamespace:
        if index not in self.tried:
            self.tried.append(index)
        return SimpleNamespace(status="convert_error" if index >= self.first_failing else "pass")

    def fails(self, index: int) -> bool:
        return self.check(index).status != "pass"


@pytest.mark.parametrize("hint", [None, 0, 3, 4, 5, 9, 63])
def test_a_hint_only_changes_the_order_of_the_bisection(hint: int | None) -> None:
    """The node an error names is tried first; a wrong one (too early, too late, outside the graph) costs a
    check or two, never the answer."""
    localizer = FakeLocalizer(first_failing=4)
    assert bisect(localizer, 10, hint=hint) == 4  # type: ignore[arg-type]
    if hint == 4:
        assert localizer.tried == [9, 4, 3]


def test_the_node_an_error_names_is_the_first_it_names() -> None:
    nodes = [{"name": "conv_1", "op_type": "Conv", "outputs": ["conv_1:0"]},
             {"name": "", "op_type": "Transpose", "outputs": ["model_1/bn/mul_1__63:0"]},
             {"name": "add_1", "op_type": "Add", "outputs": ["add_1:0"]},
             {"name": "unsq", "op_type": "Unsqueeze", "outputs": ["u"]},
             {"name": "unsq_2", "op_type": "Unsqueeze", "outputs": ["u2"]}]
    assert named_node("Unsqueeze version 13 is not implemented.", nodes) == 3
    assert named_node("'onnx_tf_prefix_/Transpose_model_1/bn/mul_1__63:0/Transpose' is not a valid root scope "
                      "name", nodes) == 1
    assert named_node("in node add_1: shapes differ", nodes) == 2
    assert named_node("BiasAdd has no kernel", nodes) is None  # no word of it is an op type of this graph
    assert named_node("", nodes) is None


def test_the_repro_stands_alone_and_reproduces(pool: WorkerPool, chain: dict[str, Path], tmp_path: Path) -> None:
    converter = MiscompilingOnnxConverter("leaky")
    result = localize(pool, chain["model"], converter, chain["inputs"], tmp_path / "work")
    repro = write_repro(result, tmp_path / "repro", converter)
    assert sorted(path.name for path in repro.parent.iterdir()) == [
        "README.txt", "expected.npz", "input.npz", "model.onnx", "repro.py", "truth.npz", "versions.json"]
    code = repro.read_text()
    assert "import harness" not in code and "from harness" not in code  # numpy, onnx and the converter only
    # Run from an empty folder without the checkout on the path, as someone filing the bug would.
    completed = subprocess.run([str(get_stack("current").python), str(repro)], capture_output=True, text=True,
                               cwd=tmp_path, env={"PATH": "/usr/bin:/bin"}, timeout=120)
    assert completed.returncode == 1, completed.stdout + completed.stderr
    assert "DIVERGES" in completed.stdout and "relu_2_out" in completed.stdout


def test_a_correct_converter_localizes_nothing(pool: WorkerPool, chain: dict[str, Path], tmp_path: Path) -> None:
    result = localize(pool, chain["model"], MiscompilingOnnxConverter("identity"), chain["inputs"], tmp_path)
    assert not result.found and result.conversions == 1  # the whole model passes: nothing to bisect
    with pytest.raises(ValueError, match="nothing to reproduce"):
        write_repro(result, tmp_path / "repro", MiscompilingOnnxConverter("identity"))


def test_onnx_tf_passes_every_prefix(pool: WorkerPool, chain: dict[str, Path], tmp_path: Path) -> None:
    result = localize(pool, chain["model"], TfFromOnnx(), chain["inputs"], tmp_path, scan=True)
    assert not result.found, result.summary()
    assert sorted(check.index for check in result.checks) == list(range(len(CHAIN)))  # each prefix once
    assert all(check.passed for check in result.checks), [(c.index, c.status, c.error) for c in result.checks]


def test_a_cut_with_untyped_outputs_gets_the_types_onnxruntime_produced(pool: WorkerPool, tmp_path: Path) -> None:
    def call(function: str, **kwargs: object) -> object:
        reply = pool.call("current", "none", {"task": "call", "function": function, "kwargs": kwargs,
                                              "framework": "none"}, 120)
        assert reply["ok"], reply.get("error")
        return reply["result"]["value"]

    made = call("tests.fake_localize:build_untyped_output_model", out_dir=str(tmp_path))
    assert isinstance(made, dict)
    call("harness.oracle.localize:reference_outputs", model_path=made["model"], inputs_npz=made["inputs"],
         out_path=str(tmp_path / "expected.npz"))
    # Typed now: a converter's output checked by the onnx checker is no longer blamed for the cut.
    assert call("tests.fake_localize:checker_accepts", model_path=made["model"]) is True


def test_a_cut_typed_from_the_task_cache_is_typed_too(pool: WorkerPool, tmp_path: Path) -> None:
    """The reference run writes the types it saw into the cut it read: a rerun answered from the cache must
    leave the cut typed as well, or the conversion after it reads other bytes (it missed the cache in the
    published rerun, and onnx-tf failed on the untyped cut with another error)."""
    cache = TaskCache(tmp_path / "cache")

    def call(function: str, **kwargs: object) -> object:
        step = call_task(pool, "current", "none", {"task": "call", "function": function, "kwargs": kwargs,
                                                   "framework": "none"}, 120, cache)
        assert step.status == "ok", step.error
        return step.result["value"]

    for run in ("cold", "warm"):
        made = call("tests.fake_localize:build_untyped_output_model", out_dir=str(tmp_path / run))
        assert isinstance(made, dict)
        call("harness.oracle.localize:reference_outputs", model_path=made["model"], inputs_npz=made["inputs"],
             out_path=str(tmp_path / run / "expected.npz"))
        assert call("tests.fake_localize:checker_accepts", model_path=made["model"]) is True, run
    assert cache.hits >= 1  # the warm reference run came from the cache


def test_a_rerun_localizes_from_the_task_cache_without_a_worker(pool: WorkerPool, chain: dict[str, Path],
                                                                tmp_path: Path) -> None:
    """Localizing is conversions, runs and graph cuts of unchanged files: a warm rerun starts no worker."""
    cache = TaskCache(tmp_path / "cache")
    cold = localize(pool, chain["model"], MiscompilingOnnxConverter("leaky"), chain["inputs"], tmp_path / "cold",
                    cache=cache)
    with WorkerPool(tmp_path / "warm_logs") as fresh:
        warm = localize(fresh, chain["model"], MiscompilingOnnxConverter("leaky"), chain["inputs"],
                        tmp_path / "warm", cache=cache)
        assert fresh.started == 0
    assert_names(warm, WRONG_NODE, "mismatch")
    assert [(check.index, check.status) for check in warm.checks] == [(check.index, check.status)
                                                                      for check in cold.checks]


def test_benign_rounding_at_a_cancelling_node_is_not_named(pool: WorkerPool, tmp_path: Path) -> None:
    """Prefixes are judged against onnxruntime's float32 outputs AND the prefix's float64 truth, by the verdict's
    own rule: a converter closer to the truth than onnxruntime at a cancelling Sub is not the fault; the bias it
    shifted two nodes later is."""
    reply = pool.call("current", "none", {"task": "call", "function": "tests.fake_localize:build_cancelling_model",
                                          "kwargs": {"out_dir": str(tmp_path / "model")}, "framework": "none"}, 120)
    assert reply["ok"], reply.get("error")
    made = {key: Path(value) for key, value in reply["result"]["value"].items()}
    converter = MiscompilingOnnxConverter("exact_bias_off")
    result = localize(pool, made["model"], converter, made["inputs"], tmp_path / "work", scan=True)
    assert result.found and result.verified, result.summary()
    assert (result.node_name, result.op_type) == ("biased", "Add"), result.summary()
    centered = next(check for check in result.checks if check.index == CANCELLING_SUB)
    assert centered.passed and centered.truth, centered
    # The case this guards against: judged against onnxruntime's float32 outputs alone, the Sub fails.
    reference, produced = load_npz(centered.expected)[0], load_npz(centered.produced)[0]
    assert not compare(reference, produced, default_tolerance(reference.dtype)).passed
    repro = write_repro(result, tmp_path / "repro", converter)
    assert (repro.parent / "truth.npz").is_file()
