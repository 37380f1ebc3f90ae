"""The opset axis: exporters built per opset, route ids that carry it, and what the real exporters write."""

from __future__ import annotations

import pytest

from harness.cli import parse_opsets
from harness.converters import default_converters
from harness.converters.onnx_from_tf import OnnxFromKeras
from harness.converters.onnx_from_torch import OnnxFromTorch
from harness.converters.routes import enumerate_routes, opsets_in, strip_opset
from harness.converters.tf_from_onnx import TfFromOnnx
from harness.execution.worker import converter_from_reference
from harness.formats import KERAS, TORCH, Format
from harness.run.engine import Engine
from harness.run.selection import select_routes
from model_zoo import all_models


def test_routes_at_chosen_opsets_carry_them_and_keep_one_opset_per_route() -> None:
    converters = default_converters(opsets=[None, 12])

    def through_onnx_tf(source: Format) -> list[str]:  # the routes of before onnx2tf and Keras's own export
        return [route.id for route in enumerate_routes(converters, source)
                if not any(mark in route.id for mark in ("onnx2tf", "tflite", "keras-export", "nobuco"))]

    assert through_onnx_tf(TORCH) == [
        "torch>onnx>tf>onnx>torch",
        "torch>onnx@op12>tf>onnx@op12>torch",
        "torch>onnx@dynamo>tf>onnx>torch",
        "torch>onnx@dynamo@op12>tf>onnx@op12>torch",
    ]
    # nobuco's route goes back through tf2onnx, whose opset the sweep leaves at its default there (its record).
    assert [route.id for route in enumerate_routes(converters, TORCH) if "nobuco" in route.id] == [
        "torch>tf@nobuco>onnx>torch"]
    assert through_onnx_tf(KERAS) == [
        "keras>onnx>torch>onnx>tf", "keras>onnx>torch>onnx@dynamo>tf",
        "keras>onnx@op12>torch>onnx@op12>tf", "keras>onnx@op12>torch>onnx@dynamo@op12>tf",
    ]


def test_an_exporters_default_opset_is_its_unmarked_default_route() -> None:
    # Opset 17 is the TorchScript exporter's and tf2onnx's default: no second route, no second cache key.
    ids = [route.id for route in select_routes(None, default_converters(opsets=[None, 17]))]
    assert len(ids) == len(set(ids))
    assert "torch>onnx>tf>onnx>torch" in ids and "torch>onnx@op17>tf>onnx@op17>torch" not in ids
    # The dynamo exporter has its own default (torch's), so opset 17 is a chosen one there.
    assert "torch>onnx@dynamo@op17>tf>onnx>torch" in ids
    assert OnnxFromTorch("torchscript", opset=17).reference == OnnxFromTorch("torchscript").reference


def test_route_ids_with_opsets_select_by_glob_and_are_folder_safe() -> None:
    routes = select_routes(["torch>onnx@op12>tf>*"], default_converters(opsets=[None, 11, 12, 13]))
    assert [route.id for route in routes] == ["torch>onnx@op12>tf>onnx@op12>torch"]
    (route,) = routes
    assert route.dirname == "torch_onnx-op12_tf_onnx-op12_torch"
    assert [route.opset_at(index) for index in (1, 2, 3, 4)] == [12, 12, 12, 12]
    assert opsets_in(route.id) == [12] and opsets_in("torch>onnx>tf>onnx>torch") == [None]
    assert strip_opset("torch>onnx@dynamo@op12>tf>onnx@op12>torch") == "torch>onnx@dynamo>tf>onnx>torch"


def test_the_opset_is_in_the_reference_a_worker_rebuilds_and_the_cache_keys_on() -> None:
    exporter = OnnxFromKeras(opset=12)
    assert exporter.reference["opset"] == 12 and exporter.marks == ["op12"]
    rebuilt = converter_from_reference(exporter.reference)
    assert isinstance(rebuilt, OnnxFromKeras) and rebuilt.target_opset == 12
    assert OnnxFromTorch("dynamo").target_opset is None  # torch's own default, not passed
    with pytest.raises(ValueError, match="does not export ONNX at a chosen opset"):
        TfFromOnnx(opset=12)
    assert TfFromOnnx().with_opset(12).reference == TfFromOnnx().reference


def test_opset_lists_parse_and_refuse_what_no_exporter_writes() -> None:
    assert parse_opsets("default,11,13,11") == [None, 11, 13]
    with pytest.raises(Exception, match="not 'default' or an ONNX opset"):
        parse_opsets("3")


# -- real exporters, real stacks ---------------------------------------------------------------------------

def _exported(engine: Engine, route_glob: str, opset: int) -> list[dict[str, object]]:
    """The lstm classifier's rows on the one route matching `route_glob` among the routes at `opset`."""
    (route,) = select_routes([route_glob], default_converters(opsets=[opset]))
    return engine.run_route(all_models()["lstm_classifier"], route)


@pytest.mark.stacks
@pytest.mark.parametrize("variant", ["torchscript", "dynamo"])
def test_an_exporter_at_opset_15_writes_opset_15(stack_engine: Engine, variant: str) -> None:
    mark = "@dynamo" if variant == "dynamo" else ""
    rows = _exported(stack_engine, f"torch>onnx{mark}@op15>tf>*", 15)
    assert rows[0]["status"] == "pass", rows[0]
    # The inventory is read, inside the worker, from the written model's opset_import (the controller has no onnx).
    ops = str(rows[0]["onnx_ops"]).split("; ")
    assert ops and all(op.split()[0].endswith("@ai.onnx:15") for op in ops), ops
    assert rows[0]["opset"] == 15


@pytest.mark.stacks
def test_the_dynamo_exporter_that_cannot_reach_opset_12_is_a_convert_error_not_a_silent_opset_18(
        stack_engine: Engine) -> None:
    # torch 2.14 builds at opset 18 and converts down; for the LSTM that conversion fails, torch logs it
    # and writes opset 18 anyway.
    first = _exported(stack_engine, "torch>onnx@dynamo@op12>tf>*", 12)[0]
    assert first["status"] == "convert_error"
    assert str(first["error"]).startswith("OpsetNotWritten: torch.onnx.export wrote opset 18, not 12: "
                                          "RuntimeError: No Adapter From Version $15 for Shape")


@pytest.mark.stacks
def test_the_lstm_classifier_goes_through_onnx_tf_at_opset_12_and_fails_at_13(stack_engine: Engine) -> None:
    """The finding behind "export the LSTM with opset <= 12" (onnx-tf 1.10.0 lists Unsqueeze: [1, 11])."""
    at_12 = _exported(stack_engine, "torch>onnx@op12>tf>*", 12)
    at_13 = _exported(stack_engine, "torch>onnx@op13>tf>*", 13)
    assert [row["opset"] for row in at_12] == [12, 12, 12, 12]
    assert "@ai.onnx:12" in str(at_12[0]["onnx_ops"])
    for row in at_12[:2]:  # torch->onnx and onnx->tf
        assert row["status"] == "pass", row
        assert float(row["max_abs_err"]) < 1e-5  # type: ignore[arg-type]
    assert at_13[0]["status"] == "pass"
    assert at_13[1]["hop"] == "onnx->tf" and at_13[1]["status"] == "convert_error"
    assert "Unsqueeze version 13 is not implemented" in str(at_13[1]["error"])
