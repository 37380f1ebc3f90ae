"""Runners by artifact format: the one way each kind of artifact is executed and compared.

A runner class is its format's record: `format` (the Format it runs, declared in its module or in
harness.formats), its framework and its float64 truth. To add a format, write its runner module and list the
class here; an installed plugin lists its own under the entry point group parity.runners.
"""

from __future__ import annotations

from functools import cache

from harness.errors import ParityError, PluginError
from harness.formats import Format
from harness.plugins import RUNNERS_GROUP, load_group
from harness.runners.base import Runner
from harness.runners.onnxruntime_runner import OnnxRuntimeRunner
from harness.runners.tf_runners import KerasRunner, SavedModelRunner
from harness.runners.tflite_runner import TfliteRunner
from harness.runners.torch_eager import TorchEagerRunner

BUILT_IN = (TorchEagerRunner, KerasRunner, SavedModelRunner, OnnxRuntimeRunner, TfliteRunner)


class NoRunner(ParityError):
    """No runner runs this artifact format: it is never handed to another runtime instead."""


@cache
def runner_classes() -> dict[str, type[Runner]]:
    """Every runner by the name of the format it runs: the built-in ones, then installed plugins'."""
    classes: dict[str, type[Runner]] = {cls.format.name: cls for cls in BUILT_IN}
    for name, provided in load_group(RUNNERS_GROUP):
        if not (isinstance(provided, type) and issubclass(provided, Runner)):
            raise PluginError(f"plugin {name!r} in {RUNNERS_GROUP} must name a Runner subclass, not {provided!r}")
        classes.setdefault(provided.format.name, provided)
    return classes


def runner_for(format_name: str) -> Runner:
    cls = runner_classes().get(format_name)
    if cls is None:
        raise NoRunner(f"no runner runs a {format_name!r} artifact (known: {', '.join(runner_classes())}); "
                       "a format needs its runner module")
    return cls()


def known_formats() -> dict[str, Format]:
    """Every format some runner runs, by name."""
    return {name: cls.format for name, cls in runner_classes().items()}


__all__ = ["NoRunner", "Runner", "known_formats", "runner_for"]
