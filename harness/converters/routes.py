"""Hops and routes, enumerated from the converter graph: every round trip that leaves a framework
family, visits every other family once, and comes back; and every one-way deploy route, which ends in a
format no converter reads back (a TFLite flatbuffer). Routes through an ONNX -> ONNX pass (onnxslim) are
enumerated only when asked for (passes=True), and chosen only by a pattern that names the pass's mark."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from harness.converters.base import Converter
from harness.formats import Format

MAX_HOPS = 6


@dataclass(frozen=True)
class Hop:
    index: int  # 1-based position in its route
    converter: Converter

    @property
    def name(self) -> str:
        return f"{self.converter.source.name}->{self.converter.target.name}"


@dataclass(frozen=True)
class Route:
    source: Format
    hops: tuple[Hop, ...]

    @property
    def id(self) -> str:
        parts = [self.source.name]
        for hop in self.hops:
            parts.append(hop.converter.target.name + "".join(f"@{mark}" for mark in hop.converter.marks))
        return ">".join(parts)

    @property
    def dirname(self) -> str:
        return self.id.replace(">", "_").replace("@", "-")

    def opset_at(self, index: int) -> int | None:
        """The opset of the ONNX graph in play at hop `index`: the target opset of the last exporter at or before
        it (None before any exporter, or where an exporter keeps its own default, which the row reads instead)."""
        opset = None
        for hop in self.hops[:index]:
            if hop.converter.takes_opset:
                opset = hop.converter.target_opset
        return opset


def consistent_opsets(path: Sequence[Converter]) -> bool:
    """A route exports at one opset: every exporter on it at its default (the default route), or every exporter
    at the same target opset. Mixed opsets would multiply the routes without answering a user's question."""
    exporters = [converter for converter in path if converter.takes_opset]
    if all(converter.opset is None for converter in exporters):
        return True
    if not all(converter.opset_sweep for converter in path):
        return False  # a converter the sweep leaves out is routed at the default opsets only
    return len({converter.target_opset for converter in exporters}) == 1


OPSET_MARK = re.compile(r"@op(\d+)(?=[@>]|$)")


def opsets_in(route_id: str) -> list[int | None]:
    """The opsets a route id's exporters were chosen at (`@op12`); [None] for a route at the defaults."""
    found = sorted({int(number) for number in OPSET_MARK.findall(route_id)})
    return list(found) or [None]


def strip_opset(route_id: str) -> str:
    """The route id without its opset marks: the same route at every opset."""
    return OPSET_MARK.sub("", route_id)


def enumerate_routes(converters: Sequence[Converter], source: Format, *, passes: bool = False) -> list[Route]:
    """Round trips from `source` back to its family through every other framework family once, and deploy
    routes: one way into a family not yet visited, ending in a format that no converter reads (torch>onnx>tflite).

    An ONNX source is the hub itself: every return to ONNX after visiting one or more frameworks is a
    route (onnx>tf>onnx, onnx>torch>onnx, and the trips through both).

    passes: also the routes with an ONNX -> ONNX pass right after an exporter (where users put a simplifier),
    which always a converter out of ONNX follows; each such position doubles a route, hence not by default.
    """
    families = {fmt.family for converter in converters for fmt in (converter.source, converter.target)}
    others = families - {source.family, "onnx"}
    hub_source = source.family == "onnx"
    read = {converter.source for converter in converters}
    routes: list[Route] = []

    def extend(current: Format, path: list[Converter], visited: set[str]) -> None:
        if len(path) >= MAX_HOPS:
            return
        for converter in converters:
            if converter.source != current or (converter.source_only and path):
                continue
            family = converter.target.family
            hops = [*path, converter]
            if not consistent_opsets(hops):
                continue
            if converter.is_pass:  # never a route's last hop; only after an exporter (X -> ONNX, X not ONNX)
                if passes and path and path[-1].source.family != "onnx":
                    extend(converter.target, hops, visited)
                continue
            if family == source.family:
                if (hub_source and visited) or visited >= others:
                    routes.append(Route(source, tuple(Hop(i + 1, c) for i, c in enumerate(hops))))
                if not hub_source:
                    continue
            elif family != "onnx" and family in visited:
                continue
            elif converter.target not in read:  # a deploy format: the route ends where the model is shipped
                routes.append(Route(source, tuple(Hop(i + 1, c) for i, c in enumerate(hops))))
                continue
            extend(converter.target, hops, visited | ({family} - {"onnx"}))

    extend(source, [], set())
    return routes


def pass_marks(route: Route) -> list[str]:
    """The marks (`@onnxslim`) of the passes on a route: a pattern must name each to choose it."""
    return [f"@{hop.converter.marks[0]}" for hop in route.hops if hop.converter.is_pass and hop.converter.marks]
