"""The converter contract: one artifact file in, one artifact file out, run inside a worker of its stack."""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

from harness.formats import Format


class Converter(ABC):
    """`<Target>From<Source>`, and the converter's record: every part of the harness (routes, versions, the
    bench, repros, the probes, declared tables) reads what it needs from these class attributes, and nothing
    dispatches on a class name. Subclasses set them and implement `convert`.

    `convert` runs in a worker process of `stack` that imports only `framework` ("torch" or "tf"; "none" for
    neither; "torch+tf" for a converter that by design holds both, such as nobuco); it must import its converter
    package inside the method, never at module level.
    """

    source: ClassVar[Format]
    target: ClassVar[Format]
    stack: str = "current"  # the class's stack; an instance may be bound to a second one
    framework: ClassVar[str]
    package: ClassVar[str]  # the distribution whose version identifies this converter
    variants: ClassVar[tuple[str, ...]] = ("",)
    label: ClassVar[str] = ""  # marks routes through a second converter for the same hop, e.g. "onnx2torch"
    takes_opset: ClassVar[bool] = False  # an exporter that writes ONNX at an opset the caller chooses
    # Other distributions whose versions every row of this converter records (its package is always recorded).
    extra_packages: ClassVar[tuple[str, ...]] = ()
    deprecated: ClassVar[str] = ""  # upstream's word that it is deprecated, with where it says so
    # Upstream's word that it converts at the example's shapes only, with where it says so: its routes are judged
    # on inputs at the export example's sizes, and each row says which symbolic dims were held.
    static_shapes: ClassVar[str] = ""
    # Converts only a route's source model (a module its user wrote), never another converter's output: a direct
    # torch converter is not routed after onnx2pytorch (keras>onnx>torch>X), whose module no user would hand it.
    source_only: ClassVar[bool] = False
    # parity bench: the call a careful user's script makes for this hop, run by harness/bench/bare_script.py in
    # this converter's stack: an operation of that script, or "module:function" (a plugin's own). None: none.
    bare_call: ClassVar[str | None] = None
    # A finding's standalone repro: what it imports, and per format of the artifact this converter was given,
    # the repro template of harness.repro.templates that reproduces the call.
    repro_packages: ClassVar[tuple[str, ...]] = ()
    repro_kinds: ClassVar[dict[str, str]] = {}
    # The localizer's repro (and a finding's, for an ONNX input without a template of its own): the body of
    # convert_and_run(model, inputs, input_names, output_names) using only this converter's package.
    repro_snippet: ClassVar[str | None] = None
    # "module:function" returning the converter's own support table {op or "op@opset": supported}, run in its
    # stack; its probe route is compared with it in coverage.md. None: it publishes none.
    declared_table: ClassVar[str | None] = None
    node_cases: ClassVar[bool] = False  # joins the ONNX node-case probes (from ONNX, or on the way back to it)
    source_probes: ClassVar[bool] = False  # joins the single-op probes as an exporter of its source framework
    # Routes through it at chosen export opsets (the published opset sweep) are enumerated; False: only at the
    # exporters' defaults, where the sweep would cost more than this converter's record says it is worth.
    opset_sweep: ClassVar[bool] = True

    def __init__(self, variant: str = "", *, stack: str | None = None, opset: int | None = None) -> None:
        if variant not in self.variants:
            raise ValueError(f"{type(self).__name__} has variants {self.variants}, not {variant!r}")
        self.variant = variant
        self.stack = stack or type(self).stack  # a second stack runs another version of this converter
        self.opset: int | None = None  # None: the exporter's default opset (default_opset)
        if opset is not None:
            if not self.takes_opset:
                raise ValueError(f"{type(self).__name__} does not export ONNX at a chosen opset")
            self.opset = None if opset == self.default_opset() else opset

    def default_opset(self) -> int | None:
        """The opset this exporter writes when none is chosen; None where the exporter's own default is used."""
        return None

    @property
    def target_opset(self) -> int | None:
        """The opset this instance asks its exporter for (None: the exporter's own default, not passed)."""
        return self.opset if self.opset is not None else self.default_opset()

    def with_opset(self, opset: int | None) -> Converter:
        """This converter exporting at `opset` (None or the default opset: the default instance); a converter
        that takes no opset is returned as it is."""
        if not self.takes_opset:
            return self
        clone = copy.copy(self)
        # Kept unset at the default so the default instance's route id and cache key do not change.
        clone.opset = None if opset == self.default_opset() else opset
        return clone

    @property
    def is_pass(self) -> bool:
        """An ONNX -> ONNX pass (a simplifier): a hop only between an exporter and a converter out of ONNX, in
        routes chosen by a pattern naming its mark (harness.converters.routes)."""
        return self.source == self.target

    @property
    def name(self) -> str:
        return type(self).__name__ + (f"[{self.variant}]" if self.variant else "")

    @property
    def marks(self) -> list[str]:
        """What tells this converter apart from the default one for its hop, in route ids."""
        marks = [self.label] if self.label else []
        if self.variant and self.variant != type(self).variants[0]:
            marks.append(self.variant)
        if self.stack != type(self).stack:
            marks.append(self.stack)
        if self.opset is not None:
            marks.append(f"op{self.opset}")
        return marks

    @property
    def reference(self) -> dict[str, Any]:
        """What a worker needs to rebuild this converter: its import path, variant and chosen opset. The task
        cache keys on it, so an opset's conversions never reuse another's."""
        cls = type(self)
        reference: dict[str, Any] = {"class": f"{cls.__module__}:{cls.__qualname__}", "variant": self.variant}
        if self.opset is not None:  # absent at the default: existing cache entries stay valid
            reference["opset"] = self.opset
        return reference

    @abstractmethod
    def convert(self, source: Path, target: Path, io: dict[str, Any], example: list[Any]) -> None:
        """Convert the artifact at `source` into `target`.

        io: {"inputs": [{"name", "dtype", "shape"}], "outputs": [names]} in the route's layout;
        example: one input example (numpy arrays, in io order) for exporters that trace.
        """
