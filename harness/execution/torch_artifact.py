"""The on-disk form of a torch module: a recipe that rebuilds the architecture plus a weights-only state dict.

Whole-module pickles are never written or read (torch.load runs with weights_only=True). The recipe
(module.json) names the function that rebuilds the architecture, and loading imports and calls it, so
a recipe may name only a trusted rebuild function: the harness's own, one an installed plugin declares
under the entry point group parity.rebuilds, or one listed in PARITY_TRUSTED_REBUILDS. Anything else
is refused before any import, so an artifact folder from elsewhere cannot run code by naming it.
"""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path
from typing import Any

from harness.atomic import open_atomic, write_atomic
from harness.errors import UntrustedArtifactError

RECIPE_FILE = "module.json"
STATE_FILE = "state_dict.pt"
REBUILDS_GROUP = "parity.rebuilds"
TRUSTED_REBUILDS_ENV = "PARITY_TRUSTED_REBUILDS"  # comma-separated module:function references
HARNESS_REBUILDS = frozenset({
    "harness.execution.torch_artifact:rebuild_zoo_model",
    "harness.converters.torch_from_onnx:rebuild",
    "harness.probes.source_ops:rebuild_torch_probe",
    "harness.run.user_model:rebuild_factory",
    "harness.fuzz.grammar:rebuild_torch",  # a generated model, rebuilt from its validated description
})
# Rebuilds whose argument names a further function to import: that one must be trusted too.
IMPORTING_ARGUMENTS = {"harness.run.user_model:rebuild_factory": "factory"}
# Packages a harness rebuild runs besides its own module: the architecture (forward) lives there, so the task
# cache keys a torch artifact by their code too (a torch artifact's files hold only the weights).
REBUILD_CODE = {
    "harness.execution.torch_artifact:rebuild_zoo_model": ("model_zoo",),
    "harness.fuzz.grammar:rebuild_torch": ("harness.fuzz",),
    "harness.probes.source_ops:rebuild_torch_probe": ("harness.probes",),  # the probes are data in torch_ops.py
}


def trusted_rebuilds() -> frozenset[str]:
    """The harness's rebuild functions, installed plugins' (read from package metadata: nothing is
    imported) and the ones the user's environment names."""
    from importlib.metadata import entry_points

    declared = {f"{entry.module}:{entry.attr}" for entry in entry_points(group=REBUILDS_GROUP)}
    named = {name.strip() for name in os.environ.get(TRUSTED_REBUILDS_ENV, "").split(",") if name.strip()}
    return HARNESS_REBUILDS | declared | named


def check_rebuild(recipe: dict[str, Any], where: str) -> None:
    """Refuse a recipe unless every function loading it would import is trusted."""
    rebuild, args = recipe.get("rebuild"), recipe.get("args", {})
    if not isinstance(rebuild, str) or not isinstance(args, dict):
        raise UntrustedArtifactError(f"{where}: not a torch module recipe (expected \"rebuild\": \"module:function\" "
                                     "and \"args\": {...})")
    imported = [rebuild]
    if rebuild in IMPORTING_ARGUMENTS:
        imported.append(str(args.get(IMPORTING_ARGUMENTS[rebuild])))
    trusted = trusted_rebuilds()
    for reference in imported:
        if reference not in trusted:
            raise UntrustedArtifactError(
                f"{where} names {reference!r}, which is not a rebuild function of the harness or of an installed "
                f"plugin; refused without importing it (to trust your own, set {TRUSTED_REBUILDS_ENV}={reference})")


def read_recipe(directory: Path) -> dict[str, Any]:
    """The artifact's recipe, checked; imports nothing."""
    path = directory / RECIPE_FILE
    try:
        recipe = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UntrustedArtifactError(f"{path}: cannot read the torch module recipe ({type(exc).__name__})") from None
    if not isinstance(recipe, dict):
        raise UntrustedArtifactError(f"{path}: not a torch module recipe (expected a JSON object)")
    check_rebuild(recipe, str(path))
    return recipe


def save_torch_module(directory: Path, module: Any, rebuild: str, *, rebuild_holds_weights: bool = False,
                      **args: Any) -> None:
    """Write `module` so that load_torch_module calls `rebuild(directory, **args)` to get it back.

    rebuild_holds_weights: the rebuild itself restores every weight (a converter rebuilding from its
    source file); the saved state dict then checks the rebuild instead of being loaded into it.
    """
    import torch

    recipe = {"rebuild": rebuild, "args": args, "rebuild_holds_weights": rebuild_holds_weights}
    # Checked on writing too: an artifact that could never be loaded fails where it is made.
    check_rebuild(recipe, f"the recipe for {directory}")
    directory.mkdir(parents=True, exist_ok=True)
    # The weights first, the recipe last: a folder with a recipe holds everything loading needs.
    with open_atomic(directory / STATE_FILE) as handle:
        torch.save(module.state_dict(), handle)
    write_atomic(directory / RECIPE_FILE, json.dumps(recipe, indent=1))


def load_torch_module(directory: Path) -> Any:
    recipe = read_recipe(directory)  # before any import
    import torch

    module_name, _, function_name = recipe["rebuild"].partition(":")
    module = getattr(importlib.import_module(module_name), function_name)(directory, **recipe["args"])
    saved = torch.load(directory / STATE_FILE, weights_only=True)
    if not recipe.get("rebuild_holds_weights"):
        module.load_state_dict(saved)
        return module.eval()
    # Compared key by key: load_state_dict cannot load submodules whose names contain "." (onnx2pytorch
    # names them after ONNX tensors such as "/layer2/shortcut.0/Conv_output_0").
    rebuilt = module.state_dict()
    if rebuilt.keys() != saved.keys() or any(not torch.equal(rebuilt[key], saved[key]) for key in saved):
        raise RuntimeError(f"rebuilding {directory} did not reproduce the converted module's weights")
    return module.eval()


def rebuild_zoo_model(directory: Path, model: str) -> Any:
    from model_zoo import all_models

    build = all_models()[model].build_torch
    if build is None:
        raise ValueError(f"zoo model {model!r} has no torch builder")
    return build()
