"""Arrays written as Python source, so a repro carries its weights, inputs and expected outputs inline and needs no
data file. Every float keeps its exact value: the shortest decimal that reads back to the same float32/float64."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

WIDTH = 110  # characters per line of values


def scalar_source(value: np.generic) -> str:
    if isinstance(value, np.floating):
        if np.isnan(value):
            return "np.nan"
        if np.isinf(value):
            return "np.inf" if value > 0 else "-np.inf"
        return np.format_float_positional(value, unique=True, trim="0") if abs(float(value)) >= 1e-4 or value == 0 \
            else np.format_float_scientific(value, unique=True, trim="0")
    if isinstance(value, np.bool_):
        return "True" if value else "False"
    return str(int(value))


def array_source(array: np.ndarray, indent: int = 0) -> str:
    """`np.array([...], dtype=np.float32).reshape(shape)`: flat values, wrapped, then the shape."""
    flat = [scalar_source(value) for value in np.asarray(array).reshape(-1)]
    pad = " " * (indent + 4)
    lines, line = [], ""
    for text in flat:
        if line and len(pad) + len(line) + len(text) + 2 > WIDTH:
            lines.append(line.rstrip())
            line = ""
        line += text + ", "
    if line:
        lines.append(line.rstrip())
    if len(lines) <= 1:
        body = "[" + "".join(lines).rstrip(",") + "]"
    else:
        body = "[\n" + "".join(f"{pad}{text}\n" for text in lines) + " " * indent + "]"
    dtype = "bool_" if array.dtype == np.bool_ else array.dtype.name  # np.bool is not in numpy 1.x
    return f"np.array({body}, dtype=np.{dtype}).reshape({tuple(int(dim) for dim in array.shape)!r})"


def arrays_source(arrays: Sequence[np.ndarray], indent: int = 0) -> str:
    """A list of arrays, one per line."""
    pad = " " * (indent + 4)
    return "[\n" + "".join(f"{pad}{array_source(array, indent + 4)},\n" for array in arrays) + " " * indent + "]"


def named_arrays_source(arrays: Mapping[str, np.ndarray], indent: int = 0) -> str:
    """A dict of arrays by name (a state dict), one per line."""
    pad = " " * (indent + 4)
    return "{\n" + "".join(f"{pad}{name!r}: {array_source(array, indent + 4)},\n" for name, array in arrays.items()) \
        + " " * indent + "}"
