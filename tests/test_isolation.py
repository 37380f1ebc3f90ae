"""A converter that crashes, hangs or raises becomes a cell; the worker is replaced and the run goes on."""

from __future__ import annotations

import pytest

from harness.converters.base import Converter
from harness.converters.onnx_from_torch import OnnxFromTorch
from harness.converters.routes import Hop, Route
from harness.errors import describe_error
from harness.formats import TORCH
from harness.run.engine import Engine
from model_zoo import all_models
from tests.fake_converters import HangingConverter, RaisingConverter, SegfaultingConverter

pytestmark = pytest.mark.stacks


def route_of(*converters: Converter) -> Route:
    return Route(TORCH, tuple(Hop(index, converter) for index, converter in enumerate(converters, 1)))


def test_a_converter_that_kills_its_process_is_a_crash_cell_and_the_run_goes_on(fresh_engine: Engine) -> None:
    spec = all_models()["mlp"]
    crashed = fresh_engine.run_route(spec, route_of(SegfaultingConverter(), OnnxFromTorch()))
    assert [row["status"] for row in crashed] == ["crash", "skipped"]
    assert "SIGSEGV" in crashed[0]["error"]
    assert "hop 1 (torch->onnx) ended crash" in crashed[1]["error"]
    after = fresh_engine.run_route(spec, route_of(OnnxFromTorch()))
    assert [row["status"] for row in after] == ["pass"]
    assert after[0]["max_abs_err"] < 1e-5


def test_a_converter_that_hangs_is_a_timeout_cell(fresh_engine: Engine) -> None:
    fresh_engine.prepare(all_models()["mlp"])  # the twins build under the normal timeout first
    fresh_engine.options.convert_timeout = 3
    rows = fresh_engine.run_route(all_models()["mlp"], route_of(HangingConverter()))
    assert rows[0]["status"] == "timeout" and "no answer within 3 s" in rows[0]["error"]


def test_a_converter_that_raises_is_a_convert_error_with_class_and_first_line(fresh_engine: Engine) -> None:
    rows = fresh_engine.run_route(all_models()["mlp"], route_of(RaisingConverter(), OnnxFromTorch()))
    assert rows[0]["status"] == "convert_error"
    assert rows[0]["error"] == "NotImplementedError: op Frobnicate version 99 is not implemented."
    assert rows[1]["status"] == "skipped"


def test_error_descriptions_pick_the_telling_line_of_long_framework_messages() -> None:
    tf_style = ValueError("in user code:\n\n    File x.py, line 3\n"
                          "    ValueError: 'a:0' is not a valid root scope name.")
    assert describe_error(tf_style) == "ValueError: 'a:0' is not a valid root scope name."
    assert describe_error(KeyError()) == "KeyError"
