"""A user's own model as a route source: recognise what MODEL names, read its declared inputs, build it.

The describe_* and build_* functions run inside a stack worker (through the "call" task): they import
onnx, TensorFlow or torch. The rest runs in the controller and imports no framework.
"""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import ModelInputError, UsageError, describe_error, first_line
from harness.execution.stacks import harness_import_root
from harness.execution.worker import add_caller_dir, import_object
from harness.spec import INT_DTYPES, InputSpec

DEFAULT_DIM_BOUNDS = (1, 4)
MAX_EXAMPLE_BYTES = 2**30  # one input of one example; hypothesis makes tens, each held by several processes
REQUIRES_HINT = "--requires PKG==VERSION, or requires = [...] under [tool.parity] in the project's pyproject.toml"
FACTORY_PATTERN = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


@dataclass(frozen=True)
class UserModel:
    kind: str  # "onnx", "tf" (SavedModel), "keras" (.keras file), "factory"
    location: str  # the path, or "package.module:function"

    @property
    def name(self) -> str:
        stem = self.location.rsplit(":", 1)[-1] if self.kind == "factory" else Path(self.location).stem
        return safe_name(stem or "model")


def safe_name(text: str) -> str:
    """A name that is safe as one path component: letters, digits, '_', '-', '.'; never '..'."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "_", text).strip(".") or "model"
    return cleaned[:80]


def recognise(model: str) -> UserModel:
    path = Path(model)
    if path.is_dir():
        if not (path / "saved_model.pb").is_file():
            raise ModelInputError(f"{model} is a directory without saved_model.pb; pass a SavedModel directory, "
                                  "an .onnx or .keras file, or package.module:factory")
        if not (path / "variables").is_dir():
            raise ModelInputError(f"SavedModel {model} has no variables/ directory; export it again with "
                                  "tf.saved_model.save or model.export (a SavedModel needs its variables)")
        return UserModel("tf", str(path.resolve()))
    if path.is_file():
        if path.suffix == ".onnx":
            return UserModel("onnx", str(path.resolve()))
        if path.suffix == ".keras":
            return UserModel("keras", str(path.resolve()))
        raise ModelInputError(f"{model}: unknown model file type {path.suffix or '(none)'!r}; "
                              "pass an .onnx or .keras file, a SavedModel directory, or package.module:factory")
    if FACTORY_PATTERN.match(model):
        return UserModel("factory", model)
    raise ModelInputError(f"{model}: no such file or directory, and not a package.module:factory reference")


def parse_input(text: str, dim_bounds: dict[str, tuple[int, int]]) -> InputSpec:
    """NAME:SHAPE:DTYPE[:HIGH], e.g. x:Bx3x224x224:float32 or tokens:Bx24:int64:1000 (ids below 1000)."""
    parts = text.split(":")
    if len(parts) not in (3, 4) or not parts[0] or not parts[1]:
        raise ModelInputError(f"--input {text!r}: expected NAME:SHAPE:DTYPE[:HIGH], e.g. x:Bx3x224x224:float32")
    name, shape_text, dtype = parts[:3]
    shape: list[int | str] = []
    for dim in shape_text.split("x"):
        if dim.isdigit() and int(dim) > 0:
            shape.append(int(dim))
        elif re.fullmatch(r"[A-Za-z_]\w*", dim):
            shape.append(dim)
        else:
            raise ModelInputError(f"--input {text!r}: dimension {dim!r} is neither a positive size nor a name")
    high = None
    if len(parts) == 4:
        if not parts[3].isdigit() or int(parts[3]) < 1:
            raise ModelInputError(f"--input {text!r}: HIGH must be a positive integer (the vocabulary size)")
        high = int(parts[3])
    bounds = {dim: dim_bounds.get(dim, DEFAULT_DIM_BOUNDS) for dim in shape if isinstance(dim, str)}
    domain = "index" if high is not None else "real"
    if dtype in INT_DTYPES and high is None:
        raise ModelInputError(f"--input {text!r}: an integer input needs HIGH (exclusive upper bound), "
                              f"e.g. {name}:{shape_text}:{dtype}:1000")
    try:
        return InputSpec(name=name, shape=tuple(shape), dtype=dtype, domain=domain, dim_bounds=bounds, high=high)
    except ValueError as exc:
        raise ModelInputError(f"--input {text!r}: {exc}") from exc


def parse_dim(text: str) -> tuple[str, tuple[int, int]]:
    """NAME=LOW:HIGH, the bounds of a symbolic dimension."""
    match = re.fullmatch(r"([A-Za-z_]\w*)=(\d+):(\d+)", text)
    if not match or not 1 <= int(match[2]) <= int(match[3]):
        raise ModelInputError(f"--dim {text!r}: expected NAME=LOW:HIGH with 1 <= LOW <= HIGH, e.g. B=1:8")
    return match[1], (int(match[2]), int(match[3]))


def inputs_from_declaration(declared: list[dict[str, Any]], dim_bounds: dict[str, tuple[int, int]],
                            model: str) -> list[InputSpec]:
    """InputSpecs from what the model declares: a dim the model leaves unnamed and unsized needs --input."""
    specs = []
    for entry in declared:
        shape: list[int | str] = []
        for axis, dim in enumerate(entry["shape"]):
            if isinstance(dim, int) and dim < 1:
                raise ModelInputError(f"{model}: input {entry['name']!r} declares dimension {dim} on axis {axis}; "
                                      "a size must be positive (export the model again, or pass "
                                      f"--input {entry['name']}:SHAPE:{entry['dtype']})")
            if dim is None:
                if axis != 0:
                    raise ModelInputError(f"{model}: input {entry['name']!r} axis {axis} has no declared size; "
                                          f"pass --input {entry['name']}:SHAPE:{entry['dtype']}")
                dim = "B"
            shape.append(dim)
        if entry["dtype"] in INT_DTYPES:
            raise ModelInputError(f"{model}: input {entry['name']!r} is {entry['dtype']}; its valid range is not "
                                  f"declared, pass --input {entry['name']}:SHAPE:{entry['dtype']}:HIGH")
        bounds = {dim: dim_bounds.get(dim, DEFAULT_DIM_BOUNDS) for dim in shape if isinstance(dim, str)}
        try:
            specs.append(InputSpec(name=entry["name"], shape=tuple(shape), dtype=entry["dtype"], dim_bounds=bounds))
        except ValueError as exc:
            raise ModelInputError(f"{model}: input {entry['name']!r}: {exc}") from exc
    return specs


def check_example_size(specs: list[InputSpec], model: str) -> None:
    """Refuse inputs whose largest example would not fit in a worker: the harness allocates every example."""
    import numpy as np

    for spec in specs:
        elements = 1
        for dim in spec.shape:
            elements *= dim if isinstance(dim, int) else spec.dim_bounds[dim][1]
        size = elements * np.dtype(spec.dtype).itemsize
        if size > MAX_EXAMPLE_BYTES:
            shape = "x".join(str(dim) for dim in spec.shape)
            raise ModelInputError(f"{model}: input {spec.name!r} ({shape} {spec.dtype}) would take "
                                  f"{size / 2**30:.3g} GiB per example at its largest; dimensions this large "
                                  "cannot be fed (the limit is "
                                  f"{MAX_EXAMPLE_BYTES // 2**30} GiB): pass --input and --dim with smaller sizes")


def check_against_declaration(given: list[InputSpec], declared: list[dict[str, Any]], model: str) -> None:
    if len(given) != len(declared):
        raise ModelInputError(f"{model} declares {len(declared)} inputs ({', '.join(d['name'] for d in declared)}) "
                              f"but --input gave {len(given)}")
    for spec, entry in zip(given, declared):
        if len(spec.shape) != len(entry["shape"]):
            raise ModelInputError(f"--input {spec.name}: rank {len(spec.shape)}, but {model} declares input "
                                  f"{entry['name']!r} with rank {len(entry['shape'])} {entry['shape']}")
        for axis, (mine, theirs) in enumerate(zip(spec.shape, entry["shape"])):
            if isinstance(mine, int) and isinstance(theirs, int) and mine != theirs:
                raise ModelInputError(f"--input {spec.name}: axis {axis} is {mine}, but {model} fixes it to {theirs}")
        if spec.dtype != entry["dtype"]:
            raise ModelInputError(f"--input {spec.name}: dtype {spec.dtype}, but {model} declares {entry['dtype']}")


def project_requirements(folder: Path) -> list[str]:
    """What `[tool.parity] requires` in the project's pyproject.toml (in `folder`, where parity runs) lists: the
    packages its models need besides the stack's. Read as TOML, never executed."""
    import tomllib

    path = folder / "pyproject.toml"
    if not path.is_file():
        return []
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: not valid TOML ({str(exc).splitlines()[0][:160]})") from None
    tool = data.get("tool", {})
    table = tool.get("parity", {}) if isinstance(tool, dict) else {}
    requires = table.get("requires", []) if isinstance(table, dict) else []
    if not isinstance(requires, list) or not all(isinstance(line, str) for line in requires):
        raise UsageError(f"{path}: [tool.parity] requires must be a list of requirement strings, "
                         'e.g. requires = ["timm==1.0.31"]')
    return list(requires)


def detect_factory_framework(factory: str, python: Path, env: dict[str, str]) -> str:
    """Which framework a factory's model belongs to, found in a throwaway process of the stack (never
    in a worker: it may import either framework)."""
    # Run from the harness's own folder: `-m` puts the working directory first on sys.path, ahead of site-packages.
    completed = subprocess.run([str(python), "-m", "harness.run.user_model", "detect", factory],
                               capture_output=True, text=True, env=env, cwd=harness_import_root())
    lines = completed.stdout.strip().splitlines()
    if completed.returncode != 0 or not lines:
        last = (completed.stderr.strip().splitlines() or ["no output"])[-1]
        raise ModelInputError(f"cannot inspect factory {factory}: {last[:200]}")
    verdict = json.loads(lines[-1])
    if "error" in verdict:
        raise ModelInputError(verdict["error"])
    return str(verdict["framework"])


def _detect(factory: str) -> dict[str, str]:
    module_name = factory.split(":", 1)[0]
    try:
        importlib.import_module(module_name)
    except Exception as exc:
        return {"error": f"cannot import {module_name!r} for factory {factory}: {type(exc).__name__}: {exc}; "
                         f"run parity from the directory that holds the package; a package it needs that the stack "
                         f"lacks: {REQUIRES_HINT}"}
    loaded = set(sys.modules)
    if {"tensorflow", "keras"} & loaded:
        return {"framework": "keras"}
    if "torch" in loaded:
        return {"framework": "torch"}
    # The module imports its framework lazily: build the model once and look at what it is.
    try:
        model = _call_factory(factory)
    except ModelInputError as exc:
        return {"error": str(exc)}
    roots = {cls.__module__.split(".")[0] for cls in type(model).__mro__}
    if "torch" in roots:
        return {"framework": "torch"}
    if roots & {"keras", "tensorflow"}:
        return {"framework": "keras"}
    return {"error": f"factory {factory} returned {type(model).__name__}; it must return a torch nn.Module "
                     "or a Keras model"}


# -- run inside a worker ---------------------------------------------------------------------------

def _tensor_entry(name: str, dtype: Any, dims: list[int | str | None]) -> dict[str, Any]:
    import numpy as np

    return {"name": name, "dtype": np.dtype(dtype).name, "shape": dims}


def describe_onnx(path: str) -> dict[str, Any]:
    import onnx
    from onnx import helper
    from onnx.external_data_helper import _get_all_tensors, uses_external_data

    try:
        model = onnx.load(path, load_external_data=False)  # nothing beside the file is read
    except Exception as exc:
        first = first_line(exc)
        raise ModelInputError(f"{path} is not a valid ONNX model ({type(exc).__name__}: {first[:200]})") from None
    # The converters read the one .onnx file they are given; data kept in other files (which could be
    # anywhere on the machine) is refused before the checker or anything else would look at it.
    external = next((tensor for tensor in _get_all_tensors(model) if uses_external_data(tensor)), None)
    if external is not None:
        location = next((entry.value for entry in external.external_data if entry.key == "location"), "?")
        raise ModelInputError(f"{path} keeps tensor {external.name!r} in an external data file ({location[:80]!r}); "
                              "parity check takes a self-contained model: save it with "
                              "onnx.save(model, path, save_as_external_data=False)")
    newest = onnx.defs.onnx_opset_version()
    for opset in model.opset_import:
        if opset.domain in ("", "ai.onnx") and not 1 <= opset.version <= newest:
            raise ModelInputError(f"{path} declares ai.onnx opset {opset.version}, but onnx {onnx.__version__} "
                                  f"knows opsets 1 to {newest}; export it again with a supported opset")
    try:
        onnx.checker.check_model(model)
        initializers = {tensor.name for tensor in model.graph.initializer}
        inputs = []
        for graph_input in model.graph.input:
            if graph_input.name in initializers:
                continue
            tensor_type = graph_input.type.tensor_type
            if not graph_input.type.HasField("tensor_type"):
                raise ModelInputError(f"{path}: input {graph_input.name!r} is not a tensor; "
                                      "only tensor inputs are supported")
            dims: list[int | str | None] = [d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
                                            for d in tensor_type.shape.dim]
            dtype = helper.tensor_dtype_to_np_dtype(tensor_type.elem_type)
            inputs.append(_tensor_entry(graph_input.name, dtype, dims))
    except ModelInputError:
        raise
    except Exception as exc:
        first = first_line(exc)
        raise ModelInputError(f"{path} is not a valid ONNX model ({type(exc).__name__}: {first[:200]})") from None
    return {"inputs": inputs, "outputs": [output.name for output in model.graph.output]}


def describe_saved_model(path: str) -> dict[str, Any]:
    import tensorflow as tf

    try:
        signature = tf.saved_model.load(path).signatures["serving_default"]
    except Exception as exc:
        first = first_line(exc)
        raise ModelInputError(f"{path}: cannot load the SavedModel's serving_default signature "
                              f"({first[:200]})") from None
    specs = signature.structured_input_signature[1]
    inputs = [_tensor_entry(name, spec.dtype.as_numpy_dtype, list(spec.shape.as_list()))
              for name, spec in sorted(specs.items())]
    return {"inputs": inputs, "outputs": sorted(signature.structured_outputs)}


def describe_keras(path: str) -> dict[str, Any]:
    import keras

    try:
        model = keras.saving.load_model(path)  # safe_mode stays on: no arbitrary code from the file
    except Exception as exc:
        first = first_line(exc)
        raise ModelInputError(f"{path}: cannot load the Keras model ({first[:200]})") from None
    return describe_keras_model(model)


def describe_keras_model(model: Any) -> dict[str, Any]:
    inputs = [_tensor_entry(tensor.name, tensor.dtype, list(tensor.shape)) for tensor in model.inputs]
    return {"inputs": inputs, "outputs": list(getattr(model, "output_names", None) or
                                            [f"output_{i}" for i in range(len(model.outputs))])}


def _call_factory(factory: str) -> Any:
    target = import_object(factory)
    try:
        return target()
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [""])[0]
        fix = (f"a package it needs that the stack lacks: {REQUIRES_HINT}" if isinstance(exc, ModuleNotFoundError)
               else "fix the factory (it is called with no arguments)")
        raise ModelInputError(f"factory {factory} raised {type(exc).__name__}: {first[:200]}; {fix}") from None


def rebuild_factory(directory: Path, factory: str) -> Any:
    return _call_factory(factory)


TRAINED_LOOK_SEED = 0  # the re-initialisation draws from this seed: the same weights on every check


def build_torch_factory(factory: str, target: str, trained_look: bool = False) -> dict[str, Any]:
    """Build the factory's module and save it; with trained_look, re-initialised as the zoo's real
    architectures are (model_zoo.trained_look), so that its verdicts are not vacuous."""
    import torch

    from harness.execution.torch_artifact import save_torch_module

    module = _call_factory(factory)
    if not isinstance(module, torch.nn.Module):
        raise ModelInputError(f"factory {factory} returned {type(module).__name__}, not a torch nn.Module")
    if trained_look:
        from model_zoo.trained_look import look_trained_torch

        torch.manual_seed(TRAINED_LOOK_SEED)
        module = look_trained_torch(module)
    save_torch_module(Path(target), module.eval(), f"{__name__}:rebuild_factory", factory=factory)
    return {"inputs": [], "outputs": []}


def build_keras_factory(factory: str, target: str, trained_look: bool = False) -> dict[str, Any]:
    import keras

    model = _call_factory(factory)
    if not isinstance(model, keras.Model):
        raise ModelInputError(f"factory {factory} returned {type(model).__name__}, not a keras.Model")
    if trained_look:
        from model_zoo.trained_look import look_trained_keras

        keras.utils.set_random_seed(TRAINED_LOOK_SEED)
        model = look_trained_keras(model)
    model.save(target)
    return describe_keras_model(model)


def count_torch_outputs(artifact: str, example: str, names: list[str]) -> int:
    import torch

    from harness.execution.torch_artifact import load_torch_module
    from harness.execution.worker import load_npz

    module = load_torch_module(Path(artifact))
    arrays = load_npz(example)
    try:
        with torch.no_grad():
            outputs = module(*(torch.from_numpy(array) for array in arrays))
    except Exception as exc:  # the model itself refuses what --input describes: the user's to fix, in one line
        given = ", ".join(f"{name} {tuple(array.shape)} {array.dtype}" for name, array in zip(names, arrays))
        raise ModelInputError(f"the model rejects the inputs --input describes ({given}, at the largest size "
                              f"--dim allows): {describe_error(exc)}; give its real input shapes") from None
    return len(outputs) if isinstance(outputs, (list, tuple, dict)) else 1


if __name__ == "__main__" and sys.argv[1:2] == ["detect"]:
    add_caller_dir()
    print(json.dumps(_detect(sys.argv[2])))
