"""The float64 truth of each source format, computed on real stacks: what it runs and that it is the same
function as the float32 model (only more exact)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from harness.execution.pool import WorkerPool
from harness.run.engine import Engine, EngineOptions
from model_zoo import all_models

pytestmark = pytest.mark.stacks


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    run_dir = tmp_path_factory.mktemp("truth")
    with WorkerPool(run_dir / "logs") as pool:
        yield Engine(run_dir, pool, EngineOptions(examples=2, profile="ci"), progress=lambda line: None)


def run_with_truth(engine: Engine, fmt: str, artifact: Path, inputs: Path, io: dict[str, object],
                   out: Path) -> tuple[np.ndarray, np.ndarray, str]:
    run = engine.run_artifact("current", fmt, artifact, io, [inputs], out, truth=True)
    assert run.step.status == "ok", run.step.error
    assert run.truths, run.truth
    return run.outputs[0][0], run.truths[0][0], run.truth


@pytest.mark.parametrize(("builder", "expected"), [("build_chain_model", "onnxruntime float64"),
                                                   ("build_conv_model", "onnx.reference float64")])
def test_an_onnx_graph_is_widened_to_float64(engine: Engine, tmp_path: Path, builder: str, expected: str) -> None:
    made = engine.call_function("current", "none", f"tests.fake_localize:{builder}", out_dir=str(tmp_path))
    io = {"inputs": [{"name": "x"}], "outputs": ["y"]}
    output, truth, kind = run_with_truth(engine, "onnx", Path(made["model"]), Path(made["inputs"]), io, tmp_path / "o")
    assert kind == expected
    assert truth.dtype == np.float64 and output.dtype == np.float32
    np.testing.assert_allclose(truth, output, rtol=1e-4, atol=1e-5)  # the same function, more exact
    assert not np.array_equal(truth, output.astype(np.float64))  # and really computed in float64


@pytest.mark.parametrize("fmt", ["torch", "keras"])
def test_each_zoo_twin_has_a_float64_truth(engine: Engine, tmp_path: Path, fmt: str) -> None:
    spec = all_models()["resnet_blocks"]
    context = engine.prepare(spec)
    inputs = next((context.folder / "source" / "twin_inputs" / fmt).glob("*.npz"))
    io = {"inputs": [{"name": s.name} for s in spec.inputs], "outputs": [o.name for o in spec.outputs]}
    output, truth, kind = run_with_truth(engine, fmt, context.artifacts[fmt], inputs, io, tmp_path / "o")
    assert kind == {"torch": "torch float64", "keras": "keras float64 clone"}[fmt]
    assert truth.dtype == np.float64
    np.testing.assert_allclose(truth, output, rtol=1e-3, atol=1e-4)
    assert not np.array_equal(truth, output.astype(np.float64))


@pytest.mark.parametrize("fmt", ["torch", "keras"])
def test_the_truth_widens_the_model_the_runner_holds(engine: Engine, fmt: str) -> None:
    """The float64 twin is made from the float32 model already loaded, not read from disk a second time
    (a DenseNet121 .keras file takes seconds to load)."""
    spec = all_models()["resnet_blocks"]
    context = engine.prepare(spec)
    inputs = next((context.folder / "source" / "twin_inputs" / fmt).glob("*.npz"))
    io = {"inputs": [{"name": s.name} for s in spec.inputs], "outputs": [o.name for o in spec.outputs]}
    loads = engine.call_function("current", "torch" if fmt == "torch" else "tf",
                                 "tests.source_loads:loads_for_run_and_truth", fmt=fmt,
                                 artifact=str(context.artifacts[fmt]), inputs=str(inputs), io=io)
    assert loads == 1
