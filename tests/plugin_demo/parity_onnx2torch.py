"""onnx2torch as a second ONNX -> torch converter for the parity harness: one module, its record in the class."""

import shutil
from pathlib import Path
from typing import Any

from harness.api import ONNX, TORCH, Converter, save_torch_module


def rebuild(directory: Path) -> Any:
    from onnx2torch import convert

    return convert(str(directory / "source.onnx"))


def bare_convert(command: dict[str, Any]) -> Any:
    """parity bench's counterpart: the call a user's own script makes, the module held in memory."""
    from onnx2torch import convert

    return convert(command["path"])


REPRO_SNIPPET = '''

def convert_and_run(model, inputs, input_names, output_names):
    import torch
    from onnx2torch import convert

    module = convert(model).eval()
    with torch.no_grad():
        outputs = module(*(torch.from_numpy(inputs[name]) for name in input_names))
    if not isinstance(outputs, (list, tuple)):
        outputs = [outputs]
    return [output.detach().numpy() for output in outputs]
'''


class TorchFromOnnxViaOnnx2Torch(Converter):
    source, target, framework, package, label = ONNX, TORCH, "torch", "onnx2torch", "onnx2torch"
    bare_call = f"{__name__}:bare_convert"
    repro_packages = ("numpy", "onnx", "torch", "onnx2torch")
    repro_snippet = REPRO_SNIPPET
    node_cases = True

    def convert(self, source: Path, target: Path, io: dict[str, Any], example: list[Any]) -> None:
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target / "source.onnx")
        save_torch_module(target, rebuild(target), f"{__name__}:rebuild", rebuild_holds_weights=True)
