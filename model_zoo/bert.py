"""A small BERT encoder from Hugging Face transformers, with random weights that look trained (torch only).

BertConfig builds the model from its configuration alone: nothing is downloaded. transformers has no
Keras 3 BERT, so there is no Keras twin.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.spec import InputSpec, ModelSpec, OutputSpec
from model_zoo.trained_look import look_trained_torch

if TYPE_CHECKING:
    import torch

VOCAB = 1000
SEQUENCE = 16
HIDDEN = 64


def build_torch() -> torch.nn.Module:
    import torch
    from transformers import BertConfig, BertModel

    config = BertConfig(vocab_size=VOCAB, hidden_size=HIDDEN, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=4 * HIDDEN, max_position_embeddings=2 * SEQUENCE)

    class BertEncoder(torch.nn.Module):
        """BertModel returns a ModelOutput; exporters and runners want plain tensors, in the spec's order."""

        def __init__(self) -> None:
            super().__init__()
            self.bert = BertModel(config, add_pooling_layer=True)

        def forward(self, input_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            output = self.bert(input_ids=input_ids)
            return output.last_hidden_state, output.pooler_output

    return look_trained_torch(BertEncoder())


MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        name="bert_tiny",
        family="bert",
        build_torch=build_torch,
        build_keras=None,
        transfer_weights=None,
        inputs=(InputSpec(name="input_ids", shape=("B", SEQUENCE), dtype="int64", domain="index", high=VOCAB,
                          dim_bounds={"B": (1, 2)}),),
        outputs=(OutputSpec(name="last_hidden_state"), OutputSpec(name="pooler_output")),
        tags=frozenset({"bert", "real_architecture", "embedding", "multihead_attention", "layernorm", "gelu",
                        "tanh", "linear"}),
        description=f"transformers BertModel: 2 layers, hidden {HIDDEN}, 2 heads, vocab {VOCAB}, "
                    f"sequence {SEQUENCE}, int64 ids (0.14M parameters).",
    ),
)
