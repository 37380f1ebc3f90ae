"""Which zoo models, routes and (model, route) cells a run covers, from the user's name patterns."""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence

from harness.converters import Converter, default_converters
from harness.converters.routes import Route, enumerate_routes, pass_marks
from harness.errors import UsageError
from harness.formats import SOURCE_FORMATS
from harness.spec import ModelSpec


def select_models(patterns: Sequence[str] | None) -> list[ModelSpec]:
    from model_zoo import all_models

    models = all_models()
    if not patterns:
        return list(models.values())
    chosen = [spec for name, spec in models.items() if any(fnmatch.fnmatchcase(name, p) for p in patterns)]
    unmatched = [p for p in patterns if not any(fnmatch.fnmatchcase(name, p) for name in models)]
    if unmatched:
        raise UsageError(f"no zoo model matches {', '.join(unmatched)}; known: {', '.join(models)}")
    return chosen


def all_routes(converters: Sequence[Converter] | None = None, *, passes: bool = False) -> list[Route]:
    """Every route from the zoo's source formats; with passes, also those through an ONNX -> ONNX pass."""
    converters = list(converters or default_converters())
    return [route for source in SOURCE_FORMATS for route in enumerate_routes(converters, source, passes=passes)]


def chosen_by(route: Route, pattern: str) -> bool:
    """The pattern matches the route's id and names every pass on it (`*@onnxslim*`): a plain `torch>*` keeps
    meaning the default routes."""
    return fnmatch.fnmatchcase(route.id, pattern) and all(mark in pattern for mark in pass_marks(route))


def filter_routes(routes: list[Route], patterns: Sequence[str] | None) -> list[Route]:
    if not patterns:
        return [route for route in routes if not pass_marks(route)]
    chosen = [route for route in routes if any(chosen_by(route, p) for p in patterns)]
    if not chosen:
        raise UsageError(f"no route matches {', '.join(patterns)}; known: {', '.join(r.id for r in routes)}")
    return chosen


def select_routes(patterns: Sequence[str] | None, converters: Sequence[Converter] | None = None) -> list[Route]:
    return filter_routes(all_routes(converters, passes=bool(patterns)), patterns)


def zoo_cells(specs: Sequence[ModelSpec], routes: Sequence[Route]) -> list[tuple[ModelSpec, Route]]:
    """Every (model, route) cell that applies: a model defined in one framework gets only the routes that
    start from that framework (the others are not applicable, so they are not cells at all)."""
    return [(spec, route) for spec in specs for route in routes if route.source.name in spec.source_formats]
