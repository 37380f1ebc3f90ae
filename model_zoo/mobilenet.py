"""MobileNet-style depthwise-separable blocks (ReLU6 depthwise, hard-swish pointwise) and their Keras twin."""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING

from harness.spec import InputSpec, ModelSpec, OutputSpec
from model_zoo.transfer import randomize_batchnorm, transfer_by_layer_names

if TYPE_CHECKING:
    import keras
    import torch

STEM = 16
# (out channels, depthwise stride) of each depthwise-separable block
BLOCKS = ((32, 1), (64, 2), (64, 1))
N_CLASSES = 5


def build_torch() -> torch.nn.Module:
    from torch import nn

    layers: OrderedDict[str, nn.Module] = OrderedDict(
        stem=nn.Conv2d(3, STEM, 3, padding=1, bias=False), stembn=nn.BatchNorm2d(STEM), stemact=nn.ReLU6()
    )
    c_in = STEM
    for i, (c_out, stride) in enumerate(BLOCKS, start=1):
        layers[f"dw{i}"] = nn.Conv2d(c_in, c_in, 3, stride=stride, padding=1, groups=c_in, bias=False)
        layers[f"dwbn{i}"] = nn.BatchNorm2d(c_in)
        layers[f"dwact{i}"] = nn.ReLU6()
        layers[f"pw{i}"] = nn.Conv2d(c_in, c_out, 1, bias=False)
        layers[f"pwbn{i}"] = nn.BatchNorm2d(c_out)
        layers[f"pwact{i}"] = nn.Hardswish()
        c_in = c_out
    layers["gap"] = nn.AdaptiveAvgPool2d(1)
    layers["flatten"] = nn.Flatten()
    layers["logits"] = nn.Linear(c_in, N_CLASSES)
    return randomize_batchnorm(nn.Sequential(layers))


def build_keras() -> keras.Model:
    import keras
    from keras import layers

    image = keras.Input(shape=(64, 64, 3), name="image", dtype="float32")
    x = layers.Conv2D(STEM, 3, padding="same", use_bias=False, name="stem")(image)
    x = layers.ReLU(max_value=6.0, name="stemact")(layers.BatchNormalization(epsilon=1e-5, name="stembn")(x))
    for i, (c_out, stride) in enumerate(BLOCKS, start=1):
        if stride == 2:  # TF "same" pads stride-2 convs asymmetrically; torch pads 1 on every side
            x = layers.ZeroPadding2D(1, name=f"pad{i}")(x)
        pad = "valid" if stride == 2 else "same"
        x = layers.DepthwiseConv2D(3, strides=stride, padding=pad, use_bias=False, name=f"dw{i}")(x)
        x = layers.BatchNormalization(epsilon=1e-5, name=f"dwbn{i}")(x)
        x = layers.ReLU(max_value=6.0, name=f"dwact{i}")(x)
        x = layers.Conv2D(c_out, 1, use_bias=False, name=f"pw{i}")(x)
        x = layers.BatchNormalization(epsilon=1e-5, name=f"pwbn{i}")(x)
        x = layers.Activation("hard_swish", name=f"pwact{i}")(x)  # Keras 3: x * relu6(x + 3) / 6, as torch
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    logits = layers.Dense(N_CLASSES, name="logits")(x)
    return keras.Model(image, logits, name="mobilenet_block")


MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        name="mobilenet_block",
        family="mobilenet",
        build_torch=build_torch,
        build_keras=build_keras,
        transfer_weights=transfer_by_layer_names,
        inputs=(InputSpec(name="image", shape=("B", 3, 64, 64), layout="NCHW", dim_bounds={"B": (1, 4)}),),
        outputs=(OutputSpec(name="logits", is_classifier=True),),
        tags=frozenset(
            {"mobilenet", "conv2d", "depthwise_conv2d", "strided_conv", "batchnorm", "relu6", "hardswish",
             "global_avgpool", "linear"}
        ),
        description="Conv stem plus three depthwise-separable blocks (one stride-2 depthwise), ReLU6 and hard-swish.",
    ),
)
