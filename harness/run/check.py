"""`parity check MODEL`: a user's own model through every route that starts from its framework."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.converters import default_converters
from harness.converters.routes import Route, enumerate_routes
from harness.errors import ModelInputError, UsageError
from harness.execution.pool import worker_environment
from harness.execution.stacks import get_stack
from harness.formats import FORMATS, KERAS, ONNX, SAVED_MODEL, TORCH, Format
from harness.run.engine import TRAINED_LOOK, Engine, save_inputs
from harness.run.inputs import build_example, largest_recipe
from harness.run.user_model import (
    UserModel,
    check_against_declaration,
    check_example_size,
    detect_factory_framework,
    inputs_from_declaration,
    parse_dim,
    parse_input,
    recognise,
)
from harness.spec import InputSpec, ModelSpec, OutputSpec


def _no_twin(*args: Any) -> Any:
    raise RuntimeError("a user model has no twin to build")


@dataclass(frozen=True)
class CheckRequest:
    """What the command line says about the user's model, read and checked before any worker starts."""

    model: str  # as given
    user: UserModel
    given: tuple[InputSpec, ...]  # from --input
    dim_bounds: dict[str, tuple[int, int]]  # from --dim
    source: Format
    trained_look: bool = False  # --trained-look: a factory's model re-initialised to look trained


def read_check_request(model: str, *, inputs: Sequence[str] = (), dims: Sequence[str] = (),
                       trained_look: bool = False) -> CheckRequest:
    """Recognise MODEL, parse --input and --dim, and for a factory find its framework (in a throwaway process of
    the stack, not a worker): a torch module declares no inputs, so it needs --input, which is said now rather
    than after the workers have started and built it."""
    user = recognise(model)
    if trained_look and user.kind != "factory":
        raise UsageError(f"--trained-look re-initialises the model a factory builds; {model} is a saved model, "
                         "whose weights are its own: pass package.module:factory")
    dim_bounds = dict(parse_dim(text) for text in dims)
    given = tuple(parse_input(text, dim_bounds) for text in inputs)
    if given:
        check_example_size(list(given), model)
    source = {"onnx": ONNX, "tf": SAVED_MODEL, "keras": KERAS}.get(user.kind)
    if source is None:
        framework = detect_factory_framework(user.location, get_stack("current").ensure(), worker_environment())
        source = TORCH if framework == "torch" else KERAS
        if source is TORCH and not given:
            raise ModelInputError(f"{model}: a torch module declares no inputs; pass --input NAME:SHAPE:DTYPE, "
                                  "e.g. --input x:Bx3x224x224:float32")
    return CheckRequest(model, user, given, dim_bounds, source, trained_look)


def prepare_user_model(engine: Engine, request: CheckRequest) -> tuple[ModelSpec, Format]:
    """Read or take the model's inputs, put its source artifact in place; register it."""
    model, user, source = request.model, request.user, request.source
    given, dim_bounds = list(request.given), request.dim_bounds
    source_dir = engine.run_dir / user.name / "source"
    source_dir.mkdir(parents=True, exist_ok=True)
    declared: dict[str, Any] | None
    if user.kind == "onnx":
        artifact = Path(user.location)
        declared = engine.call_function("current", "none", "harness.run.user_model:describe_onnx", path=user.location)
    elif user.kind == "tf":
        artifact = Path(user.location)
        declared = engine.call_function("current", "tf", "harness.run.user_model:describe_saved_model",
                                        path=user.location)
    elif user.kind == "keras":
        artifact = Path(user.location)
        declared = engine.call_function("current", "tf", "harness.run.user_model:describe_keras", path=user.location)
    else:
        artifact = source_dir / source.filename
        function = "build_torch_factory" if source is TORCH else "build_keras_factory"
        declared = engine.call_function("current", source.family,
                                        f"harness.run.user_model:{function}", factory=user.location,
                                        target=str(artifact), trained_look=request.trained_look)
        if source is TORCH:
            declared = None  # a torch module declares no inputs
    if given and declared:
        check_against_declaration(given, declared["inputs"], model)
    input_specs = given or (inputs_from_declaration(declared["inputs"], dim_bounds, model) if declared else [])
    check_example_size(input_specs, model)
    if not input_specs:
        raise ModelInputError(f"{model}: a torch module declares no inputs; pass --input NAME:SHAPE:DTYPE, "
                              "e.g. --input x:Bx3x224x224:float32")
    tags = frozenset({TRAINED_LOOK} if request.trained_look else ())
    spec = ModelSpec(name=user.name, family="user", build_torch=_no_twin, build_keras=_no_twin,
                     transfer_weights=_no_twin, inputs=tuple(input_specs), outputs=(OutputSpec("output"),),
                     description=model, tags=tags)
    if declared and declared["outputs"]:
        names = [str(name) for name in declared["outputs"]]
    else:
        example = save_inputs(source_dir / "probe_example.npz", spec, source,
                              build_example(spec, largest_recipe(spec)))
        count = engine.call_function("current", "torch", "harness.run.user_model:count_torch_outputs",
                                     artifact=str(artifact), example=str(example),
                                     names=[input_spec.name for input_spec in spec.inputs])
        names = ["output"] if count == 1 else [f"output_{i}" for i in range(count)]
    spec = ModelSpec(name=spec.name, family="user", build_torch=_no_twin, build_keras=_no_twin,
                     transfer_weights=_no_twin, inputs=spec.inputs,
                     outputs=tuple(OutputSpec(safe_output(name)) for name in names), description=model, tags=tags)
    engine.register_source(spec, source, artifact)
    return spec, source


def safe_output(name: str) -> str:
    return "".join(c if c.isalnum() or c in "_-." else "_" for c in name) or "output"


def routes_from(source: Format, converters: Sequence[Any] | None = None) -> list[Route]:
    return enumerate_routes(list(converters or default_converters()), FORMATS[source.name], passes=True)
