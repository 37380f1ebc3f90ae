"""Transformer family: one post-norm encoder block with exact GELU, mean-pooled to class logits."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from harness.spec import InputSpec, ModelSpec, OutputSpec
from model_zoo.transfer import TorchState

if TYPE_CHECKING:  # annotations only: torch and TensorFlow must not share a process
    import keras
    from torch import nn

STEPS, D_MODEL, HEADS, FEEDFORWARD, CLASSES = 16, 32, 4, 64, 3
HEAD_DIM = D_MODEL // HEADS
EPSILON = 1e-5  # torch LayerNorm's default; Keras defaults to 1e-3


def _build_torch() -> nn.Module:
    import torch
    from torch import nn

    class EncoderClassifier(nn.Module):
        """nn.TransformerEncoderLayer, then the mean over time into a linear head."""

        def __init__(self) -> None:
            super().__init__()
            self.encoder = nn.TransformerEncoderLayer(
                d_model=D_MODEL, nhead=HEADS, dim_feedforward=FEEDFORWARD, dropout=0.1,
                activation="gelu", batch_first=True, norm_first=False,
            )
            self.head = nn.Linear(D_MODEL, CLASSES)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.encoder(x).mean(dim=1))

    model = EncoderClassifier()
    # torch starts LayerNorm at (1, 0) and attention biases at 0: perturb them so a swapped or
    # dropped weight in the transfer shows up as a mismatch instead of hiding behind an identity.
    with torch.no_grad():
        attn = model.encoder.self_attn
        for tensor in (attn.in_proj_bias, attn.out_proj.bias, *model.encoder.norm1.parameters(),
                       *model.encoder.norm2.parameters()):
            tensor.add_(0.1 * torch.randn_like(tensor))
    return model.eval()


def _build_keras() -> keras.Model:
    import keras
    from keras import layers

    inputs = keras.Input(shape=(STEPS, D_MODEL), name="sequence")
    attended = layers.MultiHeadAttention(HEADS, key_dim=HEAD_DIM, name="self_attn")(inputs, inputs)
    x = layers.LayerNormalization(epsilon=EPSILON, name="norm1")(layers.Add(name="residual1")([inputs, attended]))
    hidden = layers.Dense(FEEDFORWARD, name="linear1")(x)
    # Keras's "gelu" is the exact erf form (approximate=False), as torch's activation="gelu".
    hidden = layers.Activation("gelu", name="gelu")(hidden)
    hidden = layers.Dense(D_MODEL, name="linear2")(hidden)
    x = layers.LayerNormalization(epsilon=EPSILON, name="norm2")(layers.Add(name="residual2")([x, hidden]))
    pooled = layers.GlobalAveragePooling1D(name="mean_over_time")(x)
    logits = layers.Dense(CLASSES, name="head")(pooled)
    return keras.Model(inputs, logits, name="transformer_encoder")


def _transfer(state: Mapping[str, Any], keras_model: keras.Model) -> None:
    torch_state = TorchState(state, keras_model.name)
    take = torch_state.take
    # in_proj stacks the (out, in) matrices of q, k, v; Keras splits each output axis into (heads, head_dim).
    q_k_v = np.split(take("encoder.self_attn.in_proj_weight"), 3)
    q_k_v_bias = np.split(take("encoder.self_attn.in_proj_bias"), 3)
    attention: list[np.ndarray] = []
    for weight, bias in zip(q_k_v, q_k_v_bias, strict=True):
        attention += [weight.T.reshape(D_MODEL, HEADS, HEAD_DIM), bias.reshape(HEADS, HEAD_DIM)]
    out_weight = take("encoder.self_attn.out_proj.weight").T.reshape(HEADS, HEAD_DIM, D_MODEL)
    attention += [out_weight, take("encoder.self_attn.out_proj.bias")]
    # MultiHeadAttention's weights come in query, key, value, output order (kernel then bias).
    keras_model.get_layer("self_attn").set_weights(attention)
    for norm in ("norm1", "norm2"):
        keras_model.get_layer(norm).set_weights([take(f"encoder.{norm}.weight"), take(f"encoder.{norm}.bias")])
    for linear in ("linear1", "linear2"):
        keras_model.get_layer(linear).set_weights(torch_state.linear(f"encoder.{linear}"))
    keras_model.get_layer("head").set_weights(torch_state.linear("head"))
    torch_state.check_all_used()


MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        name="transformer_encoder",
        family="transformer",
        build_torch=_build_torch,
        build_keras=_build_keras,
        transfer_weights=_transfer,
        inputs=(InputSpec("sequence", ("B", STEPS, D_MODEL), dim_bounds={"B": (1, 4)}),),
        outputs=(OutputSpec("logits", is_classifier=True),),
        tags=frozenset({"transformer", "multihead_attention", "layernorm", "gelu", "residual", "mean", "linear"}),
        seed=0,
        description="post-norm encoder block (d=32, 4 heads, FF 64, exact GELU), mean over time to 3 logits",
    ),
)
