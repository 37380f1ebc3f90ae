"""The potato leaf-disease classifier of the original use case: a small Conv-BN-ReLU-MaxPool CNN and its Keras twin."""

from __future__ import annotations

import itertools
from collections import OrderedDict
from typing import TYPE_CHECKING

from harness.spec import InputSpec, ModelSpec, OutputSpec
from model_zoo.transfer import randomize_batchnorm, transfer_by_layer_names

if TYPE_CHECKING:
    import keras
    import torch

CLASSES = ("healthy", "early_blight", "late_blight")
WIDTHS = (3, 16, 32, 64)  # channels into and out of each conv block
IMAGE_SIZE = 128
DROPOUT = 0.3


def build_torch() -> torch.nn.Module:
    from torch import nn

    layers: OrderedDict[str, nn.Module] = OrderedDict()
    for i, (c_in, c_out) in enumerate(itertools.pairwise(WIDTHS), start=1):
        layers[f"conv{i}"] = nn.Conv2d(c_in, c_out, kernel_size=3, padding=1)
        layers[f"bn{i}"] = nn.BatchNorm2d(c_out)
        layers[f"relu{i}"] = nn.ReLU()
        layers[f"pool{i}"] = nn.MaxPool2d(2)
    layers["gap"] = nn.AdaptiveAvgPool2d(1)
    layers["flatten"] = nn.Flatten()
    layers["dropout"] = nn.Dropout(DROPOUT)
    layers["logits"] = nn.Linear(WIDTHS[-1], len(CLASSES))
    return randomize_batchnorm(nn.Sequential(layers))


def build_keras() -> keras.Model:
    import keras
    from keras import layers

    image = keras.Input(shape=(IMAGE_SIZE, IMAGE_SIZE, WIDTHS[0]), name="image", dtype="float32")
    x = image
    for i, c_out in enumerate(WIDTHS[1:], start=1):
        # padding="same" equals torch's padding=1 here: stride 1 pads symmetrically
        x = layers.Conv2D(c_out, 3, padding="same", name=f"conv{i}")(x)
        x = layers.BatchNormalization(epsilon=1e-5, name=f"bn{i}")(x)
        x = layers.ReLU(name=f"relu{i}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{i}")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dropout(DROPOUT, name="dropout")(x)
    logits = layers.Dense(len(CLASSES), name="logits")(x)
    return keras.Model(image, logits, name="potato_leaf_cnn")


MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        name="potato_leaf_cnn",
        family="cnn",
        build_torch=build_torch,
        build_keras=build_keras,
        transfer_weights=transfer_by_layer_names,
        inputs=(
            InputSpec(
                name="image",
                shape=("B", WIDTHS[0], IMAGE_SIZE, IMAGE_SIZE),
                layout="NCHW",
                dim_bounds={"B": (1, 4)},
            ),
        ),
        outputs=(OutputSpec(name="logits", is_classifier=True),),
        tags=frozenset({"cnn", "conv2d", "batchnorm", "relu", "maxpool", "global_avgpool", "dropout", "linear"}),
        description="Potato leaf disease classifier (healthy/early blight/late blight): 3 conv blocks, GAP, dropout.",
    ),
)
