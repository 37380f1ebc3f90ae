"""Text CNN family: token embedding, 1-D convolution and max over time, on integer inputs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.spec import InputSpec, ModelSpec, OutputSpec
from model_zoo.transfer import transfer_by_layer_names

if TYPE_CHECKING:  # annotations only: torch and TensorFlow must not share a process
    import keras
    from torch import nn

TOKENS, VOCAB, EMBED, FILTERS, KERNEL, CLASSES = 24, 1000, 32, 48, 3, 2


def _build_torch() -> nn.Module:
    import torch
    from torch import nn

    class TextCNN(nn.Module):
        """Embedding -> Conv1d over NCL -> ReLU -> max over time -> Linear."""

        def __init__(self) -> None:
            super().__init__()
            self.embedding = nn.Embedding(VOCAB, EMBED)
            self.conv = nn.Conv1d(EMBED, FILTERS, kernel_size=KERNEL, padding=KERNEL // 2)
            self.head = nn.Linear(FILTERS, CLASSES)

        def forward(self, tokens: torch.Tensor) -> torch.Tensor:
            # Embedding gives (N, L, C); Conv1d wants channels first.
            features = torch.relu(self.conv(self.embedding(tokens).permute(0, 2, 1)))
            return self.head(features.amax(dim=2))

    return TextCNN().eval()


def _build_keras() -> keras.Model:
    import keras
    from keras import layers

    tokens = keras.Input(shape=(TOKENS,), dtype="int64", name="tokens")
    x = layers.Embedding(VOCAB, EMBED, name="embedding")(tokens)
    # Stride 1 with an odd kernel: "same" pads (k-1)/2 on both sides, exactly torch's padding=1.
    x = layers.Conv1D(FILTERS, KERNEL, padding="same", name="conv")(x)
    x = layers.ReLU(name="relu")(x)
    x = layers.GlobalMaxPooling1D(name="max_over_time")(x)
    logits = layers.Dense(CLASSES, name="head")(x)
    return keras.Model(tokens, logits, name="text_cnn")


MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        name="text_cnn",
        family="text_cnn",
        build_torch=_build_torch,
        build_keras=_build_keras,
        transfer_weights=transfer_by_layer_names,  # embedding, conv, head: same names
        inputs=(
            InputSpec("tokens", ("B", TOKENS), dtype="int64", domain="index", high=VOCAB, dim_bounds={"B": (1, 4)}),
        ),
        outputs=(OutputSpec("logits", is_classifier=True),),
        tags=frozenset({"text", "embedding", "conv1d", "relu", "global_maxpool", "linear", "int_input"}),
        seed=0,
        description="embedding (1000x32) + Conv1d(32->48, k3, pad 1) + ReLU + max over time to 2 logits",
    ),
)
