"""The zoo: reference models, each a PyTorch model and its Keras twin holding the same weights, or, for an
architecture that exists in one framework only, that framework's model alone.

A family is one module exposing MODELS, a tuple of ModelSpec. Registration is explicit: to add a
family, write its module and name it in FAMILY_MODULES; to add a model, add a ModelSpec to MODELS.
"""

from __future__ import annotations

import importlib

from harness.spec import ModelSpec

FAMILY_MODULES = (
    "model_zoo.leaf_cnn",
    "model_zoo.mlp",
    "model_zoo.resnet",
    "model_zoo.mobilenet",
    "model_zoo.recurrent",
    "model_zoo.transformer",
    "model_zoo.encoder_decoder",
    "model_zoo.text_cnn",
    "model_zoo.torchvision_nets",
    "model_zoo.keras_applications",
    "model_zoo.bert",
)


def all_models() -> dict[str, ModelSpec]:
    """Every zoo entry by name, in registry order, then those of installed plugins (group parity.models)."""
    from harness.plugins import plugin_models

    models: dict[str, ModelSpec] = {}
    specs = [spec for name in FAMILY_MODULES for spec in importlib.import_module(name).MODELS]
    for spec in [*specs, *plugin_models()]:
        if not isinstance(spec, ModelSpec):
            raise TypeError(f"a zoo entry must be a ModelSpec, got {spec!r}")
        if spec.name in models:
            raise ValueError(f"duplicate zoo model name {spec.name!r} ({spec.description or spec.family})")
        models[spec.name] = spec
    return models
