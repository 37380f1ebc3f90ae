"""Plugins: installed packages add zoo models and converters through entry points.

    [project.entry-points."parity.models"]      name = "package.module:MODELS"   # ModelSpecs, or a function
    [project.entry-points."parity.converters"]  name = "package.module:MyConverter"  # a Converter subclass
    [project.entry-points."parity.runners"]     name = "package.module:MyRunner"     # a Runner subclass
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

from harness.errors import PluginError

MODELS_GROUP = "parity.models"
CONVERTERS_GROUP = "parity.converters"
RUNNERS_GROUP = "parity.runners"


def load_group(group: str) -> list[tuple[str, Any]]:
    loaded = []
    for entry in sorted(entry_points(group=group), key=lambda e: e.name):
        try:
            loaded.append((entry.name, entry.load()))
        except Exception as exc:
            package = entry.dist.name if entry.dist else "?"
            raise PluginError(f"plugin {entry.name!r} ({entry.value}, package {package}) failed to load: "
                              f"{type(exc).__name__}: {exc}; fix or uninstall it") from None
    return loaded


def plugin_models() -> list[Any]:
    models: list[Any] = []
    for _, provided in load_group(MODELS_GROUP):
        models += list(provided() if callable(provided) else provided)
    return models
