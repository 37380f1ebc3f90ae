"""The standalone repro.py of a finding: the one converter call that fails, on the minimal model, needing only
that converter's own packages (and numpy). Exit 1 while the bug is there, 0 once it is fixed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.errors import describe_error_source

HEADER = '''"""{title}

{what}
Needs only {packages}. Run it in this folder: python repro.py
Exit 1: the bug reproduces (an exception, or outputs beyond tolerance of expected.npz); exit 0: it is fixed.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
INPUT_NAMES = {input_names!r}
OUTPUT_NAMES = {output_names!r}
'''

# The verdict every generated repro prints, at the dtype's defaults: tolerance_rule (rendered above it, verbatim)
# without a float64 truth.
WITHIN_TOLERANCE = '''def within_tolerance(name, expected, produced):
    """The verdict without a float64 truth: tolerance_rule (above, verbatim) at the dtype's defaults."""
    if expected.shape != produced.shape:
        print(f"{name}: shape {list(produced.shape)}, expected {list(expected.shape)}")
        return False
    if expected.dtype != produced.dtype and not (expected.dtype.kind == produced.dtype.kind == "f"):
        print(f"{name}: dtype {produced.dtype}, expected {expected.dtype}")
        return False
    atol, rtol = DEFAULTS.get(expected.dtype.name, (0.0, 0.0))
    judged = tolerance_rule(expected, produced, atol, rtol)
    failing = judged["failing"]
    worst = float(judged["error"][failing].max()) if failing.any() else float(judged["error"].max(initial=0.0))
    print(f"{name}: max abs err {worst:.6g}" + (f", {int(failing.sum())} element(s) beyond tolerance"
                                                if failing.any() else ""))
    return not bool(failing.any())
'''

COMMON = '''

def load_arrays(name):
    with np.load(HERE / name, allow_pickle=False) as data:
        return [data[key] for key in data.files]


def run_onnx(path, inputs, opset=None):
    """Check the written model (at the opset asked for, when one was) and run it with onnx's reference evaluator."""
    import onnx
    from onnx.reference import ReferenceEvaluator

    onnx.checker.check_model(str(path))
    model = onnx.load(str(path))
    written = next((entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx")), None)
    if opset is not None and written != opset:
        raise RuntimeError(f"{path.name}: the converter wrote opset {written}, not {opset} as asked")
    initializers = {tensor.name for tensor in model.graph.initializer}
    names = [value.name for value in model.graph.input if value.name not in initializers]
    return ReferenceEvaluator(model).run(None, dict(zip(names, inputs)))


''' + WITHIN_TOLERANCE + '''

def main():
    inputs = load_arrays("input.npz")
    expected = load_arrays("expected.npz")
    try:
        produced = convert_and_run(inputs)
    except Exception as exc:
        print(f"FAILED: {describe_error(exc)}")
        return 1
    produced = [np.asarray(output) for output in produced]
    if len(produced) < len(expected):
        print(f"FAILED: {len(produced)} outputs, expected {len(expected)}")
        return 1
    ok = all([within_tolerance(name, want, got) for name, want, got in zip(OUTPUT_NAMES, expected, produced)])
    print("outputs match" if ok else "FAILED: outputs beyond tolerance of expected.npz")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
'''

ONNX_TF = '''
SOURCE = "model.onnx"  # the ONNX model onnx-tf is given


def convert_and_run(inputs):
    import onnx
    from onnx_tf.backend import prepare

    model = onnx.load(str(HERE / SOURCE))
    initializers = {tensor.name for tensor in model.graph.initializer}
    names = [value.name for value in model.graph.input if value.name not in initializers]
    rep = prepare(model)
    with tempfile.TemporaryDirectory() as folder:
        rep.export_graph(folder)  # the SavedModel a TF Serving user deploys
    return list(rep.run(dict(zip(names, inputs))))
'''

ONNX2PYTORCH = '''
SOURCE = "model.onnx"  # the ONNX model onnx2pytorch is given


def convert_and_run(inputs):
    import onnx
    import torch
    from onnx2pytorch import ConvertModel

    module = ConvertModel(onnx.load(str(HERE / SOURCE))).eval()
    with torch.no_grad():
        outputs = module(*(torch.from_numpy(array) for array in inputs))
    if not isinstance(outputs, (list, tuple)):
        outputs = [outputs]
    return [output.numpy() for output in outputs]
'''

TF2ONNX_KERAS = '''
OPSET = {opset!r}
# (name, shape with None for a dynamic axis, dtype) of each input, as the Keras model takes it.
SIGNATURE = {signature!r}


def convert_and_run(inputs):
    import keras
    import tensorflow as tf
    import tf2onnx

    model = keras.saving.load_model(str(HERE / "model.keras"))
    specs = [tf.TensorSpec(shape, dtype, name=name) for name, shape, dtype in SIGNATURE]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "converted.onnx"
        tf2onnx.convert.from_keras(model, input_signature=specs, opset=OPSET, output_path=str(path))
        return run_onnx(path, inputs, OPSET)
'''

KERAS_EXPORT = '''
OPSET = {opset!r}  # None: the opset Keras leaves to its exporter
# (name, shape with None for a dynamic axis, dtype) of each input, as the Keras model takes it.
SIGNATURE = {signature!r}


def convert_and_run(inputs):
    import keras
    import tensorflow as tf

    model = keras.saving.load_model(str(HERE / "model.keras"))
    specs = [tf.TensorSpec(shape, dtype, name=name) for name, shape, dtype in SIGNATURE]
    options = {{}} if OPSET is None else {{"opset_version": OPSET}}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "exported.onnx"
        model.export(str(path), format="onnx", input_signature=specs if len(specs) == 1 else [specs], **options)
        return run_onnx(path, inputs, OPSET)
'''

TF2ONNX_SAVED_MODEL = '''
OPSET = {opset!r}


def convert_and_run(inputs):
    import subprocess

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "converted.onnx"
        # tf2onnx's command line, as its README gives it for a SavedModel.
        done = subprocess.run([sys.executable, "-m", "tf2onnx.convert", "--saved-model", str(HERE / "saved_model"),
                               "--output", str(path), "--opset", str(OPSET)], capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError((done.stderr.strip().splitlines() or ["tf2onnx.convert failed"])[-1])
        return run_onnx(path, inputs, OPSET)
'''

TORCH_EXPORT = '''
DYNAMO = {dynamo!r}
OPSET = {opset!r}  # None: the exporter's own default
DYNAMIC_AXES = {dynamic_axes!r}  # input and output name -> {{axis: symbolic name}}


def build_module():
{build}


def convert_and_run(inputs):
    import torch

    module = build_module().eval()
    example = tuple(torch.from_numpy(array) for array in load_arrays("export_input.npz"))
    options = {{"dynamo": DYNAMO}}
    if OPSET is not None:
        options["opset_version"] = OPSET
    if DYNAMO:
        options["dynamic_shapes"] = tuple({{axis: torch.export.Dim.DYNAMIC for axis in DYNAMIC_AXES.get(name, {{}})}}
                                          or None for name in INPUT_NAMES)
    else:
        options["dynamic_axes"] = DYNAMIC_AXES
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "exported.onnx"
        torch.onnx.export(module, example, str(path), input_names=INPUT_NAMES, output_names=OUTPUT_NAMES, **options)
        return run_onnx(path, inputs, OPSET)
'''

# litert-torch as its README calls it (static shapes: the export example's), its flatbuffer run by the LiteRT
# interpreter's signature runner, as a deployed app runs it.
LITERT_TORCH = '''

def build_module():
{build}


def natural(name):
    """args_2 before args_10: litert-torch names a signature's inputs and outputs by position, not the module's."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\\d+)", name)]


def convert_and_run(inputs):
    import litert_torch
    import torch
    from ai_edge_litert.interpreter import Interpreter

    module = build_module().eval()
    example = tuple(torch.from_numpy(array) for array in load_arrays("export_input.npz"))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "converted.tflite"
        litert_torch.convert(module, example).export(str(path))
        interpreter = Interpreter(model_path=str(path))
        runner = interpreter.get_signature_runner(next(iter(interpreter.get_signature_list())))
        details = runner.get_input_details()
        names = sorted(details, key=natural)
        outputs = runner(**{{name: np.asarray(array, dtype=details[name]["dtype"])
                            for name, array in zip(names, inputs)}})
        return [np.asarray(outputs[name]) for name in sorted(outputs, key=natural)]
'''

# nobuco as the harness calls it (the module's NCHW layout kept, the route's names), its Keras model saved as the
# SavedModel a TF user serves and run through serving_default.
NOBUCO = '''
# (name, shape with None for a dynamic axis, dtype) of each input, as the module takes it.
SIGNATURE = {signature!r}


def build_module():
{build}


def convert_and_run(inputs):
    import contextlib
    import io

    import nobuco
    import tensorflow as tf
    import torch
    from nobuco import ChannelOrder

    module = build_module().eval()
    args = [torch.from_numpy(array) for array in load_arrays("export_input.npz")]
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):  # its conversion trace, which names the calls it cannot convert
            keras_model = nobuco.pytorch_to_keras(
                module, args=args, input_shapes={{arg: shape for arg, (_, shape, _) in zip(args, SIGNATURE)}},
                input_names={{arg: name for arg, (name, _, _) in zip(args, SIGNATURE)}},
                output_names=dict(enumerate(OUTPUT_NAMES)), trace_shape=True,
                inputs_channel_order=ChannelOrder.PYTORCH, outputs_channel_order=ChannelOrder.PYTORCH)
    finally:
        sys.stderr.write(printed.getvalue())
    with tempfile.TemporaryDirectory() as folder:
        keras_model.save(folder, save_format="tf")
        signature = tf.saved_model.load(folder).signatures["serving_default"]
        specs = signature.structured_input_signature[1]
        outputs = signature(**{{name: tf.constant(array, dtype=specs[name].dtype)
                               for name, array in zip(INPUT_NAMES, inputs)}})
        return [outputs[name].numpy() for name in OUTPUT_NAMES]
'''

# The module a torch export starts from: the generated model (model.py defines build_model from weights.npz), or
# onnx2pytorch's module of an ONNX file (a hop later in a route).
BUILD_GENERATED = '''    sys.path.insert(0, str(HERE))
    from model import build_model  # model.py beside this file: the generated model, weights from weights.npz

    return build_model()'''

BUILD_ONNX2PYTORCH = '''    import onnx
    from onnx2pytorch import ConvertModel  # the module this export starts from is onnx2pytorch's

    return ConvertModel(onnx.load(str(HERE / "source.onnx")))'''


# What each template's finding folder must hold besides input.npz and expected.npz.
TEMPLATE_FILES = {
    "onnx-tf": ("model.onnx",),
    "onnx2pytorch": ("model.onnx",),
    "onnx-snippet": ("model.onnx",),
    "tf2onnx-keras": ("model.keras",),
    "keras-export": ("model.keras",),
    "tf2onnx-saved-model": ("saved_model",),
    "torch-generated": ("model.py", "weights.npz", "export_input.npz"),
    "torch-onnx2pytorch": ("source.onnx", "export_input.npz"),
    "litert-torch": ("model.py", "weights.npz", "export_input.npz"),
    "nobuco": ("model.py", "weights.npz", "export_input.npz"),
}

# An ONNX input without a template of its own: the converter record's localizer snippet, given the file's model.
ONNX_SNIPPET = '''
SOURCE = "model.onnx"  # the ONNX model the converter is given
{snippet}

def convert_and_run(inputs):
    import onnx

    model = onnx.load(str(HERE / SOURCE))
    initializers = {{tensor.name for tensor in model.graph.initializer}}
    names = [value.name for value in model.graph.input if value.name not in initializers]
    return convert_model_and_run(model, dict(zip(names, inputs)), names, OUTPUT_NAMES)
'''


@dataclass(frozen=True)
class ReproPlan:
    """What a finding's repro.py needs: which template, the files it reads beside it, what it imports."""

    package: str  # the failing converter's distribution
    kind: str  # a key of TEMPLATE_FILES
    files: tuple[str, ...]  # what the finding folder must hold besides input.npz and expected.npz
    packages: tuple[str, ...]  # what the repro imports, as a user would install them to run it
    snippet: str = ""  # the converter's convert_and_run snippet, for the onnx-snippet template


def plan_for(converter: Any, source_format: str) -> ReproPlan:
    """The repro for a hop, from its converter's record and the format of the artifact it converted."""
    kind = converter.repro_kinds.get(source_format)
    if kind is None and source_format == "onnx" and converter.repro_snippet:
        kind = "onnx-snippet"
    if kind is None:
        raise ValueError(f"no standalone repro for converter {converter.name} from {source_format}")
    extra = ("onnx2pytorch",) if kind == "torch-onnx2pytorch" else ()
    snippet = (converter.repro_snippet or "").replace("def convert_and_run(", "def convert_model_and_run(")
    return ReproPlan(converter.package, kind, TEMPLATE_FILES[kind], (*converter.repro_packages, *extra),
                     snippet if kind == "onnx-snippet" else "")


def shared_rules(rule: str) -> str:
    """The harness's own tolerance rule (oracle.compare.rule_source, passed in: the oracle sits above this floor)
    and its most-telling-line of an error, verbatim, for every generated repro."""
    return "\n\n# -- the tolerance rule and error line of parity's verdict, verbatim " + "-" * 30 + "\n\n" + rule + \
        "\n\n" + describe_error_source() + "\n"


def render(plan: ReproPlan, *, title: str, what: str, input_names: list[str], output_names: list[str],
           rule: str, opset: int | None = None, dynamo: bool = False,
           dynamic_axes: dict[str, dict[int, str]] | None = None,
           signature: list[tuple[str, list[int | None], str]] | None = None) -> str:
    """The text of repro.py. Every value is written with repr(): nothing read from a finding is ever code.
    rule: oracle.compare.rule_source(), embedded verbatim."""
    header = HEADER.format(title=title.replace('"""', "'''"), what=what.replace('"""', "'''"),
                           packages=", ".join(plan.packages), input_names=list(input_names),
                           output_names=list(output_names))
    body: dict[str, str] = {
        "onnx-tf": ONNX_TF,
        "onnx2pytorch": ONNX2PYTORCH,
        "onnx-snippet": ONNX_SNIPPET.format(snippet=plan.snippet),
        "tf2onnx-keras": TF2ONNX_KERAS.format(opset=opset, signature=signature or []),
        "keras-export": KERAS_EXPORT.format(opset=opset, signature=signature or []),
        "tf2onnx-saved-model": TF2ONNX_SAVED_MODEL.format(opset=opset),
        "torch-generated": TORCH_EXPORT.format(dynamo=dynamo, opset=opset, dynamic_axes=dynamic_axes or {},
                                               build=BUILD_GENERATED),
        "torch-onnx2pytorch": TORCH_EXPORT.format(dynamo=dynamo, opset=opset, dynamic_axes=dynamic_axes or {},
                                                  build=BUILD_ONNX2PYTORCH),
        "litert-torch": LITERT_TORCH.format(build=BUILD_GENERATED),
        "nobuco": NOBUCO.format(signature=signature or [], build=BUILD_GENERATED),
    }
    return header + body[plan.kind] + shared_rules(rule) + COMMON


def keras_signature(io: dict[str, Any]) -> list[tuple[str, list[int | None], str]]:
    """tf2onnx's input signature, as the harness gives it: symbolic dims as None."""
    return [(str(spec["name"]), [None if isinstance(dim, str) else int(dim) for dim in spec["shape"]],
             str(spec["dtype"])) for spec in io["inputs"]]
