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


def save_torch_module(directory: Path, module: Any, rebuild: str, **args: Any) -> None:
    """Write `module` so that load_torch_module calls `rebuild(directory, **args)` to get it back."""
    import torch

    directory.mkdir(parents=True, exist_ok=True)
    (directory / RECIPE_FILE).write_text(json.dumps({"rebuild": rebuild, "args": args}, indent=1))
    torch.save(module.state_dict(), directory / STATE_FILE)


def load_torch_module(directory: Path) -> Any:
    import torch

    recipe = json.loads((directory / RECIPE_FILE).read_text())
    module_name, _, function_name = recipe["rebuild"].partition(":")
    module = getattr(importlib.import_module(module_name), function_name)(directory, **recipe["args"])
    module.load_state_dict(torch.load(directory / STATE_FILE, weights_only=True))
    return module.eval()


def rebuild_zoo_model(directory: Path, model: str) -> Any:
    from model_zoo import all_models

    return all_models()[model].build_torch()
