"""The operator inventory of an ONNX file: op type, domain and opset, with counts."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness.errors import InvalidOnnxModel, OpsetNotWritten, first_line


def inventory(path: Path) -> str:
    """"Conv@ai.onnx:17 x3; Relu@ai.onnx:17 x3", in order of first appearance, subgraphs included."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    counts: Counter[str] = Counter(f"{op}@{domain}:{opset or '?'}" for op, domain, opset in walk_ops(model))
    return "; ".join(f"{op} x{count}" for op, count in counts.items())


def written_opset(onnx_ops: str) -> int | None:
    """The ai.onnx opset an inventory string shows ("Conv@ai.onnx:17 x3; ..."), or None."""
    found = re.search(r"@ai\.onnx:(\d+)", onnx_ops or "")
    return int(found.group(1)) if found else None


def walk_ops(model: Any) -> Iterator[tuple[str, str, int | None]]:
    """(op type, domain, opset) of every node of an onnx.ModelProto, subgraphs (If, Loop, Scan) included."""
    opsets = {entry.domain or "ai.onnx": entry.version for entry in model.opset_import}

    def visit(graph: Any) -> Iterator[tuple[str, str, int | None]]:
        for node in graph.node:
            domain = node.domain or "ai.onnx"
            yield node.op_type, domain, opsets.get(domain)
            for attribute in node.attribute:
                if attribute.g.node:
                    yield from visit(attribute.g)
                for subgraph in attribute.graphs:
                    yield from visit(subgraph)

    yield from visit(model.graph)


def default_opset(path: Path) -> int | None:
    """The ai.onnx opset a model imports (None: it imports none)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return next((entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx")), None)


def check_written_model(path: Path, opset: int | None = None) -> None:
    """The file exists, passes the onnx checker and, when `opset` is given, imports exactly that ai.onnx opset."""
    import onnx


    if not path.exists():
        raise InvalidOnnxModel(f"the converter reported success but wrote no file at {path}")
    try:
        onnx.checker.check_model(str(path))
    except Exception as exc:
        raise InvalidOnnxModel(f"the converter wrote an invalid model: {first_line(exc)}") from exc
    written = default_opset(path) if opset is not None else None
    if opset is not None and written != opset:
        raise OpsetNotWritten(f"asked for opset {opset}, the converter wrote opset {written}")


def graph_input_dims(path: Path) -> list[list[int | str | None]]:
    """Each graph input's dims: an int when fixed, the symbol's name when symbolic, None when unknown."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    initializers = {tensor.name for tensor in model.graph.initializer}
    dims: list[list[int | str | None]] = []
    for graph_input in model.graph.input:
        if graph_input.name in initializers:  # old exporters list weights as inputs too
            continue
        shape = graph_input.type.tensor_type.shape.dim
        dims.append([d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in shape])
    return dims
