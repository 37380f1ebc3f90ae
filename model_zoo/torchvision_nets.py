"""torchvision's classification networks, built with random weights that look trained (torch only).

keras.applications has no exact counterpart of these (its MobileNetV3 and EfficientNet differ in
preprocessing layers, padding and layer order), so they have no Keras twin: only the routes that start
from torch apply. Small images and ten classes keep a run fast; no weights are downloaded (weights=None).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from harness.spec import InputSpec, ModelSpec, OutputSpec
from model_zoo.trained_look import look_trained_torch

if TYPE_CHECKING:
    import torch

IMAGE_SIZE = 64
N_CLASSES = 10


def build_resnet18() -> torch.nn.Module:
    from torchvision.models import resnet18

    return look_trained_torch(resnet18(weights=None, num_classes=N_CLASSES))


def build_mobilenet_v3_small() -> torch.nn.Module:
    from torchvision.models import mobilenet_v3_small

    return look_trained_torch(mobilenet_v3_small(weights=None, num_classes=N_CLASSES))


def build_efficientnet_b0() -> torch.nn.Module:
    from torchvision.models import efficientnet_b0

    return look_trained_torch(efficientnet_b0(weights=None, num_classes=N_CLASSES))


def build_squeezenet1_1() -> torch.nn.Module:
    from torchvision.models import squeezenet1_1

    return look_trained_torch(squeezenet1_1(weights=None, num_classes=N_CLASSES))


def build_vit_tiny() -> torch.nn.Module:
    from torchvision.models import VisionTransformer

    # torchvision's ViT class at a toy size: 16 patches of 16x16, two encoder layers of width 64
    vit = VisionTransformer(image_size=IMAGE_SIZE, patch_size=16, num_layers=2, num_heads=2, hidden_dim=64,
                            mlp_dim=128, num_classes=N_CLASSES)
    return look_trained_torch(vit)


def image_classifier(name: str, build: Callable[[], Any], tags: set[str], description: str) -> ModelSpec:
    return ModelSpec(
        name=name,
        family="torchvision",
        build_torch=build,
        build_keras=None,
        transfer_weights=None,
        inputs=(InputSpec(name="image", shape=("B", 3, IMAGE_SIZE, IMAGE_SIZE), layout="NCHW",
                          dim_bounds={"B": (1, 2)}),),
        outputs=(OutputSpec(name="logits", is_classifier=True),),
        tags=frozenset({"torchvision", "real_architecture", "linear", *tags}),
        description=description,
    )


MODELS: tuple[ModelSpec, ...] = (
    image_classifier("resnet18", build_resnet18,
                     {"conv2d", "batchnorm", "relu", "maxpool", "residual_add", "global_avgpool"},
                     f"torchvision resnet18 (11.2M parameters), {IMAGE_SIZE}x{IMAGE_SIZE} images, 10 classes."),
    image_classifier("mobilenet_v3_small", build_mobilenet_v3_small,
                     {"conv2d", "depthwise_conv", "batchnorm", "hardswish", "hardsigmoid", "squeeze_excite",
                      "global_avgpool", "dropout"},
                     f"torchvision mobilenet_v3_small (1.5M parameters), {IMAGE_SIZE}x{IMAGE_SIZE} images, "
                     "10 classes."),
    image_classifier("efficientnet_b0", build_efficientnet_b0,
                     {"conv2d", "depthwise_conv", "batchnorm", "silu", "sigmoid", "squeeze_excite",
                      "stochastic_depth", "global_avgpool", "dropout"},
                     f"torchvision efficientnet_b0 (4.0M parameters), {IMAGE_SIZE}x{IMAGE_SIZE} images, 10 classes."),
    image_classifier("squeezenet1_1", build_squeezenet1_1,
                     {"conv2d", "relu", "maxpool_ceil", "concat", "global_avgpool", "dropout"},
                     f"torchvision squeezenet1_1 (0.7M parameters), {IMAGE_SIZE}x{IMAGE_SIZE} images, 10 classes."),
    image_classifier("vit_tiny", build_vit_tiny,
                     {"vision_transformer", "patch_embedding", "multihead_attention", "layernorm", "gelu"},
                     f"torchvision VisionTransformer: 16x16 patches of {IMAGE_SIZE}x{IMAGE_SIZE} images, "
                     "2 layers, width 64, 2 heads (0.1M parameters)."),
)
