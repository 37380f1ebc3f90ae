"""Bad input ends in one line naming the problem and the fix, exit status 2, and no traceback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.cli import main
from harness.errors import ModelInputError
from harness.execution.pool import WorkerPool, WorkerProcess
from harness.run.engine import Engine, EngineOptions

pytestmark = pytest.mark.stacks


def one_line_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    capsys.readouterr()
    assert main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("parity: error: "), captured.err
    assert "Traceback" not in captured.err + captured.out
    return lines[0]


@pytest.fixture
def work(tmp_path: Path) -> list[str]:
    return ["--work-dir", str(tmp_path / "work"), "--out", str(tmp_path / "reports")]


def test_a_truncated_onnx_file(tmp_path: Path, work: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "cut.onnx"
    model.write_bytes(b"\x08\x07\x12\x07pytorch\x1a")
    assert "is not a valid ONNX model" in one_line_error(capsys, ["check", str(model), *work])


def test_a_file_that_is_not_onnx(tmp_path: Path, work: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "notes.onnx"
    model.write_text("these are my notes, not a model\n")
    assert "is not a valid ONNX model" in one_line_error(capsys, ["check", str(model), *work])


def test_a_saved_model_without_variables(tmp_path: Path, work: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "exported").mkdir()
    (tmp_path / "exported" / "saved_model.pb").write_bytes(b"")
    assert "has no variables/ directory" in one_line_error(capsys, ["check", str(tmp_path / "exported"), *work])


def test_a_factory_that_raises(work: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    message = one_line_error(capsys, ["check", "tests.user_models:raising_factory", "--input", "x:Bx4:float32", *work])
    assert "factory tests.user_models:raising_factory raised ValueError: weights file" in message


def test_input_shapes_the_torch_model_rejects(work: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    # small_torch_regressor's first layer is Linear(6, 16): a 4-wide input is the user's --input mistake.
    message = one_line_error(capsys, ["check", "tests.user_models:small_torch_regressor", "--input", "x:Bx4:float32",
                                      *work])
    assert "rejects the inputs --input describes" in message and "x (4, 4) float32" in message
    assert "RuntimeError: mat1 and mat2 shapes cannot be multiplied" in message


def test_a_factory_that_does_not_import(work: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert "cannot import 'no_such_package.models'" in one_line_error(
        capsys, ["check", "no_such_package.models:build", *work])


@pytest.mark.parametrize("argv, expected", [
    (["zoo", "--models", "resnet999"], "no zoo model matches resnet999"),
    (["zoo", "--routes", "torch>nowhere"], "no route matches torch>nowhere"),
    (["stacks", "nightly"], "unknown stack 'nightly'"),
    (["check", "missing.onnx"], "no such file or directory"),
    (["check", "model.h5"], "no such file or directory"),
    (["check", "tests.user_models:small_torch_regressor", "--input", "x:Bx-3:float32"], "neither a positive size"),
    (["check", "tests.user_models:small_torch_regressor", "--dim", "B=4:1"], "1 <= LOW <= HIGH"),
    (["zoo", "--examples", "0"], "--examples must be at least 1"),
])
def test_names_and_options_that_do_not_exist(argv: list[str], expected: str, work: list[str],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert expected in one_line_error(capsys, [*argv, *work] if argv[0] != "stacks" else argv)


def test_a_corrupt_results_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = tmp_path / "results.json"
    results.write_text('[{"model": "mlp", "route": ')
    assert "cannot read results" in one_line_error(capsys, ["report", str(results), "--out", str(tmp_path)])
    other = tmp_path / "results.csv"
    other.write_text("a,b\n1,2\n")
    assert "not a parity results file" in one_line_error(capsys, ["report", str(other), "--out", str(tmp_path)])


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    run_dir = tmp_path_factory.mktemp("mutations")
    with WorkerPool(run_dir / "logs") as pool:
        yield Engine(run_dir, pool, EngineOptions(), progress=lambda line: None)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_onnx_bytes_give_only_clean_errors(engine: Engine, data: st.DataObject) -> None:
    original = (Path(__file__).parent / "data" / "tiny.onnx").read_bytes()
    mutated = bytearray(original)
    for _ in range(data.draw(st.integers(1, 8), label="mutations")):
        position = data.draw(st.integers(0, len(mutated) - 1), label="position")
        mutated[position] = data.draw(st.integers(0, 255), label="byte")
    cut = data.draw(st.integers(1, len(mutated)), label="length")
    path = engine.run_dir / "mutated.onnx"
    path.write_bytes(bytes(mutated[:cut]))
    try:
        description = engine.call_function("current", "none", "harness.run.user_model:describe_onnx", path=str(path))
    except ModelInputError as error:
        assert str(error).startswith(f"{path} ") and "\n" not in str(error)
    else:
        assert isinstance(description["inputs"], list)


@pytest.fixture
def no_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    """A mistake the command line shows is answered before any worker pool or worker process exists."""
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a worker pool or worker was created before the mistake was answered")

    monkeypatch.setattr(WorkerPool, "__init__", refuse)
    monkeypatch.setattr(WorkerProcess, "__init__", refuse)
    # main() exports --known-failures to the workers' environment: whatever a case sets is undone after it.
    monkeypatch.setenv("PARITY_KNOWN_FAILURES", "")


TORCH_FACTORY = "tests.user_models:small_torch_regressor"


@pytest.mark.parametrize("argv, expected", [
    ([TORCH_FACTORY], "a torch module declares no inputs; pass --input"),
    ([TORCH_FACTORY, "--mutants"], "a torch module declares no inputs; pass --input"),
    ([TORCH_FACTORY, "--input", "x:Bx-3:float32"], "neither a positive size"),
    ([TORCH_FACTORY, "--input", "x:Bx6"], "expected NAME:SHAPE:DTYPE[:HIGH]"),
    ([TORCH_FACTORY, "--input", "x:Bx6:int64"], "an integer input needs HIGH"),
    ([TORCH_FACTORY, "--input", "x:Bx6:float32", "--dim", "B=4:1"], "1 <= LOW <= HIGH"),
    ([TORCH_FACTORY, "--input", "x:Bx6:float32", "--jobs", "0"], "--jobs must be at least 1"),
    ([TORCH_FACTORY, "--input", "x:Bx6:float32", "--stacks", "current,legacy,nightly"], "unknown stack 'nightly'"),
    ([TORCH_FACTORY, "--input", "x:Bx6:float32", "--routes", "keras>*"], "no route matches keras>*"),
    ([TORCH_FACTORY, "--input", "x:Bx6:float32", "--known-failures", "no_such_records.toml"],
     "no_such_records.toml: no such file"),
    ([TORCH_FACTORY, "--input", "x:Bx6:float32", "--mutants", "--mutant-floor", "1.5"],
     "--mutant-floor must be a fraction between 0 and 1"),
    (["tests/data/tiny.onnx", "--input", "x:Bx6x:float32"], "neither a positive size"),
    (["tests/data/tiny.onnx", "--routes", "torch>*"], "no route matches torch>*"),
    (["tests/data/tiny.onnx", "--trained-look"], "--trained-look re-initialises the model a factory builds"),
])
def test_check_answers_command_line_mistakes_before_any_worker_starts(
        argv: list[str], expected: str, work: list[str], no_workers: None, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A missing --input answered only after the workers had started and built the model (21 s on a cold machine)."""
    monkeypatch.chdir(Path(__file__).parents[1])
    assert expected in one_line_error(capsys, ["check", *argv, *work])
