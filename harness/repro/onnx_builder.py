"""An ONNX model written back as the onnx.helper calls that build it, so a repro carries its model inline.

Runs in a stack's interpreter (it needs onnx): `python -m harness.repro.onnx_builder MODEL.onnx` prints the source
of `build_model()`. The model is parsed, never run; every name and value is written with repr() or as a literal."""

from __future__ import annotations

import sys
from typing import Any

from harness.repro.literals import array_source

INDENT = "    "


def value_info_source(value: Any) -> str:
    import onnx

    kind = value.type.WhichOneof("value")
    if kind != "tensor_type":
        raise ValueError(f"{value.name!r}: only tensor inputs and outputs are written inline, not {kind}")
    tensor = value.type.tensor_type
    shape: list[int | str | None] | None = None
    if tensor.HasField("shape"):
        shape = [dim.dim_value if dim.HasField("dim_value") else dim.dim_param if dim.HasField("dim_param") else None
                 for dim in tensor.shape.dim]
    element = onnx.TensorProto.DataType.Name(tensor.elem_type)
    return f"helper.make_tensor_value_info({value.name!r}, TensorProto.{element}, {shape!r})"


def tensor_source(tensor: Any, indent: int) -> str:
    from onnx import numpy_helper

    return f"numpy_helper.from_array({array_source(numpy_helper.to_array(tensor), indent)}, {tensor.name!r})"


def attribute_source(attribute: Any, indent: int) -> str:
    import onnx
    from onnx import helper

    kinds = onnx.AttributeProto
    if attribute.type == kinds.TENSOR:
        return tensor_source(attribute.t, indent)
    if attribute.type == kinds.GRAPH:
        return graph_source(attribute.g, indent)
    if attribute.type == kinds.FLOAT:
        return array_source_scalar(attribute.f)
    if attribute.type == kinds.FLOATS:
        return "[" + ", ".join(array_source_scalar(value) for value in attribute.floats) + "]"
    value = helper.get_attribute_value(attribute)
    if attribute.type == kinds.STRING:
        return repr(value.decode())
    if attribute.type == kinds.STRINGS:
        return repr([item.decode() for item in value])
    if attribute.type in (kinds.INT, kinds.INTS):
        return repr(value if isinstance(value, int) else list(value))
    raise ValueError(f"attribute {attribute.name!r} of type {kinds.AttributeType.Name(attribute.type)} is not "
                     "written inline")


def array_source_scalar(value: float) -> str:
    import numpy as np

    from harness.repro.literals import scalar_source

    return scalar_source(np.float32(value))


def node_source(node: Any, indent: int) -> str:
    pad = INDENT * (indent + 1)
    parts = [repr(node.op_type), repr(list(node.input)), repr(list(node.output))]
    if node.name:
        parts.append(f"name={node.name!r}")
    if node.domain:
        parts.append(f"domain={node.domain!r}")
    parts += [f"{attribute.name}={attribute_source(attribute, len(pad) + 4)}" for attribute in node.attribute]
    return "helper.make_node(" + ", ".join(parts) + ")" if len(", ".join(parts)) < 80 else \
        "helper.make_node(\n" + "".join(f"{pad}{part},\n" for part in parts) + INDENT * indent + ")"


def graph_source(graph: Any, indent: int) -> str:
    pad = INDENT * (indent + 1)
    inner = INDENT * (indent + 2)

    def listed(items: list[str]) -> str:
        return "[]" if not items else "[\n" + "".join(f"{inner}{item},\n" for item in items) + pad + "]"

    nodes = [node_source(node, indent + 2) for node in graph.node]
    initializers = [tensor_source(tensor, len(inner)) for tensor in graph.initializer]
    parts = [f"nodes={listed(nodes)}", f"name={graph.name!r}",
             f"inputs={listed([value_info_source(value) for value in graph.input])}",
             f"outputs={listed([value_info_source(value) for value in graph.output])}",
             f"initializer={listed(initializers)}"]
    if graph.value_info:
        parts.append(f"value_info={listed([value_info_source(value) for value in graph.value_info])}")
    return "helper.make_graph(\n" + "".join(f"{pad}{part},\n" for part in parts) + INDENT * indent + ")"


def builder_source(path: str) -> str:
    """`def build_model():` returning the model at `path`: graph, opsets, IR version and producer as written."""
    import onnx

    model = onnx.load(path)
    if model.functions:
        raise ValueError("model-local functions are not written inline")
    opsets = ", ".join(f"helper.make_opsetid({entry.domain!r}, {entry.version})" for entry in model.opset_import)
    producer = "".join(f", {field}={getattr(model, field)!r}" for field in ("producer_name", "producer_version")
                       if model.HasField(field))
    return (f"def build_model():\n{INDENT}graph = {graph_source(model.graph, 1)}\n"
            f"{INDENT}return helper.make_model(graph, opset_imports=[{opsets}], ir_version={model.ir_version}"
            f"{producer})\n")


def node_lines(path: str) -> list[str]:
    """Each node in the converter's terms: op type, attributes, input and output shapes (as inferred, leniently:
    the model may be one strict inference refuses), constants left out."""
    import onnx
    from onnx import helper, shape_inference

    model = onnx.load(path)
    try:
        model = shape_inference.infer_shapes(model)
    except Exception:  # an invalid model is still described, without the shapes inference could not give
        pass
    known = {value.name: value for value in [*model.graph.input, *model.graph.value_info, *model.graph.output]}
    constants = {tensor.name for tensor in model.graph.initializer}

    def typed(name: str) -> str:
        if name in constants:
            return "<constant>"
        value = known.get(name)
        if value is None or value.type.WhichOneof("value") != "tensor_type":
            return "?"
        tensor = value.type.tensor_type
        element = onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type).name if tensor.elem_type else "?"
        dims = [str(dim.dim_value) if dim.HasField("dim_value") else dim.dim_param or "?" for dim in tensor.shape.dim]
        return f"{element}[{', '.join(dims)}]" if tensor.HasField("shape") else element

    lines = []
    for node in model.graph.node:
        if node.op_type == "Constant":
            constants.update(node.output)
            continue
        attributes = []
        for attribute in node.attribute:
            value = helper.get_attribute_value(attribute)
            if isinstance(value, bytes):
                value = value.decode(errors="replace")
            elif isinstance(value, float):
                value = float(f"{value:.6g}")
            elif not isinstance(value, (int, str, list)):
                value = "<" + onnx.AttributeProto.AttributeType.Name(attribute.type).lower() + ">"
            attributes.append(f"{attribute.name}={value!r}")
        inputs = ", ".join(typed(name) if name else "<none>" for name in node.input)
        outputs = ", ".join(typed(name) for name in node.output)
        lines.append(f"{node.op_type}({', '.join(attributes)}): {inputs} -> {outputs}")
    return lines


if __name__ == "__main__":
    if sys.argv[1] == "--nodes":
        import json

        print(json.dumps(node_lines(sys.argv[2])))
    else:
        print(builder_source(sys.argv[1]))
