"""The converter graph: every converter the harness knows, one module each.

To add a converter, write its module (a Converter subclass) and list it here; routes follow.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from harness.converters.base import Converter
from harness.converters.onnx_from_keras_export import OnnxFromKerasViaExport
from harness.converters.onnx_from_onnx_onnxslim import OnnxFromOnnxViaOnnxslim
from harness.converters.onnx_from_tf import OnnxFromKeras, OnnxFromSavedModel
from harness.converters.onnx_from_torch import OnnxFromTorch
from harness.converters.tf_from_onnx import TfFromOnnx
from harness.converters.tf_from_onnx_onnx2tf import TfFromOnnxViaOnnx2tf, TfliteFromOnnx
from harness.converters.tf_from_torch_nobuco import TfFromTorch
from harness.converters.tflite_from_torch_litert import TfliteFromTorch
from harness.converters.torch_from_onnx import TorchFromOnnx
from harness.errors import PluginError
from harness.execution.stacks import StackDefinition
from harness.plugins import CONVERTERS_GROUP, load_group


def default_converters(stacks: Sequence[str] = (), opsets: Sequence[int | None] = (None,)) -> list[Converter]:
    """The built-in converters, those that installed plugins add (entry point group parity.converters),
    and, for each extra stack named in `stacks`, a second version of the converters it hosts; every exporter
    once per opset in `opsets` (None: at its default opset). Route enumeration keeps each route at one opset."""
    base = [
        OnnxFromTorch("torchscript"),
        OnnxFromTorch("dynamo"),
        TfFromOnnx(),
        TfFromOnnxViaOnnx2tf(),
        TfliteFromOnnx(),
        TfliteFromTorch(),
        TfFromTorch(),
        OnnxFromKeras(),
        OnnxFromKerasViaExport(),
        OnnxFromSavedModel(),
        TorchFromOnnx(),
        OnnxFromOnnxViaOnnxslim(),
        *plugin_converters(),
    ]
    second = [type(converter)(converter.variant, stack=stack) for stack in stacks
              for converter in hosted_by(stack, base)]
    chosen: dict[str, Converter] = {}
    for converter in base + second:
        for opset in opsets if converter.takes_opset else (None,):
            instance = converter.with_opset(opset)
            chosen.setdefault(f"{instance.name} {instance.stack} {instance.opset}", instance)
    return list(chosen.values())


def hosted_by(stack: str, base: Sequence[Converter]) -> list[Converter]:
    """The converters of `base` of which `stack` runs a second version: those stacks.toml names for a defined
    extra stack; for one derived by --with, those whose record names the package it replaced (as its package or
    an extra package), else, for a framework package every converter uses (onnx, numpy, ...), every converter
    of the stack it derives from, else none: a package no converter uses has no route to compare. None for a
    base stack."""
    from harness.execution.stacks import get_stack

    return hosted_by_definition(get_stack(stack).definition, base)


def hosted_by_definition(definition: StackDefinition, base: Sequence[Converter]) -> list[Converter]:
    """hosted_by for a stack definition, registered or not yet (parity upgrade asks before deriving it)."""
    from packaging.utils import canonicalize_name

    if definition.base:
        return []
    if not definition.derived_from:
        return [converter for converter in base if type(converter).__name__ in definition.hosts]
    from_base = [converter for converter in base if converter.stack == definition.derived_from]
    own = [converter for converter in from_base if definition.package in
           {canonicalize_name(name) for name in (converter.package, *converter.extra_packages)}]
    shared = definition.package in {canonicalize_name(name) for name in FRAMEWORK_PACKAGES}
    return own or (from_base if shared else [])


def plugin_converters() -> list[Converter]:
    converters: list[Converter] = []
    for name, provided in load_group(CONVERTERS_GROUP):
        if isinstance(provided, type) and issubclass(provided, Converter):
            converters += [provided(variant) for variant in provided.variants]
        else:
            raise PluginError(f"plugin {name!r} in {CONVERTERS_GROUP} must name a Converter subclass, "
                              f"not {provided!r}")
    return converters


# Packages whose versions every row of a stack records besides the converters' own: the frameworks and runtimes.
FRAMEWORK_PACKAGES = (
    "torch", "torchvision", "tensorflow", "tensorflow-cpu", "keras", "tf-keras", "onnx", "onnxruntime",
    "tensorflow-addons", "tensorflow-probability", "numpy", "protobuf",
)


@cache
def tracked_packages() -> tuple[str, ...]:
    """The distributions whose versions a row records: the frameworks', and each converter record's package
    and extra packages (a plugin's included). Read once per process: every result row asks for it."""
    own = [name for converter in default_converters() for name in (converter.package, *converter.extra_packages)]
    return tuple(dict.fromkeys([*FRAMEWORK_PACKAGES, *own]))


def declared_tables() -> dict[str, Converter]:
    """The converters that publish a support table, by the probe route (onnx>X) their table is compared with."""
    from harness.converters.routes import Hop, Route
    from harness.formats import ONNX

    return {Route(ONNX, (Hop(1, converter),)).id: converter for converter in default_converters()
            if converter.declared_table and converter.source == ONNX and converter.stack == type(converter).stack}


__all__ = ["Converter", "default_converters"]
