"""Layer recipes, and the two things done with them: build the module or model, and write it as source code.

A fuzzed model is described twice, once per framework, by plain data: a torch `Call` tree (a constructor and
its arguments) and a Keras `Statement` list (a functional program over one tensor `x`). Building and code
generation both walk that data, so a generated repro script constructs exactly what the harness built.
Targets are looked up in fixed tables, never imported by name from the data.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# torch.nn classes a recipe may name; the helper classes of layers_torch come on top.
TORCH_NN = frozenset({
    "Sequential", "Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d", "Linear", "BatchNorm1d", "BatchNorm2d",
    "LayerNorm", "GroupNorm", "ReLU", "GELU", "Sigmoid", "Tanh", "Softmax", "LeakyReLU", "Hardswish", "ELU",
    "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "Upsample",
    "Flatten", "LSTM", "GRU", "Embedding", "ReLU6", "Hardsigmoid", "SiLU", "Softplus", "Mish", "PReLU",
    "InstanceNorm1d", "InstanceNorm2d", "LogSoftmax", "ConstantPad1d", "ConstantPad2d", "ReflectionPad1d",
    "ReflectionPad2d", "ReplicationPad1d", "ReplicationPad2d", "CircularPad1d", "CircularPad2d", "Hardtanh",
})
TORCH_HELPERS = ("Residual", "Concat", "Permute", "Reshape", "Slice", "Reduce", "Recurrent", "SelfAttention", "Flip",
                 "Cumsum", "SwapHalves", "Gather", "Tile", "Unsqueeze", "Pow")
KERAS_LAYERS = frozenset({
    "Conv1D", "Conv2D", "Conv1DTranspose", "Conv2DTranspose", "Dense", "BatchNormalization", "LayerNormalization",
    "GroupNormalization", "ReLU", "Activation", "Softmax", "LeakyReLU", "ELU", "MaxPooling1D", "MaxPooling2D",
    "AveragePooling1D", "AveragePooling2D", "GlobalAveragePooling1D", "GlobalAveragePooling2D", "UpSampling1D",
    "UpSampling2D", "Flatten", "Reshape", "Permute", "ZeroPadding1D", "ZeroPadding2D", "Cropping1D", "Cropping2D",
    "LSTM", "GRU", "Bidirectional", "MultiHeadAttention", "Embedding", "Add", "Concatenate", "PReLU",
})
KERAS_OPS = frozenset({"mean", "sum", "max", "log_softmax", "gelu", "clip", "power", "flip", "cumsum", "roll", "take",
                       "tile", "expand_dims"})


@dataclass(frozen=True)
class Call:
    """`target(*args, **kwargs)`; an argument may itself be a Call (a nested module or layer)."""

    target: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)


# -- Keras statements: each turns the running tensor `x` into the next one ------------------------------------
@dataclass(frozen=True)
class Apply:
    """x = layer(x, **call_kwargs)"""

    layer: Call
    call_kwargs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Op:
    """x = keras.ops.<function>(x, *args, **kwargs)"""

    function: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Index:
    """x = x[:, ..., start:stop:step, ...] (None keeps an axis whole; an int picks one position)."""

    items: tuple[tuple[int | None, int | None, int | None] | int, ...]


@dataclass(frozen=True)
class Branch:
    """x = merge(x, body(x)): "add" (a residual) or "concat" along `axis`."""

    merge: str
    body: tuple[Statement, ...]
    axis: int = -1
    name: str = ""


Statement = Apply | Op | Index | Branch


# -- torch -----------------------------------------------------------------------------------------------------
def torch_target(name: str) -> Any:
    from torch import nn

    from harness.fuzz import layers_torch

    if name.startswith("nn.") and name[3:] in TORCH_NN:
        return getattr(nn, name[3:])
    if name in TORCH_HELPERS:
        return getattr(layers_torch, name)
    raise ValueError(f"not a torch layer a fuzzed model may use: {name!r}")


def instantiate(value: Any) -> Any:
    """Build the torch module a Call describes (arguments first, recursively)."""
    if isinstance(value, Call):
        args = [instantiate(arg) for arg in value.args]
        kwargs = {key: instantiate(arg) for key, arg in value.kwargs.items()}
        return torch_target(value.target)(*args, **kwargs)
    if isinstance(value, list | tuple):
        return type(value)(instantiate(item) for item in value)
    return value


def helpers_used(value: Any) -> Iterator[str]:
    if isinstance(value, Call):
        if value.target in TORCH_HELPERS:
            yield value.target
        for arg in [*value.args, *value.kwargs.values()]:
            yield from helpers_used(arg)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from helpers_used(item)


def render(value: Any, indent: int = 0) -> str:
    """Python source for a Call tree (a Sequential's children one per line)."""
    if isinstance(value, Call):
        parts = [render(arg, indent + 1) for arg in value.args]
        parts += [f"{key}={render(arg, indent + 1)}" for key, arg in value.kwargs.items()]
        if value.target == "nn.Sequential" and value.args:
            pad = "    " * (indent + 1)
            return "nn.Sequential(\n" + "".join(f"{pad}{part},\n" for part in parts) + "    " * indent + ")"
        # Keras targets are written "layers.X" in recipes and "keras.layers.X" in scripts
        target = f"keras.{value.target}" if value.target.startswith("layers.") else value.target
        return f"{target}({', '.join(parts)})"
    if isinstance(value, tuple):
        return "(" + ", ".join(render(item, indent) for item in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, list):
        return "[" + ", ".join(render(item, indent) for item in value) + "]"
    return repr(value)


def helper_sources() -> dict[str, str]:
    """The source of each class in layers_torch, read as text (the controller has no torch to import it with)."""
    path = Path(__file__).with_name("layers_torch.py")
    text = path.read_text()
    return {node.name: ast.get_source_segment(text, node) or "" for node in ast.parse(text).body
            if isinstance(node, ast.ClassDef)}


def torch_script(model: Call, summary: str, weights_file: str) -> str:
    """A standalone script (torch and numpy only) whose build_model() returns the module with saved weights."""
    helpers = [name for name in TORCH_HELPERS if name in set(helpers_used(model))]
    classes = "".join(helper_sources()[name] + "\n\n\n" for name in helpers)
    return f'''"""Rebuilds the model {summary} with its weights from {weights_file} (torch state_dict keys)."""

from pathlib import Path

import numpy as np
import torch
from torch import nn


{classes}def build_model() -> nn.Module:
    model = {render(model, 1)}
    weights = np.load(Path(__file__).with_name({weights_file!r}))
    model.load_state_dict({{name: torch.from_numpy(weights[name]) for name in weights.files}})
    return model.eval()
'''


# -- Keras -----------------------------------------------------------------------------------------------------
def keras_layer(call: Call) -> Any:
    import keras

    name = call.target.removeprefix("layers.")
    if name not in KERAS_LAYERS:
        raise ValueError(f"not a Keras layer a fuzzed model may use: {call.target!r}")
    args = [keras_layer(arg) if isinstance(arg, Call) else arg for arg in call.args]
    kwargs = {key: keras_layer(arg) if isinstance(arg, Call) else arg for key, arg in call.kwargs.items()}
    return getattr(keras.layers, name)(*args, **kwargs)


def run_statements(statements: Sequence[Statement], x: Any) -> Any:
    """Apply a Keras program to a symbolic tensor (functional API)."""
    import keras

    for statement in statements:
        if isinstance(statement, Apply):
            layer = keras_layer(statement.layer)
            # MultiHeadAttention is self-attention here: query and value are both x.
            inputs = (x, x) if statement.layer.target == "layers.MultiHeadAttention" else (x,)
            x = layer(*inputs, **statement.call_kwargs)
        elif isinstance(statement, Op):
            if statement.function not in KERAS_OPS:
                raise ValueError(f"not a Keras op a fuzzed model may use: {statement.function!r}")
            x = getattr(keras.ops, statement.function)(x, *statement.args, **statement.kwargs)
        elif isinstance(statement, Index):
            x = x[tuple(item if isinstance(item, int) else slice(*item) for item in statement.items)]
        else:
            branch = run_statements(statement.body, x)
            if statement.merge == "add":
                x = keras.layers.Add(name=statement.name or None)([x, branch])
            else:
                x = keras.layers.Concatenate(axis=statement.axis, name=statement.name or None)([x, branch])
    return x


def render_index(items: Sequence[tuple[int | None, int | None, int | None] | int]) -> str:
    def one(item: tuple[int | None, int | None, int | None] | int) -> str:
        if isinstance(item, int):
            return str(item)
        start, stop, step = ("" if part is None else str(part) for part in item)
        return f"{start}:{stop}" + (f":{step}" if step else "")

    return ", ".join(one(item) for item in items)


def render_statements(statements: Sequence[Statement], x: str = "x", depth: int = 0) -> list[str]:
    """Python source lines for a Keras program over the tensor named `x`."""
    lines: list[str] = []
    for statement in statements:
        if isinstance(statement, Apply):
            layer = render(statement.layer)
            call = [x, x] if statement.layer.target == "layers.MultiHeadAttention" else [x]
            call += [f"{key}={render(value)}" for key, value in statement.call_kwargs.items()]
            lines.append(f"{x} = {layer}({', '.join(call)})")
        elif isinstance(statement, Op):
            arguments = [x, *(render(arg) for arg in statement.args),
                         *(f"{key}={render(arg)}" for key, arg in statement.kwargs.items())]
            lines.append(f"{x} = keras.ops.{statement.function}({', '.join(arguments)})")
        elif isinstance(statement, Index):
            lines.append(f"{x} = {x}[{render_index(statement.items)}]")
        else:
            branch = f"branch{depth}"
            lines.append(f"{branch} = {x}")
            lines += render_statements(statement.body, branch, depth + 1)
            name = f", name={statement.name!r}" if statement.name else ""
            if statement.merge == "add":
                lines.append(f"{x} = keras.layers.Add({name.removeprefix(', ')})([{x}, {branch}])")
            else:
                lines.append(f"{x} = keras.layers.Concatenate(axis={statement.axis}{name})([{x}, {branch}])")
    return lines


def keras_build_source(statements: Sequence[Statement], input_shape: Sequence[int], input_dtype: str,
                       weights: str) -> str:
    """`def build_model()`: the Keras model with the weights the expression `weights` gives (a dict of arrays by
    "<layer name>/<index>", in the order of layer.get_weights()). The file-based script and the inline repro both
    build the model with it, so they build the same one."""
    body = "".join(f"    {line}\n" for line in render_statements(statements))
    return f'''def build_model() -> keras.Model:
    inputs = keras.Input(shape={tuple(input_shape)!r}, dtype={input_dtype!r}, name="x")
    x = inputs
{body}    model = keras.Model(inputs, x, name="fuzzed")
    weights = {weights}
    for layer in model.layers:
        count = sum(1 for key in weights if key.startswith(layer.name + "/"))
        if count:
            layer.set_weights([weights[f"{{layer.name}}/{{index}}"] for index in range(count)])
    return model
'''


def keras_script(statements: Sequence[Statement], input_shape: Sequence[int], input_dtype: str, summary: str,
                 weights_file: str) -> str:
    """A standalone script (keras, tensorflow and numpy only) whose build_model() returns the Keras model with
    the weights saved in `weights_file` (keys "<layer name>/<index>", in the order of layer.get_weights())."""
    build = keras_build_source(statements, input_shape, input_dtype,
                               f"dict(np.load(Path(__file__).with_name({weights_file!r})))")
    return f'''"""Rebuilds the Keras model {summary} with its weights from {weights_file}."""

from pathlib import Path

import keras
import numpy as np


{build}'''
