"""What converters *declare* they support, read from their own packages inside a stack worker."""

from __future__ import annotations

import re
from pathlib import Path


def onnx_tf_declared() -> dict[str, bool]:
    """onnx-tf's handler table: op -> whether any opset version has a handler (an empty list: none)."""
    from onnx_tf.opset_version import backend_opset_version

    return {op: bool(versions) for op, versions in backend_opset_version.items()}


def onnx2pytorch_declared() -> dict[str, bool]:
    """onnx2pytorch keeps no table; the op types its converter dispatches on are its declaration."""
    import onnx2pytorch.convert.operations as operations

    source = Path(operations.__file__).read_text()
    return {op: True for op in sorted(set(re.findall(r'op_type == "([A-Za-z0-9]+)"', source)))}
