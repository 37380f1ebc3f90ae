"""Exporter hops (torch->onnx, keras->onnx) are localized: a fake exporter that breaks one layer gets that
layer named, through the TorchScript exporter's node names, the dynamo exporter's name scopes and tf2onnx's."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from harness.converters.onnx_from_tf import OnnxFromSavedModel
from harness.converters.routes import Hop, Route
from harness.execution.pool import WorkerPool
from harness.formats import KERAS, TORCH
from harness.oracle.exporter_localize import keras_scope, localize_export, torch_scope
from harness.run.engine import Engine, EngineOptions
from model_zoo import all_models
from tests.fake_exporters import CorruptingOnnxFromKeras, CorruptingOnnxFromTorch


@dataclass
class Entry:
    key: str
    value: str


@dataclass
class Node:  # the two fields of an onnx NodeProto the scope readers look at
    name: str
    metadata_props: list[Entry] = field(default_factory=list)


RESNET_MODULES = {"conv1", "bn1", "layer2", "layer2.conv1", "layer2.relu", "layer2.shortcut", "layer2.shortcut.0",
                  "logits"}


def test_torchscript_scopes_resolve_to_module_paths() -> None:
    assert torch_scope(Node("/layer2/shortcut/shortcut.0/Conv"), RESNET_MODULES) == "layer2.shortcut.0"
    assert torch_scope(Node("/layer2/conv1/Conv"), RESNET_MODULES) == "layer2.conv1"
    assert torch_scope(Node("/layer2/relu_1/Relu"), RESNET_MODULES) == "layer2.relu"  # the module's second call
    assert torch_scope(Node("/Relu"), RESNET_MODULES) == ""  # the root module's own functional op
    assert torch_scope(Node("Identity_3"), RESNET_MODULES) is None  # a node the exporter did not scope


def test_dynamo_name_scopes_resolve_to_the_deepest_known_module() -> None:
    scopes = "['', 'layer2', 'layer2.shortcut', 'layer2.shortcut.0', 'conv2d_5']"
    node = Node("node_Conv_129", [Entry("pkg.torch.onnx.name_scopes", scopes)])
    assert torch_scope(node, RESNET_MODULES) == "layer2.shortcut.0"


def test_tf2onnx_names_resolve_to_keras_layers_with_or_without_the_scope_suffix() -> None:
    layers = {"fc1", "fc2", "fc2_1"}
    assert keras_scope(Node("mlp_1/fc1_1/MatMul"), layers) == "fc1"
    assert keras_scope(Node("mlp_1/fc2_1/MatMul"), layers) == "fc2_1"  # an exact name beats a stripped one
    assert keras_scope(Node("StatefulPartitionedCall/mlp_1/fc1_1/MatMul"), layers) == "fc1"
    assert keras_scope(Node("const_axes__35"), layers) is None


def test_a_savedmodel_source_says_why_it_is_not_localized(tmp_path: Path) -> None:
    pool: Any = None  # never reached: the reason is known before any worker is asked
    result = localize_export(pool, OnnxFromSavedModel(), tmp_path / "saved_model", tmp_path / "model.onnx",
                             tmp_path / "x.npz", tmp_path / "work")
    assert not result.found
    assert result.summary().startswith("not localized: no mapping from a tf artifact")


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    run_dir = tmp_path_factory.mktemp("exporter_localize")
    with WorkerPool(run_dir / "logs") as pool:
        yield Engine(run_dir, pool, EngineOptions(examples=2, profile="ci", localize=True), progress=lambda line: None)


def exported_row(engine: Engine, model: str, route: Route) -> dict[str, Any]:
    (row,) = engine.run_route(all_models()[model], route)
    assert row["status"] == "mismatch", row["error"]
    return row


@pytest.mark.stacks
@pytest.mark.parametrize("variant", ["torchscript_Gemm2", "dynamo_Gemm2"])
def test_a_torch_export_with_one_broken_layer_names_that_module(engine: Engine, variant: str) -> None:
    row = exported_row(engine, "mlp", Route(TORCH, (Hop(1, CorruptingOnnxFromTorch(variant)),)))
    assert "Gemm" in row["first_divergent_node"] and "(torch module fc2)" in row["first_divergent_node"], \
        row["localization"]
    assert "first divergent torch module 'fc2'" in row["localization"]


@pytest.mark.stacks
def test_a_keras_export_with_one_broken_layer_names_that_layer(engine: Engine) -> None:
    row = exported_row(engine, "mlp", Route(KERAS, (Hop(1, CorruptingOnnxFromKeras("MatMul2")),)))
    # The value compared is the layer's last node (its BiasAdd); the note gives the scope's node range.
    assert "'mlp_1/fc2_1/" in row["first_divergent_node"] and "(Keras layer fc2)" in row["first_divergent_node"], \
        row["localization"]
    assert "first divergent Keras layer 'fc2'" in row["localization"]


@pytest.mark.stacks
def test_a_keras_conv_export_is_compared_across_the_channels_first_layout(engine: Engine) -> None:
    row = exported_row(engine, "potato_leaf_cnn", Route(KERAS, (Hop(1, CorruptingOnnxFromKeras("Conv2")),)))
    # tf2onnx keeps these values channels-first; had the layout been missed, conv1 would be named.
    assert "Conv" in row["first_divergent_node"] and "(Keras layer conv2)" in row["first_divergent_node"], \
        row["localization"]


@pytest.mark.stacks
def test_a_fault_after_every_named_node_is_reported_as_unmapped(engine: Engine) -> None:
    row = exported_row(engine, "mlp", Route(TORCH, (Hop(1, CorruptingOnnxFromTorch("torchscript_output")),)))
    assert row["first_divergent_node"] == ""
    assert "agree" in row["localization"] and "no source name maps to" in row["localization"], row["localization"]


@pytest.mark.stacks
def test_a_passing_value_that_does_not_read_the_fault_does_not_clear_it(engine: Engine) -> None:
    """In a residual block the projection shortcut runs after bn2 but reads only the block's input: a fault in
    layer2.conv1 must not be cleared by it (execution order), only by a value downstream in the data flow."""
    row = exported_row(engine, "resnet_blocks", Route(TORCH, (Hop(1, CorruptingOnnxFromTorch("torchscript_Conv4")),)))
    assert "(torch module layer2.conv1)" in row["first_divergent_node"], row["localization"]
    assert "first divergent torch module 'layer2.conv1'" in row["localization"]
