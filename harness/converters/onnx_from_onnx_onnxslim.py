"""onnxslim, an ONNX -> ONNX simplifier many users run between an exporter and a converter (constant folding,
shape inference, dead-node and fusion passes): `onnxslim.slim(model)`. A pass, not a conversion: it is a hop
only right after an exporter and before a converter out of ONNX, and only in routes asked for by name
(`--routes '*@onnxslim*'`), so the default routes and their ids stay as they were."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.converters.base import Converter
from harness.formats import ONNX

ONNXSLIM_SNIPPET = '''

def convert_and_run(model, inputs, input_names, output_names):
    import onnxruntime
    import onnxslim

    slimmed = onnxslim.slim(model)
    session = onnxruntime.InferenceSession(slimmed.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(list(output_names), {name: inputs[name] for name in input_names})
'''


class OnnxFromOnnxViaOnnxslim(Converter):
    source = ONNX
    target = ONNX
    framework = "none"  # onnx and numpy only: no framework in its worker
    package = "onnxslim"
    label = "onnxslim"
    bare_call = "onnx_slim"
    repro_packages = ("numpy", "onnx", "onnxslim", "onnxruntime")
    repro_snippet = ONNXSLIM_SNIPPET
    node_cases = False  # routes through a pass are chosen by name, and so are its probes (not yet measured)

    def convert(self, source: Path, target: Path, io: dict[str, Any], example: list[Any]) -> None:
        import onnxslim

        target.parent.mkdir(parents=True, exist_ok=True)
        onnxslim.slim(str(source), str(target))
