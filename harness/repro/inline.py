"""A self-contained repro.py: the minimal model built inline (onnx.helper calls, a few lines of torch or Keras), its
inputs and expected outputs as literals, the one converter call that fails, the expected and actual values
printed. It needs no file beside it and runs from any folder: exit 1 while the bug is there, 0 once it is fixed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from harness.repro.literals import arrays_source, named_arrays_source
from harness.repro.templates import (
    KERAS_EXPORT,
    LITERT_TORCH,
    NOBUCO,
    ONNX2PYTORCH,
    ONNX_SNIPPET,
    ONNX_TF,
    TF2ONNX_KERAS,
    TORCH_EXPORT,
    WITHIN_TOLERANCE,
    shared_rules,
)

HEADER = '''"""{title}

{what}
Needs only {packages}: pip install {pins}
Run it from any folder: python repro.py
Exit 1 while the bug is there, 0 once it is fixed.
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
{imports}
INPUT_NAMES = {input_names!r}
OUTPUT_NAMES = {output_names!r}
# A scratch folder for the files the converter reads and writes, removed at exit.
HERE = Path(tempfile.mkdtemp(prefix="repro-"))
'''

ONNX_IMPORTS = "import onnx\nfrom onnx import TensorProto, helper, numpy_helper\n"

DATA = '''

{builder}

INPUTS = {inputs}

# {expected_origin}
EXPECTED = {expected}
'''

# An ONNX runtime's view of a written model: the strict checks first (an invalid model is the converter's own
# fault whatever a lenient runtime makes of it), then onnx's reference evaluator.
RUN_ONNX = '''

def run_onnx(path, inputs, opset=None):
    """Check the written model strictly (at the opset asked for, when one was), then run onnx.reference on it."""
    import onnx
    from onnx.reference import ReferenceEvaluator

    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    written = next((entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx")), None)
    if opset is not None and written != opset:
        raise RuntimeError(f"{path.name}: the converter wrote opset {written}, not {opset} as asked")
    initializers = {tensor.name for tensor in model.graph.initializer}
    names = [value.name for value in model.graph.input if value.name not in initializers]
    return ReferenceEvaluator(model).run(None, dict(zip(names, inputs)))
'''

ONNXRUNTIME = '''
SOURCE = "model.onnx"  # the model built above, as onnxruntime loads it


def convert_and_run(inputs):
    import onnxruntime

    session = onnxruntime.InferenceSession(str(HERE / SOURCE), providers=["CPUExecutionProvider"])
    names = [value.name for value in session.get_inputs()]
    return session.run(None, dict(zip(names, inputs)))
'''

MAIN = '''

def show(label, array):
    print(f"{label} ({array.dtype}, shape {list(array.shape)}):")
    print(np.array2string(array, precision=7, threshold=48, edgeitems=4))


''' + WITHIN_TOLERANCE + '''

def main():
    try:
        {prepare}
        try:
            produced = convert_and_run(INPUTS)
        except Exception as exc:
            print(f"FAILED: {describe_error(exc)}")
            return 1
        produced = [np.asarray(output) for output in produced]
        for name, want, got in zip(OUTPUT_NAMES, EXPECTED, produced):
            show(f"expected {name}", want)
            show(f"actual {name}", got)
        if len(produced) < len(EXPECTED):
            print(f"FAILED: {len(produced)} outputs, expected {len(EXPECTED)}")
            return 1
        ok = all([within_tolerance(name, want, got) for name, want, got in zip(OUTPUT_NAMES, EXPECTED, produced)])
        print("outputs match" if ok else "FAILED: outputs beyond tolerance")
        return 0 if ok else 1
    finally:
        shutil.rmtree(HERE, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
'''

# The converter bodies that read an ONNX file (HERE / SOURCE): main saves the inline model there first.
ONNX_BODIES = {"onnx-tf": ONNX_TF, "onnx2pytorch": ONNX2PYTORCH, "onnxruntime": ONNXRUNTIME}
SAVE_ONNX = 'onnx.save(build_model(), str(HERE / SOURCE))'


@dataclass(frozen=True)
class InlineRepro:
    """What an inline repro.py says and holds."""

    title: str
    what: str  # the trigger and where the input came from, in the converter's terms
    packages: Sequence[str]  # what it imports, as a user installs them
    pins: Mapping[str, str]  # their versions
    input_names: Sequence[str]
    output_names: Sequence[str]
    inputs: Sequence[np.ndarray]
    expected: Sequence[np.ndarray]
    expected_origin: str  # a comment: which references gave and confirmed EXPECTED


def header(repro: InlineRepro, imports: str) -> str:
    pins = " ".join(f"{name}=={repro.pins[name]}" if name in repro.pins else name for name in repro.packages)
    return HEADER.format(title=repro.title.replace('"""', "'''"), what=repro.what.replace('"""', "'''"),
                         packages=", ".join(repro.packages), pins=pins, imports=imports,
                         input_names=list(repro.input_names), output_names=list(repro.output_names))


def data(repro: InlineRepro, builder: str) -> str:
    return DATA.format(builder=builder.rstrip(), inputs=arrays_source(repro.inputs),
                       expected_origin=repro.expected_origin.replace("\n", " "), expected=arrays_source(repro.expected))


def render_onnx_input(repro: InlineRepro, kind: str, builder: str, rule: str, snippet: str = "") -> str:
    """A repro whose converter reads an ONNX model: `builder` is onnx_builder's `def build_model()` source; `kind`
    is "onnx-tf", "onnx2pytorch", "onnxruntime", or "onnx-snippet" with the converter record's snippet."""
    body = ONNX_SNIPPET.format(snippet=snippet) if kind == "onnx-snippet" else ONNX_BODIES[kind]
    return (header(repro, ONNX_IMPORTS) + data(repro, builder) + body + RUN_ONNX + shared_rules(rule)
            + MAIN.replace("{prepare}", SAVE_ONNX))


# The converter bodies that start from the generated torch module (build_module(), the example in EXPORT_INPUTS):
# torch.onnx.export's, litert-torch's, nobuco's.
TORCH_BODIES = {"torch": TORCH_EXPORT, "litert-torch": LITERT_TORCH, "nobuco": NOBUCO}


def render_torch_source(repro: InlineRepro, kind: str, *, classes: str, module: str,
                        weights: Mapping[str, np.ndarray], export_inputs: Sequence[np.ndarray], rule: str,
                        **fields: object) -> str:
    """A repro whose converter takes the generated torch module: `kind` a key of TORCH_BODIES, `module` the
    nn.Sequential expression (codegen.render), `classes` the source of the helper classes it uses, `weights` its
    state dict, `fields` the template's own values (a body takes those it names)."""
    build = (f"    model = {module}\n    model.load_state_dict({{name: torch.from_numpy(value) "
             f"for name, value in WEIGHTS.items()}})\n    return model")
    body = TORCH_BODIES[kind].format(build=build, **fields)
    if 'load_arrays("export_input.npz")' not in body:
        raise ValueError(f"the {kind} template no longer reads its example from export_input.npz")
    body = body.replace('load_arrays("export_input.npz")', "EXPORT_INPUTS")
    torch_data = (f"\n\n{classes}WEIGHTS = {named_arrays_source(weights)}\n\n"
                  f"# The example the converter is given (EXPECTED is the module's output on INPUTS).\n"
                  f"EXPORT_INPUTS = {arrays_source(export_inputs)}\n")
    return (header(repro, "import torch\nfrom torch import nn\n") + data(repro, "").rstrip() + "\n" + torch_data
            + body + (RUN_ONNX if "run_onnx(" in body else "") + shared_rules(rule) + MAIN.replace("{prepare}", "pass"))


# The converter bodies that read a Keras model: the file-based templates' own, given the model built inline.
KERAS_BODIES = {"tf2onnx-keras": TF2ONNX_KERAS, "keras-export": KERAS_EXPORT}
LOAD_KERAS = 'keras.saving.load_model(str(HERE / "model.keras"))'

# EXPECTED is the source's output as the campaign computed it; the Keras model rebuilt here must give it back, or the
# script is not the finding's model and its verdict would say nothing about the converter.
CHECK_KERAS_SOURCE = '''

def check_source(inputs):
    """Exit 2 (neither reproduced nor fixed) unless the Keras model built here computes EXPECTED on INPUTS."""
    model = build_model()
    outputs = model(inputs[0] if len(inputs) == 1 else list(inputs), training=False)
    outputs = [keras.ops.convert_to_numpy(output) for output in
               (outputs if isinstance(outputs, (list, tuple)) else [outputs])]
    if not all([within_tolerance(f"the Keras model's own {name}", want, got)
                for name, want, got in zip(OUTPUT_NAMES, EXPECTED, outputs)]):
        print("the Keras model built here does not compute EXPECTED: this script is not the finding's model")
        sys.exit(2)

'''


def render_keras_source(repro: InlineRepro, kind: str, *, build: str, weights: Mapping[str, np.ndarray],
                        opset: int | None, signature: Sequence[tuple[str, list[int | None], str]], rule: str) -> str:
    """A repro whose converter reads a Keras model: `kind` is the converter record's template for a Keras source
    ("tf2onnx-keras", "keras-export"), `build` codegen.keras_build_source's `def build_model()` reading WEIGHTS, and
    `weights` its arrays by "<layer name>/<index>"."""
    body = KERAS_BODIES[kind].format(opset=opset, signature=list(signature))
    if LOAD_KERAS not in body:
        raise ValueError(f"the {kind} template no longer loads model.keras as {LOAD_KERAS}")
    body = body.replace(LOAD_KERAS, "build_model()")
    keras_data = f"\n\n{build.rstrip()}\n\n\nWEIGHTS = {named_arrays_source(weights)}\n"
    return (header(repro, "import keras\n") + data(repro, "").rstrip() + "\n" + keras_data + CHECK_KERAS_SOURCE
            + body + RUN_ONNX + shared_rules(rule) + MAIN.replace("{prepare}", "check_source(INPUTS)"))
