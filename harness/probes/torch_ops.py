"""The PyTorch single-op probes: one op, functional or nn layer per module, as registry entries.

An entry's builder is `expression(...)` (forward computes f(torch, *inputs)) or `layer(...)` (forward
runs one nn layer). Modules take fixed-arity forward signatures (x / x, y / x, y, z), as a user's
module would, so the exporters see ordinary positional inputs.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from harness.probes.probe import SourceProbe, index, positive, real
from harness.spec import InputSpec

Builder = Callable[[tuple[InputSpec, ...]], Any]


@cache
def _module_classes() -> dict[int, Any]:
    """nn.Module wrappers by arity, made on first use so that importing this file imports no torch."""
    import torch

    def plain(result: Any) -> Any:
        # topk and friends return named tuples; the exporters and runners want plain tuples.
        return tuple(result) if isinstance(result, tuple) else result

    class Probe(torch.nn.Module):  # type: ignore[misc]  # torch is untyped where mypy runs
        def __init__(self, inner: Any, apply: Callable[..., Any]) -> None:
            super().__init__()
            self.inner = inner  # an nn layer (its parameters are the probe's state) or None
            self.apply_op = apply

        def op(self, *inputs: Any) -> Any:
            if self.inner is None:
                return plain(self.apply_op(torch, *inputs))
            return plain(self.apply_op(self.inner, *inputs))

    class One(Probe):
        def forward(self, x: Any) -> Any:
            return self.op(x)

    class Two(Probe):
        def forward(self, x: Any, y: Any) -> Any:
            return self.op(x, y)

    class Three(Probe):
        def forward(self, x: Any, y: Any, z: Any) -> Any:
            return self.op(x, y, z)

    return {1: One, 2: Two, 3: Three}


def expression(apply: Callable[..., Any]) -> Builder:
    """A probe computing apply(torch, *inputs)."""
    def build(inputs: tuple[InputSpec, ...]) -> Any:
        return _module_classes()[len(inputs)](None, apply)
    return build


def layer(make: Callable[[Any], Any], apply: Callable[..., Any] | None = None) -> Builder:
    """A probe running one layer, make(torch.nn); apply(layer, *inputs) when it is not called plainly."""
    def build(inputs: tuple[InputSpec, ...]) -> Any:
        import torch

        return _module_classes()[len(inputs)](make(torch.nn), apply or (lambda module, *xs: module(*xs)))
    return build


def _batch_norm(nn: Any) -> Any:
    # Running statistics are randomised by the runner (constant-initialised state), so eval mode
    # exercises the real affine transform rather than the identity statistics.
    return nn.BatchNorm2d(4)


def _with_state(module: Any, x: Any) -> Any:
    """(y, h, c) of an LSTM as three flat outputs."""
    y, (h, c) = module(x)
    return y, h, c


def probe(name: str, op: str, build: Builder, inputs: tuple[InputSpec, ...], tags: tuple[str, ...],
          **extra: Any) -> SourceProbe:
    return SourceProbe(name=name, kind="torch", op=op, build=build, inputs=inputs, tags=tags, **extra)


X2 = (real("x", 2, 16),)
X4 = (real("x", 2, 4, 8, 8),)
P2 = (positive("x", 2, 16),)
NO_TIES = ("normal", "uniform_wide")  # index outputs of sort/top-k/argmax are unspecified on ties

TORCH_PROBES: tuple[SourceProbe, ...] = (
    # activations
    probe("relu", "torch.nn.functional.relu", expression(lambda t, x: t.nn.functional.relu(x)), X2, ("Relu",)),
    probe("gelu", "torch.nn.functional.gelu", expression(lambda t, x: t.nn.functional.gelu(x)), X2, ("Erf",)),
    probe("gelu_tanh", "torch.nn.functional.gelu(approximate='tanh')",
          expression(lambda t, x: t.nn.functional.gelu(x, approximate="tanh")), X2, ("Tanh",)),
    probe("silu", "torch.nn.functional.silu", expression(lambda t, x: t.nn.functional.silu(x)), X2, ("Sigmoid",)),
    probe("mish", "torch.nn.functional.mish", expression(lambda t, x: t.nn.functional.mish(x)), X2, ("Mish",)),
    probe("hardswish", "torch.nn.functional.hardswish", expression(lambda t, x: t.nn.functional.hardswish(x)), X2,
          ("HardSwish",)),
    probe("hardsigmoid", "torch.nn.functional.hardsigmoid",
          expression(lambda t, x: t.nn.functional.hardsigmoid(x)), X2, ("HardSigmoid",)),
    probe("elu", "torch.nn.functional.elu", expression(lambda t, x: t.nn.functional.elu(x)), X2, ("Elu",)),
    probe("selu", "torch.nn.functional.selu", expression(lambda t, x: t.nn.functional.selu(x)), X2, ("Selu",)),
    probe("leaky_relu", "torch.nn.functional.leaky_relu",
          expression(lambda t, x: t.nn.functional.leaky_relu(x, 0.1)), X2, ("LeakyRelu",)),
    probe("softplus", "torch.nn.functional.softplus", expression(lambda t, x: t.nn.functional.softplus(x)), X2,
          ("Softplus",)),
    probe("relu6", "torch.nn.functional.relu6", expression(lambda t, x: t.nn.functional.relu6(x)), X2, ("Clip",)),
    probe("sigmoid", "torch.sigmoid", expression(lambda t, x: t.sigmoid(x)), X2, ("Sigmoid",)),
    probe("tanh", "torch.tanh", expression(lambda t, x: t.tanh(x)), X2, ("Tanh",)),
    probe("softmax", "torch.softmax", expression(lambda t, x: t.softmax(x, dim=-1)), X2, ("Softmax",)),
    probe("log_softmax", "torch.log_softmax", expression(lambda t, x: t.log_softmax(x, dim=1)), X4,
          ("LogSoftmax",)),
    probe("prelu", "torch.nn.PReLU", layer(lambda nn: nn.PReLU(4)), X4, ("PRelu",)),
    probe("glu", "torch.nn.functional.glu", expression(lambda t, x: t.nn.functional.glu(x, dim=-1)), X2,
          ("Sigmoid", "Mul")),
    # elementwise math, with each op's valid domain
    probe("exp", "torch.exp", expression(lambda t, x: t.exp(x)), X2, ("Exp",)),
    probe("log", "torch.log", expression(lambda t, x: t.log(x)), P2, ("Log",)),
    probe("sqrt", "torch.sqrt", expression(lambda t, x: t.sqrt(x)), P2, ("Sqrt",)),
    probe("rsqrt", "torch.rsqrt", expression(lambda t, x: t.rsqrt(x)), P2, ("Sqrt", "Reciprocal")),
    probe("reciprocal", "torch.reciprocal", expression(lambda t, x: t.reciprocal(x)), P2, ("Reciprocal",)),
    probe("pow_scalar", "torch.pow", expression(lambda t, x: t.pow(x, 2.5)), P2, ("Pow",)),
    probe("pow_tensor", "torch.pow", expression(lambda t, x, y: t.pow(x, y)), (positive("x", 2, 16), real("y", 2, 16)),
          ("Pow",)),
    probe("abs", "torch.abs", expression(lambda t, x: t.abs(x)), X2, ("Abs",)),
    probe("clamp", "torch.clamp", expression(lambda t, x: t.clamp(x, -0.5, 0.5)), X2, ("Clip",)),
    probe("erf", "torch.erf", expression(lambda t, x: t.erf(x)), X2, ("Erf",)),
    probe("sin", "torch.sin", expression(lambda t, x: t.sin(x)), X2, ("Sin",)),
    probe("atan2", "torch.atan2", expression(lambda t, x, y: t.atan2(x, y)), (real("x", 2, 16), real("y", 2, 16)),
          ("Atan",)),
    probe("remainder", "torch.remainder", expression(lambda t, x, y: t.remainder(x, y)),
          (real("x", 2, 16), positive("y", 2, 16)), ("Mod",)),
    probe("round", "torch.round", expression(lambda t, x: t.round(x)), X2, ("Round",)),
    probe("sign", "torch.sign", expression(lambda t, x: t.sign(x)), X2, ("Sign",)),
    probe("maximum", "torch.maximum", expression(lambda t, x, y: t.maximum(x, y)), (real("x", 2, 16), real("y", 2, 16)),
          ("Max",)),
    probe("add_output_named_like_input", "torch.add", expression(lambda t, x, y: t.add(x, y)),
          (real("x", 2, 16), real("y", 2, 16)), ("Add",), outputs=("y",),
          note="the graph output takes the name of an input, which ONNX's single-assignment rule forbids"),
    probe("where", "torch.where", expression(lambda t, x, y: t.where(x > 0, x, y)),
          (real("x", 2, 16), real("y", 2, 16)), ("Where", "Greater")),
    probe("masked_fill", "torch.Tensor.masked_fill", expression(lambda t, x: x.masked_fill(x < 0, -1.0)), X2,
          ("Where",)),
    # linear algebra
    probe("matmul", "torch.matmul", expression(lambda t, x, y: t.matmul(x, y)),
          (real("x", 2, 3, 4, 5), real("y", 2, 3, 5, 6)), ("MatMul",)),
    probe("bmm", "torch.bmm", expression(lambda t, x, y: t.bmm(x, y)), (real("x", 2, 4, 5), real("y", 2, 5, 3)),
          ("MatMul",)),
    probe("einsum", "torch.einsum", expression(lambda t, x, y: t.einsum("bhqd,bhkd->bhqk", x, y)),
          (real("x", 2, 2, 4, 8), real("y", 2, 2, 5, 8)), ("Einsum",)),
    probe("linear", "torch.nn.Linear", layer(lambda nn: nn.Linear(16, 8)), X2, ("Gemm",)),
    probe("linear_3d", "torch.nn.Linear", layer(lambda nn: nn.Linear(16, 8)), (real("x", 2, 5, 16),), ("MatMul",)),
    # convolutions
    probe("conv1d", "torch.nn.Conv1d", layer(lambda nn: nn.Conv1d(4, 8, 3, padding=1)), (real("x", 2, 4, 10),),
          ("Conv",)),
    probe("conv2d", "torch.nn.Conv2d", layer(lambda nn: nn.Conv2d(4, 8, 3, padding=1)), X4, ("Conv",)),
    probe("conv2d_strided_dilated", "torch.nn.Conv2d",
          layer(lambda nn: nn.Conv2d(4, 6, 3, stride=2, dilation=2, padding=2)), X4, ("Conv",)),
    probe("conv2d_depthwise", "torch.nn.Conv2d", layer(lambda nn: nn.Conv2d(4, 8, 3, groups=4, padding=1)), X4,
          ("Conv",)),
    probe("conv2d_same_even_kernel", "torch.nn.Conv2d", layer(lambda nn: nn.Conv2d(4, 6, 4, padding="same")), X4,
          ("Conv",)),
    probe("conv_transpose2d", "torch.nn.ConvTranspose2d",
          layer(lambda nn: nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1)), X4,
          ("ConvTranspose",)),
    probe("conv3d", "torch.nn.Conv3d", layer(lambda nn: nn.Conv3d(2, 4, 3)), (real("x", 1, 2, 6, 6, 6),), ("Conv",)),
    # pooling
    probe("max_pool2d", "torch.nn.MaxPool2d", layer(lambda nn: nn.MaxPool2d(3, 2, padding=1)), X4, ("MaxPool",)),
    probe("max_pool2d_ceil", "torch.nn.MaxPool2d", layer(lambda nn: nn.MaxPool2d(3, 2, ceil_mode=True)),
          (real("x", 2, 4, 9, 9),), ("MaxPool",)),
    probe("avg_pool2d_exclude_pad", "torch.nn.AvgPool2d",
          layer(lambda nn: nn.AvgPool2d(3, 2, padding=1, count_include_pad=False)), X4, ("AveragePool",)),
    probe("adaptive_avg_pool2d", "torch.nn.AdaptiveAvgPool2d", layer(lambda nn: nn.AdaptiveAvgPool2d(3)),
          (real("x", 2, 4, 7, 7),), ("AveragePool",), note="7 -> 3 is not a whole stride: overlapping windows"),
    probe("adaptive_avg_pool2d_global", "torch.nn.AdaptiveAvgPool2d", layer(lambda nn: nn.AdaptiveAvgPool2d(1)), X4,
          ("GlobalAveragePool",)),
    # normalisation
    probe("batch_norm2d", "torch.nn.BatchNorm2d", layer(_batch_norm), X4, ("BatchNormalization",)),
    probe("layer_norm", "torch.nn.LayerNorm", layer(lambda nn: nn.LayerNorm(16)), (real("x", 2, 5, 16),),
          ("LayerNormalization",)),
    probe("group_norm", "torch.nn.GroupNorm", layer(lambda nn: nn.GroupNorm(2, 4)), X4, ("InstanceNormalization",)),
    probe("instance_norm2d", "torch.nn.InstanceNorm2d", layer(lambda nn: nn.InstanceNorm2d(4, affine=True)), X4,
          ("InstanceNormalization",)),
    probe("local_response_norm", "torch.nn.LocalResponseNorm", layer(lambda nn: nn.LocalResponseNorm(3)), X4,
          ("LRN",)),
    # embedding, gather, scatter-like indexing
    probe("embedding", "torch.nn.Embedding", layer(lambda nn: nn.Embedding(50, 8)), (index("x", 50, 2, 7),),
          ("Gather",)),
    probe("gather", "torch.gather", expression(lambda t, x, i: t.gather(x, 1, i)),
          (real("x", 4, 10), index("i", 10, 4, 5)), ("GatherElements",)),
    probe("index_select", "torch.index_select", expression(lambda t, x, i: t.index_select(x, 1, i)),
          (real("x", 4, 10), index("i", 10, 6)), ("Gather",)),
    probe("one_hot", "torch.nn.functional.one_hot", expression(lambda t, i: t.nn.functional.one_hot(i, 10)),
          (index("i", 10, 2, 6),), ("OneHot",)),
    # reductions and scans
    probe("cumsum", "torch.cumsum", expression(lambda t, x: t.cumsum(x, dim=1)), X2, ("CumSum",)),
    probe("argmax", "torch.argmax", expression(lambda t, x: t.argmax(x, dim=-1)), X2, ("ArgMax",), kinds=NO_TIES),
    probe("topk", "torch.topk", expression(lambda t, x: t.topk(x, 3, dim=-1)), X2, ("TopK",),
          outputs=("values", "indices"), kinds=NO_TIES),
    probe("sort", "torch.sort", expression(lambda t, x: t.sort(x, dim=-1, descending=True)), X2, ("TopK",),
          outputs=("values", "indices"), kinds=NO_TIES),
    probe("sum", "torch.sum", expression(lambda t, x: t.sum(x, dim=(2, 3))), X4, ("ReduceSum",)),
    probe("mean_keepdim", "torch.mean", expression(lambda t, x: t.mean(x, dim=1, keepdim=True)), X4,
          ("ReduceMean",)),
    probe("amax", "torch.amax", expression(lambda t, x: t.amax(x, dim=-1)), X2, ("ReduceMax",)),
    probe("var", "torch.var", expression(lambda t, x: t.var(x, dim=-1)), X2, ("ReduceMean",)),
    probe("logsumexp", "torch.logsumexp", expression(lambda t, x: t.logsumexp(x, dim=-1)), X2,
          ("ReduceLogSumExp",)),
    probe("vector_norm", "torch.linalg.vector_norm", expression(lambda t, x: t.linalg.vector_norm(x, dim=-1)), X2,
          ("ReduceL2",)),
    # resizing and rearranging pixels
    probe("interpolate_bilinear", "torch.nn.functional.interpolate(mode='bilinear')",
          expression(lambda t, x: t.nn.functional.interpolate(x, scale_factor=2, mode="bilinear")), X4, ("Resize",)),
    probe("interpolate_bilinear_align_corners", "torch.nn.functional.interpolate(mode='bilinear', align_corners=True)",
          expression(lambda t, x: t.nn.functional.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)),
          X4, ("Resize",)),
    probe("interpolate_nearest", "torch.nn.functional.interpolate(mode='nearest')",
          expression(lambda t, x: t.nn.functional.interpolate(x, scale_factor=2, mode="nearest")), X4, ("Resize",)),
    probe("interpolate_nearest_downsize", "torch.nn.functional.interpolate(size=5, mode='nearest')",
          expression(lambda t, x: t.nn.functional.interpolate(x, size=(5, 5), mode="nearest")), X4, ("Resize",)),
    probe("interpolate_bicubic", "torch.nn.functional.interpolate(mode='bicubic')",
          expression(lambda t, x: t.nn.functional.interpolate(x, scale_factor=2, mode="bicubic")), X4, ("Resize",)),
    probe("pixel_shuffle", "torch.nn.functional.pixel_shuffle",
          expression(lambda t, x: t.nn.functional.pixel_shuffle(x, 2)), X4, ("DepthToSpace",)),
    probe("grid_sample", "torch.nn.functional.grid_sample",
          # tanh keeps the sampling grid inside [-1, 1], where grid_sample is meant to read
          expression(lambda t, x, g: t.nn.functional.grid_sample(x, t.tanh(g), align_corners=False)),
          (real("x", 2, 4, 8, 8), real("g", 2, 5, 5, 2)), ("GridSample",)),
    # shapes
    probe("flatten", "torch.flatten", expression(lambda t, x: t.flatten(x, 1)), X4, ("Flatten",)),
    probe("permute", "torch.permute", expression(lambda t, x: x.permute(0, 2, 3, 1)), X4, ("Transpose",)),
    probe("cat", "torch.cat", expression(lambda t, x, y: t.cat([x, y], dim=1)), (real("x", 2, 3), real("y", 2, 5)),
          ("Concat",)),
    probe("chunk", "torch.chunk", expression(lambda t, x: t.chunk(x, 2, dim=1)), X4, ("Split",),
          outputs=("first", "second")),
    probe("pad_reflect", "torch.nn.functional.pad(mode='reflect')",
          expression(lambda t, x: t.nn.functional.pad(x, (1, 2, 2, 1), mode="reflect")), X4, ("Pad",)),
    probe("pad_replicate", "torch.nn.functional.pad(mode='replicate')",
          expression(lambda t, x: t.nn.functional.pad(x, (1, 2, 2, 1), mode="replicate")), X4, ("Pad",)),
    probe("pad_constant", "torch.nn.functional.pad",
          expression(lambda t, x: t.nn.functional.pad(x, (1, 0, 0, 2), value=0.5)), X4, ("Pad",)),
    probe("roll", "torch.roll", expression(lambda t, x: t.roll(x, 3, dims=1)), X2, ("Slice", "Concat")),
    probe("flip", "torch.flip", expression(lambda t, x: t.flip(x, dims=(-1,))), X2, ("Slice",)),
    probe("tril", "torch.tril", expression(lambda t, x: t.tril(x)), (real("x", 2, 6, 6),), ("Trilu",)),
    probe("repeat", "torch.Tensor.repeat", expression(lambda t, x: x.repeat(2, 3)), X2, ("Tile",)),
    probe("unfold", "torch.nn.functional.unfold", expression(lambda t, x: t.nn.functional.unfold(x, 3)), X4,
          ("Gather",)),
    probe("nonzero", "torch.nonzero", expression(lambda t, x: t.nonzero(x > 0)), X2, ("NonZero",),
          note="the output's length depends on the data"),
    # recurrent layers and attention
    probe("lstm", "torch.nn.LSTM", layer(lambda nn: nn.LSTM(8, 16, batch_first=True), _with_state),
          (real("x", 2, 5, 8),), ("LSTM",), outputs=("out", "h", "c")),
    probe("lstm_bidirectional", "torch.nn.LSTM(bidirectional=True)",
          layer(lambda nn: nn.LSTM(8, 16, batch_first=True, bidirectional=True), lambda m, x: m(x)[0]),
          (real("x", 2, 5, 8),), ("LSTM",)),
    probe("gru", "torch.nn.GRU", layer(lambda nn: nn.GRU(8, 16, num_layers=2, batch_first=True)),
          (real("x", 2, 5, 8),), ("GRU",), outputs=("out", "h")),
    probe("rnn_tanh", "torch.nn.RNN", layer(lambda nn: nn.RNN(8, 16, batch_first=True), lambda m, x: m(x)[0]),
          (real("x", 2, 5, 8),), ("RNN",)),
    probe("multihead_attention", "torch.nn.MultiheadAttention",
          layer(lambda nn: nn.MultiheadAttention(16, 4, batch_first=True),
                lambda m, x: m(x, x, x, need_weights=False)[0]),
          (real("x", 2, 5, 16),), ("Softmax", "MatMul")),
    probe("scaled_dot_product_attention", "torch.nn.functional.scaled_dot_product_attention",
          expression(lambda t, q, k, v: t.nn.functional.scaled_dot_product_attention(q, k, v)),
          (real("q", 2, 2, 5, 8), real("k", 2, 2, 6, 8), real("v", 2, 2, 6, 8)), ("Softmax", "MatMul")),
    probe("scaled_dot_product_attention_causal", "torch.nn.functional.scaled_dot_product_attention(is_causal=True)",
          expression(lambda t, q, k, v: t.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)),
          (real("q", 2, 2, 5, 8), real("k", 2, 2, 5, 8), real("v", 2, 2, 5, 8)), ("Softmax", "MatMul")),
)
