"""A small U-Net-like encoder-decoder (two downsamplings, nearest upsampling, skip concatenation) and its Keras twin."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.spec import InputSpec, ModelSpec, OutputSpec
from model_zoo.transfer import randomize_batchnorm, transfer_by_layer_names

if TYPE_CHECKING:
    import keras
    import torch

WIDTHS = (16, 32, 64)  # encoder stage 1, stage 2, bottleneck
N_CLASSES = 2


def build_torch() -> torch.nn.Module:
    import torch
    from torch import nn

    def conv_bn_relu(c_in: int, c_out: int) -> nn.Sequential:
        return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())

    class UNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            w1, w2, w3 = WIDTHS
            self.enc1, self.enc2, self.bottleneck = conv_bn_relu(3, w1), conv_bn_relu(w1, w2), conv_bn_relu(w2, w3)
            self.pool = nn.MaxPool2d(2)
            self.up = nn.Upsample(scale_factor=2, mode="nearest")
            self.dec2, self.dec1 = conv_bn_relu(w3 + w2, w2), conv_bn_relu(w2 + w1, w1)
            self.mask = nn.Conv2d(w1, N_CLASSES, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            s1 = self.enc1(x)
            s2 = self.enc2(self.pool(s1))
            x = self.bottleneck(self.pool(s2))
            x = self.dec2(torch.cat([self.up(x), s2], dim=1))
            x = self.dec1(torch.cat([self.up(x), s1], dim=1))
            return self.mask(x)

    model = UNet()
    return randomize_batchnorm(model)


def build_keras() -> keras.Model:
    import keras
    from keras import layers

    def conv_bn_relu(x: Any, c_out: int, name: str) -> Any:
        # layer names "<block>_<index>" mirror the torch nn.Sequential keys "<block>.<index>"
        x = layers.Conv2D(c_out, 3, padding="same", use_bias=False, name=f"{name}_0")(x)
        x = layers.BatchNormalization(epsilon=1e-5, name=f"{name}_1")(x)
        return layers.ReLU(name=f"{name}_2")(x)

    w1, w2, w3 = WIDTHS
    image = keras.Input(shape=(32, 32, 3), name="image", dtype="float32")
    s1 = conv_bn_relu(image, w1, "enc1")
    s2 = conv_bn_relu(layers.MaxPooling2D(2, name="pool1")(s1), w2, "enc2")
    x = conv_bn_relu(layers.MaxPooling2D(2, name="pool2")(s2), w3, "bottleneck")
    x = layers.UpSampling2D(2, interpolation="nearest", name="up2")(x)
    x = conv_bn_relu(layers.Concatenate(axis=-1, name="cat2")([x, s2]), w2, "dec2")
    x = layers.UpSampling2D(2, interpolation="nearest", name="up1")(x)
    x = conv_bn_relu(layers.Concatenate(axis=-1, name="cat1")([x, s1]), w1, "dec1")
    mask = layers.Conv2D(N_CLASSES, 1, name="mask")(x)
    return keras.Model(image, mask, name="encoder_decoder")


MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        name="encoder_decoder",
        family="encoder_decoder",
        build_torch=build_torch,
        build_keras=build_keras,
        transfer_weights=transfer_by_layer_names,
        inputs=(InputSpec(name="image", shape=("B", 3, 32, 32), layout="NCHW", dim_bounds={"B": (1, 4)}),),
        outputs=(OutputSpec(name="mask", layout="NCHW"),),
        tags=frozenset(
            {"encoder_decoder", "unet", "conv2d", "batchnorm", "relu", "maxpool", "upsample_nearest", "concat", "skip"}
        ),
        description="U-Net-like segmenter: two conv+maxpool stages, nearest upsampling, skip concats, 2-class mask.",
    ),
)
