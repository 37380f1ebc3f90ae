"""The fuzz grammar: drawn model descriptions are valid, survive JSON, shrink to valid simpler ones, and build in
torch and Keras as twins that compute the same function, as do the repro scripts generated from them."""

from __future__ import annotations

import ast
import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as seeded

from harness.fuzz.grammar import (
    KINDS,
    MAX_LAYERS,
    ModelDescription,
    descriptions,
    keras_source,
    model_spec,
    torch_source,
    trace,
)
from harness.run.engine import Engine

FAST = settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))


def draw(count: int, seed: int, max_layers: int = 5) -> list[ModelDescription]:
    """`count` distinct descriptions from the strategy, the same ones for the same seed."""
    drawn: dict[str, ModelDescription] = {}

    @seeded(seed)
    @settings(max_examples=count, phases=[Phase.generate], database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(descriptions(max_layers=max_layers))
    def record(description: ModelDescription) -> None:
        drawn.setdefault(json.dumps(description.to_json(), sort_keys=True), description)

    record()
    return list(drawn.values())


def description(layers: list[dict[str, Any]], shape: list[int], dtype: str = "float32",
                vocab: int | None = None) -> dict[str, Any]:
    return {"format": "parity-fuzz-model", "version": 1, "input_shape": shape, "input_dtype": dtype,
            "vocab": vocab, "seed": 3, "layers": layers}


CONV = {"kind": "conv2d", "attrs": {"out": 4, "kernel": 3, "stride": 2, "padding": 1, "dilation": 1, "groups": 2,
                                    "bias": True}}
GOOD = description([CONV, {"kind": "relu", "attrs": {}},
                    {"kind": "residual", "attrs": {"body": [{"kind": "batchnorm", "attrs": {}},
                                                            {"kind": "gelu", "attrs": {}}]}},
                    {"kind": "flatten", "attrs": {}}, {"kind": "linear", "attrs": {"out": 3, "bias": False}}],
                   [2, 4, 9, 9])


# -- controller side: no framework needed ------------------------------------------------------------------------
@FAST
@given(descriptions())
def test_a_drawn_description_survives_json_and_stays_within_its_budget(drawn: ModelDescription) -> None:
    data = json.loads(json.dumps(drawn.to_json()))
    assert ModelDescription.from_json(data) == drawn
    assert 1 <= drawn.layer_count() <= 5
    assert drawn.summary() == " > ".join(layer.label() for layer in drawn.layers)


def test_the_strategy_reaches_every_layer_kind_and_reads_back_what_it_draws() -> None:
    drawn = draw(1000, seed=1)
    for d in drawn:
        assert ModelDescription.from_json(json.loads(json.dumps(d.to_json()))) == d
    reached = set().union(*(d.kinds() for d in drawn))
    assert reached == set(KINDS), f"never drawn: {sorted(set(KINDS) - reached)}"
    assert sum(d.has_keras_twin() for d in drawn) > len(drawn) // 2  # most models take both routes' sources
    assert sum(not d.has_keras_twin() for d in drawn) > 0  # and torch-only layers are drawn too


def test_layer_count_counts_a_containers_body() -> None:
    parsed = ModelDescription.from_json(GOOD)
    assert parsed.layer_count() == 7  # conv, relu, residual + its 2, flatten, linear
    assert parsed.layers[0].attrs["padding_mode"] == "zeros"  # written without it: the attribute's default
    assert parsed.summary() == "conv2d(out=4,k=3,s=2,p=1,g=2) > relu > residual([batchnorm > gelu]) > flatten > " \
                               "linear(out=3,bias=False)"


def test_shapes_follow_torchs_formulas() -> None:
    # conv: (9 + 2*1 - 3) // 2 + 1 = 5; flatten 4*5*5 = 100
    tensors = trace(ModelDescription.from_json(GOOD))
    assert [t.shape for t in tensors] == [(2, 4, 9, 9), (2, 4, 5, 5), (2, 4, 5, 5), (2, 4, 5, 5), (2, 100), (2, 3)]
    pool = {"kind": "maxpool2d", "attrs": {"kernel": 2, "stride": 2, "padding": 0, "ceil_mode": True}}
    # ceil((7 - 2) / 2) + 1 = 4 (floor would give 3)
    assert trace(ModelDescription.from_json(description([pool], [1, 2, 7, 7])))[-1].shape == (1, 2, 4, 4)


def mutated(path: list[Any], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(GOOD)
    target: Any = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data




@pytest.mark.parametrize(("data", "message"), [
    ([], "must be a JSON object"),
    ({k: v for k, v in GOOD.items() if k != "seed"}, "missing: \\['seed'\\]"),
    ({**GOOD, "code": "import os"}, "unknown: \\['code'\\]"),
    (mutated(["format"], "pickle"), "not a parity-fuzz-model"),
    (mutated(["layers", 0, "kind"], "os.system"), "unknown layer kind 'os.system'"),
    (mutated(["layers", 0, "attrs", "out"], "4"), "layers\\[0\\].out .*integer"),
    (mutated(["layers", 0, "attrs", "out"], True), "layers\\[0\\].out .*integer"),
    (mutated(["layers", 0, "attrs", "out"], 1000), "layers\\[0\\].out .*\\[1, 16\\]"),
    (mutated(["layers", 0, "attrs", "bias"], 1), "must be true or false"),
    (mutated(["layers", 0, "attrs", "extra"], 1), "unknown: \\['extra'\\]"),
    (description([{"kind": "reshape", "attrs": {}}], [2, 6]), "lacks the attributes \\['shape'\\]"),
    (mutated(["layers", 0, "attrs", "groups"], 3), "groups 3 must divide"),
    (mutated(["layers", 4], CONV), "does not take"),  # a conv2d after flatten
    (mutated(["layers", 2, "attrs", "body"], [{"kind": "residual", "attrs": {"body": [{"kind": "relu",
                                                                                      "attrs": {}}]}}]),
     "bodies do not nest"),
    (mutated(["layers", 2, "attrs", "body"], [{"kind": "linear", "attrs": {"out": 2, "bias": True}}]),
     "must keep the shape"),
    (mutated(["layers"], [{"kind": "relu", "attrs": {}}] * (MAX_LAYERS + 1)), "more than"),
    (mutated(["layers"], []), "non-empty"),
    (mutated(["input_shape"], [2, 4, 900, 900]), "axis outside|more than"),
    (mutated(["input_shape"], [2, 4.0, 9, 9]), "input_shape"),
    (mutated(["seed"], -1), "seed"),
    (description([{"kind": "relu", "attrs": {}}], [2, 5], "int64", 10), "embedding first"),
    (description([{"kind": "embedding", "attrs": {"dim": 4}}], [2, 5]), "does not take"),
    (description([{"kind": "softmax", "attrs": {"axis": 0}}], [2, 5]), "not a non-batch axis"),
])
def test_from_json_rejects_bad_data_naming_the_problem(data: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ModelDescription.from_json(data)


@FAST
@given(descriptions())
def test_simplifications_are_valid_distinct_and_strictly_simpler(drawn: ModelDescription) -> None:
    candidates = list(drawn.simplifications())
    keys = [json.dumps(c.to_json(), sort_keys=True) for c in candidates]
    assert len(set(keys)) == len(keys) and json.dumps(drawn.to_json(), sort_keys=True) not in keys
    for candidate in candidates:
        assert ModelDescription.from_json(candidate.to_json()) == candidate  # valid, as read from disk
        assert candidate.complexity() < drawn.complexity()
    assert [c.complexity() for c in candidates] == sorted(c.complexity() for c in candidates)  # simplest first
    if drawn.layer_count() > 1:
        assert candidates and candidates[0].layer_count() < drawn.layer_count()


def test_shrinking_by_simplifications_alone_ends_at_one_plain_layer() -> None:
    current = ModelDescription.from_json(GOOD)
    steps = 0
    while (simpler := next(current.simplifications(), None)) is not None:
        current, steps = simpler, steps + 1
    assert current.layer_count() == 1 and current.input_shape == (1, 1, 1, 1) and steps > 5
    assert current.layers[0].attrs == KINDS[current.layers[0].kind].plain()


def test_a_layer_without_an_exact_keras_counterpart_makes_the_model_torch_only() -> None:
    twin = ModelDescription.from_json(GOOD)
    spec = model_spec(twin, "fuzz_twin")
    assert spec.has_twins and spec.family == "fuzz" and spec.inputs[0].layout == "NCHW"
    assert spec.outputs[0].layout is None  # flatten then linear: the same layout in both
    strided_and_dilated = mutated(["layers", 0, "attrs", "dilation"], 2)  # Keras refuses both at once
    padded_pool = description([{"kind": "maxpool2d", "attrs": {"kernel": 2, "stride": 2, "padding": 1,
                                                               "ceil_mode": False}}], [1, 2, 6, 6])
    for data in (strided_and_dilated, padded_pool):
        parsed = ModelDescription.from_json(data)
        spec = model_spec(parsed, "torch_only")
        assert not parsed.has_keras_twin() and spec.build_keras is None and spec.transfer_weights is None
    image_out = model_spec(ModelDescription.from_json(description([CONV], [1, 4, 9, 9])), "image_out")
    assert image_out.outputs[0].layout == "NCHW"  # Keras gives NHWC, compared after a transpose


def test_a_dilated_transposed_convolution_has_no_keras_twin_on_any_cpu() -> None:
    # TensorFlow's CPU Conv2DBackpropInput runs dilation > 1 only where oneDNN takes it (an Intel CPU with
    # AVX-512 here, not an AMD one), so a twin that needs it would make the grammar machine-dependent.
    for spatial, shape in ((1, [1, 2, 5]), (2, [1, 2, 5, 5])):
        layer = {"kind": f"conv_transpose{spatial}d",
                 "attrs": {"out": 3, "kernel": 2, "stride": 1, "padding": 0, "output_padding": 0, "bias": True,
                           "groups": 1, "dilation": 2}}
        dilated = ModelDescription.from_json(description([layer], shape))
        assert not dilated.has_keras_twin()
        assert model_spec(dilated, "dilated").build_keras is None
        plain = ModelDescription.from_json(description([{**layer, "attrs": {**layer["attrs"], "dilation": 1}}],
                                                       shape))
        assert plain.has_keras_twin()


def test_ids_go_through_an_embedding_and_are_fed_below_the_vocab() -> None:
    parsed = ModelDescription.from_json(description([{"kind": "embedding", "attrs": {"dim": 4}},
                                                     {"kind": "lstm", "attrs": {"hidden": 3, "bidirectional": True,
                                                                                "last_step": True}}],
                                                    [2, 5], "int64", 11))
    (spec_input,) = model_spec(parsed, "ids").inputs
    assert (spec_input.dtype, spec_input.domain, spec_input.high) == ("int64", "index", 11)
    assert trace(parsed)[-1].shape == (2, 6)


def test_the_strategy_validates_its_argument() -> None:
    with pytest.raises(ValueError, match="max_layers"):
        descriptions(max_layers=0)


def imported_modules(source: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add((node.module or "").split(".")[0])
    return names


def test_generated_sources_need_only_their_frameworks_packages() -> None:
    for drawn in draw(80, seed=2):
        assert imported_modules(torch_source(drawn)) <= {"pathlib", "numpy", "torch"}
        if drawn.has_keras_twin():
            assert imported_modules(keras_source(drawn)) <= {"pathlib", "numpy", "keras"}


# -- in the stacks: the twins built and compared -----------------------------------------------------------------
def covering(pool: list[ModelDescription]) -> list[ModelDescription]:
    """A few descriptions of `pool` that together hold every kind it holds (greedy set cover)."""
    chosen: list[ModelDescription] = []
    uncovered = set().union(*(d.kinds() for d in pool))
    while uncovered:
        best = max(pool, key=lambda d: (len(d.kinds() & uncovered), -d.complexity()[0]))
        chosen.append(best)
        uncovered -= best.kinds()
    return chosen


def layer(kind: str, **attrs: Any) -> dict[str, Any]:
    return {"kind": kind, "attrs": attrs}


# Attribute combinations whose Keras twin takes care (padding, cropping, layouts, gate orders), written out so that
# every run builds them, whatever the draws.
CAREFUL_TWINS = [
    # padding crops the full output (a dilated one would have no twin: see the test above)
    description([layer("conv_transpose2d", out=4, kernel=3, stride=1, padding=1, output_padding=0, bias=True,
                       groups=1, dilation=1)], [2, 3, 5, 6]),
    description([layer("conv_transpose1d", out=2, kernel=4, stride=3, padding=2, output_padding=2, bias=True,
                       groups=1, dilation=1)], [2, 3, 7]),
    description([layer("upsample", mode="linear", scale=3.0, align_corners=False)], [1, 2, 4, 5]),
    description([layer("maxpool2d", kernel=3, stride=3, padding=0, ceil_mode=True, dilation=1)], [1, 2, 5, 8]),
    description([layer("avgpool2d", kernel=2, stride=2, padding=0, ceil_mode=True, count_include_pad=False)],
                [1, 2, 5, 8]),
    description([layer("prelu", channelwise=True), layer("transpose", axes=[1, 3]), layer("prelu", channelwise=True)],
                [2, 3, 4, 5]),
    description([layer("pad", mode="constant", pads=[0, 2, 1, 0], value=0.0), layer("log_softmax", axis=1)],
                [2, 3, 4, 5]),
    description([layer("reduce", op="sum", axis=1, keepdims=False), layer("slice", axis=2, start=1, stop=5, step=2)],
                [2, 3, 4, 5]),
    description([layer("lstm", hidden=3, num_layers=2, bidirectional=True, last_step=True)], [2, 6, 4]),
    description([layer("gru", hidden=3, num_layers=2, bidirectional=False, last_step=False),
                 layer("attention", heads=3, causal=True)], [2, 6, 4]),
    description([layer("concat", axis=2, body=[layer("conv1d", out=4, kernel=3, stride=1, padding="same", dilation=2,
                                                     groups=4, bias=True, padding_mode="zeros")])], [2, 4, 6]),
]


def catalogue() -> list[ModelDescription]:
    """Drawn descriptions that hold every kind, with a Keras twin and (where a kind can lack one) without, the
    careful twins, then a small random sample: each kind is built on both sides every run, in few models."""
    pool = draw(1000, seed=1)
    chosen = covering([d for d in pool if d.has_keras_twin()]) + covering([d for d in pool if not d.has_keras_twin()])
    careful = [ModelDescription.from_json(data) for data in CAREFUL_TWINS]
    assert all(d.has_keras_twin() for d in careful)
    return chosen + careful + draw(6, seed=5, max_layers=6)


@pytest.mark.stacks
def test_drawn_models_build_and_their_twins_and_generated_scripts_agree(stack_engine: Engine,
                                                                        tmp_path: Path) -> None:
    models = catalogue()
    data = [m.to_json() for m in models]
    torch_side = stack_engine.call_function("current", "torch", "harness.fuzz.grammar:check_torch_side",
                                            descriptions=data, directory=str(tmp_path))
    keras_side = stack_engine.call_function("current", "tf", "harness.fuzz.grammar:check_keras_side",
                                            descriptions=data, directory=str(tmp_path))
    twins = 0
    for model, built, twin in zip(models, torch_side, keras_side):
        where = model.summary()
        assert built["output_shape"] == list(trace(model)[-1].shape), where  # the grammar's shapes are torch's
        assert built["deterministic"] and built["eval"] and built["finite"], where
        assert built["generated_max_abs_err"] == 0.0 and built["rebuilt_max_abs_err"] == 0.0, where
        assert built["distinct_weights"] == built["weights"] and built["constant_weights"] == 0, where
        assert (twin is not None) == model.has_keras_twin(), where
        if twin is not None:
            twins += 1
            assert twin["shape_matches"], where
            assert twin["max_abs_err"] <= 1e-5 * max(1.0, twin["scale"]), (where, twin)  # float32 noise only
            assert twin["reloaded_max_abs_err"] == 0.0 and twin["generated_max_abs_err"] == 0.0, where
    twin_kinds = set().union(*(m.kinds() for m in models if m.has_keras_twin()))
    assert twin_kinds == set(KINDS), sorted(set(KINDS) - twin_kinds)
    print(f"{len(models)} models built, {twins} Keras twins agreed")
