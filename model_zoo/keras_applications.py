"""keras.applications networks, built with random weights that look trained (Keras only).

torchvision's MobileNetV2 and EfficientNet differ from these in layer order, padding and preprocessing
layers (EfficientNetB0 here starts with Rescaling and Normalization), so there is no exact torch twin:
only the routes that start from Keras apply. weights=None downloads nothing; the classifier gives
logits (no softmax), so a converter's error is not squashed to a near-uniform probability.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from harness.spec import ExampleRecipe, InputRecipe, InputSpec, ModelSpec, OutputSpec
from model_zoo.trained_look import look_trained_keras

if TYPE_CHECKING:
    import keras

N_CLASSES = 10
MOBILENET_SIZE = 96  # the smallest size keras.applications.MobileNetV2 has a named configuration for
IMAGE_SIZE = 64


def application(name: str, size: int) -> Callable[[], keras.Model]:
    def build() -> keras.Model:
        import keras

        image = keras.Input(shape=(size, size, 3), name="image", dtype="float32")
        model = getattr(keras.applications, name)(weights=None, input_tensor=image, classes=N_CLASSES,
                                                  classifier_activation=None)
        return look_trained_keras(model)

    return build


def image_classifier(name: str, application_name: str, size: int, tags: set[str], description: str,
                     regression_examples: tuple[ExampleRecipe, ...] = ()) -> ModelSpec:
    return ModelSpec(
        name=name,
        family="keras_applications",
        build_torch=None,
        build_keras=application(application_name, size),
        transfer_weights=None,
        # described in torch's NCHW like every zoo input; the Keras side is fed NHWC
        inputs=(InputSpec(name="image", shape=("B", 3, size, size), layout="NCHW", dim_bounds={"B": (1, 2)}),),
        outputs=(OutputSpec(name="predictions", is_classifier=True),),
        tags=frozenset({"keras_applications", "real_architecture", "conv2d", "batchnorm", "global_avgpool",
                        "linear", *tags}),
        description=description,
        regression_examples=regression_examples,
    )


MODELS: tuple[ModelSpec, ...] = (
    image_classifier("keras_mobilenet_v2", "MobileNetV2", MOBILENET_SIZE,
                     {"depthwise_conv", "relu6", "residual_add"},
                     f"keras.applications MobileNetV2 (2.3M parameters), {MOBILENET_SIZE}x{MOBILENET_SIZE} images, "
                     "10 classes."),
    image_classifier("keras_efficientnet_b0", "EfficientNetB0", IMAGE_SIZE,
                     {"rescaling", "normalization", "depthwise_conv", "silu", "sigmoid", "squeeze_excite",
                      "dropout"},
                     f"keras.applications EfficientNetB0 (4.1M parameters), {IMAGE_SIZE}x{IMAGE_SIZE} images, "
                     "10 classes."),
    image_classifier("keras_densenet121", "DenseNet121", IMAGE_SIZE,
                     {"relu", "concat", "avgpool", "maxpool"},
                     f"keras.applications DenseNet121 (7.0M parameters), {IMAGE_SIZE}x{IMAGE_SIZE} images, "
                     "10 classes.",
                     # Found by the opset-11 route's search (shrunk): onnx2pytorch's module is 6.7e-3 off the
                     # truth on one logit (1.05e-3 even in float64), at every opset.
                     regression_examples=(ExampleRecipe({"B": 2}, (InputRecipe("large", 2, 438878),)),)),
)
