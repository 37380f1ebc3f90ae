"""Random valid networks for `parity fuzz`: a grammar of layers with consistent shapes, as data.

A ModelDescription is plain JSON-able data (an input shape, a list of layers with attributes, a weight
seed). Walking it layer by layer tracks the tensor's torch shape, so every description drawn, read or
simplified is known to build. From it come: the torch module (weights drawn from the seed so they look
trained), its Keras twin when every layer has an exact Keras counterpart (the same weights, transferred),
a ModelSpec for the engine, and standalone source code for repro scripts.

Keras keeps images and signals channels-last. Each tracked tensor carries `perm`, where the Keras tensor's
axis i holds the torch tensor's axis perm[i]; a layer that needs another arrangement gets a Permute in the
Keras twin, and a transpose in torch may be a mere relabelling in Keras.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from random import Random
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from harness.fuzz.codegen import Apply, Branch, Call, Index, Op, Statement, keras_script, torch_script
from harness.spec import InputSpec, ModelSpec, OutputSpec

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

FORMAT = "parity-fuzz-model"
FORMAT_VERSION = 1
MAX_LAYERS = 12  # in a description read from disk (the strategy draws far fewer)
MAX_DIM = 64  # any non-batch axis
MAX_BATCH = 4
MAX_ELEMENTS = 4096  # per example, in every tensor along the way
MAX_VOCAB = 1000
MAX_SEED = 2**32 - 1
EPS = 1e-5  # the norm layers' epsilon, torch's default, given to Keras explicitly
# Layer, group and instance norms normalise at least this many values: over two or three nearly equal values
# the output is ill-conditioned (a gain up to 1/sqrt(EPS)), and float32 noise would pass for a converter's bug.
NORM_MIN_VALUES = 4
INPUT_NAME, OUTPUT_NAME = "x", "y"
LAYOUTS = {3: "NCL", 4: "NCHW"}


# -- the data ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Layer:
    kind: str
    attrs: Mapping[str, Any] = field(default_factory=dict)  # JSON-able; a container's "body" is a tuple of Layer

    @property
    def body(self) -> tuple[Layer, ...]:
        return tuple(self.attrs.get("body", ()))

    def count(self) -> int:
        return 1 + sum(layer.count() for layer in self.body)

    def to_json(self) -> dict[str, Any]:
        attrs = {key: [layer.to_json() for layer in value] if key == "body" else value
                 for key, value in self.attrs.items()}
        return {"kind": self.kind, "attrs": attrs}

    def label(self) -> str:
        return KINDS[self.kind].label(self.attrs)


@dataclass(frozen=True)
class ModelDescription:
    input_shape: tuple[int, ...]  # torch layout, batch first, e.g. (2, 3, 12, 12), or (2, 7) for ids
    input_dtype: str  # "float32", or "int64" for ids (then `vocab` is set)
    layers: tuple[Layer, ...]
    seed: int  # weights are drawn from it, deterministically
    vocab: int | None = None

    def __post_init__(self) -> None:
        trace(self)  # raises ValueError naming what is inconsistent

    # -- JSON ----------------------------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": FORMAT_VERSION, "input_shape": list(self.input_shape),
                "input_dtype": self.input_dtype, "vocab": self.vocab, "seed": self.seed,
                "layers": [layer.to_json() for layer in self.layers]}

    @classmethod
    def from_json(cls, data: Any) -> ModelDescription:
        """Validate untrusted data (a description read from a findings folder); ValueError says what is wrong."""
        if not isinstance(data, dict):
            raise ValueError(f"a model description must be a JSON object, got {type(data).__name__}")
        expected = {"format", "version", "input_shape", "input_dtype", "vocab", "seed", "layers"}
        if set(data) != expected:
            raise ValueError(f"a model description has exactly the keys {sorted(expected)}; "
                             f"unknown: {sorted(set(data) - expected)}, missing: {sorted(expected - set(data))}")
        if data["format"] != FORMAT or data["version"] != FORMAT_VERSION:
            raise ValueError(f"not a {FORMAT} description of version {FORMAT_VERSION}: "
                             f"{data['format']!r} version {data['version']!r}")
        shape = data["input_shape"]
        if not isinstance(shape, list) or not 2 <= len(shape) <= 4 or not all(is_int(dim) for dim in shape):
            raise ValueError(f"input_shape must be a list of 2 to 4 integers, got {shape!r}")
        if data["input_dtype"] not in ("float32", "int64"):
            raise ValueError(f"input_dtype must be 'float32' or 'int64', got {data['input_dtype']!r}")
        vocab = data["vocab"]
        if vocab is not None and not (is_int(vocab) and 2 <= vocab <= MAX_VOCAB):
            raise ValueError(f"vocab must be null or an integer in [2, {MAX_VOCAB}], got {vocab!r}")
        seed = data["seed"]
        if not (is_int(seed) and 0 <= seed <= MAX_SEED):
            raise ValueError(f"seed must be an integer in [0, {MAX_SEED}], got {seed!r}")
        layers = data["layers"]
        if not isinstance(layers, list) or not layers:
            raise ValueError("layers must be a non-empty list")
        parsed = tuple(parse_layer(layer, f"layers[{index}]") for index, layer in enumerate(layers))
        return cls(tuple(shape), data["input_dtype"], parsed, seed, vocab)

    # -- measures ------------------------------------------------------------------------------------------------
    def layer_count(self) -> int:
        """Layers, nested ones included (a residual with a two-layer body counts 3)."""
        return sum(layer.count() for layer in self.layers)

    def has_keras_twin(self) -> bool:
        return keras_program(self) is not None

    def complexity(self) -> tuple[int, int, int]:
        """What the shrinker minimises, compared in order: layers, input elements, attribute weight."""
        return self.layer_count(), math.prod(self.input_shape), sum(attr_weight(layer) for layer in self.layers)

    def summary(self) -> str:
        """One line, e.g. "conv2d(g=2,d=2) > gelu > flatten > linear(4)"."""
        return " > ".join(layer.label() for layer in self.layers)

    def kinds(self) -> set[str]:
        return {layer.kind for layer in walk(self.layers)}

    def input_layout(self) -> str | None:
        """The torch layout letters of the input when Keras takes it channels-last, else None."""
        perm = input_tensor(self).perm
        return LAYOUTS[len(perm)] if len(perm) in LAYOUTS and perm == channels_last(len(perm)) else None

    # -- shrinking -----------------------------------------------------------------------------------------------
    def simplifications(self) -> Iterator[ModelDescription]:
        """Valid, strictly simpler descriptions, simplest first: fewer layers, then a smaller input, then plainer
        attributes."""
        seen = {canonical(self)}
        candidates: list[ModelDescription] = []
        for layers, shape, vocab in self.variants():
            try:
                candidate = ModelDescription(shape, self.input_dtype, layers, self.seed, vocab)
            except ValueError:
                continue
            key = canonical(candidate)
            if key not in seen and candidate.complexity() < self.complexity():
                seen.add(key)
                candidates.append(candidate)
        candidates.sort(key=lambda candidate: candidate.complexity())
        yield from candidates

    def variants(self) -> Iterator[tuple[tuple[Layer, ...], tuple[int, ...], int | None]]:
        shape, vocab, layers = self.input_shape, self.vocab, self.layers
        for end in range(1, len(layers)):
            yield layers[:end], shape, vocab
        for edited in layer_variants(layers):
            yield edited, shape, vocab
        for axis, dim in enumerate(shape):
            if dim > 1:
                for smaller in sorted({1 if axis == 0 else max(1, dim // 2), dim - 1}):
                    yield layers, (*shape[:axis], smaller, *shape[axis + 1:]), vocab
        if vocab is not None and vocab > 2:
            yield layers, shape, max(2, vocab // 2)


def layer_variants(layers: tuple[Layer, ...]) -> Iterator[tuple[Layer, ...]]:
    """Each one-step edit of a layer list: drop a layer, unwrap a container, edit a body, plainer attributes."""
    for index, layer in enumerate(layers):
        before, after = layers[:index], layers[index + 1:]
        if len(layers) > 1:
            yield before + after
        if layer.body:
            yield before + layer.body + after
            for body in layer_variants(layer.body):
                if body:
                    yield (*before, Layer(layer.kind, {**layer.attrs, "body": body}), *after)
        for attrs in KINDS[layer.kind].plainer(layer.attrs):
            yield (*before, Layer(layer.kind, attrs), *after)


def attr_weight(layer: Layer) -> int:
    return KINDS[layer.kind].attr_weight(layer.attrs) + sum(attr_weight(inner) for inner in layer.body)


def canonical(description: ModelDescription) -> str:
    return json.dumps(description.to_json(), sort_keys=True)


def walk(layers: Sequence[Layer]) -> Iterator[Layer]:
    for layer in layers:
        yield layer
        yield from walk(layer.body)


def fields(**attrs: Attr) -> Mapping[str, Attr]:
    """A kind's attribute schema, read-only."""
    return MappingProxyType(attrs)


def is_int(value: Any) -> bool:
    return type(value) is int  # bool is an int to isinstance, not here


# -- attribute schemas -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Attr:
    """One attribute: its type, its allowed values, and the plain value the shrinker resets it to."""

    type: str  # "int", "bool", "choice", "float", "ints", "body", "padding" (an int or "same")
    default: Any = None
    low: int = 0
    high: int = 0
    choices: tuple[Any, ...] = ()

    def check(self, value: Any, where: str) -> Any:
        if self.type == "bool":
            if not isinstance(value, bool):
                raise ValueError(f"{where} must be true or false, got {value!r}")
        elif self.type in ("int", "padding"):
            if self.type == "padding" and value == "same":
                return value
            if not is_int(value) or not self.low <= value <= self.high:
                extra = " or 'same'" if self.type == "padding" else ""
                raise ValueError(f"{where} must be an integer in [{self.low}, {self.high}]{extra}, got {value!r}")
        elif self.type in ("choice", "float"):
            if value not in self.choices or type(value) is not type(self.choices[0]):
                raise ValueError(f"{where} must be one of {list(self.choices)}, got {value!r}")
        elif self.type == "ints" and (not isinstance(value, list) or not 1 <= len(value) <= 4
                                      or not all(is_int(v) and self.low <= v <= self.high for v in value)):
            raise ValueError(f"{where} must be a list of 1 to 4 integers in [{self.low}, {self.high}], got {value!r}")
        return value


def parse_layer(data: Any, where: str, depth: int = 0) -> Layer:
    if not isinstance(data, dict) or set(data) != {"kind", "attrs"}:
        raise ValueError(f"{where} must be an object with exactly the keys 'kind' and 'attrs'")
    if data["kind"] not in KINDS:
        raise ValueError(f"{where}: unknown layer kind {data['kind']!r}")
    kind = KINDS[data["kind"]]
    attrs = data["attrs"]
    if not isinstance(attrs, dict) or set(attrs) - set(kind.schema):
        raise ValueError(f"{where} ({kind.name}) takes the attributes {sorted(kind.schema)}; unknown: "
                         f"{sorted(set(attrs) - set(kind.schema)) if isinstance(attrs, dict) else attrs!r}")
    # An attribute added to the grammar after a description was written takes its default there.
    missing = [name for name, spec in kind.schema.items() if name not in attrs and spec.default is None]
    if missing:
        raise ValueError(f"{where} ({kind.name}) lacks the attributes {missing}")
    attrs = {**{name: spec.default for name, spec in kind.schema.items() if spec.default is not None}, **attrs}
    parsed: dict[str, Any] = {}
    for name, spec in kind.schema.items():
        if spec.type == "body":
            body = attrs[name]
            if depth > 0 or not isinstance(body, list) or not 1 <= len(body) <= 3:
                raise ValueError(f"{where}.body must be a list of 1 to 3 layers, and bodies do not nest")
            parsed[name] = tuple(parse_layer(inner, f"{where}.body[{i}]", depth + 1) for i, inner in enumerate(body))
        else:
            parsed[name] = spec.check(attrs[name], f"{where}.{name} ({kind.name})")
    return Layer(kind.name, parsed)


# -- tensors along the way ---------------------------------------------------------------------------------------
class Tensor(NamedTuple):
    shape: tuple[int, ...]  # torch layout, batch first
    perm: tuple[int, ...]  # the Keras tensor's axis i is the torch tensor's axis perm[i]
    dtype: str = "float32"

    @property
    def rank(self) -> int:
        return len(self.shape)

    def keras_axis(self, torch_axis: int) -> int:
        return self.perm.index(torch_axis)

    def keras_shape(self) -> tuple[int, ...]:
        return tuple(self.shape[axis] for axis in self.perm)


def identity(rank: int) -> tuple[int, ...]:
    return tuple(range(rank))


def channels_last(rank: int) -> tuple[int, ...]:
    return (0, *range(2, rank), 1) if rank >= 3 else identity(rank)


def arrange(tensor: Tensor, perm: tuple[int, ...]) -> tuple[list[Statement], Tensor]:
    """The Keras Permute that rearranges `tensor` to `perm` (none if it already is)."""
    if tensor.perm == perm:
        return [], tensor
    dims = tuple(tensor.perm.index(axis) for axis in perm[1:])
    return [Apply(Call("layers.Permute", (dims,)))], tensor._replace(perm=perm)


def input_tensor(description: ModelDescription) -> Tensor:
    shape, rank = description.input_shape, len(description.input_shape)
    if description.input_dtype == "int64":
        return Tensor(shape, identity(rank), "int64")
    first = KINDS[description.layers[0].kind] if description.layers else None
    # Images are channels-last in Keras; a rank-3 input too when its first layer treats axis 1 as channels.
    wants_channels = rank == 4 or (rank == 3 and first is not None and first.channels_first)
    return Tensor(shape, channels_last(rank) if wants_channels else identity(rank))


def check_tensor(tensor: Tensor, where: str) -> None:
    if not 1 <= tensor.shape[0] <= MAX_BATCH:
        raise ValueError(f"{where}: batch {tensor.shape[0]} is outside [1, {MAX_BATCH}]")
    if any(not 1 <= dim <= MAX_DIM and tensor.rank > 2 for dim in tensor.shape[1:]):
        raise ValueError(f"{where}: shape {list(tensor.shape)} has an axis outside [1, {MAX_DIM}]")
    if math.prod(tensor.shape[1:]) > MAX_ELEMENTS:
        raise ValueError(f"{where}: shape {list(tensor.shape)} holds more than {MAX_ELEMENTS} values per example")


def trace(description: ModelDescription) -> list[Tensor]:
    """The tensor after the input and after each top-level layer; ValueError names the first inconsistency."""
    if description.input_dtype == "int64":
        if description.vocab is None or len(description.input_shape) != 2:
            raise ValueError("int64 ids come as (batch, steps) with a vocab")
        if not description.layers or description.layers[0].kind != "embedding":
            raise ValueError("int64 ids must go through an embedding first")
    elif description.vocab is not None:
        raise ValueError("vocab is only for int64 ids")
    if not description.layers:
        raise ValueError("a model needs at least one layer")
    if description.layer_count() > MAX_LAYERS:
        raise ValueError(f"{description.layer_count()} layers, more than {MAX_LAYERS}")
    tensor = input_tensor(description)
    check_tensor(tensor, "input")
    tensors = [tensor]
    for index, layer in enumerate(description.layers):
        tensor = layer_output(layer, tensor, f"layers[{index}] ({layer.kind})", description.vocab)
        tensors.append(tensor)
    if tensor.dtype != "float32":
        raise ValueError("the model's output must be float32")
    return tensors


def layer_output(layer: Layer, tensor: Tensor, where: str, vocab: int | None = None) -> Tensor:
    if layer.kind not in KINDS:
        raise ValueError(f"{where}: unknown layer kind {layer.kind!r}")
    kind = KINDS[layer.kind]
    # the schema holds for layers made in code too, so what is drawn can always be read back from disk
    if set(layer.attrs) != set(kind.schema):
        raise ValueError(f"{where}: attributes {sorted(layer.attrs)}, expected {sorted(kind.schema)}")
    for name, spec in kind.schema.items():
        if spec.type != "body":
            spec.check(layer.attrs[name], f"{where}.{name}")
    if not kind.accepts(tensor):
        raise ValueError(f"{where} does not take a {tensor.dtype} tensor of shape {list(tensor.shape)}")
    if kind.name == "embedding":
        if vocab is None:
            raise ValueError(f"{where} needs int64 ids with a vocab")
        out = Tensor((*tensor.shape, layer.attrs["dim"]), identity(tensor.rank + 1))
    else:
        kind.check(layer.attrs, tensor, where)
        out = kind.output(layer.attrs, tensor)
    check_tensor(out, where)
    return out


def body_output(body: Sequence[Layer], tensor: Tensor, where: str) -> Tensor:
    for index, layer in enumerate(body):
        tensor = layer_output(layer, tensor, f"{where}.body[{index}] ({layer.kind})")
    return tensor


# -- layer kinds -------------------------------------------------------------------------------------------------
class Kind:
    """One kind of layer: its attributes, its shape rule, how to draw it, and its torch and Keras forms."""

    name = ""
    schema: Mapping[str, Attr] = {}
    # the Keras arrangement the layer needs: "any" (its axes are mapped), "channels_last", "identity" (torch's
    # order) or "last" (torch's last axis last, the others in any order)
    keras_layout = "any"
    channels_first = False  # treats torch axis 1 as channels: a rank-3 input then goes channels-last to Keras
    preserves = False  # can be drawn so that the output shape equals the input shape (a residual body)
    has_weights = False

    def accepts(self, tensor: Tensor) -> bool:
        return tensor.dtype == "float32"

    def check(self, attrs: Mapping[str, Any], tensor: Tensor, where: str) -> None:
        """Raise ValueError when the attributes do not fit the tensor."""

    def output(self, attrs: Mapping[str, Any], tensor: Tensor) -> Tensor:
        return tensor

    def draw(self, rng: Random, tensor: Tensor, preserve: bool) -> dict[str, Any] | None:
        return {}

    def torch(self, attrs: Mapping[str, Any], tensor: Tensor, prefix: str) -> Call:
        raise NotImplementedError

    def keras(self, attrs: Mapping[str, Any], tensor: Tensor, name: str) -> list[Statement] | None:
        """The Keras statements for this layer, given the tensor already arranged per `keras_layout`
        (None: no exact Keras counterpart)."""
        raise NotImplementedError

    def keras_perm(self, attrs: Mapping[str, Any], tensor: Tensor, out: Tensor) -> tuple[int, ...]:
        """The arrangement of the Keras output (by default: torch's order, or channels-last if the input was)."""
        if self.keras_layout == "channels_last":
            return channels_last(out.rank)
        if self.keras_layout == "identity" or out.rank != tensor.rank:
            return identity(out.rank)
        return tensor.perm

    def weights(self, attrs: Mapping[str, Any], tensor: Tensor, take: Callable[[str], np.ndarray],
                prefix: str) -> list[np.ndarray]:
        """The Keras layer's weights from the torch module named `prefix`."""
        return []

    def named_weights(self, attrs: Mapping[str, Any], tensor: Tensor, take: Callable[[str], np.ndarray],
                      prefix: str, name: str) -> dict[str, list[np.ndarray]]:
        """The weights of each Keras layer this layer becomes (by default one, named `name`)."""
        return {name: self.weights(attrs, tensor, take, prefix)}

    def attr_weight(self, attrs: Mapping[str, Any]) -> int:
        """How far from plain the attributes are: what simplifying an attribute must lower."""
        weight = 0
        for name, spec in self.schema.items():
            value = attrs[name]
            if spec.type != "body" and value != spec.default:
                weight += 1 + (abs(value) if is_int(value) else 0)
        return weight

    def plain(self) -> dict[str, Any]:
        """Every attribute at its default (a container's body aside)."""
        return {name: spec.default for name, spec in self.schema.items() if spec.type != "body"}

    def plainer(self, attrs: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        """Each attribute reset to its default, and integers halved toward it."""
        for name, spec in self.schema.items():
            value = attrs[name]
            if spec.type == "body" or value == spec.default:
                continue
            yield {**attrs, name: spec.default}
            if is_int(value) and is_int(spec.default) and abs(value - spec.default) > 1:
                yield {**attrs, name: spec.default + (value - spec.default) // 2}

    def label(self, attrs: Mapping[str, Any]) -> str:
        shown = [f"{short(name)}={value}" for name, value in attrs.items()
                 if name != "body" and value != self.schema[name].default]
        body = " > ".join(layer.label() for layer in attrs.get("body", ()))
        inner = ",".join(shown) + (f"[{body}]" if body else "")
        return f"{self.name}({inner})" if inner else self.name


SHORT = {"groups": "g", "dilation": "d", "stride": "s", "padding": "p", "kernel": "k", "out": "out",
         "bidirectional": "bi", "last_step": "last", "ceil_mode": "ceil", "count_include_pad": "pad_count"}


def short(name: str) -> str:
    return SHORT.get(name, name)


def kwargs_without_defaults(values: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if defaults.get(key, object()) != value}


def pick(rng: Random, values: Sequence[Any]) -> Any:
    return values[rng.randrange(len(values))]


def pick_int(rng: Random, low: int, high: int) -> int:
    return rng.randint(low, max(low, high))


PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def check_pad_mode(mode: str, pads: Sequence[int], sizes: Sequence[int], where: str) -> None:
    """torch's limits: a reflection needs a pad smaller than the axis, a circular pad at most the axis."""
    # pads run last axis first, (before, after) each, as torch's pad layers take them
    for index, pad in enumerate(pads):
        size = sizes[len(sizes) - 1 - index // 2]
        if (mode == "reflect" and pad >= size) or (mode == "circular" and pad > size):
            raise ValueError(f"{where}: a {mode} pad of {pad} does not fit an axis of size {size}")


def conv_length(size: int, kernel: int, stride: int, padding: int | str, dilation: int) -> int:
    if padding == "same":
        return size
    assert isinstance(padding, int)
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


class Conv(Kind):
    """conv1d / conv2d: grouped, dilated, strided, padded (an integer or "same", with zeros or reflected,
    replicated or circular values)."""

    keras_layout = "channels_last"
    channels_first = True
    preserves = True
    has_weights = True
    schema = fields(out=Attr("int", 1, 1, 16), kernel=Attr("int", 1, 1, 5), stride=Attr("int", 1, 1, 3),
                    padding=Attr("padding", 0, 0, 3), dilation=Attr("int", 1, 1, 3),
                    groups=Attr("int", 1, 1, 16), bias=Attr("bool", True),
                    padding_mode=Attr("choice", "zeros", choices=PADDING_MODES))

    def __init__(self, spatial: int) -> None:
        self.spatial = spatial
        self.name = f"conv{spatial}d"

    def accepts(self, tensor: Tensor) -> bool:
        return tensor.dtype == "float32" and tensor.rank == self.spatial + 2

    def check(self, attrs: Mapping[str, Any], tensor: Tensor, where: str) -> None:
        channels = tensor.shape[1]
        if channels % attrs["groups"] or attrs["out"] % attrs["groups"]:
            raise ValueError(f"{where}: groups {attrs['groups']} must divide the {channels} input and "
                             f"{attrs['out']} output channels")
        if attrs["padding"] == "same" and attrs["stride"] != 1:
            raise ValueError(f"{where}: padding 'same' needs stride 1")
        if attrs["padding_mode"] != "zeros":
            if not is_int(attrs["padding"]):
                raise ValueError(f"{where}: padding_mode {attrs['padding_mode']!r} needs an integer padding")
            check_pad_mode(attrs["padding_mode"], [attrs["padding"]] * 2 * self.spatial, tensor.shape[2:], where)
        for size in tensor.shape[2:]:
            if conv_length(size, attrs["kernel"], attrs["stride"], attrs["padding"], attrs["dilation"]) < 1:
                raise ValueError(f"{where}: the dilated kernel does not fit the padded input {list(tensor.shape)}")

    def output(self, attrs: Mapping[str, Any], tensor: Tensor) -> Tensor:
        sizes = [conv_length(size, attrs["kernel"], attrs["stride"], attrs["padding"], attrs["dilation"])
                 for size in tensor.shape[2:]]
        return Tensor((tensor.shape[0], attrs["out"], *sizes), channels_last(tensor.rank))

    def draw(self, rng: Random, tensor: Tensor, preserve: bool) -> dict[str, Any] | None:
        channels, smallest = tensor.shape[1], min(tensor.shape[2:])
        groups = pick(rng, [g for g in (1, 2, 3, 4, channels) if channels % g == 0 and g <= 8])
        out = channels if preserve else groups * pick_int(rng, 1, max(1, 8 // groups))
        kernel = pick(rng, [k for k in (1, 2, 3, 5) if k <= smallest])
        dilation = 1 if kernel == 1 else pick(rng, [d for d in (1, 2, 3) if d * (kernel - 1) + 1 <= smallest])
        if preserve:
            stride, padding = 1, "same"
        else:
            stride = pick_int(rng, 1, 2 if smallest >= 4 else 1)
            padding = pick(rng, [0, 1, 2] + (["same"] if stride == 1 else []))
        mode = "zeros"
        if isinstance(padding, int) and 0 < padding < smallest and draw_bool(rng, 0.25):
            mode = pick(rng, PADDING_MODES[1:])
        return {"out": out, "kernel": kernel, "stride": stride, "padding": padding, "dilation": dilation,
                "groups": groups, "bias": draw_bool(rng, 0.8), "padding_mode": mode}

    def torch(self, attrs: Mapping[str, Any], tensor: Tensor, prefix: str) -> Call:
        kwargs = kwargs_without_defaults(
            {"stride": attrs["stride"], "padding": attrs["padding"], "dilation": attrs["dilation"],
             "groups": attrs["groups"], "bias": attrs["bias"], "padding_mode": attrs["padding_mode"]},
            {"stride": 1, "padding": 0, "dilation": 1, "groups": 1, "bias": True, "padding_mode": "zeros"})
        return Call(f"nn.Conv{self.spatial}d", (tensor.shape[1], attrs["out"], attrs["kernel"]), kwargs)

    def keras(self, attrs: Mapping[str, Any], tensor: Tensor, name: str) -> list[Statement] | None:
        if attrs["stride"] > 1 and attrs["dilation"] > 1:
            return None  # Keras refuses strides and dilation together
        if attrs["padding_mode"] != "zeros" and attrs["padding"] != 0:
            return None  # Keras convolutions pad with zeros only
        statements: list[Statement] = []
        padding = attrs["padding"]
        if is_int(padding) and padding > 0:
            statements.append(Apply(Call(f"layers.ZeroPadding{self.spatial}D", (padding,), {"name": f"{name}_pad"})))
        kwargs = kwargs_without_defaults(
            {"strides": attrs["stride"], "padding": "same" if padding == "same" else "valid",
             "dilation_rate": attrs["dilation"], "groups": attrs["groups"], "use_bias": attrs["bias"]},
            {"strides": 1, "padding": "valid", "dilation_rate": 1, "groups": 1, "use_bias": True})
        statements.append(Apply(Call(f"layers.Conv{self.spatial}D", (attrs["out"], attrs["kernel"]),
                                     {**kwargs, "name": name})))
        return statements

    def weights(self, attrs: Mapping[str, Any], tensor: Tensor, take: Callable[[str], np.ndarray],
                prefix: str) -> list[np.ndarray]:
        kernel = take(f"{prefix}.weight")  # (out, in / groups, *k) -> (*k, in / groups, out)
        arrays = [kernel.transpose(*range(2, kernel.ndim), 1, 0)]
        return arrays + ([take(f"{prefix}.bias")] if attrs["bias"] else [])


class ConvTranspose(Kind):
    """conv_transpose1d / conv_transpose2d: strided, padded, with output padding, grouped, dilated."""

    keras_layout = "channels_last"
    channels_first = True
    has_weights = True
    schema = fields(out=Attr("int", 1, 1, 16), kernel=Attr("int", 1, 1, 4), stride=Attr("int", 1, 1, 3),
                    padding=Attr("int", 0, 0, 2), output_padding=Attr("int", 0, 0, 2), bias=Attr("bool", True),
                    groups=Attr("int", 1, 1, 8), dilation=Attr("int", 1, 1, 2))

    def __init__(self, spatial: int) -> None:
        self.spatial = spatial
        self.name = f"conv_transpose{spatial}d"

    def accepts(self, tensor: Tensor) -> bool:
        return tensor.dtype == "float32" and tensor.rank == self.spatial + 2

    def check(self, attrs: Mapping[str, Any], tensor: Tensor, where: str) -> None:
        if attrs["output_padding"] >= max(attrs["stride"], attrs["dilation"]):
            raise ValueError(f"{where}: output_padding must be smaller than the stride or the dilation")
        if tensor.shape[1] % attrs["groups"] or attrs["out"] % attrs["groups"]:
            raise ValueError(f"{where}: groups {attrs['groups']} must divide the {tensor.shape[1]} input and "
                             f"{attrs['out']} output channels")
        if min(self.output(attrs, tensor).shape[2:]) < 1:
            raise ValueError(f"{where}: padding {attrs['padding']} leaves no output")

    def output(self, attrs: Mapping[str, Any], tensor: Tensor) -> Tensor:
        extent = attrs["dilation"] * (attrs["kernel"] - 1) + 1
        sizes = [(size - 1) * attrs["stride"] - 2 * attrs["padding"] + extent + attrs["output_padding"]
                 for size in tensor.shape[2:]]
        return Tensor((tensor.shape[0], attrs["out"], *sizes), channels_last(tensor.rank))

    def draw(self, rng: Random, tensor: Tensor, preserve: bool) -> dict[str, Any] | None:
        if max(tensor.shape[2:]) > 8:
            return None
        channels = tensor.shape[1]
        groups = pick(rng, [g for g in (1, 1, 1, 2, channels) if channels % g == 0 and g <= 8])
        stride, kernel = pick_int(rng, 1, 2), pick_int(rng, 1, 4)
        dilation = 2 if kernel > 1 and draw_bool(rng, 0.2) else 1
        return {"out": groups * pick_int(rng, 1, max(1, 8 // groups)), "kernel": kernel, "stride": stride,
                "padding": pick_int(rng, 0, min(2, (kernel - 1) // 2)),
                "output_padding": pick_int(rng, 0, max(stride, dilation) - 1), "bias": draw_bool(rng, 0.8),
                "groups": groups, "dilation": dilation}

    def torch(self, attrs: Mapping[str, Any], tensor: Tensor, prefix: str) -> Call:
        kwargs = kwargs_without_defaults(
            {key: attrs[key] for key in ("stride", "padding", "output_padding", "groups", "bias", "dilation")},
            {"stride": 1, "padding": 0, "output_padding": 0, "groups": 1, "bias": True, "dilation": 1})
        return Call(f"nn.ConvTranspose{self.spatial}d", (tensor.shape[1], attrs["out"], attrs["kernel"]), kwargs)

    def keras(self, attrs: Mapping[str, Any], tensor: Tensor, name: str) -> list[Statement] | None:
        if attrs["groups"] > 1:
            return None  # Keras transposed convolutions have no groups
        if attrs["dilation"] > 1:
            # TensorFlow's CPU kernel (Conv2DBackpropInput) runs a dilated transposed convolution only where
            # oneDNN takes it, which depends on the processor ("Current CPU implementations do not yet support
            # dilation rates larger than 1"): a twin must exist on every x86-64 CPU or not at all.
            return None
        kwargs = kwargs_without_defaults(
            {"strides": attrs["stride"], "output_padding": attrs["output_padding"] or None,
             "use_bias": attrs["bias"]},
            {"strides": 1, "output_padding": None, "use_bias": True})
        statements: list[Statement] = [Apply(Call(f"layers.Conv{self.spatial}DTranspose",
                                                  (attrs["out"], attrs["kernel"]), {**kwargs, "name": name}))]
        if attrs["padding"]:
            # torch's padding removes that many rows and columns from each side of the full output
            statements.append(Apply(Call(f"layers.Cropping{self.spatial}D", (attrs["padding"],),
                                         {"name": f"{name}_crop"})))
        return statements

    def weights(self, attrs: Mapping[str, Any], tensor: Tensor, take: Callable[[str], np.ndarray],
                prefix: str) -> list[np.ndarray]:
        kernel = take(f"{prefix}.weight")  # (in, out, *k) -> (*k, out, in)
        arrays = [kernel.transpose(*range(2, kernel.ndim), 1, 0)]
        return arrays + ([take(f"{prefix}.bias")] if attrs["bias"] else [])


class Linear(Kind):
    name = "linear"
    keras_layout = "last"  # Dense acts on the last axis, whatever the order of the others
    has_weights = True
    preserves = True
    schema = fields(out=Attr("int", 1, 1, 64), bias=Attr("bool", True))

    def output(self, attrs: Mapping[str, Any], tensor: Tensor) -> Tensor:
        return Tensor((*tensor.shape[:-1], attrs["out"]), tensor.perm)

    def keras_perm(self, attrs: Mapping[str, Any], tensor: Tensor, out: Tensor) -> tuple[int, ...]:
        return tensor.perm

    def draw(self, rng: Random, tensor: Tensor, preserve: bool) -> dict[str, Any] | None:
        if preserve and tensor.shape[-1] > 64:
            return None  # a square weight that large would slow every conversion down
        return {"out": tensor.shape[-1] if preserve else pick_int(rng, 1, 16), "bias": draw_bool(rng, 0.85)}

    def torch(self, attrs: Mapping[str, Any], tensor: Tensor, prefix: str) -> Call:
        kwargs = {} if attrs["bias"] else {"bias": False}
        return Call("nn.Linear", (tensor.shape[-1], attrs["out"]), kwargs)

    def keras(self, attrs: Mapping[str, Any], tensor: Tensor, name: str) -> list[Statement] | None:
        kwargs = {} if attrs["bias"] else {"use_bias": False}
        return [Apply(Call("layers.Dense", (attrs["out"],), {**kwargs, "name": name}))]

    def weights(self, attrs: Mapping[str, Any], tensor: Tensor, take: Callable[[str], np.ndarray],
                prefix: str) -> list[np.ndarray]:
        return [take(f"{prefix}.weight").T] + ([take(f"{prefix}.bias")] if attrs["bias"] else [])


class BatchNorm(Kind):
    """Batch norm over torch axis 1 (BatchNorm1d on rank 2 and 3, BatchNorm2d on rank 4)."""

    name = "batchnorm"
    preserves = True
    has_weights = True
    channels_first = True

    def accepts(self, tensor: Tensor) -> bool:
        return tensor.dtype == "float32" and 2 <= tensor.rank <= 4

    def torch(self, attrs: Mapping[str, Any], tensor: Tensor, prefix: str) -> Call:
        return Call("nn.BatchNorm2d" if tensor.rank == 4 else "nn.BatchNorm1d", (tensor.shape[1],))

    def keras(self, attrs: Mapping[str, Any], tensor: Tensor, name: str) -> list[Statement] | None:
        return [Apply(Call("layers.BatchNormalization", (), {"axis": tensor.keras_axis(1), "epsilon": EPS,
                                                              "name": name}))]

    def weights(self, attrs: Mapping[str, Any], tensor: Tensor, take: Callable[[str], np.ndarray],
                prefix: str) -> list[np.ndarray]:
        take(f"{prefix}.num_batches_tracked")  # a training counter with no Keras twin
        return [take(f"{prefix}.{stat}") for stat in ("weight", "bias", "running_mean", "running_var")]


class LayerNorm(Kind):
    """Layer norm over the last torch axis."""

    name = "layernorm"
    preserves = True
    has_weights = True

    def accepts(self, tensor: Tensor) -> bool:
        return tensor.dtype == "float32" and tensor.rank >= 2 and tensor.shape[-1] >= NORM_MIN_VALUES

    def torch(self, attrs: Mapping[str, Any], tensor: Tensor, prefix: str) -> Call:
        return Call("nn.LayerNorm", (tensor.shape[-1],))

    def keras(self, attrs: Mapping[str, Any], tensor: Tensor, name: str) -> list[Statement] | None:
        return [Apply(Call("layers.LayerNormalization", (), {"axis": tensor.keras_axis(tensor.rank - 1),
                                                              "epsilon": EPS, "name": name}))]

    def weights(self, attrs: Mapping[str, Any], tensor: Tensor, take: Callable[[str], np.ndarray],
                prefix: str) -> list[np.ndarray]:
        return [take(f"{prefix}.weight"), take(f"{prefix}.bias")]


class GroupNorm(Kind):
    name = "groupnorm"
    channels_first = True
    preserves = True
    has_weights = True
    schema = fields(groups=Attr("int", 1, 1, 16))

    def accepts(self, tensor: Tensor) -> bool:
        return tensor.dtype == "float32" and tensor.rank in (3, 4)

    def check(self, attrs: Mapping[str, Any], tensor: Tensor, where: str) -> None:
        if tensor.shape[1] % attrs["groups"]:
            raise ValueError(f"{where}: groups {attrs['groups']} must divide the {tensor.shape[1]} channels")
        if self.group_size(attrs["groups"], tensor) < NORM_MIN_VALUES:
            raise ValueError(f"{where}: groups of fewer than {NORM_MIN_VALUES} values")

    def group_size(self, groups: int, tensor: Tensor) -> int:
        return tensor.shape[1] // groups * math.prod(tensor.shape[2:])

    def draw(self, rng: Random, tensor: Tensor, preserve: bool) -> dict[str, Any] | None:
        options = [g for g in range(1, tensor.shape[1] + 1)
                   if tensor.shape[1] % g == 0 and self.group_size(g, tensor) >= NORM_MIN_VALUES]
        return {"groups": pick(rng, options)} if options else None

    def torch(self, attrs: Mapping[str, Any], tensor: Tensor, prefix: str) -> Call:
        return Call("nn.GroupNorm", (attrs["groups"], tensor.shape[1]))

    def keras(self, attrs: Mapping[str, Any], tensor: Tensor, name: str) -> list[Statement] | None:
        return [Apply(Call("layers.GroupNormalization", (), {"groups": attrs["groups"], "axis": tensor.keras_axis(1),
                                                              "epsilon": EPS, "name": name}))]

    def weights(self, attrs: Mapping[str, Any], tensor: Tensor, take: Callable[[str], np.ndarray],
                prefix: str) -> list[np.ndarray]:
        return [take(f"{prefix}.weight"), take(f"{prefix}.bias")]


class Activation(Kind):
    """An elementwise function; its attributes (a slope, an alpha, bounds) are positional arguments in torch.
    `keras_call` gives a Keras layer (named after the torch module) or a keras.ops function."""

    preserves = True

    def __init__(self, name: str, torch_class: str, keras_call: Callable[[Mapping[str, Any]], Call | Op],
                 schema: Mapping[str, Attr] | None = None, torch_kwargs: Mapping[str, Any] | None = None) -> None:
        self.name = name
        self.torch_class = torch_class
        self.keras_call = keras_call
        self.schema = fields(**(schema or {}))
        self.torch_kwargs = torch_kwargs or {}

    def check(self, attrs: Mapping[str, Any], tensor: Tensor, where: str) -> None:
        if "min" in attrs and attrs["min"] >= attrs["max"]:
            raise ValueError(f"{where}: min {attrs['min']} is not below max {attrs['max']}")

    def draw(self, rng: Random, tensor: Tensor, preserve: bool) -> dict[str, Any] | None:
        return {name: pick(rng, spec.choices) for name, spec in self.schema.items()}

    def torch(self, attrs: Mapping[str, Any], tensor: Tensor, prefix: str) -> Call:
        return Call(self.torch_class, tuple(attrs.values()), self.torch_kwargs)

    def keras(self, attrs: Mapping[str, Any], tensor: Tensor, name: str) -> list[Statement] | None:
        call = self.keras_call(attrs)
        if isinstance(call, Op):
            return [call]
        return [Apply(Call(call.target, call.args, {**call.kwargs, "name": name}))]


class AxisOp(Kind):
    """A shape-keeping function along one non-batch axis: flip, cumsum, or swapping the two halves (torch chunks
    and concatenates, which exports ONNX Split; Keras rolls by half)."""

    preserves = True
    schema = fields(axis=Attr("int", 1, 1, 3))

    def __init__(self, name: str) -> None:
        self.name = name

    def check(self, attrs: Mapping[str, Any], tensor: Tensor, where: str) -> None:
        if attrs["axis"] >= tensor.rank:
            raise ValueError(f"{where}: axis {attrs['axis']} is not an axis of rank {tensor.rank}")
        if self.name == "swap_halves" and tensor.shape[attrs["axis"]] % 2:
            raise ValueError(f"{where}: axis {attrs['axis']} of size {tensor.shape[attrs['axis']]} has no halves")

    def draw(self, rng: Random, tensor: Tensor, preserve: bool) -> dict[str, Any] | None:
        axes = [axis for axis in range(1, tensor.rank) if self.name != "swap_halves" or tensor.shape[axis] % 2 == 0]
        return {"axis": pick(rng, axes)} if axes else None

    def torch(self, attrs: Mapping[str, Any], tensor: Tensor, prefix: str) -> Call:
        helper = {"flip": "Flip", "cumsum": "Cumsum", "swap_halves": "SwapHalves"}[self.name]
        return Call(helper, (attrs["axis"],))

    def keras(self, attrs: Mapping[str, Any], tensor: Tensor, name: str) -> list[Statement] | None:
        axis = tensor.keras_axis(attrs["axis"])
        if self.name == "swap_halves":
            return [Op("roll", (tensor.shape[attrs["axis"]] // 2,), {"axis": axis})]
        return [Op(self.name, (), {"axis": axis})]


class Gather(Kind):
    """x.index_select(axis, indices) with constant indices (repeats allowed): ONNX Gather."""

    name = "gather"
    schema = fields(axis=Attr("int", 1, 1, 3), indices=Attr("ints", None, 0, MAX_DIM))

    def check(self, attrs: Mapping[str, Any], tensor: Tensor, where: str) -> None:
        if attrs["axis"] >= tensor.rank:
            raise ValueError(f"{where}: axis {attrs['axis']} is not an axis of rank {tensor.rank}")
        if max(attrs["indices"]) >= tensor.shape[attrs["axis"]]:
            raise ValueError(f"{where}: an index is past the axis of size {tensor.shape[attrs['axis']]}")

    def output(self, attrs: Mapping[str, Any], tensor: Tensor) -> Tensor:
        size = len(attrs["indices"])
        return tensor._replace(shape=tuple(size if i == attrs["axis"] else s for i, s in enumerate(tensor.shape)))

    def draw(self, rng: Random, tensor: Tensor, preserve: bool) -> dict[str, Any] | None:
        axis = pick_int(rng, 1, tensor.rank - 1)
        size = tensor.shape[axis]
        if size > MAX_DIM:
            return None
        return {"axis": axis, "indices": [rng.randrange(size) for _ in range(pick_int(rng, 1, min(4, size + 1)))]}

    def plainer(self, attrs: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        if len(attrs["indices"]) > 1:
            yield {**attrs, "indices": attrs["indices"][:1]}
        if attrs["indices"] != [0]:
            yield {**attrs, "indices": [0]}

    def attr_weight(self, attrs: Mapping[str, Any]) -> int:
        return len(attrs["indices"]) + sum(int(index) for index in attrs["indices"])

    def label(self, attrs: Mapping[str, Any]) -> str:
        return f"gather(axis={attrs['axis']},[{','.join(map(str, attrs['indices']))}])"

    def torch(self, attrs: Mapping[str, Any], tensor: Tensor, prefix: str) -> Call:
        return Call("Gather", (attrs["axis"], list(attrs["indices"])))

    def keras(self, attrs: Mapping[str, Any], tensor: Tensor, name: str) -> list[Statement] | None:
        return [Op("take", (list(attrs["indices"]),), {"axis": tensor.keras_axis(attrs["axis"])})]


class Tile(Kind):
    """x repeated `reps` times along one axis: ONNX Tile."""

    name = "tile"
    schema = fields(axis=Attr("int", 1, 1, 3), reps=Attr("int", 2, 2, 3))

    def check(self, attrs: Mapping[str, Any], tensor: Tensor, where: str) -> None:
        if attrs["axis"] >= tensor.rank:
            raise ValueError(f"{where}: axis {attrs['axis']} is not an axis of rank {tensor.rank}")

    def output(self, attrs: Mapping[str, Any], tensor: Tensor) -> Tensor:
        axis, reps = attrs["axis"], attrs["reps"]
        return tensor._replace(shape=tuple(s * reps if i == axis else s for i, s in enumerate(tensor.shape)))

    def draw(self, rng: Random, tensor: Tensor, preserve: bool) -> dict[str, Any] | None:
        return {"axis": pick_int(rng, 1, tensor.rank - 1), "reps": pick_int(rng, 2, 3)}

    def torch(self, attrs: Mapping[str, Any], tensor: Tensor, prefix: str) -> Call:
        return Call("Tile", ([attrs["reps"] if axis == attrs["axis"] else 1 for axis in range(tensor.rank)],))

    def keras(self, attrs: Mapping[str, Any], tensor: Tensor, name: str) -> list[Statement] | None:
        keras_axis = tensor.keras_axis(attrs["axis"])
        return [Op("tile", ([attrs["reps"] if axis == keras_axis else 1 for axis in range(tensor.rank)],))]


class Unsqueeze(Kind):
    """A new axis of size 1 (ONNX Unsqueeze, whose form changed at opset 13)."""

    name = "unsqueeze"
    keras_layout = "identity"
    schema = fields(axis=Attr("int", 1, 1, 3))

    def accepts(self, tensor: Tensor) -> bool:
        return tensor.dtype == "float32" and tensor.rank <= 3

    def check(self, attrs: Mapping[str, Any], tensor: Tensor, where: str) -> None:
        if attrs["axis"] > tensor.rank:
            raise ValueError(f"{where}: axis {attrs['axis']} is past rank {tensor.rank} + 1")

    def output(self, attrs: Mapping[str, Any], tensor: Tensor) -> Tensor:
        shape = list(tensor.shape)
        shape.insert(attrs["axis"], 1)
        return Tensor(tuple(shape), identity(len(shape)))

    def draw(self, rng: Random, tensor: Tensor, preserve: bool) -> dict[str, Any] | None:
        return {"axis": pick_int(rng, 1, tensor.rank)}

    def torch(self, attrs: Mapping[str, Any], tensor: Tensor, prefix: str) -> Call:
        return Call("Unsqueeze", (attrs["axis"],))

    def keras(self, attrs: Mapping[str, Any], tensor: Tensor, name: str) -> list[Statement] | None:
        return [Op("expand_dims", (attrs["axis"],))]


def keras_activation(function: str) -> Callable[[Mapping[str, Any]], Call]:
    return lambda attrs: Call("layers.Activation", (function,))


class Softmax(Kind):
    """softmax or log_softmax along one axis."""

    preserves = True
    schema = fields(axis=Attr("int", -1, -1, 3))  # a torch axis; -1 is the last

    def __init__(self, name: str) -> None:
        self.name = name

    def check(self, attrs: Mapping[str, Any], tensor: Tensor, where: str) -> None:
        if attrs["axis"] == 0 or attrs["axis"] >= tensor.rank:
            raise ValueError(f"{where}: axis {attrs['axis']} is not a non-batch axis of rank {tensor.rank}")

    def draw(self, rng: Random, tensor: Tensor, preserve: bool) -> dict[str, Any] | None:
        return {"axis": pick(rng, [-1, *range(1, tensor.rank - 1)])}

    def torch(self, attrs: Mapping[str, Any], tensor: Tensor, prefix: str) -> Call:
        return Call("nn.Softmax" if self.name == "softmax" else "nn.LogSoftmax", (), {"dim": attrs["axis"]})

    def keras(self, attrs: Mapping[str, Any], tensor: Tensor, name: str) -> list[Statement] | None:
        axis = tensor.keras_axis(attrs["axis"] % tensor.rank)
        if self.name == "log_softmax":
            return [Op("log_softmax", (), {"axis": axis})]
        return [Apply(Call("layers.Softmax", (), {"axis": axis, "name": name}))]


class Pool(Kind):
    """max or average pooling, 1d or 2d: kernel, stride, padding, ceil_mode (and count_include_pad)."""

    keras_layout = "channels_last"
    channels_first = True

    def __init__(self, op: str, spatial: int) -> None:
        self.op, self.spatial = op, spatial
        self.name = f"{op}pool{spatial}d"
        schema = {"kernel": Attr("int", 2, 1, 4), "stride": Attr("int", 2, 1, 4),
                  "padding": Attr("int", 0, 0, 2), "ceil_mode": Attr("bool", False)}
        if op == "avg":
            schema["count_include_pad"] = Attr("bool", True)
        else:
            schema["dilation"] = Attr("int", 1, 1, 2)
        self.schema = fields(**schema)

    def accepts(self, tensor: Tensor) -> bool:
        return tensor.dtype == "float32" and tensor.rank == self.spatial + 2

    def sizes(self, attrs: Mapping[str, Any], tensor: Tensor) -> list[int]:
        stride, padding = attrs["stride"], attrs["padding"]
        kernel = attrs.get("dilation", 1) * (attrs["kernel"] - 1) + 1  # the window's extent
        sizes = []
        for size in tensor.shape[2:]:
            span = size + 2 * padding - kernel
            out = (-(-span // stride) if attrs["ceil_mode"] else span // stride) + 1
            if attrs["ceil_mode"] and (out - 1) * stride >= size + padding:
                out -= 1  # torch drops a last window that would start in the right padding
            sizes.append(out)
        return sizes

    def check(self, attrs: Mapping[str, Any], tensor: Tensor, where: str) -> None:
        if attrs["padding"] * 2 > attrs["kernel"]:
            raise ValueError(f"{where}: padding {attrs['padding']} exceeds half the kernel {attrs['kernel']}")
        extent = attrs.get("dilation", 1) * (attrs["kernel"] - 1) + 1
        if any(size + 2 * attrs["padding"] < extent for size in tensor.shape[2:]):
            raise ValueError(f"{where}: the kernel's extent {extent} is larger than the padded input")

    def output(self, attrs: Mapping[str, Any], tensor: Tensor) -> Tensor:
        return Tensor((*tensor.shape[:2], *self.sizes(attrs, tensor)), channels_last(tensor.rank))

    def draw(self, rng: Random, tensor: Tensor, preserve: bool) -> dict[str, Any] | None:
        smallest = min(tensor.shape[2:])
        if smallest < 2:
            return None
        kernel = pick_int(rng, 2, min(3, smallest))
        attrs = {"kernel": kernel, "stride": pick_int(rng, 1, kernel), "padding": pick_int(rng, 0, kernel // 2),
                 "ceil_mode": draw_bool(rng, 0.3)}
        if self.op == "avg":
            attrs["count_include_pad"] = draw_bool(rng, 0.5)
        else:
            attrs["dilation"] = 2 if 2 * kernel - 1 <= smallest and draw_bool(rng, 0.2) else 1
        return attrs

    def torch(self, attrs: Mapping[str, Any], tensor: Tensor, prefix: str) -> Call:
        defaults = {"stride": attrs["kernel"], "padding": 0, "ceil_mode": False, "count_include_pad": True,
                    "dilation": 1}
        kwargs = kwargs_without_defaults({key: value for key, value in attrs.items() if key != "kernel"}, defaults)
        return Call(f"nn.{self.op.capitalize()}Pool{self.spatial}d", (attrs["kernel"],), kwargs)

    def keras(self, attrs: Mapping[str, Any], tensor: Tensor, name: str) -> list[Statement] | None:
        kernel, stride = attrs["kernel"], attrs["stride"]
        if attrs["padding"] or attrs.get("dilation", 1) > 1:
            return None  # Keras pools pad with "same" only, asymmetrically, and do not dilate
        exact = all((size - kernel) % stride == 0 for size in tensor.shape[2:])
        # ceil_mode's clipped last window is Keras's "same" when stride == kernel and "same" pads one value, at
        # the end (TensorFlow puts the larger half of the padding last); padding never counts in its averages.
        at_most_one = all((-size) % kernel in (0, 1) for size in tensor.shape[2:])
        if attrs["ceil_mode"] and not exact and not (stride == kernel and at_most_one):
            return None
        padding = "same" if attrs["ceil_mode"] and not exact else "valid"
        layer = f"layers.{'MaxPooling' if self.op == 'max' else 'AveragePooling'}{self.spatial}D"
        return [Apply(Call(layer, (kernel,), {"strides": stride, "padding": padding, "name": name}))]


class GlobalAvgPool(Kind):
    """The mean over every spatial axis: (N, C, ...) -> (N, C)."""

    name = "global_avgpool"
    keras_layout = "channels_last"
    channels_first = True

    def accepts(self, tensor: Tensor) -> bool:
        return tensor.dtype == "float32" and tensor.rank in (3, 4)

    def output(self, attrs: Mapping[str, Any], tensor: Tensor) -> Tensor:
        return Tensor(tensor.shape[:2], identity(2))

    def torch(self, attrs: Mapping[str, Any], tensor: Tensor, prefix: str) -> Call:
        return Call("nn.Sequential", (Call(f"nn.AdaptiveAvgPool{tensor.rank - 2}d", (1,)), Call("nn.Flatten")))

    def keras(self, attrs: Mapping[str, Any], tensor: Tensor, name: str) -> list[Statement] | None:
        return [Apply(Call(f"layers.GlobalAveragePooling{tensor.rank - 2}D", (), {"name": name}))]


class Upsample(Kind):
    """Resize by a scale factor: nearest, nearest-exact or (bi)linear, with or without align_corners."""

    name = "upsample"
    keras_layout = "channels_last"
    channels_first = True
    schema = fields(mode=Attr("choice", "nearest", choices=("nearest", "nearest_exact", "linear")),
                    scale=Attr("float", 2.0, choices=(2.0, 3.0, 1.5)), align_corners=Attr("bool", False))

    def accepts(self, tensor: Tensor) -> bool:
        return tensor.dtype == "float32" and tensor.rank in (3, 4) and max(tensor.shape[2:]) <= 12

    def check(self, attrs: Mapping[str, Any], tensor: Tensor, where: str) -> None:
        if attrs["align_corners"] and attrs["mode"] != "linear":
            raise ValueError(f"{where}: align_corners applies to linear interpolation only")

    def output(self, attrs: Mapping[str, Any], tensor: Tensor) -> Tensor:
        sizes = (math.floor(size * attrs["scale"]) for size in tensor.shape[2:])
        return Tensor((*tensor.shape[:2], *sizes), channels_last(tensor.rank))

    def draw(self, rng: Random, tensor: Tensor, preserve: bool) -> dict[str, Any] | None:
        mode = pick(rng, ["nearest", "linear", "nearest_exact"])
        scales = [2.0, 1.5] + ([3.0] if max(tensor.shape[2:]) <= 6 else [])
        return {"mode": mode, "scale": pick(rng, scales),
                "align_corners": mode == "linear" and draw_bool(rng, 0.3)}

    def torch(self, attrs: Mapping[str, Any], tensor: Tensor, prefix: str) -> Call:
        if attrs["mode"] != "linear":
            mode = "nearest" if attrs["mode"] == "nearest" else "nearest-exact"
            return Call("nn.Upsample", (), {"scale_factor": attrs["scale"], "mode": mode})
        mode = "bilinear" if tensor.rank == 4 else "linear"
        return Call("nn.Upsample", (), {"scale_factor": attrs["scale"], "mode": mode,
                                        "align_corners": attrs["align_corners"]})

    def keras(self, attrs: Mapping[str, Any], tensor: Tensor, name: str) -> list[Statement] | None:
        if not attrs["scale"].is_integer() or attrs["align_corners"]:
            return None  # Keras upsamples by whole factors, with half-pixel centres
        scale = int(attrs["scale"])
        # At a whole factor, nearest and nearest-exact pick the same source pixels.
        if tensor.rank == 3:
            return [Apply(Call("layers.UpSampling1D", (scale,), {"name": name}))] if attrs["mode"] != "linear" else None
        interpolation = "bilinear" if attrs["mode"] == "linear" else "nearest"
        return [Apply(Call("layers.UpSampling2D", (scale,), {"interpolation": interpolation, "name": name}))]


class Flatten(Kind):
    name = "flatten"
    keras_layout = "identity"

    def accepts(self, tensor: Tensor) -> bool:
        return tensor.dtype == "float32" and tensor.rank >= 3

    def output(self, attrs: Mapping[str, Any], tensor: Tensor) -> Tensor:
        return Tensor((tensor.shape[0], math.prod(tensor.shape[1:])), identity(2))

    def torch(self, attrs: Mapping[str, Any], tensor: Tensor, prefix: str) -> Call:
        return Call("nn.Flatten")

    def keras(self, attrs: Mapping[str, Any], tensor: Tensor, name: str) -> list[Statement] | None:
        return [Apply(Call("layers.Flatten", (), {"name": name}))]


class Reshape(Kind):
    name = "reshape"
    keras_layout = "identity"
    schema = fields(shape=Attr("ints", None, 1, MAX_ELEMENTS))

    def check(self, attrs: Mapping[str, Any], tensor: Tensor, where: str) -> None:
        if math.prod(attrs["shape"]) != math.prod(tensor.shape[1:]):
            raise ValueError(f"{where}: cannot reshape {list(tensor.shape[1:])} to {attrs['shape']}")

    def output(self, attrs: Mapping[str, Any], tensor: Tensor) -> Tensor:
        return Tensor((tensor.shape[0], *attrs["shape"]), identity(len(attrs["shape"]) + 1))

    def draw(self, rng: Random, tensor: Tensor, preserve: bool) -> dict[str, Any] | None:
        total = math.prod(tensor.shape[1:])
        divisors = [d for d in range(1, min(total, MAX_DIM) + 1) if total % d == 0 and total // d <= MAX_DIM]
        if not divisors:
            return None
        first = pick(rng, divisors)
        rest = total // first
        if draw_bool(rng, 0.4):
            second = pick(rng, [d for d in range(1, rest + 1) if rest % d == 0])
            return {"shape": [first, second, rest // second]}
        return {"shape": [first, rest]}

    def plainer(self, attrs: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        if len(attrs["shape"]) > 1:
            yield {"shape": [math.prod(attrs["shape"])]}

    def label(self, attrs: Mapping[str, Any]) -> str:
        return f"reshape({'x'.join(map(str, attrs['shape']))})"

    def torch(self, attrs: Mapping[str, Any], tensor: Tensor, prefix: str) -> Call:
        return Call("Reshape", (list(attrs["shape"]),))

    def keras(self, attrs: Mapping[str, Any], tensor: Tensor, name: str) -> list[Statement] | None:
        return [Apply(Call("layers.Reshape", (tuple(attrs["shape"]),), {"name": name}))]


class Transpose(Kind):
    """Swap two non-batch axes. In Keras this only relabels which axis is which: no op."""

    name = "transpose"
    schema = fields(axes=Attr("ints", [1, 2], 1, 3))

    def accepts(self, tensor: Tensor) -> bool:
        return tensor.rank >= 3 and tensor.dtype == "float32"

    def check(self, attrs: Mapping[str, Any], tensor: Tensor, where: str) -> None:
        axes = attrs["axes"]
        if len(axes) != 2 or axes[0] >= axes[1] or axes[1] >= tensor.rank:
            raise ValueError(f"{where}: axes must be two increasing non-batch axes of rank {tensor.rank}, got {axes}")

    def swap(self, attrs: Mapping[str, Any], axis: int) -> int:
        first, second = attrs["axes"]
        return second if axis == first else first if axis == second else axis

    def output(self, attrs: Mapping[str, Any], tensor: Tensor) -> Tensor:
        order = [self.swap(attrs, axis) for axis in range(tensor.rank)]
        return Tensor(tuple(tensor.shape[axis] for axis in order), tuple(self.swap(attrs, p) for p in tensor.perm))

    def keras_perm(self, attrs: Mapping[str, Any], tensor: Tensor, out: Tensor) -> tuple[int, ...]:
        return out.perm

    def draw(self, rng: Random, tensor: Tensor, preserve: bool) -> dict[str, Any] | None:
        first = pick_int(rng, 1, tensor.rank - 2)
        return {"axes": [first, pick_int(rng, first + 1, tensor.rank - 1)]}

    def plainer(self, attrs: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        if attrs["axes"] != [1, 2]:
            yield {"axes": [1, 2]}

    def label(self, attrs: Mapping[str, Any]) -> str:
        return f"transpose({attrs['axes'][0]},{attrs['axes'][1]})"

    def torch(self, attrs: Mapping[str, Any], tensor: Tensor, prefix: str) -> Call:
        return Call("Permute", ([self.swap(attrs, axis) for axis in range(tensor.rank)],))

    def keras(self, attrs: Mapping[str, Any], tensor: Tensor, name: str) -> list[Statement] | None:
        return []


class Container(Kind):
    """residual (x + body(x)) or concat (x and body(x) along an axis); the body keeps the shape."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.schema = {"body": Attr("body")}
        if name == "concat":
            self.schema["axis"] = Attr("int", 1, 1, 3)

    def check(self, attrs: Mapping[str, Any], tensor: Tensor, where: str) -> None:
        if self.name == "concat" and attrs["axis"] >= tensor.rank:
            raise ValueError(f"{where}: axis {attrs['axis']} is not an axis of rank {tensor.rank}")
        out = body_output(attrs["body"], tensor, where)
        if out.shape != tensor.shape:
            raise ValueError(f"{where}: the body turns {list(tensor.shape)} into {list(out.shape)}; "
                             "it must keep the shape")

    def output(self, attrs: Mapping[str, Any], tensor: Tensor) -> Tensor:
        if self.name == "residual":
            return tensor
        axis = attrs["axis"]
        return tensor._replace(shape=tuple(2 * size if i == axis else size for i, size in enumerate(tensor.shape)))

    def draw(self, rng: Random, tensor: Tensor, preserve: bool) -> dict[str, Any] | None:
        if preserve and self.name == "concat":
            return None
        body: list[Layer] = []
        for _ in range(pick_int(rng, 1, 2)):
            options = [kind for kind in KINDS.values() if kind.preserves and kind.accepts(tensor)]
            kind = pick(rng, options)
            attrs = kind.draw(rng, tensor, True)
            if attrs is not None:
                body.append(Layer(kind.name, attrs))
        if not body:
            return None
        drawn: dict[str, Any] = {"body": tuple(body)}
        if self.name == "concat":
            drawn["axis"] = pick_int(rng, 1, tensor.rank - 1)
        return drawn

    def torch(self, attrs: Mapping[str, Any], tensor: Tensor, prefix: str) -> Call:
        body = Call("nn.Sequential", tuple(torch_calls(attrs["body"], tensor, f"{prefix}.body")))
        if self.name == "residual":
            return Call("Residual", (body,))
        return Call("Concat", (body, attrs["axis"]))

    def keras(self, attrs: Mapping[str, Any], tensor: Tensor, name: str) -> list[Statement] | None:
        body = keras_statements(attrs["body"], tensor, f"{name}_body")
        if body is None:
            return None
        statements, out = body
        statements += arrange(out, tensor.perm)[0]  # both branches in one arrangement before they meet
        axis = tensor.keras_axis(attrs["axis"]) if self.name == "concat" else -1
        return [Branch("add" if self.name == "residual" else "concat", tuple(statements), axis, name)]


class Attention(Kind):
    """Multi-head self-attention on (batch, seq, dim)."""

    name = "attention"
    keras_layout = "identity"
    preserves = True
    has_weights = True
    schema = fields(heads=Attr("int", 1, 1, 8), causal=Attr("bool", False))

    def accepts(self, tensor: Tensor) -> bool:
        return tensor.dtype == "float32" and tensor.rank == 3 and tensor.shape[2] <= 32

    def check(self, attrs: Mapping[str, Any], tensor: Tensor, where: str) -> None:
        if tensor.shape[2] % attrs["heads"]:
            raise ValueError(f"{where}: {attrs['heads']} heads do not divide the embedding {tensor.shape[2]}")

    def draw(self, rng: Random, tensor: Tensor, preserve: bool) -> dict[str, Any] | None:
        return {"heads": pick(rng, [h for h in (1, 2, 4) if tensor.shape[2] % h == 0]),
                "causal": draw_bool(rng, 0.4)}

    def torch(self, attrs: Mapping[str, Any], tensor: Tensor, prefix: str) -> Call:
        return Call("SelfAttention", (tensor.shape[2], attrs["heads"]), {"causal": True} if attrs["causal"] else {})

    def keras(self, attrs: Mapping[str, Any], tensor: Tensor, name: str) -> list[Statement] | None:
        heads, steps, dim = attrs["heads"], tensor.shape[1], tensor.shape[2]
        if heads > 1 and dim == heads and steps == heads:
            # Measured: Keras 3's MultiHeadAttention (TensorFlow backend) is wrong when the steps equal the heads
            # and each head has one dimension (errors of order 1 against the formula); no twin then.
            return None
        layer = Call("layers.MultiHeadAttention", (), {"num_heads": attrs["heads"],
                                                       "key_dim": tensor.shape[2] // attrs["heads"], "name": name})
        return [Apply(layer, {"use_causal_mask": True} if attrs["causal"] else {})]

    def weights(self, attrs: Mapping[str, Any], tensor: Tensor, take: Callable[[str], np.ndarray],
                prefix: str) -> list[np.ndarray]:
        dim, heads = tensor.shape[2], attrs["heads"]
        in_weight = take(f"{prefix}.attention.in_proj_weight")  # (3 dim, dim): query, key, value rows
        in_bias = take(f"{prefix}.attention.in_proj_bias")
        arrays: list[np.ndarray] = []
        for part in range(3):
            rows = slice(part * dim, (part + 1) * dim)
            arrays += [in_weight[rows].T.reshape(dim, heads, dim // heads), in_bias[rows].reshape(heads, dim // heads)]
        out_weight = take(f"{prefix}.attention.out_proj.weight")
        arrays += [out_weight.T.reshape(heads, dim // heads, dim), take(f"{prefix}.attention.out_proj.bias")]
        return arrays


class Recurrent(Kind):
    """A batch-first LSTM or GRU of one or two layers: every step's output or the last step's, optionally
    bidirectional."""

    keras_layout = "identity"
    has_weights = True
    schema = fields(hidden=Attr("int", 1, 1, 16), num_layers=Attr("int", 1, 1, 2),
                    bidirectional=Attr("bool", False), last_step=Attr("bool", False))

    def __init__(self, name: str) -> None:
        self.name = name

    def accepts(self, tensor: Tensor) -> bool:
        return tensor.dtype == "float32" and tensor.rank == 3 and tensor.shape[1] <= 12

    def output(self, attrs: Mapping[str, Any], tensor: Tensor) -> Tensor:
        width = attrs["hidden"] * (2 if attrs["bidirectional"] else 1)
        if attrs["last_step"]:
            return Tensor((tensor.shape[0], width), identity(2))
        return Tensor((*tensor.shape[:2], width), identity(3))

    def draw(self, rng: Random, tensor: Tensor, preserve: bool) -> dict[str, Any] | None:
        return {"hidden": pick_int(rng, 1, 8), "num_layers": 1 if draw_bool(rng, 0.75) else 2,
                "bidirectional": draw_bool(rng, 0.4), "last_step": draw_bool(rng, 0.5)}

    def torch(self, attrs: Mapping[str, Any], tensor: Tensor, prefix: str) -> Call:
        kwargs = {**({"num_layers": attrs["num_layers"]} if attrs["num_layers"] > 1 else {}), "batch_first": True,
                  **({"bidirectional": True} if attrs["bidirectional"] else {})}
        rnn = Call(f"nn.{self.name.upper()}", (tensor.shape[2], attrs["hidden"]), kwargs)
        return Call("Recurrent", (rnn, attrs["last_step"]))

    def keras_names(self, attrs: Mapping[str, Any], name: str) -> list[str]:
        return [name if layer == 0 else f"{name}_{layer}" for layer in range(attrs["num_layers"])]

    def keras(self, attrs: Mapping[str, Any], tensor: Tensor, name: str) -> list[Statement] | None:
        statements: list[Statement] = []
        names = self.keras_names(attrs, name)
        # The last step of a bidirectional output holds the backward pass after one step, which
        # return_sequences=False does not give: take every step and slice.
        sequences = not attrs["last_step"] or attrs["bidirectional"]
        for layer, layer_name in enumerate(names):
            # Gates spelled out as torch's; GRU with reset_after=True is torch's formula.
            kwargs: dict[str, Any] = {"activation": "tanh", "recurrent_activation": "sigmoid",
                                      "return_sequences": sequences or layer < len(names) - 1}
            if self.name == "gru":
                kwargs["reset_after"] = True
            if attrs["bidirectional"]:
                rnn = Call(f"layers.{self.name.upper()}", (attrs["hidden"],), kwargs)
                statements.append(Apply(Call("layers.Bidirectional", (rnn,), {"name": layer_name})))
            else:
                statements.append(Apply(Call(f"layers.{self.name.upper()}", (attrs["hidden"],),
                                             {**kwargs, "name": layer_name})))
        if attrs["last_step"] and sequences:
            statements.append(Index(((None, None, None), -1)))
        return statements

    def named_weights(self, attrs: Mapping[str, Any], tensor: Tensor, take: Callable[[str], np.ndarray],
                      prefix: str, name: str) -> dict[str, list[np.ndarray]]:
        weights: dict[str, list[np.ndarray]] = {}
        for layer, layer_name in enumerate(self.keras_names(attrs, name)):
            arrays: list[np.ndarray] = []
            for suffix in ("", "_reverse") if attrs["bidirectional"] else ("",):  # Keras: forward, then backward
                key = f"l{layer}{suffix}"
                w_ih, w_hh = take(f"{prefix}.rnn.weight_ih_{key}"), take(f"{prefix}.rnn.weight_hh_{key}")
                b_ih, b_hh = take(f"{prefix}.rnn.bias_ih_{key}"), take(f"{prefix}.rnn.bias_hh_{key}")
                if self.name == "lstm":  # both stack the gates i, f, g, o; Keras has one bias for torch's two
                    arrays += [w_ih.T, w_hh.T, b_ih + b_hh]
                else:
                    arrays += [gru_gates(w_ih).T, gru_gates(w_hh).T, np.stack([gru_gates(b_ih), gru_gates(b_hh)])]
            weights[layer_name] = arrays
        return weights


def gru_gates(array: np.ndarray) -> np.ndarray:
    """Reorder stacked gate blocks along axis 0 from torch's (r, z, n) to Keras's (z, r, h)."""
    r, z, n = np.split(array, 3, axis=0)
    return np.concatenate([z, r, n], axis=0)


class Embedding(Kind):
    name = "embedding"
    keras_layout = "identity"
    has_weights = True
    schema = fields(dim=Attr("int", 1, 1, 16))

    def accepts(self, tensor: Tensor) -> bool:
        return tensor.dtype == "int64" and tensor.rank == 2

    def draw(self, rng: Random, tensor: Tensor, preserve: bool) -> dict[str, Any] | None:
        return {"dim": pick_int(rng, 2, 8)}

    def torch(self, attrs: Mapping[str, Any], tensor: Tensor, prefix: str) -> Call:
        raise AssertionError("built by torch_calls, which knows the vocab")

    def keras(self, attrs: Mapping[str, Any], tensor: Tensor, name: str) -> list[Statement] | None:
        raise AssertionError("built by keras_statements, which knows the vocab")

    def weights(self, attrs: Mapping[str, Any], tensor: Tensor, take: Callable[[str], np.ndarray],
                prefix: str) -> list[np.ndarray]:
        return [take(f"{prefix}.weight")]


class Slice(Kind):
    """x[..., start:stop:step, ...] along one non-batch axis."""

    name = "slice"
    schema = fields(axis=Attr("int", 1, 1, 3), start=Attr("int", 0, 0, MAX_ELEMENTS),
              stop=Attr("int", 1, 1, MAX_ELEMENTS), step=Attr("int", 1, 1, 4))

    def accepts(self, tensor: Tensor) -> bool:
        return tensor.dtype == "float32" and tensor.rank >= 2 and max(tensor.shape[1:]) > 1

    def check(self, attrs: Mapping[str, Any], tensor: Tensor, where: str) -> None:
        if attrs["axis"] >= tensor.rank:
            raise ValueError(f"{where}: axis {attrs['axis']} is not an axis of rank {tensor.rank}")
        if not attrs["start"] < attrs["stop"] <= tensor.shape[attrs["axis"]]:
            raise ValueError(f"{where}: {attrs['start']}:{attrs['stop']} is not a non-empty range of an axis of "
                             f"size {tensor.shape[attrs['axis']]}")

    def output(self, attrs: Mapping[str, Any], tensor: Tensor) -> Tensor:
        size = len(range(attrs["start"], attrs["stop"], attrs["step"]))
        return tensor._replace(shape=tuple(size if i == attrs["axis"] else s for i, s in enumerate(tensor.shape)))

    def draw(self, rng: Random, tensor: Tensor, preserve: bool) -> dict[str, Any] | None:
        axis = pick(rng, [i for i in range(1, tensor.rank) if tensor.shape[i] > 1])
        size = tensor.shape[axis]
        start = pick_int(rng, 0, size - 1)
        return {"axis": axis, "start": start, "stop": pick_int(rng, start + 1, size), "step": pick_int(rng, 1, 3)}

    def plainer(self, attrs: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        if attrs["step"] != 1:
            yield {**attrs, "step": 1}
        if attrs["start"] != 0:
            yield {**attrs, "start": 0}

    def label(self, attrs: Mapping[str, Any]) -> str:
        step = f":{attrs['step']}" if attrs["step"] != 1 else ""
        return f"slice(axis={attrs['axis']},{attrs['start']}:{attrs['stop']}{step})"

    def torch(self, attrs: Mapping[str, Any], tensor: Tensor, prefix: str) -> Call:
        return Call("Slice", (attrs["axis"], attrs["start"], attrs["stop"], attrs["step"]))

    def keras(self, attrs: Mapping[str, Any], tensor: Tensor, name: str) -> list[Statement] | None:
        items: list[tuple[int | None, int | None, int | None] | int] = [(None, None, None)] * tensor.rank
        items[tensor.keras_axis(attrs["axis"])] = (attrs["start"], attrs["stop"],
                                                   attrs["step"] if attrs["step"] != 1 else None)
        while items and items[-1] == (None, None, None):
            items.pop()
        return [Index(tuple(items))]


class Reduce(Kind):
    """mean, sum or max over one non-batch axis, keeping it (size 1) or not."""

    name = "reduce"
    schema = fields(op=Attr("choice", "mean", choices=("mean", "sum", "max")), axis=Attr("int", 1, 1, 3),
              keepdims=Attr("bool", True))

    def accepts(self, tensor: Tensor) -> bool:
        return tensor.dtype == "float32" and tensor.rank >= 2

    def check(self, attrs: Mapping[str, Any], tensor: Tensor, where: str) -> None:
        if attrs["axis"] >= tensor.rank:
            raise ValueError(f"{where}: axis {attrs['axis']} is not an axis of rank {tensor.rank}")
        if not attrs["keepdims"] and tensor.rank == 2:
            raise ValueError(f"{where}: dropping the only non-batch axis leaves no features")

    def output(self, attrs: Mapping[str, Any], tensor: Tensor) -> Tensor:
        axis = attrs["axis"]
        if attrs["keepdims"]:
            return tensor._replace(shape=tuple(1 if i == axis else s for i, s in enumerate(tensor.shape)))
        shape = tuple(s for i, s in enumerate(tensor.shape) if i != axis)
        return Tensor(shape, tuple(p - (p > axis) for p in tensor.perm if p != axis))

    def keras_perm(self, attrs: Mapping[str, Any], tensor: Tensor, out: Tensor) -> tuple[int, ...]:
        return out.perm

    def draw(self, rng: Random, tensor: Tensor, preserve: bool) -> dict[str, Any] | None:
        return {"op": pick(rng, ["mean", "sum", "max"]), "axis": pick_int(rng, 1, tensor.rank - 1),
                "keepdims": tensor.rank == 2 or draw_bool(rng, 0.5)}

    def torch(self, attrs: Mapping[str, Any], tensor: Tensor, prefix: str) -> Call:
        return Call("Reduce", (attrs["op"], attrs["axis"], attrs["keepdims"]))

    def keras(self, attrs: Mapping[str, Any], tensor: Tensor, name: str) -> list[Statement] | None:
        return [Op(attrs["op"], (), {"axis": tensor.keras_axis(attrs["axis"]), "keepdims": attrs["keepdims"]})]


class PReLU(Kind):
    """PReLU with one slope, or one per channel (torch axis 1)."""

    name = "prelu"
    preserves = True
    has_weights = True
    schema = fields(channelwise=Attr("bool", False))

    def accepts(self, tensor: Tensor) -> bool:
        return tensor.dtype == "float32" and tensor.rank >= 2

    def draw(self, rng: Random, tensor: Tensor, preserve: bool) -> dict[str, Any] | None:
        return {"channelwise": draw_bool(rng, 0.6)}

    def torch(self, attrs: Mapping[str, Any], tensor: Tensor, prefix: str) -> Call:
        return Call("nn.PReLU", (tensor.shape[1],) if attrs["channelwise"] else ())

    def shared_axes(self, attrs: Mapping[str, Any], tensor: Tensor) -> list[int]:
        channel = tensor.keras_axis(1)
        return [axis for axis in range(1, tensor.rank) if not (attrs["channelwise"] and axis == channel)]

    def keras(self, attrs: Mapping[str, Any], tensor: Tensor, name: str) -> list[Statement] | None:
        shared = self.shared_axes(attrs, tensor)
        return [Apply(Call("layers.PReLU", (), {**({"shared_axes": shared} if shared else {}), "name": name}))]

    def named_weights(self, attrs: Mapping[str, Any], tensor: Tensor, take: Callable[[str], np.ndarray],
                      prefix: str, name: str) -> dict[str, list[np.ndarray]]:
        # Keras's alpha spans the non-batch axes, 1 along each shared one; the tensor here is in its Keras order.
        keras_tensor = arrange_for(self, tensor)[1]
        shared = self.shared_axes(attrs, keras_tensor)
        shape = [1 if axis in shared else size for axis, size in enumerate(keras_tensor.keras_shape()) if axis]
        return {name: [take(f"{prefix}.weight").reshape(shape)]}


class InstanceNorm(Kind):
    """Instance norm with affine weights (Keras: a group norm with one channel per group)."""

    name = "instancenorm"
    channels_first = True
    preserves = True
    has_weights = True

    def accepts(self, tensor: Tensor) -> bool:
        return tensor.dtype == "float32" and tensor.rank in (3, 4) and math.prod(tensor.shape[2:]) >= NORM_MIN_VALUES

    def torch(self, attrs: Mapping[str, Any], tensor: Tensor, prefix: str) -> Call:
        return Call(f"nn.InstanceNorm{tensor.rank - 2}d", (tensor.shape[1],), {"affine": True})

    def keras(self, attrs: Mapping[str, Any], tensor: Tensor, name: str) -> list[Statement] | None:
        return [Apply(Call("layers.GroupNormalization", (), {"groups": tensor.shape[1], "axis": tensor.keras_axis(1),
                                                              "epsilon": EPS, "name": name}))]

    def weights(self, attrs: Mapping[str, Any], tensor: Tensor, take: Callable[[str], np.ndarray],
                prefix: str) -> list[np.ndarray]:
        return [take(f"{prefix}.weight"), take(f"{prefix}.bias")]


class Pad(Kind):
    """Explicit padding of the spatial axes, possibly asymmetric: a constant, reflected, replicated or circular.
    `pads` runs from the last axis: (left, right) for 1d, (left, right, top, bottom) for 2d, as torch's."""

    name = "pad"
    keras_layout = "channels_last"
    channels_first = True
    schema = fields(mode=Attr("choice", "constant", choices=("constant", "reflect", "replicate", "circular")),
                    pads=Attr("ints", None, 0, 4), value=Attr("float", 0.0, choices=(0.0, 0.5, -1.0)))

    def accepts(self, tensor: Tensor) -> bool:
        return tensor.dtype == "float32" and tensor.rank in (3, 4)

    def check(self, attrs: Mapping[str, Any], tensor: Tensor, where: str) -> None:
        if len(attrs["pads"]) != 2 * (tensor.rank - 2):
            raise ValueError(f"{where}: {tensor.rank - 2} spatial axes need {2 * (tensor.rank - 2)} pads")
        if attrs["value"] != 0.0 and attrs["mode"] != "constant":
            raise ValueError(f"{where}: a fill value goes with the constant mode only")
        check_pad_mode(attrs["mode"], attrs["pads"], tensor.shape[2:], where)

    def output(self, attrs: Mapping[str, Any], tensor: Tensor) -> Tensor:
        pads, spatial = attrs["pads"], list(tensor.shape[2:])
        for index in range(len(spatial)):
            axis = len(spatial) - 1 - index
            spatial[axis] += pads[2 * index] + pads[2 * index + 1]
        return Tensor((*tensor.shape[:2], *spatial), channels_last(tensor.rank))

    def draw(self, rng: Random, tensor: Tensor, preserve: bool) -> dict[str, Any] | None:
        mode = pick(rng, ["constant", "constant", "reflect", "replicate", "circular"])
        limit = min(tensor.shape[2:]) - 1 if mode == "reflect" else 2
        pads = [pick_int(rng, 0, min(2, limit)) for _ in range(2 * (tensor.rank - 2))]
        value = pick(rng, [0.0, 0.0, 0.5, -1.0]) if mode == "constant" else 0.0
        return {"mode": mode, "pads": pads, "value": value}

    def plainer(self, attrs: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        if attrs["mode"] != "constant":
            yield {**attrs, "mode": "constant"}
        if attrs["value"] != 0.0:
            yield {**attrs, "value": 0.0}
        for index, pad in enumerate(attrs["pads"]):
            if pad:
                yield {**attrs, "pads": [0 if i == index else p for i, p in enumerate(attrs["pads"])]}

    def attr_weight(self, attrs: Mapping[str, Any]) -> int:
        return super().attr_weight(attrs) + sum(int(pad) for pad in attrs["pads"])

    def label(self, attrs: Mapping[str, Any]) -> str:
        value = f",{attrs['value']}" if attrs["value"] else ""
        return f"pad({attrs['mode']},{','.join(map(str, attrs['pads']))}{value})"

    def torch(self, attrs: Mapping[str, Any], tensor: Tensor, prefix: str) -> Call:
        spatial, pads = tensor.rank - 2, tuple(attrs["pads"])
        if attrs["mode"] == "constant":
            return Call(f"nn.ConstantPad{spatial}d", (pads, attrs["value"]))
        torch_class = {"reflect": "Reflection", "replicate": "Replication", "circular": "Circular"}[attrs["mode"]]
        return Call(f"nn.{torch_class}Pad{spatial}d", (pads,))

    def keras(self, attrs: Mapping[str, Any], tensor: Tensor, name: str) -> list[Statement] | None:
        if attrs["mode"] != "constant" or attrs["value"] != 0.0:
            return None  # Keras pads with zeros only
        pads = attrs["pads"]
        if tensor.rank == 3:
            return [Apply(Call("layers.ZeroPadding1D", ((pads[0], pads[1]),), {"name": name}))]
        return [Apply(Call("layers.ZeroPadding2D", (((pads[2], pads[3]), (pads[0], pads[1])),), {"name": name}))]


class AdaptiveAvgPool(Kind):
    """Average pooling to a fixed output size; Keras has it when the output size divides the input."""

    keras_layout = "channels_last"
    channels_first = True
    schema = fields(size=Attr("int", 1, 1, 4))

    def __init__(self, spatial: int) -> None:
        self.spatial = spatial
        self.name = f"adaptive_avgpool{spatial}d"

    def accepts(self, tensor: Tensor) -> bool:
        return tensor.dtype == "float32" and tensor.rank == self.spatial + 2

    def check(self, attrs: Mapping[str, Any], tensor: Tensor, where: str) -> None:
        if attrs["size"] > min(tensor.shape[2:]):
            raise ValueError(f"{where}: output size {attrs['size']} exceeds the input {list(tensor.shape[2:])}")

    def output(self, attrs: Mapping[str, Any], tensor: Tensor) -> Tensor:
        return Tensor((*tensor.shape[:2], *[attrs["size"]] * self.spatial), channels_last(tensor.rank))

    def draw(self, rng: Random, tensor: Tensor, preserve: bool) -> dict[str, Any] | None:
        sizes = range(1, min(3, *tensor.shape[2:]) + 1)
        dividing = [size for size in sizes if all(axis % size == 0 for axis in tensor.shape[2:])]
        # Mostly sizes that divide: the TorchScript exporter refuses the others outright, which would end most
        # routes of such a model at their first hop.
        return {"size": pick(rng, dividing if draw_bool(rng, 0.85) else list(sizes))}

    def torch(self, attrs: Mapping[str, Any], tensor: Tensor, prefix: str) -> Call:
        return Call(f"nn.AdaptiveAvgPool{self.spatial}d", (attrs["size"],))

    def keras(self, attrs: Mapping[str, Any], tensor: Tensor, name: str) -> list[Statement] | None:
        if any(size % attrs["size"] for size in tensor.shape[2:]):
            return None  # uneven windows
        window = tuple(size // attrs["size"] for size in tensor.shape[2:])
        return [Apply(Call(f"layers.AveragePooling{self.spatial}D", (window,), {"name": name}))]


def arrange_for(kind: Kind, tensor: Tensor) -> tuple[list[Statement], Tensor]:
    """The Permute (if any) that gives `kind` the Keras arrangement it needs, and the tensor after it."""
    if kind.keras_layout == "channels_last":
        return arrange(tensor, channels_last(tensor.rank))
    if kind.keras_layout == "identity" or (kind.keras_layout == "last" and tensor.perm[-1] != tensor.rank - 1):
        return arrange(tensor, identity(tensor.rank))
    return [], tensor


def draw_bool(rng: Random, probability_true: float) -> bool:
    return rng.random() < probability_true


SLOPES = Attr("float", 0.01, choices=(0.01, 0.1, 0.2))
ALPHAS = Attr("float", 1.0, choices=(1.0, 0.5))
KINDS: dict[str, Kind] = {kind.name: kind for kind in (
    Conv(1), Conv(2), ConvTranspose(1), ConvTranspose(2), Linear(), BatchNorm(), LayerNorm(), GroupNorm(),
    Activation("relu", "nn.ReLU", lambda attrs: Call("layers.ReLU")),
    Activation("gelu", "nn.GELU", keras_activation("gelu")),
    Activation("sigmoid", "nn.Sigmoid", keras_activation("sigmoid")),
    Activation("tanh", "nn.Tanh", keras_activation("tanh")),
    Activation("hardswish", "nn.Hardswish", keras_activation("hard_swish")),
    Activation("leaky_relu", "nn.LeakyReLU",
               lambda attrs: Call("layers.LeakyReLU", (), {"negative_slope": attrs["slope"]}), {"slope": SLOPES}),
    Activation("elu", "nn.ELU", lambda attrs: Call("layers.ELU", (), {"alpha": attrs["alpha"]}), {"alpha": ALPHAS}),
    Activation("relu6", "nn.ReLU6", lambda attrs: Call("layers.ReLU", (), {"max_value": 6.0})),
    Activation("hardsigmoid", "nn.Hardsigmoid", keras_activation("hard_sigmoid")),
    Activation("silu", "nn.SiLU", keras_activation("silu")),
    Activation("softplus", "nn.Softplus", keras_activation("softplus")),
    Activation("mish", "nn.Mish", keras_activation("mish")),
    Activation("gelu_tanh", "nn.GELU", lambda attrs: Op("gelu", (), {"approximate": True}),
               torch_kwargs={"approximate": "tanh"}),
    Activation("clamp", "nn.Hardtanh", lambda attrs: Op("clip", (attrs["min"], attrs["max"])),
               {"min": Attr("float", -1.0, choices=(-1.0, 0.0, -0.5)),
                "max": Attr("float", 1.0, choices=(1.0, 6.0, 0.5))}),
    Activation("pow", "Pow", lambda attrs: Op("power", (attrs["exponent"],)),
               {"exponent": Attr("float", 2.0, choices=(2.0, 3.0))}),
    AxisOp("flip"), AxisOp("cumsum"), AxisOp("swap_halves"), Gather(), Tile(), Unsqueeze(),
    PReLU(), InstanceNorm(), Softmax("softmax"), Softmax("log_softmax"),
    Pool("max", 1), Pool("max", 2), Pool("avg", 1), Pool("avg", 2), AdaptiveAvgPool(1), AdaptiveAvgPool(2),
    GlobalAvgPool(), Upsample(), Pad(), Flatten(), Reshape(), Transpose(), Container("residual"),
    Container("concat"), Attention(), Recurrent("lstm"), Recurrent("gru"), Embedding(), Slice(), Reduce(),
)}


# -- torch and Keras forms ----------------------------------------------------------------------------------------
def torch_calls(layers: Sequence[Layer], tensor: Tensor, prefix: str = "", vocab: int | None = None) -> list[Call]:
    calls = []
    for index, layer in enumerate(layers):
        name = f"{prefix}.{index}" if prefix else str(index)
        kind = KINDS[layer.kind]
        if kind.name == "embedding":
            assert vocab is not None
            calls.append(Call("nn.Embedding", (vocab, layer.attrs["dim"])))
        else:
            calls.append(kind.torch(layer.attrs, tensor, name))
        tensor = layer_output(layer, tensor, name, vocab)
    return calls


def torch_model(description: ModelDescription) -> Call:
    return Call("nn.Sequential", tuple(torch_calls(description.layers, input_tensor(description),
                                                   vocab=description.vocab)))


def keras_statements(layers: Sequence[Layer], tensor: Tensor, name_prefix: str = "l",
                     vocab: int | None = None) -> tuple[list[Statement], Tensor] | None:
    """The Keras program for a layer list and the tensor it leaves (with its arrangement); None without a twin."""
    statements: list[Statement] = []
    for index, layer in enumerate(layers):
        kind = KINDS[layer.kind]
        name = f"{name_prefix}{index}" if name_prefix == "l" else f"{name_prefix}_{index}"
        out = layer_output(layer, tensor, name, vocab)
        permute, tensor = arrange_for(kind, tensor)
        if kind.name == "embedding":
            assert vocab is not None
            own: list[Statement] | None = [Apply(Call("layers.Embedding", (vocab, layer.attrs["dim"]),
                                                      {"name": name}))]
        else:
            own = kind.keras(layer.attrs, tensor, name)
        if own is None:
            return None
        statements += permute + own
        tensor = out._replace(perm=kind.keras_perm(layer.attrs, tensor, out))
    return statements, tensor


@dataclass(frozen=True)
class KerasProgram:
    input_shape: tuple[int, ...]  # Keras layout, batch first
    statements: tuple[Statement, ...]
    output_layout: str | None  # torch letters when the Keras output is channels-last


def keras_program(description: ModelDescription) -> KerasProgram | None:
    start = input_tensor(description)
    program = keras_statements(description.layers, start, vocab=description.vocab)
    if program is None:
        return None
    statements, out = program
    layout = LAYOUTS.get(out.rank) if out.perm == channels_last(out.rank) and out.rank >= 3 else None
    if layout is None:
        statements += arrange(out, identity(out.rank))[0]  # any other arrangement: back to torch's order
    return KerasProgram(start.keras_shape(), tuple(statements), layout)


def keras_weight_arrays(description: ModelDescription, state: Mapping[str, Any]) -> dict[str, list[np.ndarray]]:
    """The Keras twin's weights by layer name, from a torch state_dict given as numpy arrays; every torch
    tensor must find its place (KeyError otherwise)."""
    unused = set(state)

    def take(key: str) -> np.ndarray:
        if key not in state:
            raise KeyError(f"the torch state_dict has no {key!r}")
        unused.discard(key)
        return np.asarray(state[key], dtype=np.float32)

    weights: dict[str, list[np.ndarray]] = {}

    def visit(layers: Sequence[Layer], tensor: Tensor, prefix: str, name_prefix: str) -> None:
        for index, layer in enumerate(layers):
            torch_prefix = f"{prefix}.{index}" if prefix else str(index)
            name = f"{name_prefix}{index}" if name_prefix == "l" else f"{name_prefix}_{index}"
            kind = KINDS[layer.kind]
            if kind.has_weights:
                weights.update(kind.named_weights(layer.attrs, tensor, take, torch_prefix, name))
            if layer.body:
                visit(layer.body, tensor, f"{torch_prefix}.body", f"{name}_body")
            tensor = layer_output(layer, tensor, name, description.vocab)

    visit(description.layers, input_tensor(description), "", "l")
    if unused:
        raise KeyError(f"torch state keys with no Keras place: {sorted(unused)}")
    return weights


# -- building (inside a worker) ------------------------------------------------------------------------------------
def build_torch(description: ModelDescription) -> Any:
    """The torch module, in eval mode, with weights drawn from the description's seed (trained-looking)."""
    import torch

    from harness.fuzz.codegen import instantiate
    from model_zoo.trained_look import look_trained_torch

    torch.manual_seed(description.seed)
    return look_trained_torch(instantiate(torch_model(description)))


def build_keras(description: ModelDescription) -> Any:
    """The Keras twin with untrained weights (transfer_weights fills them)."""
    import keras

    from harness.fuzz.codegen import run_statements

    program = keras_program(description)
    if program is None:
        raise ValueError(f"{description.summary()} has no Keras twin")
    inputs = keras.Input(shape=program.input_shape[1:], dtype=description.input_dtype, name=INPUT_NAME)
    return keras.Model(inputs, run_statements(program.statements, inputs), name="fuzzed")


def transfer_weights(description: ModelDescription, state: Mapping[str, Any], keras_model: Any) -> None:
    for name, arrays in keras_weight_arrays(description, state).items():
        keras_model.get_layer(name).set_weights(arrays)


def model_spec(description: ModelDescription, name: str) -> ModelSpec:
    """The engine's view of a description: torch builder, and the Keras twin with its weight transfer when
    every layer has one."""
    twin = description.has_keras_twin()
    program = keras_program(description)
    ids = description.input_dtype == "int64"
    return ModelSpec(
        name=name,
        family="fuzz",
        build_torch=partial(build_torch, description),
        build_keras=partial(build_keras, description) if twin else None,
        transfer_weights=partial(transfer_weights, description) if twin else None,
        inputs=(InputSpec(INPUT_NAME, description.input_shape, description.input_dtype,
                          layout=description.input_layout(), domain="index" if ids else "real",
                          high=description.vocab if ids else None),),
        outputs=(OutputSpec(OUTPUT_NAME, layout=program.output_layout if program else None),),
        tags=frozenset({"fuzz", *description.kinds()}),
        seed=description.seed,
        description=description.summary(),
    )


def rebuild_torch(directory: Path, description: dict[str, Any]) -> Any:
    """The torch-artifact rebuild: the module from its JSON description (the loader then loads the saved
    state dict into it)."""
    return build_torch(ModelDescription.from_json(description))


def torch_source(description: ModelDescription, *, weights_file: str = "weights.npz") -> str:
    """A standalone script (torch and numpy only) defining build_model(), which returns the module with the
    weights saved beside it in `weights_file` (torch state_dict keys)."""
    return torch_script(torch_model(description), description.summary(), weights_file)


def keras_source(description: ModelDescription, *, weights_file: str = "keras_weights.npz") -> str:
    """The same for the Keras twin (keras and numpy only); `weights_file` holds keras_weight_arrays() as
    "<layer>/<index>" keys (see keras_weights_npz)."""
    program = keras_program(description)
    if program is None:
        raise ValueError(f"{description.summary()} has no Keras twin")
    return keras_script(program.statements, program.input_shape[1:], description.input_dtype,
                        description.summary(), weights_file)


def spec_from_json(data: Any, name: str) -> tuple[ModelSpec, dict[str, Any]]:
    """A worker's build of a generated model: the description parsed and validated, its spec, and the
    description as the torch artifact's recipe records it."""
    description = ModelDescription.from_json(data)
    return model_spec(description, name), description.to_json()


def keras_weights_npz(description: ModelDescription, state: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """keras_weight_arrays flattened to the npz keys keras_source reads."""
    return {f"{name}/{index}": array for name, arrays in keras_weight_arrays(description, state).items()
            for index, array in enumerate(arrays)}


# -- the strategy -------------------------------------------------------------------------------------------------
# How often each kind is drawn among those that fit (2 unless named): one elementwise activation is as plain as
# another, so each weighs 1; the layers whose conversions are intricate weigh more.
DRAW_WEIGHTS = {
    **{name: 1 for name, kind in KINDS.items() if isinstance(kind, Activation)}, "prelu": 1,
    "conv2d": 6, "conv1d": 3, "linear": 3, "attention": 3, "lstm": 3, "residual": 3, "pad": 3, "upsample": 3,
    "maxpool2d": 3, "avgpool2d": 3, "conv_transpose2d": 3,
}

def descriptions(*, max_layers: int = 5) -> SearchStrategy[ModelDescription]:
    """Random valid model descriptions with at most `max_layers` layers (nested ones counted), small shapes."""
    from hypothesis import strategies as st

    if not is_int(max_layers) or not 1 <= max_layers <= MAX_LAYERS:
        raise ValueError(f"max_layers must be an integer in [1, {MAX_LAYERS}], got {max_layers!r}")
    # A Random seeded by hypothesis, not hypothesis's own choices: those lean toward the first and last options
    # of every list (measured: among 300 image models none began with a max pool), which would starve most
    # kinds. Shrinking is the grammar's own (simplifications), so nothing is lost.
    return st.randoms(use_true_random=True).map(partial(random_description, max_layers=max_layers))


def random_description(rng: Random, *, max_layers: int = 5) -> ModelDescription:
    """One random valid description, a function of the generator's state alone."""
    shape, dtype, vocab = draw_input(rng)
    seed = rng.randrange(2**16)
    # larger budgets more often: a failure is shrunk afterwards, a missing layer finds nothing
    budget = pick(rng, [size for size in range(max_layers, 0, -1) for _ in range(size)])
    layers: list[Layer] = []
    # The input's Keras arrangement depends on the first layer; torch shapes do not.
    tensor = Tensor(shape, identity(len(shape)), dtype)
    for _ in range(3 * max_layers):  # a draw that does not fit costs an attempt, so drawing ends
        if budget <= 0:
            break
        options = [kind for kind in KINDS.values() if kind.accepts(tensor) and not (
            kind.schema.get("body") and budget < 2)]
        if not options:
            break
        kind = pick(rng, [kind for kind in options for _ in range(DRAW_WEIGHTS.get(kind.name, 2))])
        attrs = kind.draw(rng, tensor, False)
        if attrs is None:
            continue
        layer = Layer(kind.name, attrs)
        if layer.count() > budget:
            continue
        try:
            tensor = layer_output(layer, tensor, kind.name, vocab)
        except ValueError:
            continue  # e.g. a drawn shape past the size limits: draw another layer
        layers.append(layer)
        budget -= layer.count()
    if not layers:  # every attempt missed: the plainest layer that fits
        layers.append(Layer("embedding", {"dim": 4}) if dtype == "int64" else Layer("relu"))
    return ModelDescription(shape, dtype, tuple(layers), seed, vocab)


def draw_input(rng: Random) -> tuple[tuple[int, ...], str, int | None]:
    batch = pick_int(rng, 1, 2)
    family = pick(rng, ["image"] * 3 + ["signal", "sequence"] * 2 + ["flat", "ids"])
    if family == "image":
        return (batch, pick_int(rng, 1, 8), pick_int(rng, 3, 12), pick_int(rng, 3, 12)), "float32", None
    if family == "signal":
        return (batch, pick_int(rng, 1, 8), pick_int(rng, 3, 12)), "float32", None
    if family == "sequence":
        return (batch, pick_int(rng, 1, 6), pick_int(rng, 1, 8)), "float32", None
    if family == "flat":
        return (batch, pick_int(rng, 1, 16)), "float32", None
    return (batch, pick_int(rng, 1, 6)), "int64", pick_int(rng, 2, 20)


# -- self-checks, run inside a worker (the grammar's tests call them through Engine.call_function) ---------------
def sample_input(description: ModelDescription, seed: int) -> np.ndarray:
    """One input in torch layout: standard normal floats, or ids below the vocab."""
    rng = np.random.default_rng(seed)
    if description.vocab is not None:
        return rng.integers(0, description.vocab, size=description.input_shape, dtype=np.int64)
    return rng.standard_normal(description.input_shape).astype(np.float32)


def load_script(path: Path) -> Any:
    """Import a generated script as a module (the scripts this module wrote, in a folder of its own)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"generated_{path.parent.name}_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_torch_side(descriptions: list[dict[str, Any]], directory: str) -> list[dict[str, Any]]:
    """Build each description's torch module twice, run it on a sample input, and run the module torch_source
    generates with the saved weights. Leaves input, output and weights in `directory`/<index>/ for
    check_keras_side. Returns per model: whether the builds agree, how far the generated module's output is from
    the built one's, and how many of its weight tensors are distinct and not constant."""
    import torch

    from harness.execution.torch_artifact import load_torch_module, save_torch_module
    from model_zoo.trained_look import is_constant

    results = []
    for index, data in enumerate(descriptions):
        description = ModelDescription.from_json(data)
        folder = Path(directory) / str(index)
        folder.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(12345)  # a seed the builder must not depend on
        module = build_torch(description)
        torch.manual_seed(54321)
        again = build_torch(description)
        x = sample_input(description, index)
        with torch.no_grad():
            y = module(torch.from_numpy(x)).numpy()
        state = {key: value.detach().numpy() for key, value in module.state_dict().items()}
        np.savez(folder / "weights.npz", **state)
        np.savez(folder / "io.npz", x=x, y=y)
        (folder / "model.py").write_text(torch_source(description))
        save_torch_module(folder / "artifact", module, "harness.fuzz.grammar:rebuild_torch",
                          description=description.to_json())
        with torch.no_grad():
            generated = load_script(folder / "model.py").build_model()(torch.from_numpy(x)).numpy()
            rebuilt = load_torch_module(folder / "artifact")(torch.from_numpy(x)).numpy()
        floats = [array for array in state.values() if np.issubdtype(array.dtype, np.floating)]
        results.append({
            "deterministic": all(torch.equal(a, b) for a, b in zip(module.state_dict().values(),
                                                                     again.state_dict().values())),
            "eval": not module.training,
            "output_shape": list(y.shape),
            "finite": bool(np.isfinite(y).all()),
            "generated_max_abs_err": float(np.max(np.abs(generated - y), initial=0.0)),
            "rebuilt_max_abs_err": float(np.max(np.abs(rebuilt - y), initial=0.0)),
            "weights": len(floats),
            "distinct_weights": len({(a.shape, a.tobytes()) for a in floats}),
            "constant_weights": sum(is_constant(a) for a in floats),
        })
    return results


def check_keras_side(descriptions: list[dict[str, Any]], directory: str) -> list[dict[str, Any] | None]:
    """For each description with a Keras twin (None otherwise): build the twin, transfer the torch weights left by
    check_torch_side, and compare its output on the same input with torch's; also the twin saved and loaded
    (as the harness does) and the model keras_source generates."""
    import keras

    from harness.spec import channels_last as keras_letters
    from harness.spec import to_layout

    results: list[dict[str, Any] | None] = []
    for index, data in enumerate(descriptions):
        description = ModelDescription.from_json(data)
        if not description.has_keras_twin():
            results.append(None)
            continue
        folder = Path(directory) / str(index)
        with np.load(folder / "weights.npz") as loaded:
            state = {key: loaded[key] for key in loaded.files}
        with np.load(folder / "io.npz") as io:
            x, y = io["x"], io["y"]
        spec = model_spec(description, "check")
        input_layout, output_layout = spec.inputs[0].layout, spec.outputs[0].layout
        keras_x = to_layout(x, input_layout, keras_letters(input_layout) if input_layout else None)
        model = build_keras(description)
        transfer_weights(description, state, model)

        def torch_order(output: Any, layout: str | None = output_layout) -> np.ndarray:
            array = np.asarray(output)
            return to_layout(array, keras_letters(layout), layout) if layout else array

        twin = torch_order(model(keras_x))
        model.save(folder / "twin.keras")
        reloaded = torch_order(keras.saving.load_model(folder / "twin.keras")(keras_x))
        keras_arrays: dict[str, Any] = keras_weights_npz(description, state)
        np.savez(folder / "keras_weights.npz", **keras_arrays)
        (folder / "model_keras.py").write_text(keras_source(description))
        generated = torch_order(load_script(folder / "model_keras.py").build_model()(keras_x))
        same_shape = twin.shape == y.shape
        results.append({
            "shape_matches": same_shape,
            "max_abs_err": float(np.max(np.abs(twin - y), initial=0.0)) if same_shape else None,
            "scale": float(np.max(np.abs(y), initial=0.0)),
            "reloaded_max_abs_err": float(np.max(np.abs(reloaded - twin), initial=0.0)),
            "generated_max_abs_err": float(np.max(np.abs(generated - twin), initial=0.0)),
        })
    return results
