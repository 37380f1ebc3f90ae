"""The baseline `parity bench` measures the harness against: what a careful user writes by hand.

One long-lived process per stack and framework (torch and TensorFlow segfault together), making the
converter calls and running the artifacts, and nothing else: no twin, no float64 truth, no comparison,
no artifact format of its own (a converted torch or Keras model stays in memory, as in a user's script).
It imports nothing from the harness but errors.describe_error (the standard library's re alone), so a failure
reads as the harness words it; otherwise only the user's model code (model_zoo) and the converters.

Run as `STACK_PYTHON harness/bench/bare_script.py`; it reads one JSON command a line on stdin and answers one
JSON line on stdout: {"ok": bool, "seconds": float (inside this process), "error": str, "failed": int}.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

import numpy as np

from harness.errors import describe_error

OPSET = 17  # what tf2onnx and the TorchScript exporter are called with in the harness too
SIGNATURE = "serving_default"
ORT_DTYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(int64)": np.int64,
              "tensor(int32)": np.int32, "tensor(bool)": np.bool_}

models: dict[str, Any] = {}  # what the user holds in memory: source models, converted torch modules, loaded artifacts


def load_inputs(path: str) -> list[np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return [data[key] for key in data.files]


def load_torch_source(command: dict[str, Any]) -> None:
    import torch

    from model_zoo import all_models

    build = all_models()[command["model"]].build_torch
    if build is None:
        raise ValueError(f"zoo model {command['model']!r} has no torch builder")
    module = build()
    module.load_state_dict(torch.load(command["state_dict"], weights_only=True))
    models[command["key"]] = module.eval()


def load_keras_source(command: dict[str, Any]) -> None:
    import keras

    models[command["key"]] = keras.saving.load_model(command["path"])


def torch_to_onnx(command: dict[str, Any]) -> None:
    import inspect

    import torch

    module = models[command["key"]]
    args = tuple(torch.from_numpy(array) for array in load_inputs(command["example"]))
    inputs = command["inputs"]  # [{"name", "shape"}], symbolic dims as strings
    options: dict[str, Any]
    if command["variant"] == "dynamo":
        per_input = tuple({axis: torch.export.Dim.DYNAMIC for axis, dim in enumerate(spec["shape"])
                           if isinstance(dim, str)} or None for spec in inputs)
        parameters = list(inspect.signature(module.forward).parameters.values())
        varargs = parameters and parameters[0].kind is inspect.Parameter.VAR_POSITIONAL
        options = {"dynamo": True, "dynamic_shapes": (per_input,) if varargs else per_input}
    else:
        axes = {name: {int(axis): dim for axis, dim in dims.items()} for name, dims in command["dynamic_axes"].items()}
        options = {"dynamo": False, "opset_version": OPSET, "dynamic_axes": axes}
    torch.onnx.export(module, args, command["target"], input_names=[spec["name"] for spec in inputs],
                      output_names=command["outputs"], **options)
    check_onnx(command["target"])


def check_onnx(path: str) -> None:
    """A careful user checks the ONNX file a converter wrote: some log an unsupported op and write one anyway."""
    import onnx

    onnx.checker.check_model(path)


def onnx_to_torch(command: dict[str, Any]) -> Any:
    import onnx
    from onnx2pytorch import ConvertModel

    return ConvertModel(onnx.load(command["path"]))


def onnx_to_tf(command: dict[str, Any]) -> None:
    import onnx
    from onnx_tf.backend import prepare

    prepare(onnx.load(command["path"])).export_graph(command["target"])


def keras_to_onnx(command: dict[str, Any]) -> None:
    import tensorflow as tf
    import tf2onnx

    signature = [tf.TensorSpec([None if isinstance(dim, str) else dim for dim in spec["shape"]], spec["dtype"],
                               name=spec["name"]) for spec in command["inputs"]]
    tf2onnx.convert.from_keras(models[command["key"]], input_signature=signature, opset=OPSET,
                               output_path=command["target"])
    check_onnx(command["target"])


def saved_model_to_onnx(command: dict[str, Any]) -> None:
    import tensorflow as tf
    from tf2onnx import convert, tf_loader

    # The two calls tf2onnx's CLI main() makes, with its defaults: what the harness calls too.
    graph_def, inputs, outputs, tables, renames = tf_loader.from_saved_model(
        command["path"], None, None, tag=None, signatures=[SIGNATURE], concrete_function=None, large_model=False,
        return_initialized_tables=True, return_tensors_to_rename=True, use_graph_names=False)
    with tf.device("/cpu:0"):
        convert._convert_common(
            graph_def, name=command["path"], continue_on_error=False, target=[], opset=OPSET,
            custom_op_handlers={}, extra_opset=[], shape_override=None, input_names=inputs, output_names=outputs,
            inputs_as_nchw=None, outputs_as_nchw=None, large_model=False, tensors_to_rename=renames,
            ignore_default=None, use_default=None, tflite_path=None, dequantize=False, tfjs_path=None,
            initialized_tables=tables, output_frozen_graph=None, output_path=command["target"])
    check_onnx(command["target"])


def onnx2tf_convert(command: dict[str, Any], out: str, saved_model: bool) -> None:
    import onnx
    import onnx2tf

    graph = onnx.load(command["path"], load_external_data=False).graph
    initializers = {tensor.name for tensor in graph.initializer}
    # The inputs' layout kept, as the harness keeps it: onnx2tf would make 4-D and 3-D inputs channels-last.
    onnx2tf.convert(input_onnx_file_path=command["path"], output_folder_path=out, non_verbose=True,
                    keep_shape_absolutely_input_names=[v.name for v in graph.input if v.name not in initializers],
                    flatbuffer_direct_output_saved_model=saved_model)


def onnx_to_tflite(command: dict[str, Any]) -> None:
    import glob
    import shutil

    out = command["target"] + "_onnx2tf"
    onnx2tf_convert(command, out, saved_model=False)
    shutil.copyfile(glob.glob(f"{out}/*_float32.tflite")[0], command["target"])


def onnx_to_tf_onnx2tf(command: dict[str, Any]) -> None:
    onnx2tf_convert(command, command["target"], saved_model=True)  # the SavedModel beside onnx2tf's other files


def keras_export_to_onnx(command: dict[str, Any]) -> None:
    import tensorflow as tf

    specs = [tf.TensorSpec([None if isinstance(dim, str) else dim for dim in spec["shape"]], spec["dtype"],
                           name=spec["name"]) for spec in command["inputs"]]
    # With the signature: Keras 3.15 refuses a model read from a .keras file without one ("has never called").
    models[command["key"]].export(command["target"], format="onnx", input_signature=specs if len(specs) == 1
                                  else [specs])
    check_onnx(command["target"])


def onnx_slim(command: dict[str, Any]) -> None:
    import onnxslim

    onnxslim.slim(command["path"], command["target"])
    check_onnx(command["target"])


def runnable(kind: str, command: dict[str, Any]) -> Any:
    """The model to run: held in memory, or loaded from its file once."""
    key = command.get("key") or f"{kind}:{command['path']}"
    if key not in models:
        if kind == "onnx":
            import onnxruntime

            models[key] = onnxruntime.InferenceSession(command["path"], providers=["CPUExecutionProvider"])
        elif kind == "tf":
            import tensorflow as tf

            loaded = tf.saved_model.load(command["path"])
            models[key] = (loaded, loaded.signatures[SIGNATURE])  # the object keeps the variables alive
        elif kind == "tflite":
            from ai_edge_litert.interpreter import Interpreter

            models[key] = Interpreter(model_path=command["path"]).get_signature_runner()
    return models[key]


def run_once(kind: str, model: Any, names: list[str], inputs: list[np.ndarray]) -> list[Any]:
    if kind == "torch":
        import torch

        with torch.no_grad():
            outputs = model(*(torch.from_numpy(array) for array in inputs))
        return [out.numpy() for out in (outputs if isinstance(outputs, (list, tuple)) else [outputs])]
    if kind == "keras":
        outputs = model(inputs if len(inputs) > 1 else inputs[0], training=False)
        return [np.asarray(out) for out in (outputs if isinstance(outputs, (list, tuple)) else [outputs])]
    if kind == "onnx":
        feed = {graph_input.name: array.astype(ORT_DTYPES.get(graph_input.type, array.dtype), copy=False)
                for graph_input, array in zip(model.get_inputs(), inputs)}
        return list(model.run(None, feed))
    if kind == "tflite":
        details = model.get_input_details()
        order = [name for name in names if name in details] if set(names) <= set(details) else sorted(details)
        outputs = model(**{name: array.astype(details[name]["dtype"], copy=False)
                           for name, array in zip(order, inputs)})
        return [outputs[name] for name in sorted(outputs)]
    import tensorflow as tf

    signature = model[1]
    specs = signature.structured_input_signature[1]
    order = [name for name in names if name in specs] if set(names) <= set(specs) else sorted(specs)
    results = signature(**{name: tf.constant(array.astype(specs[name].dtype.as_numpy_dtype, copy=False))
                           for name, array in zip(order, inputs)})
    return [results[name].numpy() for name in sorted(results)]


def run(command: dict[str, Any]) -> int:
    """Run one model on every input file and save its outputs; the number of inputs it failed on."""
    kind = command["kind"]
    model = runnable(kind, command)
    failed = 0
    for input_path, output_path in zip(command["inputs"], command["outputs"]):
        try:
            outputs = run_once(kind, model, command["input_names"], load_inputs(input_path))
        except Exception as exc:  # a user's loop notes the failing input and goes on
            print(f"run failed on {input_path}: {type(exc).__name__}: {exc}", file=sys.stderr)
            failed += 1
            continue
        np.savez(output_path, *outputs)
    return failed


def warm(command: dict[str, Any]) -> None:
    """Import what this process will use: its start-up, timed apart from the work. `parity bench` has the
    harness's workers call this too, so start-up means the same on both sides."""
    import importlib

    for module in command["modules"]:
        importlib.import_module(module)


# The converter calls a converter's record may name as its bare_call; a plugin names "module:function" instead.
# A call gets the command (the previous model as "key" in memory or "path" on disk, "target", the route's io)
# and returns the converted model to hold in memory, or None when it wrote "target".
CONVERSIONS = {
    "torch_to_onnx": torch_to_onnx, "onnx_to_torch": onnx_to_torch, "onnx_to_tf": onnx_to_tf,
    "keras_to_onnx": keras_to_onnx, "saved_model_to_onnx": saved_model_to_onnx, "onnx_to_tflite": onnx_to_tflite,
    "onnx_to_tf_onnx2tf": onnx_to_tf_onnx2tf, "keras_export_to_onnx": keras_export_to_onnx, "onnx_slim": onnx_slim,
}


def convert(command: dict[str, Any]) -> bool:
    """One hop's converter call; True when its result is held in memory under command["holder"]."""
    call = command["call"]
    if ":" in call:  # an installed plugin's own call, as its user would write it
        import importlib

        module, _, function = call.partition(":")
        converted = getattr(importlib.import_module(module), function)(command)
    else:
        converted = CONVERSIONS[call](command)
    if converted is None:
        return False
    models[command["holder"]] = converted
    return True


OPERATIONS = {"load_torch_source": load_torch_source, "load_keras_source": load_keras_source, "convert": convert,
              "run": run, "warm": warm}


def main() -> int:
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # converters print; only replies go to the real stdout
    for line in sys.stdin:
        command = json.loads(line)
        started = time.perf_counter()
        reply: dict[str, Any] = {"ok": True, "error": "", "failed": 0}
        try:
            result = OPERATIONS[command["op"]](command)
            if isinstance(result, bool):
                reply["held"] = result
            else:
                reply["failed"] = result if isinstance(result, int) else 0
        except Exception as exc:
            reply = {"ok": False, "error": describe_error(exc), "failed": 0}
        reply["seconds"] = time.perf_counter() - started
        replies.write(json.dumps(reply) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
