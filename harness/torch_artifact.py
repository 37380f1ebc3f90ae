"""The on-disk form of a torch module: a recipe that rebuilds the architecture plus a weights-only state dict.

Whole-module pickles are never written or read (torch.load runs with weights_only=True), so an
artifact directory is safe to load and replayable from its files alone.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

RECIPE_FILE = "module.json"
STATE_FILE = "state_dict.pt"


def save_torch_module(directory: Path, module: Any, rebuild: str, *, rebuild_holds_weights: bool = False,
                      **args: Any) -> None:
    """Write `module` so that load_torch_module calls `rebuild(directory, **args)` to get it back.

    rebuild_holds_weights: the rebuild itself restores every weight (a converter rebuilding from its
    source file); the saved state dict then checks the rebuild instead of being loaded into it.
    """
    import torch

    directory.mkdir(parents=True, exist_ok=True)
    recipe = {"rebuild": rebuild, "args": args, "rebuild_holds_weights": rebuild_holds_weights}
    (directory / RECIPE_FILE).write_text(json.dumps(recipe, indent=1))
    torch.save(module.state_dict(), directory / STATE_FILE)


def load_torch_module(directory: Path) -> Any:
    import torch

    recipe = json.loads((directory / RECIPE_FILE).read_text())
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

    return all_models()[model].build_torch()
