"""onnx2tf in its own stack (Python 3.12): ONNX -> TFLite, run by LiteRT, and ONNX -> SavedModel, on real zoo models."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from harness.converters.tf_from_onnx_onnx2tf import TfFromOnnxViaOnnx2tf, TfliteFromOnnx
from harness.execution.pool import worker_environment
from harness.execution.stacks import get_stack, harness_import_root
from harness.run.engine import Engine
from harness.run.selection import select_routes
from model_zoo import all_models

# Not provisioned by `tox -e tests` (CI's 10 minutes hold the two base stacks): `parity stacks onnx2tf` first.
pytestmark = [pytest.mark.stacks, pytest.mark.skipif(
    not get_stack("onnx2tf").is_provisioned(), reason="stack onnx2tf not provisioned (parity stacks onnx2tf)")]


def test_the_worker_runs_on_the_stacks_own_python() -> None:
    python = get_stack("onnx2tf").ensure()
    ping = subprocess.run([str(python), "-m", "harness.execution.worker", "--framework", "none"],
                          input='{"task": "ping"}\n', capture_output=True, text=True, env=worker_environment(),
                          cwd=harness_import_root(), timeout=120)
    assert json.loads(ping.stdout)["ok"], ping.stderr
    version = subprocess.run([str(python), "-c", "import sys; print(sys.version_info[:2])"], capture_output=True,
                             text=True, check=True).stdout
    assert version.strip() == "(3, 12)"


def test_a_cnn_deploys_to_tflite_with_its_nchw_input_kept(stack_engine: Engine) -> None:
    (route,) = select_routes(["torch>onnx>tflite"])
    rows = stack_engine.run_route(all_models()["potato_leaf_cnn"], route)
    assert [row["hop"] for row in rows] == ["torch->onnx", "onnx->tflite"]
    tflite = rows[1]
    assert (tflite["converter"], tflite["stack"], tflite["converter_version"]) == ("TfliteFromOnnx", "onnx2tf", "2.6.9")
    assert tflite["status"] == "pass", tflite
    assert tflite["error_vs_truth"] < 1e-4 and not tflite.get("interface")  # fed NCHW, outputs matched by name


def test_a_cnn_round_trips_through_onnx2tfs_saved_model(stack_engine: Engine) -> None:
    (route,) = select_routes(["torch>onnx>tf@onnx2tf>onnx>torch"])
    rows = stack_engine.run_route(all_models()["potato_leaf_cnn"], route)
    assert [row["stack"] for row in rows] == ["current", "onnx2tf", "current", "current"]
    assert rows[1]["converter"] == "TfFromOnnxViaOnnx2tf"
    for row in rows:
        assert row["status"] == "pass", row
        assert row["error_vs_truth"] < 1e-4


def test_the_records_name_the_stack_and_what_reads_onnx() -> None:
    for converter in (TfliteFromOnnx, TfFromOnnxViaOnnx2tf):
        assert converter.stack == "onnx2tf" and converter.bare_call
        # Out of the node-case probes and the opset sweep until their cost is paid down (the record says why).
        assert not converter.node_cases and not converter.opset_sweep
        assert "onnx2tf.convert(" in (converter.repro_snippet or "")
        assert not converter.deprecated


def test_each_onnx2tf_release_is_asked_for_a_saved_model_its_own_way() -> None:
    """2.4 and later take **kwargs and default to flatbuffer_direct, which writes a SavedModel only when asked;
    2.3 has the keyword but defaults to TensorFlow's converter (asking it then exits); 2.0-2.2 lack it."""
    from types import SimpleNamespace

    from harness.converters.tf_from_onnx_onnx2tf import TfFromOnnxViaOnnx2tf, TfliteFromOnnx

    def since_2_4(*args: object, **kwargs: object) -> None: ...

    def release_2_3(input_onnx_file_path: str = "", flatbuffer_direct_output_saved_model: bool = False,
                    tflite_backend: str = "tf_converter") -> None: ...

    def release_2_0(input_onnx_file_path: str = "", output_signaturedefs: bool = False) -> None: ...

    saved_model, tflite = TfFromOnnxViaOnnx2tf(), TfliteFromOnnx()
    assert saved_model.backend_options(SimpleNamespace(convert=since_2_4)) == {
        "flatbuffer_direct_output_saved_model": True}
    assert tflite.backend_options(SimpleNamespace(convert=since_2_4)) == {
        "flatbuffer_direct_output_saved_model": False}
    assert saved_model.backend_options(SimpleNamespace(convert=release_2_3)) == {}
    assert saved_model.backend_options(SimpleNamespace(convert=release_2_0)) == {}


def test_onnx2tf_leaves_the_onnx_file_it_reads_as_the_exporter_wrote_it(stack_engine: Engine) -> None:
    """onnx2tf saves its shape fixes and onnxsim's simplification over its input file. Given the previous hop's
    artifact, it rewrote that hop's model.onnx in place, and the harness then judged the exporter on onnx2tf's
    rewrite: encoder_decoder's torch->onnx hop was published as "InvalidGraph" while the file the exporter
    wrote loads and runs."""
    (route,) = select_routes(["torch>onnx>tflite"])
    stack_engine.run_route(all_models()["potato_leaf_cnn"], route)
    exported = stack_engine.run_dir / "potato_leaf_cnn" / route.dirname / "hop1_onnx"
    task = json.loads((exported / "task.json").read_text())
    again = exported.parent / "exported_again" / "model.onnx"
    again.parent.mkdir()
    reply = stack_engine.pool.call("current", "torch", {**task, "target": str(again)}, 600)
    assert reply["ok"], reply
    assert again.read_bytes() == (exported / "model.onnx").read_bytes()


def test_a_conversion_into_the_folder_of_the_run_before_replaces_its_saved_model(stack_engine: Engine) -> None:
    """A rerun of `parity publish` converts into the work folder of the run before. onnx2tf's new variables were
    moved into the old variables folder (variables/variables, the SavedModel loading the old ones), and the
    run after that failed: "Destination path ... already exists"."""
    (route,) = select_routes(["torch>onnx>tf@onnx2tf>onnx>torch"])
    for _ in range(3):
        rows = stack_engine.run_route(all_models()["mlp"], route)
        assert rows[1]["status"] == "pass", rows[1]["error"]
    saved_model = Path(rows[1]["artifact"])
    assert (saved_model / "saved_model.pb").is_file() and not (saved_model / "variables" / "variables").exists()
