"""Hops and routes, enumerated from the converter graph: every round trip that leaves a framework
family, visits every other family once, and comes back."""

from __future__ import annotations

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


def enumerate_routes(converters: Sequence[Converter], source: Format) -> list[Route]:
    """Round trips from `source` back to its family through every other framework family once.

    An ONNX source is the hub itself: every return to ONNX after visiting one or more frameworks is a
    route (onnx>tf>onnx, onnx>torch>onnx, and the trips through both).
    """
    families = {fmt.family for converter in converters for fmt in (converter.source, converter.target)}
    others = families - {source.family, "onnx"}
    hub_source = source.family == "onnx"
    routes: list[Route] = []

    def extend(current: Format, path: list[Converter], visited: set[str]) -> None:
        if len(path) >= MAX_HOPS:
            return
        for converter in converters:
            if converter.source != current:
                continue
            family = converter.target.family
            hops = [*path, converter]
            if family == source.family:
                if (hub_source and visited) or visited >= others:
                    routes.append(Route(source, tuple(Hop(i + 1, c) for i, c in enumerate(hops))))
                if not hub_source:
                    continue
            elif family != "onnx" and family in visited:
                continue
            extend(converter.target, hops, visited | ({family} - {"onnx"}))

    extend(source, [], set())
    return routes
