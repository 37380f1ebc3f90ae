"""The rules a finding must meet before it goes upstream: its input is one a user would have (else it is the
previous hop's finding), its expected output is confirmed by two references, and its repro is self-contained."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from harness.execution.pool import worker_environment
from harness.execution.stacks import get_stack

# A Resize (opset 13) whose declared output shape contradicts what its scales give: onnxruntime's lenient
# merge runs it, strict shape inference refuses it (what tf2onnx wrote in the committed Resize finding).
INVALID_RESIZE = '''
import sys
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

scales = numpy_helper.from_array(np.array([1, 1, 1.5, 1.5], dtype=np.float32), "scales")
roi = numpy_helper.from_array(np.array([], dtype=np.float32), "roi")
node = helper.make_node("Resize", ["x", "roi", "scales"], ["y"], mode="nearest")
graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 2, 2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 5, 5])], [roi, scales])
onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), sys.argv[1])
'''


def write_in_stack(script: str, path: Path) -> None:
    python = get_stack("current").ensure()
    subprocess.run([str(python), "-c", script, str(path)], check=True, env=worker_environment())


def finding_folder(tmp_path: Path, model_script: str) -> Path:
    folder = tmp_path / "onnx2pytorch-mismatch--resize"
    folder.mkdir()
    write_in_stack(model_script, folder / "model.onnx")
    signature = {"hop": "onnx->torch", "converter": "TorchFromOnnx", "package": "onnx2pytorch",
                 "status": "mismatch", "detail": "shape diverge at Resize"}
    record = {"signature": signature, "route": "torch>onnx>tf>onnx>torch", "hop_index": 4, "status": "mismatch",
              "package": "onnx2pytorch", "hop": "onnx->torch", "error": "", "repro": {"exit_code": 1}}
    (folder / "finding.json").write_text(json.dumps(record))
    return folder


@pytest.mark.stacks
def test_an_invalid_onnx_input_makes_the_failure_the_previous_hops_finding(tmp_path: Path) -> None:
    from harness.fuzz.validity import artifact_problems, judge_finding

    folder = finding_folder(tmp_path, INVALID_RESIZE)
    problems = artifact_problems(folder / "model.onnx", "onnx")
    assert any("strict_mode" in problem and "Resize" in problem for problem in problems), problems
    judged = judge_finding(folder)
    assert judged.owner == "tf2onnx" and judged.blamed_hop == 3, judged
    assert judged.kind == "wrote an artifact onnx2pytorch cannot be expected to read"
    assert "strict_mode" in judged.reason


@pytest.mark.stacks
def test_a_valid_onnx_input_keeps_the_failure_with_the_converter_that_read_it(tmp_path: Path) -> None:
    from harness.fuzz.validity import judge_finding

    valid = INVALID_RESIZE.replace("[1, 1, 5, 5]", "[1, 1, 3, 3]")
    judged = judge_finding(finding_folder(tmp_path, valid))
    assert judged.owner == "onnx2pytorch" and judged.blamed_hop == 4 and judged.kind == "", judged


def test_a_hop_reading_the_source_or_the_exporters_output_needs_no_check() -> None:
    from harness.fuzz.validity import judge_ownership

    packages = ["torch", "onnx-tf", "tf2onnx", "onnx2pytorch"]
    assert judge_ownership(packages, 1, "torch", None).owner == "torch"
    assert judge_ownership(packages, 2, "onnx", None).owner == "onnx-tf"
    with pytest.raises(ValueError, match="must be checked"):
        judge_ownership(packages, 3, "tf", None)
    moved = judge_ownership(packages, 3, "tf", ["op PyFunc holds a Python function"])
    assert moved.owner == "onnx-tf" and moved.blamed_hop == 2 and "PyFunc" in moved.reason


# -- self-contained repros ---------------------------------------------------------------------------------------
def test_arrays_written_inline_read_back_bit_for_bit() -> None:
    import numpy as np

    from harness.repro.literals import array_source

    rng = np.random.default_rng(0)
    floats = rng.standard_normal((3, 41)).astype(np.float32)
    floats[0, :4] = [np.nan, np.inf, -np.inf, 1e-30]
    for array in (floats, floats.astype(np.float64), np.arange(6, dtype=np.int64).reshape(2, 3),
                  np.array(2.5, np.float32), np.zeros((0, 3), np.float32), np.array([True, False])):
        again = eval(array_source(array), {"np": np})  # our own writer's output, checked to read back exactly
        assert again.dtype == array.dtype and again.shape == array.shape
        assert np.array_equal(again, array, equal_nan=True)


ROUND_TRIP = '''
import sys
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from harness.repro.onnx_builder import builder_source

namespace = {"np": np, "onnx": onnx, "TensorProto": TensorProto, "helper": helper, "numpy_helper": numpy_helper}
exec(builder_source(sys.argv[1]), namespace)
built, written = namespace["build_model"](), onnx.load(sys.argv[1])
print(built.SerializeToString() == written.SerializeToString())
'''


@pytest.mark.stacks
def test_an_onnx_model_written_as_helper_calls_builds_the_same_model(tmp_path: Path) -> None:
    write_in_stack(INVALID_RESIZE, tmp_path / "model.onnx")  # invalid models too: the repro shows what was read
    python = get_stack("current").ensure()
    done = subprocess.run([str(python), "-c", ROUND_TRIP, str(tmp_path / "model.onnx")], capture_output=True,
                          text=True, env=worker_environment(), check=True)
    assert done.stdout.strip() == "True", done.stderr[-2000:]


FINDINGS = Path(__file__).resolve().parents[1] / "reports" / "findings"


def committed_findings() -> list[Path]:
    return sorted(path.parent for path in FINDINGS.glob("*/finding.json"))


def self_contained(folder: Path) -> bool:
    judged = json.loads((folder / "finding.json").read_text()).get("judged") or {}
    return bool(judged.get("self_contained"))


def one_per_owner_and_hop(folders: list[Path]) -> list[Path]:
    """The first committed finding of each (owner, hop): every repro template and stack, not every finding.
    `pytest --zoo` runs every committed repro (a finding whose repro exits 0 is stale); CI runs one of each kind,
    which keeps its time bounded as campaigns add findings."""
    chosen: dict[tuple[str, str], Path] = {}
    for folder in folders:
        data = json.loads((folder / "finding.json").read_text())
        chosen.setdefault((str(data["judged"].get("owner")), str(data["hop"])), folder)
    return sorted(chosen.values())


@pytest.mark.parametrize("folder", [folder for folder in committed_findings() if self_contained(folder)],
                         ids=lambda folder: folder.name[:60])
def test_every_committed_repro_builds_its_model_inline_and_names_no_folder_of_this_machine(folder: Path) -> None:
    text = (folder / "repro.py").read_text()
    assert "load_arrays(" not in text and "np.load(" not in text, "a self-contained repro reads no data file"
    # This machine's own folders: the checkout, the home folder, the temporary folder.
    for machine_path in (str(Path(__file__).resolve().parents[1]), str(Path.home()), tempfile.gettempdir()):
        assert machine_path not in text and machine_path not in (folder / "issue.md").read_text()
    compile(text, str(folder / "repro.py"), "exec")


@pytest.mark.stacks
@pytest.mark.parametrize("folder", one_per_owner_and_hop([folder for folder in committed_findings()
                                                          if self_contained(folder)]),
                         ids=lambda folder: folder.name[:60])
def test_a_committed_repro_fails_from_an_empty_folder_with_its_stacks_interpreter_only(folder: Path) -> None:
    from harness.fuzz.rejudge import run_in_empty_folder

    data = json.loads((folder / "finding.json").read_text())
    stack = data["judged"].get("stack") or data["stack"]
    result = run_in_empty_folder(folder, stack)
    assert result["exit_code"] == 1, result
    assert "FAILED" in result["output"], result


# -- stale means the repro stopped failing (issue 25, item 13) ---------------------------------------------------
LIVE = "onnx-tf-convert-error--backendisnotsupposedtoimplementit-leakyrelu-version-is-not-implemen--e3c4cd"
# The dynamo exporter's graph rounds worse on one input in float32: its repro (torch and onnx.reference) passes.
NOT_REPRODUCING = "torch-dynamo-mismatch--values-diverge-not-localized-float32-rounding-only--c35cff"


@pytest.mark.stacks
def test_pytest_zoo_calls_a_finding_stale_exactly_when_its_repro_exits_0(tmp_path: Path) -> None:
    import sys

    findings = tmp_path / "findings"
    for name in (LIVE, NOT_REPRODUCING):
        shutil.copytree(FINDINGS / name, findings / name)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    # The checkout under test, not whichever copy of the harness the environment has installed.
    env = {**os.environ, "PYTHONPATH": str(FINDINGS.parents[1])}
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--zoo", "-k", "finding",
                           "--zoo-findings", str(findings)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=1800, env=env)
    assert "1 failed, 1 passed" in done.stdout, done.stdout[-3000:]
    assert f"stale finding: {findings / NOT_REPRODUCING}: its repro.py exits 0" in done.stdout, done.stdout[-3000:]


# -- two references: who answers when the runtimes disagree (the harness's own logic, no converter needed) ------
def finding_data(hop: str, status: str, package: str) -> dict[str, object]:
    return {"status": status, "package": package, "hop": hop, "error": "", "signature": {"detail": ""}}


def test_a_valid_model_one_runtime_refuses_is_that_runtimes_finding_not_the_exporters() -> None:
    from harness.fuzz.rejudge import decide
    from harness.fuzz.validity import Ownership

    exporter = Ownership("torch", 1, "", "its input is the source model")
    refused = {"onnxruntime": "fails: InvalidArgument: Dilation not supported", "onnx.reference": "agrees"}
    verdict = decide(finding_data("torch->onnx", "run_error", "torch"), exporter, refused, "", [])
    assert (verdict.owner, verdict.kind, verdict.repro_kind) == ("onnxruntime", "runtimes disagree on a valid model",
                                                                 "onnxruntime")
    # The same refusal of a model that fails the strict checks is the exporter's: it wrote an invalid model.
    invalid = decide(finding_data("torch->onnx", "run_error", "torch"), exporter, refused, "",
                     ["onnx.shape_inference.infer_shapes(strict_mode=True): MatMul incompatible dimensions"])
    assert (invalid.owner, invalid.kind) == ("torch", "invalid model written")


def test_an_onnx_input_no_runtime_agrees_with_the_source_on_is_its_writers_finding() -> None:
    from harness.fuzz.rejudge import decide
    from harness.fuzz.validity import Ownership

    reader = Ownership("onnx2pytorch", 2, "", "its input was written by tf2onnx from the source model")
    neither = {"onnxruntime": "output 0: max abs err 0.5", "onnx.reference": "output 0: max abs err 0.5"}
    verdict = decide(finding_data("onnx->torch", "mismatch", "onnx2pytorch"), reader, neither, "tf2onnx")
    assert (verdict.owner, verdict.kind) == ("tf2onnx", "references disagree with the source")
    one = {"onnxruntime": "agrees", "onnx.reference": "fails: ValueError: Concat: axis 2 is out of range"}
    confirmed = decide(finding_data("onnx->torch", "mismatch", "onnx2pytorch"), reader, one, "tf2onnx")
    assert (confirmed.owner, confirmed.kind, confirmed.repro_kind) == ("onnx2pytorch", "wrong numbers", "onnx")


def test_an_issue_title_quotes_what_the_repro_printed_and_is_never_cut_mid_word() -> None:
    from harness.fuzz.rejudge import Verdict, issue_title

    data = {"status": "mismatch", "package": "onnx-tf", "cause": "outputs differ (max abs err 0.223)"}
    verdict = Verdict("onnx-tf", "wrong numbers", "", {}, "onnx")
    printed = "y: max abs err 0.0233702, 3 element(s) beyond tolerance\nFAILED: outputs beyond tolerance"
    title = issue_title(verdict, data, "1.10.0", "Resize (in a Conv > Resize graph)", printed)
    assert "0.0233702" in title and "0.223" not in title
    long_error = "FAILED: ValueError: " + " ".join(f"word{index}" for index in range(80))
    crash = issue_title(Verdict("tf2onnx", "crash", "", {}, ""), {"status": "convert_error", "package": "tf2onnx"},
                        "1.17.0", "Pad", long_error)
    assert len(crash) <= 200 and crash.endswith(" …") and crash.removesuffix(" …").split(" ")[-1].startswith("word")
    assert all(word.startswith("word") for word in crash.split("ValueError: ")[1].removesuffix(" …").split(" "))


# -- inline repros of a converter reading a Keras model (tf2onnx's from_keras, Keras's own export) ---------------
# The Keras twin of a generated model, saved as the campaign saves a Keras route's source, with an input and the
# model's own outputs on it (what a finding folder keeps).
KERAS_FOLDER = '''
import json
import sys
from pathlib import Path

import numpy as np

from harness.fuzz.grammar import ModelDescription, build_keras, build_torch, transfer_weights

folder = Path(sys.argv[1])
description = ModelDescription.from_json(json.loads((folder / "description.json").read_text()))
model = build_keras(description)
state = {name: tensor.detach().numpy() for name, tensor in build_torch(description).state_dict().items()}
transfer_weights(description, state, model)
model.save(folder / "model.keras")
x = np.random.default_rng(0).standard_normal((1, *model.input_shape[1:])).astype(np.float32)
np.savez(folder / "input.npz", x=x)
np.savez(folder / "expected.npz", y=np.asarray(model(x, training=False)))
'''

# A depthwise Conv1D (groups == channels): tf2onnx 1.17.0 leaves it a StatefulPartitionedCall, which no ONNX
# runtime knows (the committed finding ...-27880b). groups=1 is the same layer without the trigger.
def conv1d_description(groups: int) -> dict[str, object]:
    attrs = {"out": 5, "kernel": 1, "stride": 1, "padding": 0, "dilation": 1, "groups": groups, "bias": True,
             "padding_mode": "zeros"}
    return {"format": "parity-fuzz-model", "version": 1, "input_shape": [1, 5, 3], "input_dtype": "float32",
            "vocab": None, "seed": 3, "layers": [{"kind": "conv1d", "attrs": attrs}]}


KERAS_ROUTES = {"OnnxFromKeras": ("keras>onnx>torch>onnx>tf", "tf2onnx"),
                "OnnxFromKerasViaExport": ("keras>onnx@keras-export>torch>onnx>tf", "keras")}


def keras_finding(tmp_path: Path, converter: str, groups: int) -> Path:
    route, package = KERAS_ROUTES[converter]
    folder = tmp_path / f"{package}-keras-conv1d-groups-{groups}"
    folder.mkdir()
    (folder / "description.json").write_text(json.dumps(conv1d_description(groups)))
    python = get_stack("current").ensure()
    subprocess.run([str(python), "-c", KERAS_FOLDER, str(folder)], check=True, env=worker_environment())
    error = "InvalidOnnxModel: the converter wrote an invalid model: No Op registered for StatefulPartitionedCall"
    signature = {"hop": "keras->onnx", "converter": converter, "package": package, "status": "convert_error",
                 "detail": error}
    record = {"signature": signature, "route": route, "hop_index": 1, "status": "convert_error", "package": package,
              "converter": converter, "hop": "keras->onnx", "error": error, "stack": "current", "opset": 17,
              "repro": {"exit_code": None}}
    (folder / "finding.json").write_text(json.dumps(record))
    (folder / "versions.json").write_text(json.dumps({"stack": "current", "converter": converter,
                                                      "packages": {"python": "3"}}))
    return folder


def reads_no_file(text: str) -> bool:
    return not any(call in text for call in ("np.load(", "load_arrays(", "load_model(", "open(", ".read_text(",
                                             ".read_bytes(", "model.keras"))


@pytest.mark.stacks
@pytest.mark.parametrize("converter", sorted(KERAS_ROUTES))
def test_a_keras_source_finding_gets_an_inline_repro_that_fails_until_the_converter_is_fixed(
        tmp_path: Path, converter: str) -> None:
    from harness.fuzz.rejudge import rejudge

    failing = keras_finding(tmp_path, converter, groups=5)
    judged = rejudge(failing)
    text = (failing / "repro.py").read_text()
    assert judged["self_contained"] and reads_no_file(text), judged
    assert "keras.layers.Conv1D(5, 1, groups=5" in text and "WEIGHTS = {" in text
    # rejudge ran it alone in an empty folder with the stack's interpreter.
    assert judged["repro"]["exit_code"] == 1 and judged["repro"]["reproduces"], judged["repro"]
    assert "StatefulPartitionedCall" in judged["repro"]["output"], judged["repro"]
    assert "the Keras model's own y: max abs err 0" in judged["repro"]["output"], judged["repro"]

    # The same layer without the trigger converts: the same template's script exits 0.
    passing = keras_finding(tmp_path, converter, groups=1)
    judged = rejudge(passing)
    assert judged["self_contained"] and reads_no_file((passing / "repro.py").read_text()), judged
    assert judged["repro"]["exit_code"] == 0 and "outputs match" in judged["repro"]["output"], judged["repro"]


# -- inline repros of a converter taking the generated torch module with no ONNX on the way ----------------------
# The generated module's weights, its example and its outputs on it, as a finding folder keeps them; argv[2] is a
# planted fault: added to the expected outputs, it makes any faithful conversion "wrong".
TORCH_FOLDER = '''
import json
import sys
from pathlib import Path

import numpy as np
import torch

from harness.fuzz.grammar import ModelDescription, build_torch

folder, planted = Path(sys.argv[1]), float(sys.argv[2])
description = ModelDescription.from_json(json.loads((folder / "description.json").read_text()))
module = build_torch(description)
np.savez(folder / "weights.npz", **{name: value.detach().numpy() for name, value in module.state_dict().items()})
x = np.random.default_rng(0).standard_normal(description.input_shape).astype(np.float32)
for name in ("input.npz", "export_input.npz"):
    np.savez(folder / name, x=x)
with torch.no_grad():
    np.savez(folder / "expected.npz", y=module(torch.from_numpy(x)).numpy() + np.float32(planted))
'''

TORCH_DIRECT = {"TfliteFromTorch": ("torch>tflite@litert-torch", "torch->tflite", "litert-torch"),
                "TfFromTorch": ("torch>tf@nobuco>onnx>torch", "torch->tf", "nobuco")}


def torch_direct_finding(tmp_path: Path, converter: str, planted: float) -> Path:
    route, hop, package = TORCH_DIRECT[converter]
    folder = tmp_path / f"{package}-mismatch-planted-{planted}"
    folder.mkdir()
    (folder / "description.json").write_text(json.dumps(conv1d_description(1)))
    python = get_stack("current").ensure()
    subprocess.run([str(python), "-c", TORCH_FOLDER, str(folder), str(planted)], check=True,
                   env=worker_environment())
    signature = {"hop": hop, "converter": converter, "package": package, "status": "mismatch",
                 "detail": "values diverge (not localized)"}
    record = {"signature": signature, "route": route, "hop_index": 1, "status": "mismatch", "package": package,
              "converter": converter, "hop": hop, "error": "", "stack": package, "opset": None,
              "repro": {"exit_code": None}}
    (folder / "finding.json").write_text(json.dumps(record))
    (folder / "versions.json").write_text(json.dumps({"stack": package, "converter": converter,
                                                      "packages": {"python": "3"}}))
    return folder


@pytest.mark.stacks
@pytest.mark.parametrize("converter", sorted(TORCH_DIRECT))
def test_a_torch_direct_converters_finding_gets_an_inline_repro_run_in_its_own_stack(
        tmp_path: Path, converter: str) -> None:
    from harness.fuzz.rejudge import rejudge

    stack = TORCH_DIRECT[converter][2]
    if not get_stack(stack).is_provisioned():
        pytest.skip(f"stack {stack} not provisioned (parity stacks {stack})")
    wrong = torch_direct_finding(tmp_path, converter, planted=0.5)
    judged = rejudge(wrong)
    text = (wrong / "repro.py").read_text()
    assert judged["self_contained"] and judged["stack"] == stack and reads_no_file(text), judged
    assert "WEIGHTS = {" in text and "EXPORT_INPUTS = [" in text and "run_onnx" not in text
    assert judged["repro"]["exit_code"] == 1 and judged["repro"]["reproduces"], judged["repro"]
    assert "FAILED: outputs beyond tolerance" in judged["repro"]["output"], judged["repro"]

    right = torch_direct_finding(tmp_path, converter, planted=0.0)
    judged = rejudge(right)
    assert judged["repro"]["exit_code"] == 0 and "outputs match" in judged["repro"]["output"], judged["repro"]


@pytest.mark.parametrize("converter", sorted(TORCH_DIRECT))
def test_a_torch_direct_converters_record_names_a_template_a_campaign_finding_can_write(converter: str) -> None:
    from harness.converters import default_converters
    from harness.repro.templates import plan_for, render

    (record,) = [candidate for candidate in default_converters() if candidate.name == converter]
    plan = plan_for(record, "generated")  # what the campaign's write_finding asks for the route's source model
    assert plan.files == ("model.py", "weights.npz", "export_input.npz")
    text = render(plan, title="t", what="w", input_names=["x"], output_names=["y"], rule="",
                  signature=[("x", [1, 5, 3], "float32")])
    compile(text, "repro.py", "exec")
    assert {"TfliteFromTorch": "litert_torch.convert(module, example)",
            "TfFromTorch": "nobuco.pytorch_to_keras("}[converter] in text


def accepted_finding(hop: str, references: dict[str, str]) -> dict[str, object]:
    """finding.json of a finding that meets every rule but perhaps the references'."""
    return {"hop": hop, "judged": {"owner": "tf2onnx", "kind": "wrong numbers", "self_contained": True,
                                   "references": references, "repro": {"exit_code": 1, "reproduces": True}},
            "upstream": {"status": "searched: 'tf2onnx ...', no match"}}


def test_an_exporters_model_both_runtimes_find_wrong_alike_confirms_the_finding() -> None:
    """For a hop that writes ONNX, the runtimes run what the converter wrote, so neither can agree with the source
    while the bug is there: their agreeing that the written model is wrong (and the repro checking the source
    computes the expected outputs) is the evidence. A runtime that agrees makes it that runtime's finding."""
    from harness.fuzz.findings import meets_every_rule

    wrong_alike = {"onnxruntime": "output 0: shape [1, 3, 3], the source's [1, 3, 1]",
                   "onnx.reference": "output 0: shape [1, 3, 3], the source's [1, 3, 1]"}
    assert meets_every_rule(accepted_finding("keras->onnx", wrong_alike))
    assert meets_every_rule(accepted_finding("torch->onnx", {"onnxruntime": "fails: InvalidGraph: no PyFunc",
                                                             "onnx.reference": "fails: NotImplementedError: PyFunc"}))
    # Not asked, or asked of only one runtime: nothing confirms it.
    assert not meets_every_rule(accepted_finding("keras->onnx", {"onnxruntime": "not run: no stack",
                                                                 "onnx.reference": "not run: no stack"}))
    assert not meets_every_rule(accepted_finding("keras->onnx", {"onnxruntime": "output 0: max abs err 0.3"}))
    # A hop that reads ONNX: the runtimes run its input, and one of them must give the source's outputs.
    assert not meets_every_rule(accepted_finding("onnx->torch", wrong_alike))
    assert meets_every_rule(accepted_finding("onnx->torch", {"onnxruntime": "agrees",
                                                             "onnx.reference": "fails: Concat axis"}))


def test_a_findings_text_names_no_temporary_or_home_folder_wherever_the_campaign_wrote_it(tmp_path: Path) -> None:
    """A campaign run with --out and --work-dir outside the checkout quoted its artifacts' absolute paths in
    errors ("Load model from /tmp/.../model.onnx failed"); a finding's files go upstream, so they are scrubbed."""
    from harness.execution.stacks import portable
    from harness.fuzz.findings import upstream_text

    work = Path(tempfile.gettempdir()) / "campaign" / "artifacts" / "fuzz00044" / "model.onnx"
    mine = Path.home() / "findings" / "x" / "model.onnx"
    text = upstream_text(f"Load model from {work} failed; then {mine}")
    assert tempfile.gettempdir() + "/" not in text and str(Path.home()) + "/" not in text
    assert "campaign/artifacts/fuzz00044/model.onnx" in text and "~/findings/x/model.onnx" in text
    # A report's artifact paths stay paths the harness opens again (replay, check): only upstream text is scrubbed.
    assert portable(str(work)) == str(work)
