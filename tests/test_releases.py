"""A converter's release history: `--with` derives from the stack its converters live in, and `parity releases`
turns a run of several releases into the first release that passes and the ones that regressed."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from harness.converters import default_converters, hosted_by_definition
from harness.errors import StackError
from harness.execution import stacks
from harness.execution.stacks import derive, get_stack
from harness.reporting.releases import ReleaseStack, history, release_cells, releases_markdown
from harness.reporting.results import to_frame


def test_a_release_of_onnx2tf_derives_from_onnx2tfs_own_stack() -> None:
    derivation = derive("onnx2tf==2.0.0")
    home = stacks.defined_stacks()["onnx2tf"]
    assert (derivation.base, derivation.old_version, derivation.new_version) == ("onnx2tf", "2.6.9", "2.0.0")
    derived = derivation.stack
    assert derived.derived_from == "onnx2tf" and derived.python == "3.12"  # its home's interpreter, not 3.11's
    # The extra stays: the other release is installed the way the home stack installs its own.
    assert [line for line in derived.requirements if line not in home.requirements] == ["onnx2tf[tensorflow]==2.0.0"]
    # Both onnx2tf converters, and only they, run a second time in it.
    hosted = hosted_by_definition(derived, default_converters())
    assert sorted(type(converter).__name__ for converter in hosted) == ["TfFromOnnxViaOnnx2tf", "TfliteFromOnnx"]
    # A base stack still comes first: onnx is pinned by current and legacy, never derived from onnx2tf's stack.
    with pytest.raises(StackError, match="pinned by stacks current and legacy"):
        derive("onnx==1.16.0")


def cell(model: str, route: str, stack: str, version: str, status: str, error: str = "") -> list[dict[str, Any]]:
    """A torch>onnx>tflite cell: the exporter's hop, then onnx2tf's in `stack`."""
    return [
        {"model": model, "route": route, "hop_index": 1, "hop": "torch->onnx", "output": "y",
         "converter": "OnnxFromTorch[torchscript]", "converter_version": "2.14.1", "stack": "current",
         "status": "pass", "raw_status": "pass", "versions": json.dumps({"torch": "2.14.1"})},
        {"model": model, "route": route, "hop_index": 2, "hop": "onnx->tflite", "output": "y",
         "converter": "TfliteFromOnnx", "converter_version": version, "stack": stack, "status": status,
         "raw_status": status, "error": error,
         "versions": json.dumps({"onnx2tf": version, "tensorflow": "2.19.0" if version < "2.5" else "2.21.0"})},
    ]


RELEASES = [ReleaseStack("onnx2tf-2.0.0", "onnx2tf-2.0.0"), ReleaseStack("onnx2tf-2.3.0", "onnx2tf-2.3.0"),
            ReleaseStack("onnx2tf", "")]


@pytest.fixture
def results() -> list[dict[str, Any]]:
    """cnn: fails in 2.0.0, passes from 2.3.0. lstm: passes in 2.0.0, regresses in 2.3.0, passes again in 2.6.9.
    A known failure (xfail) counts as the failure it is."""
    return [
        *cell("cnn", "torch>onnx>tflite@onnx2tf-2.0.0", "onnx2tf-2.0.0", "2.0.0", "convert_error",
              "NotImplementedError: GRU"),
        *cell("cnn", "torch>onnx>tflite@onnx2tf-2.3.0", "onnx2tf-2.3.0", "2.3.0", "pass"),
        *cell("cnn", "torch>onnx>tflite", "onnx2tf", "2.6.9", "pass"),
        *cell("lstm", "torch>onnx>tflite@onnx2tf-2.0.0", "onnx2tf-2.0.0", "2.0.0", "pass"),
        *[{**row, "status": "xfail"} if row["hop_index"] == 2 else row
          for row in cell("lstm", "torch>onnx>tflite@onnx2tf-2.3.0", "onnx2tf-2.3.0", "2.3.0", "run_error",
                          "RuntimeError: XNNPack delegate failed to reshape")],
        *cell("lstm", "torch>onnx>tflite", "onnx2tf", "2.6.9", "pass"),
    ]


def test_the_first_passing_release_and_the_regressions(results: list[dict[str, Any]]) -> None:
    cells = release_cells(to_frame(results), ["TfliteFromOnnx"], RELEASES)
    table = history(cells).set_index("model")
    assert list(table.columns) == ["route", "2.0.0", "2.3.0", "2.6.9", "first passing", "regressed"]
    assert set(table["route"]) == {"torch>onnx>tflite"}  # one route under every release, its stack mark gone
    assert table.loc["cnn", ["2.0.0", "2.3.0", "2.6.9"]].tolist() == ["convert_error", "pass", "pass"]
    assert (table.loc["cnn", "first passing"], table.loc["cnn", "regressed"]) == ("2.3.0", "none")
    assert table.loc["lstm", "2.3.0"] == "run_error"
    assert (table.loc["lstm", "first passing"], table.loc["lstm", "regressed"]) == ("2.0.0",
                                                                                    "2.3.0 (run_error; 2.0.0 passed)")


def test_the_release_page_names_each_release_stack_and_error(results: list[dict[str, Any]]) -> None:
    frame = to_frame(results)
    page = releases_markdown("onnx2tf", frame, release_cells(frame, ["TfliteFromOnnx"], RELEASES),
                             "parity releases onnx2tf --versions 2.0.0,2.3.0,2.6.9", seconds=600)
    assert "Cells passing, by release: 2.0.0 1/2, 2.3.0 1/2, 2.6.9 2/2." in page
    assert "| 2.0.0     | onnx2tf-2.0.0 |" in page and "2.19.0" in page and "2.21.0" in page
    assert "| lstm    | torch>onnx>tflite | 2.3.0      | onnx->tflite: RuntimeError: XNNPack delegate failed" in page
    assert "The run took 10 min." in page


def test_releases_from_a_finished_run_and_its_mistakes(results: list[dict[str, Any]], tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run.json"
    run.write_text(to_frame(results).to_json(orient="records"))
    assert main(["releases", "onnx2tf", "--versions", "2.0.0,2.3.0,2.6.9", "--from-results", str(run),
                 "--out", str(tmp_path / "releases")]) == 0
    page = (tmp_path / "releases" / "onnx2tf.md").read_text()
    assert "| lstm    | torch>onnx>tflite | pass          | run_error | pass    | 2.0.0" in page
    assert "The run's command was not recorded." in page  # these rows name none
    capsys.readouterr()
    # A user's mistake is one line and exit 2: one release, a package no converter uses, a file of other rows.
    assert main(["releases", "onnx2tf", "--versions", "2.0.0"]) == 2
    assert main(["releases", "onnx2pytorch", "--versions", "0.5.1,0.6.0", "--from-results", str(run)]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 2 and "at least two releases" in errors[0] and "no rows of onnx2pytorch" in errors[1]


@pytest.mark.stacks
@pytest.mark.skipif(not get_stack("onnx2tf").is_provisioned(), reason="stack onnx2tf not provisioned")
def test_an_older_onnx2tf_is_a_thin_layer_over_its_home_stack() -> None:
    """onnx2tf 2.5.0 pins what 2.6.9 pins except itself: its layer holds onnx2tf alone, and imports the home
    stack's TensorFlow. About a minute from a warm uv cache; skipped where it cannot be fetched."""
    [name] = stacks.stacks_with(["onnx2tf==2.5.0"])
    stack = get_stack(name)
    try:
        python = stack.ensure()
    except StackError as exc:
        pytest.skip(f"cannot provision onnx2tf 2.5.0 here: {exc}")
    record = json.loads((stack.folder / "stack.json").read_text())
    assert record["derived_from"] == "onnx2tf" and record["layer"] == {"onnx2tf": "2.5.0"}
    probe = ("import importlib.metadata as m, onnx2tf, tensorflow; "
             "print(m.version('onnx2tf'), tensorflow.__version__, tensorflow.__file__)")
    out = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, timeout=300, check=True,
                         cwd=stack.folder).stdout.split()
    home = get_stack("onnx2tf").folder
    assert out[:2] == ["2.5.0", "2.21.0"] and out[2].startswith(str(home))  # TensorFlow from the home stack
