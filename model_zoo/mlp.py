"""A multilayer perceptron on flat features, mixing ReLU, Tanh and SiLU, and its Keras twin."""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING

from harness.spec import InputSpec, ModelSpec, OutputSpec
from model_zoo.transfer import transfer_by_layer_names

if TYPE_CHECKING:
    import keras
    import torch

IN_FEATURES = 64
# (width, activation) of each hidden layer; torch and Keras spell the activation differently
HIDDEN = ((128, "relu"), (64, "tanh"), (32, "silu"))
N_CLASSES = 10


def build_torch() -> torch.nn.Module:
    from torch import nn

    activations = {"relu": nn.ReLU, "tanh": nn.Tanh, "silu": nn.SiLU}
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    width = IN_FEATURES
    for i, (out, act) in enumerate(HIDDEN, start=1):
        layers[f"fc{i}"] = nn.Linear(width, out)
        layers[f"{act}{i}"] = activations[act]()
        width = out
    layers["logits"] = nn.Linear(width, N_CLASSES)
    return nn.Sequential(layers).eval()


def build_keras() -> keras.Model:
    import keras
    from keras import layers

    features = keras.Input(shape=(IN_FEATURES,), name="features", dtype="float32")
    x = features
    for i, (out, act) in enumerate(HIDDEN, start=1):
        x = layers.Dense(out, name=f"fc{i}")(x)
        x = layers.Activation(act, name=f"{act}{i}")(x)
    logits = layers.Dense(N_CLASSES, name="logits")(x)
    return keras.Model(features, logits, name="mlp")


MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        name="mlp",
        family="mlp",
        build_torch=build_torch,
        build_keras=build_keras,
        transfer_weights=transfer_by_layer_names,
        inputs=(InputSpec(name="features", shape=("B", IN_FEATURES), dim_bounds={"B": (1, 4)}),),
        outputs=(OutputSpec(name="logits", is_classifier=True),),
        tags=frozenset({"mlp", "linear", "relu", "tanh", "silu"}),
        description="MLP 64-128-64-32-10 with ReLU, Tanh and SiLU hidden activations.",
    ),
)
