"""Plugins: installed packages add zoo models and converters through entry points.

    [project.entry-points."parity.models"]      name = "package.module:MODELS"   # ModelSpecs, or a function
    [project.entry-points."parity.converters"]  name = "package.module:MyConverter"  # a Converter subclass
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

MODELS_GROUP = "parity.models"
CONVERTERS_GROUP = "parity.converters"


class PluginError(RuntimeError):
    """An installed plugin could not be loaded; the message names the plugin and its package."""


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


def plugin_converters() -> list[Any]:
    from harness.converters.base import Converter

    converters: list[Any] = []
    for name, provided in load_group(CONVERTERS_GROUP):
        if isinstance(provided, type) and issubclass(provided, Converter):
            converters += [provided(variant) for variant in provided.variants]
        else:
            raise PluginError(f"plugin {name!r} in {CONVERTERS_GROUP} must name a Converter subclass, "
                              f"not {provided!r}")
    return converters
