"""A user's model that needs packages no stack holds: `--requires` and `[tool.parity] requires` layer them on."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from harness.cli import main
from harness.execution.stacks import cache_root

pytestmark = pytest.mark.stacks

CHECKOUT = Path(__file__).parents[1]
TIMM = "timm==1.0.31"
INPUT = ["--input", "x:Bx3x64x64:float32", "--dim", "B=1:2"]


def check(tmp_path: Path, *args: str) -> int:
    return main(["check", *args, "--examples", "3", "--routes", "torch>onnx>tflite", "--no-localize",
                 "--work-dir", str(tmp_path / "work"), "--out", str(tmp_path / "reports")])


def timm_rows(tmp_path: Path) -> pd.DataFrame:
    rows = pd.read_csv(tmp_path / "reports" / "results.csv")
    exported = rows[rows["hop"] == "torch->onnx"]
    assert len(exported) == 1 and exported["status"].iloc[0] == "pass", exported[["status", "error"]]
    assert json.loads(exported["versions"].iloc[0])["timm"] == "1.0.31"  # the row says what the model ran with
    return rows


def test_a_factory_whose_package_is_missing_says_how_to_add_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(CHECKOUT)
    capsys.readouterr()
    assert check(tmp_path, "tests.user_models:timm_resnet10t", *INPUT) == 2
    error = capsys.readouterr().err.strip()
    assert "No module named 'timm'" in error and "--requires" in error and "\n" not in error


def test_requires_layers_a_package_onto_the_stack_that_runs_the_model(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(CHECKOUT)
    code = check(tmp_path, "tests.user_models:timm_resnet10t", *INPUT, "--requires", TIMM)
    rows = timm_rows(tmp_path)
    assert code == (0 if (rows["raw_status"] == "pass").all() else 1)
    # A thin layer over the current stack, keyed by its requirements: the base stays as it was.
    layers = [json.loads(marker.read_text()) for marker in (cache_root() / "stacks").glob("current-*/stack.json")]
    layer = next(record for record in layers if TIMM in record["requirements"])
    assert layer["layer_over"].startswith("current-") and layer["derived_from"] == "current"


def test_a_projects_pyproject_names_what_its_model_requires(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "project"
    (project / "vision").mkdir(parents=True)
    (project / "vision" / "__init__.py").write_text("")
    (project / "vision" / "models.py").write_text(
        "def classifier():\n"
        "    import timm\n"
        "    return timm.create_model('resnet10t', pretrained=False, num_classes=10).eval()\n")
    (project / "pyproject.toml").write_text(f'[project]\nname = "vision"\n\n[tool.parity]\nrequires = ["{TIMM}"]\n')
    monkeypatch.chdir(project)
    check(tmp_path, "vision.models:classifier", *INPUT)
    timm_rows(tmp_path)


@pytest.mark.parametrize("pyproject, argv, expected", [
    ("", ["--requires", "timm @ https://example.org/timm.whl"], "expected a package name with versions"),
    ("", ["--requires", "torch==2.0.0"], "the current stack pins torch"),
    ("", ["--requires", "not a requirement"], "expected a package name with versions"),
    ('[tool.parity]\nrequires = "timm"\n', [], "[tool.parity] requires must be a list of requirement strings"),
    ("[tool.parity\n", [], "pyproject.toml: not valid TOML"),
])
def test_bad_requirements_are_one_line_before_any_worker(
        pyproject: str, argv: list[str], expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.execution.pool import WorkerPool, WorkerProcess

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a worker pool or worker was created before the mistake was answered")

    monkeypatch.setattr(WorkerPool, "__init__", refuse)
    monkeypatch.setattr(WorkerProcess, "__init__", refuse)
    project = tmp_path / "project"
    project.mkdir()
    if pyproject:
        (project / "pyproject.toml").write_text(pyproject)
    monkeypatch.chdir(project)
    capsys.readouterr()
    assert check(tmp_path, "vision.models:classifier", *INPUT, *argv) == 2
    error = capsys.readouterr().err.strip()
    assert expected in error and "\n" not in error, error
