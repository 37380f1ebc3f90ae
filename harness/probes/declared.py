"""What converters *declare* they support, read from their own packages inside a stack worker."""

from __future__ import annotations

import re
from pathlib import Path


def onnx_tf_declared() -> dict[str, bool]:
    """onnx-tf's handler table: op -> whether any opset version has a handler (an empty list: none), and
    "op@N" -> whether it has a handler for the op's version at model opset N, as onnx-tf itself resolves it
    (the op's schema since_version at N must be in its list), for every opset the stack's onnx knows."""
    from onnx import defs
    from onnx_tf.opset_version import backend_opset_version

    declared = {op: bool(versions) for op, versions in backend_opset_version.items()}
    for op, versions in backend_opset_version.items():
        for opset in range(1, defs.onnx_opset_version() + 1):
            try:
                since = defs.get_schema(op, opset).since_version
            except defs.SchemaError:
                continue  # the op does not exist yet at this opset
            declared[f"{op}@{opset}"] = since in versions
    return declared


def onnx2pytorch_declared() -> dict[str, bool]:
    """onnx2pytorch keeps no table; the op types its converter dispatches on are its declaration, for every opset
    (its dispatch does not look at the opset)."""
    import onnx2pytorch.convert.operations as operations

    source = Path(operations.__file__).read_text()
    return {op: True for op in sorted(set(re.findall(r'op_type == "([A-Za-z0-9]+)"', source)))}
