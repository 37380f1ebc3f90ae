"""A ResNet-style stack of basic residual blocks (identity and strided projection shortcuts) and its Keras twin."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.spec import InputSpec, ModelSpec, OutputSpec
from model_zoo.transfer import randomize_batchnorm, transfer_by_layer_names

if TYPE_CHECKING:
    import keras
    import torch

# (name, in, out, stride) of each basic block; stride 2 gets a 1x1 projection shortcut
BLOCKS = (("layer1", 16, 16, 1), ("layer2", 16, 32, 2), ("layer3", 32, 32, 1))
N_CLASSES = 10


def build_torch() -> torch.nn.Module:
    import torch
    from torch import nn

    def conv_bn(c_in: int, c_out: int, k: int, stride: int) -> list[nn.Module]:
        return [nn.Conv2d(c_in, c_out, k, stride=stride, padding=k // 2, bias=False), nn.BatchNorm2d(c_out)]

    class BasicBlock(nn.Module):
        def __init__(self, c_in: int, c_out: int, stride: int) -> None:
            super().__init__()
            self.conv1, self.bn1 = conv_bn(c_in, c_out, 3, stride)
            self.conv2, self.bn2 = conv_bn(c_out, c_out, 3, 1)
            self.relu = nn.ReLU()
            self.shortcut = nn.Sequential(*conv_bn(c_in, c_out, 1, stride)) if stride != 1 else nn.Identity()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.relu(self.bn1(self.conv1(x)))
            return self.relu(self.bn2(self.conv2(y)) + self.shortcut(x))

    class ResNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1, self.bn1 = conv_bn(3, BLOCKS[0][1], 3, 1)
            for name, c_in, c_out, stride in BLOCKS:
                self.add_module(name, BasicBlock(c_in, c_out, stride))
            self.logits = nn.Linear(BLOCKS[-1][2], N_CLASSES)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = torch.relu(self.bn1(self.conv1(x)))
            for name, *_ in BLOCKS:
                x = getattr(self, name)(x)
            return self.logits(x.mean(dim=(2, 3)))

    model = ResNet()
    return randomize_batchnorm(model)


def build_keras() -> keras.Model:
    import keras
    from keras import layers

    def conv_bn(x: Any, c_out: int, k: int, stride: int, name: str, bn: str) -> Any:
        if stride == 2 and k == 3:  # TF "same" pads stride-2 convs asymmetrically; torch pads 1 on every side
            x = layers.ZeroPadding2D(1, name=f"{name}_pad")(x)
            x = layers.Conv2D(c_out, k, strides=stride, padding="valid", use_bias=False, name=name)(x)
        else:
            x = layers.Conv2D(c_out, k, strides=stride, padding="same", use_bias=False, name=name)(x)
        return layers.BatchNormalization(epsilon=1e-5, name=bn)(x)

    image = keras.Input(shape=(32, 32, 3), name="image", dtype="float32")
    x = layers.ReLU(name="relu")(conv_bn(image, BLOCKS[0][1], 3, 1, "conv1", "bn1"))
    for name, _, c_out, stride in BLOCKS:
        y = layers.ReLU(name=f"{name}_relu1")(conv_bn(x, c_out, 3, stride, f"{name}_conv1", f"{name}_bn1"))
        y = conv_bn(y, c_out, 3, 1, f"{name}_conv2", f"{name}_bn2")
        if stride != 1:
            x = conv_bn(x, c_out, 1, stride, f"{name}_shortcut_0", f"{name}_shortcut_1")
        x = layers.ReLU(name=f"{name}_relu2")(layers.Add(name=f"{name}_add")([y, x]))
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    logits = layers.Dense(N_CLASSES, name="logits")(x)
    return keras.Model(image, logits, name="resnet_blocks")


MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        name="resnet_blocks",
        family="resnet",
        build_torch=build_torch,
        build_keras=build_keras,
        transfer_weights=transfer_by_layer_names,
        inputs=(InputSpec(name="image", shape=("B", 3, 32, 32), layout="NCHW", dim_bounds={"B": (1, 4)}),),
        outputs=(OutputSpec(name="logits", is_classifier=True),),
        tags=frozenset(
            {"resnet", "conv2d", "batchnorm", "relu", "residual_add", "strided_conv", "global_avgpool", "linear"}
        ),
        description="Stem plus three basic residual blocks (one stride-2 with a 1x1 projection shortcut), GAP, linear.",
    ),
)
