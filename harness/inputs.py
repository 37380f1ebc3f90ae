"""Input examples from InputSpecs, in the torch twin's layout. Seeded numpy for now; hypothesis plugs in here."""

from __future__ import annotations

import numpy as np

from harness.spec import InputSpec, ModelSpec


def draw_dims(spec: ModelSpec, rng: np.random.Generator, *, largest: bool) -> dict[str, int]:
    bounds: dict[str, tuple[int, int]] = {}
    for input_spec in spec.inputs:
        bounds.update(input_spec.dim_bounds)
    if largest:
        return {name: high for name, (_, high) in bounds.items()}
    return {name: int(rng.integers(low, high + 1)) for name, (low, high) in sorted(bounds.items())}


def draw_array(input_spec: InputSpec, dims: dict[str, int], rng: np.random.Generator) -> np.ndarray:
    shape = tuple(dims[dim] if isinstance(dim, str) else dim for dim in input_spec.shape)
    if input_spec.domain == "index":
        assert input_spec.high is not None
        return rng.integers(0, input_spec.high, size=shape).astype(input_spec.dtype)
    if input_spec.domain == "uniform":
        values = rng.uniform(-1.0, 1.0, size=shape)
    elif input_spec.domain == "positive":
        values = rng.uniform(1e-3, 2.0, size=shape)
    else:
        values = rng.standard_normal(size=shape)
    return values.astype(input_spec.dtype)


def seeded_examples(spec: ModelSpec, *, count: int, seed: int) -> list[tuple[int, list[np.ndarray]]]:
    """`count` examples as (seed, arrays in spec.inputs order); symbolic dims vary between examples.

    The first example takes every symbolic dim at its upper bound: exporters trace it, and a size
    of 1 would let a tracer specialise the batch axis away.
    """
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    examples = []
    for example_seed in range(seed, seed + count):
        rng = np.random.default_rng(example_seed)
        dims = draw_dims(spec, rng, largest=example_seed == seed)
        examples.append((example_seed, [draw_array(input_spec, dims, rng) for input_spec in spec.inputs]))
    return examples
