"""The Keras single-layer probes: a keras.Model around one layer, as registry entries.

Shapes are Keras's own (channels last); the batch size is fixed in the Input, so the exported
signature is fully static and a failure belongs to the layer, not to a symbolic dimension.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness.probes.probe import SourceProbe, index, positive, real
from harness.spec import InputSpec

Builder = Callable[[tuple[InputSpec, ...]], Any]


def layer(make: Callable[[Any], Any], apply: Callable[..., Any] | None = None) -> Builder:
    """A model of one layer, make(keras.layers), called on its inputs (a list when there are several),
    or apply(layer, *inputs) when it takes them another way."""
    def build(inputs: tuple[InputSpec, ...]) -> Any:
        import keras

        tensors = [keras.Input(shape=spec.shape[1:], batch_size=spec.shape[0], dtype=spec.dtype, name=spec.name)
                   for spec in inputs]
        made = make(keras.layers)
        plain_input = tensors[0] if len(tensors) == 1 else tensors
        outputs = apply(made, *tensors) if apply is not None else made(plain_input)
        return keras.Model(plain_input, outputs)
    return build


def probe(name: str, op: str, build: Builder, inputs: tuple[InputSpec, ...], tags: tuple[str, ...],
          **extra: Any) -> SourceProbe:
    return SourceProbe(name=name, kind="keras", op=op, build=build, inputs=inputs, tags=tags, **extra)


def activation(name: str, tags: tuple[str, ...], inputs: tuple[InputSpec, ...] | None = None) -> SourceProbe:
    return probe(f"activation_{name}", f"keras.layers.Activation('{name}')",
                 layer(lambda layers: layers.Activation(name)), inputs or V2, tags)


V2 = (real("x", 2, 16),)
IMG = (real("x", 2, 8, 8, 4),)
SEQ = (real("x", 2, 5, 8),)
TWO = (real("x", 2, 16), real("y", 2, 16))

KERAS_PROBES: tuple[SourceProbe, ...] = (
    # dense and convolutions
    probe("dense", "keras.layers.Dense", layer(lambda layers: layers.Dense(8)), V2, ("MatMul", "Add")),
    probe("dense_3d", "keras.layers.Dense", layer(lambda layers: layers.Dense(8)), SEQ, ("MatMul",)),
    probe("conv1d", "keras.layers.Conv1D", layer(lambda layers: layers.Conv1D(6, 3, padding="same")), SEQ, ("Conv",)),
    probe("conv1d_causal", "keras.layers.Conv1D(padding='causal')",
          layer(lambda layers: layers.Conv1D(6, 3, padding="causal", dilation_rate=2)), SEQ, ("Conv",)),
    probe("conv2d", "keras.layers.Conv2D", layer(lambda layers: layers.Conv2D(6, 3, padding="same")), IMG, ("Conv",)),
    probe("conv2d_valid_strided", "keras.layers.Conv2D", layer(lambda layers: layers.Conv2D(6, 3, strides=2)), IMG,
          ("Conv",)),
    probe("conv2d_dilated", "keras.layers.Conv2D",
          layer(lambda layers: layers.Conv2D(6, 3, dilation_rate=2, padding="same")), IMG, ("Conv",)),
    probe("conv2d_same_strided_even_kernel", "keras.layers.Conv2D",
          # kernel 4, stride 2, "same": TensorFlow pads more at the end than at the start
          layer(lambda layers: layers.Conv2D(6, 4, strides=2, padding="same")), IMG, ("Conv",)),
    probe("conv2d_transpose", "keras.layers.Conv2DTranspose",
          layer(lambda layers: layers.Conv2DTranspose(3, 3, strides=2, padding="same")), IMG, ("ConvTranspose",)),
    probe("depthwise_conv2d", "keras.layers.DepthwiseConv2D",
          layer(lambda layers: layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2)), IMG, ("Conv",)),
    probe("separable_conv2d", "keras.layers.SeparableConv2D",
          layer(lambda layers: layers.SeparableConv2D(6, 3, padding="same")), IMG, ("Conv",)),
    probe("conv3d", "keras.layers.Conv3D", layer(lambda layers: layers.Conv3D(4, 3)), (real("x", 1, 6, 6, 6, 2),),
          ("Conv",)),
    # pooling
    probe("max_pooling2d", "keras.layers.MaxPooling2D", layer(lambda layers: layers.MaxPooling2D(2)), IMG,
          ("MaxPool",)),
    probe("max_pooling2d_same", "keras.layers.MaxPooling2D(padding='same')",
          layer(lambda layers: layers.MaxPooling2D(3, strides=2, padding="same")), IMG, ("MaxPool",)),
    probe("average_pooling2d", "keras.layers.AveragePooling2D", layer(lambda layers: layers.AveragePooling2D(2)),
          IMG, ("AveragePool",)),
    probe("average_pooling2d_same", "keras.layers.AveragePooling2D(padding='same')",
          # TensorFlow leaves the padding out of the average (ONNX count_include_pad=0)
          layer(lambda layers: layers.AveragePooling2D(3, strides=2, padding="same")), IMG, ("AveragePool",)),
    probe("global_average_pooling2d", "keras.layers.GlobalAveragePooling2D",
          layer(lambda layers: layers.GlobalAveragePooling2D()), IMG, ("ReduceMean",)),
    probe("global_max_pooling1d", "keras.layers.GlobalMaxPooling1D", layer(lambda layers: layers.GlobalMaxPooling1D()),
          SEQ, ("ReduceMax",)),
    # normalisation
    probe("batch_normalization", "keras.layers.BatchNormalization",
          layer(lambda layers: layers.BatchNormalization()), IMG, ("BatchNormalization",)),
    probe("layer_normalization", "keras.layers.LayerNormalization",
          layer(lambda layers: layers.LayerNormalization()), SEQ, ("LayerNormalization",)),
    probe("group_normalization", "keras.layers.GroupNormalization",
          layer(lambda layers: layers.GroupNormalization(groups=2)), IMG, ("InstanceNormalization",)),
    probe("unit_normalization", "keras.layers.UnitNormalization", layer(lambda layers: layers.UnitNormalization()),
          V2, ("ReduceSum",)),
    # activations
    activation("relu", ("Relu",)),
    activation("gelu", ("Erf",)),
    activation("sigmoid", ("Sigmoid",)),
    activation("tanh", ("Tanh",)),
    activation("softmax", ("Softmax",)),
    activation("log_softmax", ("LogSoftmax",)),
    activation("swish", ("Sigmoid", "Mul")),
    activation("elu", ("Elu",)),
    activation("selu", ("Selu",)),
    activation("softplus", ("Softplus",)),
    activation("hard_sigmoid", ("HardSigmoid",)),
    activation("hard_silu", ("HardSigmoid", "Mul")),
    activation("mish", ("Softplus", "Tanh")),
    activation("exponential", ("Exp",)),
    probe("leaky_relu", "keras.layers.LeakyReLU", layer(lambda layers: layers.LeakyReLU(negative_slope=0.2)), V2,
          ("LeakyRelu",)),
    probe("prelu", "keras.layers.PReLU", layer(lambda layers: layers.PReLU()), IMG, ("PRelu",)),
    probe("relu6", "keras.layers.ReLU(max_value=6)", layer(lambda layers: layers.ReLU(max_value=6.0)), V2,
          ("Relu", "Clip")),
    probe("softmax_axis1", "keras.layers.Softmax(axis=1)", layer(lambda layers: layers.Softmax(axis=1)), SEQ,
          ("Softmax",)),
    # recurrent layers and attention
    probe("lstm", "keras.layers.LSTM", layer(lambda layers: layers.LSTM(16, return_sequences=True)), SEQ, ("LSTM",)),
    probe("lstm_state", "keras.layers.LSTM(return_state=True)",
          layer(lambda layers: layers.LSTM(16, return_state=True)), SEQ, ("LSTM",), outputs=("out", "h", "c")),
    probe("gru", "keras.layers.GRU", layer(lambda layers: layers.GRU(16)), SEQ, ("GRU",)),
    probe("simple_rnn", "keras.layers.SimpleRNN", layer(lambda layers: layers.SimpleRNN(16, return_sequences=True)),
          SEQ, ("RNN",)),
    probe("bidirectional_lstm", "keras.layers.Bidirectional(LSTM)",
          layer(lambda layers: layers.Bidirectional(layers.LSTM(8, return_sequences=True))), SEQ, ("LSTM",)),
    probe("multi_head_attention", "keras.layers.MultiHeadAttention",
          layer(lambda layers: layers.MultiHeadAttention(num_heads=2, key_dim=8), lambda mha, x: mha(x, x)),
          (real("x", 2, 5, 16),), ("Softmax", "MatMul")),
    probe("attention", "keras.layers.Attention", layer(lambda layers: layers.Attention()),
          (real("q", 2, 5, 8), real("v", 2, 6, 8)), ("Softmax", "MatMul")),
    probe("embedding", "keras.layers.Embedding", layer(lambda layers: layers.Embedding(50, 8)),
          (index("x", 50, 2, 7, dtype="int32"),), ("Gather",)),
    # resizing and reshaping
    probe("upsampling2d_nearest", "keras.layers.UpSampling2D", layer(lambda layers: layers.UpSampling2D(2)), IMG,
          ("Resize",)),
    probe("upsampling2d_bilinear", "keras.layers.UpSampling2D(interpolation='bilinear')",
          layer(lambda layers: layers.UpSampling2D(2, interpolation="bilinear")), IMG, ("Resize",)),
    probe("resizing_bilinear", "keras.layers.Resizing(interpolation='bilinear')",
          layer(lambda layers: layers.Resizing(11, 13, interpolation="bilinear")), IMG, ("Resize",)),
    probe("zero_padding2d", "keras.layers.ZeroPadding2D", layer(lambda layers: layers.ZeroPadding2D(((1, 2), (2, 1)))),
          IMG, ("Pad",)),
    probe("cropping2d", "keras.layers.Cropping2D", layer(lambda layers: layers.Cropping2D(((1, 2), (2, 1)))), IMG,
          ("Slice",)),
    probe("flatten", "keras.layers.Flatten", layer(lambda layers: layers.Flatten()), IMG, ("Reshape",)),
    probe("reshape", "keras.layers.Reshape", layer(lambda layers: layers.Reshape((16, 16))), IMG, ("Reshape",)),
    probe("permute", "keras.layers.Permute", layer(lambda layers: layers.Permute((2, 1))), SEQ, ("Transpose",)),
    probe("repeat_vector", "keras.layers.RepeatVector", layer(lambda layers: layers.RepeatVector(3)), V2,
          ("Tile",)),
    # merging
    probe("add", "keras.layers.Add", layer(lambda layers: layers.Add()), TWO, ("Add",)),
    probe("multiply", "keras.layers.Multiply", layer(lambda layers: layers.Multiply()), TWO, ("Mul",)),
    probe("maximum", "keras.layers.Maximum", layer(lambda layers: layers.Maximum()), TWO, ("Max",)),
    probe("concatenate", "keras.layers.Concatenate", layer(lambda layers: layers.Concatenate(axis=-1)),
          (real("x", 2, 3), real("y", 2, 5)), ("Concat",)),
    probe("dot", "keras.layers.Dot", layer(lambda layers: layers.Dot(axes=2)),
          (real("x", 2, 5, 8), real("y", 2, 6, 8)), ("MatMul",)),
    # preprocessing and inference-time identities
    probe("rescaling", "keras.layers.Rescaling", layer(lambda layers: layers.Rescaling(1 / 127.5, offset=-1.0)),
          (positive("x", 2, 8, 8, 3),), ("Mul", "Add")),
    probe("normalization", "keras.layers.Normalization",
          layer(lambda layers: layers.Normalization(mean=[0.5, -1.0, 2.0, 0.0], variance=[1.0, 4.0, 0.25, 2.0])),
          IMG, ("Sub", "Div")),
    probe("dropout", "keras.layers.Dropout", layer(lambda layers: layers.Dropout(0.5)), V2, ("Identity",),
          note="inference: an identity"),
)
