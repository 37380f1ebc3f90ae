"""`parity fuzz`: failure signatures, known-failure matching, shrinking, findings and their README, the command's
refusal of a bad description, and one real campaign whose finding's repro.py fails in the real stack."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from harness.cli import main
from harness.converters.routes import Route
from harness.converters.tf_from_onnx import TfFromOnnx
from harness.fuzz.findings import FailedHop, read_finding, read_findings, write_finding, write_readme
from harness.fuzz.shrink import shrink
from harness.fuzz.signature import Signature, known_record, normalise_message, signature_of
from harness.run.selection import select_routes
from harness.run.session import known_failure_records

TORCH_ROUTE = "torch>onnx>tf>onnx>torch"


@pytest.fixture(scope="module")
def route() -> Route:
    (found,) = select_routes([TORCH_ROUTE])
    return found


def hop_rows(failing_hop: int, status: str, error: str = "", **columns: Any) -> list[dict[str, Any]]:
    """Result rows of a four-hop route whose hop `failing_hop` failed (the ones before passed)."""
    names = ["torch->onnx", "onnx->tf", "tf->onnx", "onnx->torch"]
    rows = []
    for index, name in enumerate(names, 1):
        row: dict[str, Any] = {"hop_index": index, "hop": name, "status": "pass", "error": ""}
        if index == failing_hop:
            row.update({"status": status, "error": error, **columns})
        elif index > failing_hop:
            row["status"] = "skipped"
        rows.append(row)
    return rows


# -- signatures ------------------------------------------------------------------------------------------
def test_two_messages_differing_only_in_names_numbers_shapes_and_paths_give_one_signature(route: Route) -> None:
    first = hop_rows(2, "convert_error", "ValueError: '/layer1/Conv_output_0' has 12 dims at /tmp/a/b/model.onnx, "
                     "expected (1, 3, 8) near 0x7f3a2c")
    second = hop_rows(2, "convert_error", "ValueError: 'onnx::Gemm_27' has 4 dims at /home/u/run/model.onnx, "
                      "expected (2, 5, 9, 9) near 0x55d1e0")
    assert signature_of(first, route) == signature_of(second, route)
    signature = signature_of(first, route)
    assert signature is not None and signature.hop == "onnx->tf" and signature.package == "onnx-tf"
    assert "12" not in signature.detail and "/tmp" not in signature.detail and "Conv_output" not in signature.detail


def test_another_error_class_or_op_is_another_signature(route: Route) -> None:
    base = signature_of(hop_rows(2, "convert_error", "BackendIsNotSupposedToImplementIt: LayerNormalization is "
                                 "not implemented."), route)
    other_op = signature_of(hop_rows(2, "convert_error", "BackendIsNotSupposedToImplementIt: GroupNormalization "
                                     "is not implemented."), route)
    other_class = signature_of(hop_rows(2, "convert_error", "NotImplementedError: LayerNormalization is not "
                                        "implemented."), route)
    other_hop = signature_of(hop_rows(4, "convert_error", "BackendIsNotSupposedToImplementIt: LayerNormalization "
                                      "is not implemented."), route)
    assert len({base, other_op, other_class, other_hop}) == 4


def test_the_harness_wording_around_a_run_error_is_not_part_of_the_signature() -> None:
    one = "2 of 3 examples failed; first: run_error: on inputs 1x3x8x8: RuntimeError: Reshape failed for 48 values"
    two = "1 of 4 examples failed; first: run_error: on inputs 2x3x4: RuntimeError: Reshape failed for 96 values"
    three = "3 of 5 examples failed to run: on inputs 2x3x4: RuntimeError: Reshape failed for 96 values"
    assert normalise_message(one) == normalise_message(two) == normalise_message(three) \
        == "RuntimeError: Reshape failed for N values"


def test_tensorflow_node_names_and_uids_are_particulars() -> None:
    one = ("InvalidArgumentError: [[{{node StatefulPartitionedCall/LSTM_18b49c84/bidirectional_rnn/fw/BiasAdd}}]] "
           "Incompatible shapes: [2,5] vs. [1,5]")
    two = ("InvalidArgumentError: [[{{node StatefulPartitionedCall/LSTM_0a7e3f11/rnn/while/body/_1/BiasAdd}}]] "
           "Incompatible shapes: [4,3] vs. [1,3]")
    other_op = "InvalidArgumentError: [[{{node StatefulPartitionedCall/LSTM_0a7e3f11/MatMul}}]] Incompatible shapes"
    assert normalise_message(one) == normalise_message(two) != normalise_message(other_op)
    assert "{{node .../BiasAdd}}" in normalise_message(one)


def test_a_mismatch_is_signed_by_its_first_divergent_op(route: Route) -> None:
    conv = signature_of(hop_rows(4, "mismatch", "max abs err 0.3", first_divergent_node="#3 Conv '/c/Conv' "
                                 "(ai.onnx opset 17)"), route)
    conv_elsewhere = signature_of(hop_rows(4, "mismatch", "max abs err 7", first_divergent_node="#9 Conv "
                                           "'/b/d/Conv_2' (ai.onnx opset 17)"), route)
    resize = signature_of(hop_rows(4, "mismatch", "max abs err 0.3", first_divergent_node="#1 Resize '/u/Resize' "
                                   "(ai.onnx opset 17)"), route)
    assert conv == conv_elsewhere != resize
    assert conv is not None and conv.detail == "values diverge at Conv" and conv.package == "onnx2pytorch"
    rounding = signature_of(hop_rows(4, "mismatch", "max abs err 2e-5", first_divergent_node="#3 Conv 'c' (x)",
                                     precision="float32 rounding only: in float64 ..."), route)
    changed = signature_of(hop_rows(4, "mismatch", "max abs err 2e-5", first_divergent_node="#3 Conv 'c' (x)",
                                    precision="the function changed: in float64 ..."), route)
    assert rounding is not None and rounding.detail == "values diverge at Conv (float32 rounding only)"
    assert changed is not None and changed.detail == "values diverge at Conv (function changed)"
    # The zoo calls rounding `imprecise`; the fuzz campaign still hunts it, signed as the mismatch it was.
    imprecise = signature_of(hop_rows(4, "imprecise", "imprecise: ...", first_divergent_node="#3 Conv 'c' (x)",
                                      precision="float32 rounding only: in float64 ..."), route)
    assert imprecise == rounding


def test_a_passing_route_has_no_signature(route: Route) -> None:
    assert signature_of(hop_rows(5, "pass"), route) is None


def test_slugs_are_readable_folder_names_and_distinct_per_signature() -> None:
    one = Signature("onnx->tf", "TfFromOnnx", "onnx-tf", "convert_error",
                    "BackendIsNotSupposedToImplementIt: LayerNormalization is not implemented.")
    two = Signature("onnx->tf", "TfFromOnnx", "onnx-tf", "run_error", one.detail)
    dynamo = Signature("torch->onnx", "OnnxFromTorch[dynamo]", "torch", "convert_error", "TorchExportError: x")
    assert one.slug.startswith("onnx-tf-convert-error--backendisnotsupposedtoimplementit-layernormalization")
    assert dynamo.slug.startswith("torch-dynamo-convert-error--")
    assert one.slug != two.slug
    assert all(ch.isalnum() or ch == "-" for ch in one.slug + dynamo.slug)
    assert Signature.from_json(json.loads(json.dumps(one.to_json()))) == one


# -- known failures --------------------------------------------------------------------------------------
def test_a_known_failure_covers_a_generated_model_by_hop_status_and_error_whatever_its_scope() -> None:
    records = known_failure_records()
    row = {"model": "fuzz00012", "route": TORCH_ROUTE, "hop": "onnx->tf", "status": "convert_error",
           "error": "BackendIsNotSupposedToImplementIt: Unsqueeze version 13 is not implemented."}
    # The record names three zoo models; a generated model is none of them, and it still counts as known.
    record = known_record(row, records)
    assert record is not None and record.id == "onnx-tf-lacks-opset13-squeeze"
    assert known_record({**row, "status": "run_error"}, records) is None
    assert known_record({**row, "hop": "onnx->torch"}, records) is None
    assert known_record({**row, "error": "BackendIsNotSupposedToImplementIt: LayerNormalization is not "
                                         "implemented."}, records) is None


# -- shrinking -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FakeDescription:
    layers: tuple[str, ...]

    def simplifications(self) -> Iterator[FakeDescription]:
        for index in range(len(self.layers)):
            yield FakeDescription(self.layers[:index] + self.layers[index + 1:])

    def summary(self) -> str:
        return " > ".join(self.layers)

    def layer_count(self) -> int:
        return len(self.layers)


def test_shrinking_keeps_only_what_the_failure_needs() -> None:
    tried: list[FakeDescription] = []

    def still_fails(candidate: FakeDescription) -> bool:
        tried.append(candidate)
        return "lstm" in candidate.layers and "linear" in candidate.layers

    result = shrink(FakeDescription(("conv", "lstm", "relu", "linear", "softmax")), still_fails, budget_seconds=60)
    assert result.description.layers == ("lstm", "linear")
    assert result.finished and result.tried == len(tried)
    assert result.steps == ["4 layers: lstm > relu > linear > softmax", "3 layers: lstm > linear > softmax",
                            "2 layers: lstm > linear"]


def test_shrinking_stops_when_its_time_is_spent() -> None:
    now = [0.0]

    def clock() -> float:
        return now[0]

    def slow_but_failing(candidate: FakeDescription) -> bool:
        now[0] += 10.0
        return True

    result = shrink(FakeDescription(("a", "b", "c", "d", "e")), slow_but_failing, budget_seconds=25, clock=clock)
    assert not result.finished and result.tried == 3 and result.description.layer_count() == 2


# -- findings ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class WrittenDescription:
    def to_json(self) -> dict[str, Any]:
        return {"layers": ["layernorm"]}

    def summary(self) -> str:
        return "layernorm"

    def layer_count(self) -> int:
        return 1


@pytest.mark.stacks  # the finding records the versions of the converter's stack
def test_a_finding_folder_holds_everything_an_upstream_issue_needs(tmp_path: Path) -> None:
    files = tmp_path / "cell"
    files.mkdir()
    (files / "model.onnx").write_bytes(b"an onnx file")
    np.savez(files / "example.npz", **{"00_x": np.ones((2, 3), np.float32)})
    signature = Signature("onnx->tf", "TfFromOnnx", "onnx-tf", "convert_error",
                          "BackendIsNotSupposedToImplementIt: LayerNormalization is not implemented.")
    failed = FailedHop(signature=signature, converter=TfFromOnnx(), route_id=TORCH_ROUTE, hop_index=2,
                       row={"error": signature.detail, "opset": 17},
                       io={"inputs": [{"name": "x", "dtype": "float32", "shape": [2, 3]}], "outputs": ["y"]},
                       source_format="torch", consumed=files / "model.onnx", produced=files / "saved_model",
                       consumed_format="onnx", failing_input=files / "example.npz",
                       export_input=files / "example.npz", source_weights=None,
                       expected=[np.zeros((2, 3), np.float32)])
    out = tmp_path / "findings"
    folder = out / signature.slug
    write_finding(folder, failed, WrittenDescription(), torch_source=None, hits=3, first_model="fuzz00001: x",
                  shrink={"steps": ["1 layers: layernorm"]}, campaign={"command": "parity fuzz --budget 5"})
    for name in ("description.json", "model.onnx", "input.npz", "expected.npz", "repro.py", "versions.json",
                 "issue.md", "finding.json"):
        assert (folder / name).is_file(), name
    with np.load(folder / "input.npz") as data:
        assert data.files == ["x"]  # keyed by the model's input names, as an upstream reader expects
    repro = (folder / "repro.py").read_text()
    compile(repro, "repro.py", "exec")
    assert "from onnx_tf.backend import prepare" in repro and "harness" not in repro
    issue = (folder / "issue.md").read_text()
    assert issue.startswith("# onnx-tf 1.10.0 fails to convert: BackendIsNotSupposedToImplementIt: LayerNormalization")
    assert "## Expected" in issue and "## Actual" in issue
    assert "pip install numpy==" in issue and "onnx-tf==1.10.0" in issue
    record = read_finding(folder)
    assert record.signature == signature and record.hits == 3 and record.data["repro"]["exit_code"] is None
    readme = write_readme(out, {"command": "parity fuzz --budget 5", "models": 4, "seconds": 300, "failures": 6,
                                "signatures": {"a": {}, "b": {}}, "new": [folder.name],
                                "known": {"tf2onnx-erfc": 2}}).read_text()
    assert f"[{folder.name}]({folder.name}/issue.md)" in readme
    assert "BackendIsNotSupposedToImplementIt: LayerNormalization is not implemented." in readme
    assert "| tf2onnx-erfc | 2 |" in readme and "not run" in readme
    # onnx-tf says LayerNormalization is not implemented: a gap it declares, not counted among the bugs.
    assert "| unsupported (says so) |" in readme
    assert "1 findings across 1 converters (onnx-tf); 0 of them reproduce" in readme  # its repro was not run


@pytest.mark.parametrize(("status", "error", "kind"), [
    ("convert_error", "BackendIsNotSupposedToImplementIt: LeakyRelu version 16 is not implemented.",
     "unsupported (says so)"),
    ("convert_error", "NotImplementedError: LSTM initial_h not yet implemented.", "unsupported (says so)"),
    ("convert_error", "UnsupportedOperatorError: Exporting the operator 'aten::_upsample_nearest_exact1d'",
     "unsupported (says so)"),
    ("convert_error", "InvalidOnnxModel: the converter wrote an invalid model: No Op registered for PyFunc",
     "invalid model written"),
    ("convert_error", "ValueError: Unexpected number of parameters: 0", "crash"),
    # nobuco lists the calls it has no converter for; a converter of its own that raises is a crash.
    ("convert_error", "RuntimeError: Unimplemented nodes: Mish[torch.nn.modules.activation] > mish[torch.nn.f",
     "unsupported (says so)"),
    ("convert_error", "Exception: Failed conversion: ConvTranspose1d(1, 1, kernel_size=(1,), stride=(2,))", "crash"),
    ("convert_error", "SymbolicValueError: Unsupported: ONNX export of operator adaptive_avg_pool2d",
     "unsupported (says so)"),
    ("convert_error", "RuntimeError: Resize required 4D input is not supported in Tensorflow.",
     "unsupported (says so)"),
    # TensorFlow's limit met by onnx-tf's lowering of a valid ONNX pool: the converter's bug, not its declaration.
    ("convert_error", "ValueError: pooling with 'SAME' padding is not implemented for `dilation_rate` > 1", "crash"),
    ("run_error", "InvalidArgumentError: [[{{node BiasAdd}}]]", "converted model fails to run"),
    ("mismatch", "", "wrong numbers"),
])
def test_a_finding_is_a_bug_unless_the_converter_says_it_does_not_support_the_construct(
        status: str, error: str, kind: str) -> None:
    from harness.fuzz.findings import finding_kind

    assert finding_kind(status, error) == kind


def test_a_mismatch_whose_converted_graph_equals_the_source_in_float64_only_rounds_worse() -> None:
    from harness.fuzz.findings import finding_kind

    assert finding_kind("mismatch", "", "values diverge at InstanceNormalization (float32 rounding only)") == \
        "rounds worse"
    assert finding_kind("mismatch", "", "values diverge at Resize") == "wrong numbers"


def test_an_output_that_is_the_source_output_transposed_is_a_layout_change_not_a_bug() -> None:
    """onnx2tf converts to channels-last by design; an output equal to the expected one with its axes permuted
    is the interface it documents, which its maintainer would answer with a flag, not a fix."""
    from harness.fuzz.findings import NOT_A_BUG, finding_kind

    transposed = ("shape (1, 3, 3, 1) where the reference has (1, 1, 3, 3): the output is the reference "
                  "transposed by (0, 3, 1, 2)")
    assert finding_kind("mismatch", transposed, "shape diverge at Conv") == "layout changed (outputs transposed)"
    assert "layout changed (outputs transposed)" in NOT_A_BUG
    # A shape that is no permutation of the expected one is wrong numbers still.
    assert finding_kind("mismatch", "shape (1, 2) where the reference has (1, 3)", "shape diverge at Conv") == \
        "wrong numbers"


def test_a_findings_folder_with_a_malformed_finding_is_read_as_data_and_refused(tmp_path: Path) -> None:
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "finding.json").write_text('{"signature": {"hop": 3}, "route": "x", "hop_index": 1}')
    (tmp_path / "not-json").mkdir()
    (tmp_path / "not-json" / "finding.json").write_text("__import__('os').system('true')")
    with pytest.raises(ValueError, match="not a signature"):
        read_finding(tmp_path / "broken")
    with pytest.raises(ValueError, match="cannot read"):
        read_finding(tmp_path / "not-json")
    assert read_findings(tmp_path) == []


# -- the command -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("content, words", [
    ("{not json", "not a readable JSON file"),
    ('{"format": "parity-fuzz-model", "version": 1, "input_shape": [2, 3], "input_dtype": "float32", '
     '"vocab": null, "seed": 1, "layers": [{"kind": "os:system", "attrs": {}}]}', "not a valid model description"),
    ('["layernorm"]', "not a valid model description"),
])
def test_a_bad_description_file_is_refused_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       content: str, words: str) -> None:
    bad = tmp_path / "description.json"
    bad.write_text(content)
    assert main(["fuzz", "--description", str(bad), "--out", str(tmp_path / "out"),
                 "--work-dir", str(tmp_path / "work")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("parity: error: ") and words in err[0], err
    assert not (tmp_path / "out").exists()


def test_fuzz_needs_a_budget(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fuzz"]) == 2
    assert "--budget MINUTES" in capsys.readouterr().err


# -- one real campaign -----------------------------------------------------------------------------------
# torch exports LayerNormalization (opset 17), which onnx-tf 1.10.0 has no handler for; the trailing GELU is
# there for the shrinker to remove.
LAYERNORM_MODEL = {"format": "parity-fuzz-model", "version": 1, "input_shape": [2, 3, 4], "input_dtype": "float32",
                   "vocab": None, "seed": 5,
                   "layers": [{"kind": "layernorm", "attrs": {}}, {"kind": "gelu", "attrs": {}}]}


@pytest.mark.stacks
def test_a_real_failure_is_shrunk_written_up_and_its_repro_fails_in_the_real_stack(
        tmp_path: Path, stack_engine: Any) -> None:
    from harness.fuzz.campaign import replay_finding

    description = tmp_path / "model.json"
    description.write_text(json.dumps(LAYERNORM_MODEL))
    out = tmp_path / "findings"
    assert main(["fuzz", "--description", str(description), "--routes", TORCH_ROUTE, "--out", str(out),
                 "--work-dir", str(tmp_path / "work"), "--cache-dir", str(tmp_path / "cache"),
                 "--shrink-minutes", "2", "--examples", "1"]) == 0
    (record,) = read_findings(out)
    data = record.data
    assert record.signature.package == "onnx-tf" and record.signature.status == "convert_error"
    assert "LayerNormalization" in record.signature.detail
    assert data["layers"] == 1 and data["summary"] == "layernorm" and data["shrink"]["from_layers"] == 2
    assert data["repro"]["exit_code"] == 1 and data["repro"]["reproduces"], data["repro"]
    assert record.folder.name in (out / "README.md").read_text()
    campaign = json.loads((out / "campaign.json").read_text())
    assert campaign["models"] == 1 and campaign["new"] == [record.folder.name]

    # pytest --zoo's replay: the finding still reproduces; with another recorded signature it is stale.
    assert replay_finding(stack_engine, record.folder).reproduces
    stale = tmp_path / "stale"
    shutil.copytree(record.folder, stale)
    changed = json.loads((stale / "finding.json").read_text())
    changed["signature"]["detail"] = "BackendIsNotSupposedToImplementIt: Erf is not implemented."
    (stale / "finding.json").write_text(json.dumps(changed))
    replay = replay_finding(stack_engine, stale)
    assert not replay.reproduces and "LayerNormalization" in replay.now


# -- lanes -----------------------------------------------------------------------------------------------
class StubPool:
    def close(self) -> None:
        pass


class StubEngine:
    """What a campaign's lanes touch of an engine: a sibling with its own pool."""

    pool = StubPool()

    def sibling(self, lane: int, lanes: int) -> StubEngine:
        return StubEngine()


def test_lanes_run_every_drawn_model_once_and_the_main_process_records_them(tmp_path: Path) -> None:
    from harness.fuzz.campaign import Campaign, CampaignOptions, ModelRun

    class Recorded(Campaign):
        def run_model(self, index: int, description: Any) -> ModelRun:
            return ModelRun(index, description, [], "", 0.0)  # no routes: only the lanes' bookkeeping is tested

    models = [WrittenDescription() for _ in range(7)]
    campaign = Recorded(StubEngine(), [], CampaignOptions(out_dir=tmp_path, budget_seconds=600))
    summary = campaign.run(iter(models), jobs=3)
    assert summary["models"] == 7
    lines = [json.loads(line) for line in (tmp_path / "models.jsonl").read_text().splitlines()]
    assert sorted(line["index"] for line in lines) == list(range(1, 8))
    assert json.loads((tmp_path / "campaign.json").read_text())["models"] == 7


def test_the_node_onnxruntime_names_in_parentheses_is_not_part_of_the_signature() -> None:
    # Met in a campaign: one tf2onnx ConvTranspose bug split into four signatures by its node's name.
    template = ("Fail: [ONNXRuntimeError] : 1 : FAIL : Load model from /tmp/x/model.onnx failed:Node ({node}) Op "
                "(ConvTranspose) [ShapeInferenceError] Attribute pads must not be negative")
    names = ["fuzzed_1/l2_1/BiasAdd", "fuzzed_1/l3_1/conv_transpose", "/0/Conv"]
    details = {normalise_message(template.format(node=name)) for name in names}
    assert len(details) == 1
    (detail,) = details
    assert "Op (ConvTranspose)" in detail and "conv_transpose" not in detail
