"""Input examples from InputSpecs, in the torch twin's layout: hypothesis strategies and a seeded fallback.

Hypothesis does not draw a model's tensors element by element (an image has ~50k elements); it
draws a *recipe*: every symbolic dimension within its bounds, and per input a value kind, a scale
and a seed. numpy then builds the arrays from the recipe. Shrinking moves toward the smallest dims,
the first value kind and seed 0, and `hypothesis.target()` climbs on the recipe's parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
from hypothesis import strategies as st

from harness.spec import ExampleRecipe, InputRecipe, InputSpec, ModelSpec

# Value kinds per input domain; the first of each is where shrinking ends up.
REAL_KINDS = ("normal", "uniform_wide", "tiny", "large", "zeros", "ties", "sparse")
POSITIVE_KINDS = ("positive", "positive_tiny", "positive_large", "positive_ties")
INDEX_KINDS = ("index_uniform", "index_edges", "index_repeated")
NONFINITE_KINDS = ("nan_sprinkled", "inf_sprinkled", "subnormal")  # opt-in: how NaN/Inf propagate
KINDS_BY_DOMAIN = {"real": REAL_KINDS, "positive": POSITIVE_KINDS, "index": INDEX_KINDS}
MAX_SCALE_EXPONENT = 3  # scales 10**-3 .. 10**3 around each kind's own magnitude


def kinds_for(input_spec: InputSpec, *, nonfinite: bool) -> tuple[str, ...]:
    kinds = KINDS_BY_DOMAIN[input_spec.domain]
    if nonfinite and input_spec.domain != "index":
        kinds = kinds + NONFINITE_KINDS
    return kinds


def example_recipes(spec: ModelSpec, *, nonfinite: bool = False, max_scale_exponent: int = MAX_SCALE_EXPONENT,
                    kinds: Sequence[str] | None = None) -> st.SearchStrategy[ExampleRecipe]:
    """Recipes for `spec`'s inputs: every symbolic dim within its bounds (one size per name, shared by
    all inputs), and per input a value kind allowed by its domain, a scale and a seed.

    kinds, when given, restricts the real/positive kinds drawn (they must be valid for each input).
    """
    if not 0 <= max_scale_exponent <= 6:
        raise ValueError(f"max_scale_exponent must be in [0, 6], got {max_scale_exponent}")
    bounds: dict[str, tuple[int, int]] = {}
    for input_spec in spec.inputs:
        for name, (low, high) in input_spec.dim_bounds.items():
            if low < 1 or high < low:
                raise ValueError(f"{spec.name}: dim {name!r} has invalid bounds ({low}, {high})")
            if name in bounds and bounds[name] != (low, high):
                raise ValueError(f"{spec.name}: dim {name!r} has different bounds in two inputs")
            bounds[name] = (low, high)
    per_input = []
    for input_spec in spec.inputs:
        allowed = kinds_for(input_spec, nonfinite=nonfinite)
        if kinds is not None and input_spec.domain != "index":
            unknown = set(kinds) - set(allowed)
            if unknown:
                raise ValueError(f"{spec.name}: kinds {sorted(unknown)} are not valid for input {input_spec.name!r}")
            allowed = tuple(kind for kind in allowed if kind in kinds)
        per_input.append(st.builds(
            InputRecipe,
            kind=st.sampled_from(allowed),
            scale_exponent=st.integers(-max_scale_exponent, max_scale_exponent),
            seed=st.integers(0, 2**32 - 1),
        ))
    dims = st.fixed_dictionaries({name: st.integers(low, high) for name, (low, high) in sorted(bounds.items())})
    return st.builds(ExampleRecipe, dims=dims, inputs=st.tuples(*per_input))


def build_array(input_spec: InputSpec, dims: Mapping[str, int], recipe: InputRecipe) -> np.ndarray:
    shape = tuple(dims[dim] if isinstance(dim, str) else dim for dim in input_spec.shape)
    rng = np.random.default_rng(recipe.seed)
    scale = 10.0 ** recipe.scale_exponent
    kind = recipe.kind
    if kind.startswith("index"):
        assert input_spec.high is not None
        high = input_spec.high
        if kind == "index_edges":
            values = rng.choice(np.array([0, high - 1]), size=shape)
        elif kind == "index_repeated":
            values = np.full(shape, rng.integers(0, high))
        else:
            values = rng.integers(0, high, size=shape)
        return values.astype(input_spec.dtype)
    normal = rng.standard_normal(size=shape)
    generated: dict[str, Callable[[], np.ndarray]] = {
        "normal": lambda: normal * scale,
        "uniform_wide": lambda: rng.uniform(-10.0, 10.0, size=shape) * scale,
        "tiny": lambda: normal * 1e-4 * scale,
        "large": lambda: normal * 1e2 * scale,
        "zeros": lambda: np.zeros(shape),
        "ties": lambda: rng.choice(np.array([-1.0, 0.0, 0.5, 1.0]), size=shape) * scale,  # ties for max/argmax
        "sparse": lambda: np.where(rng.random(size=shape) < 0.7, 0.0, normal * scale),  # ReLU kinks at 0
        "positive": lambda: np.abs(normal) * scale + 1e-3,
        "positive_tiny": lambda: np.abs(normal) * 1e-4 * scale + 1e-12,
        "positive_large": lambda: np.abs(normal) * 1e2 * scale + 1e-3,
        "positive_ties": lambda: rng.choice(np.array([0.5, 1.0, 2.0]), size=shape) * scale,
        "nan_sprinkled": lambda: np.where(rng.random(size=shape) < 0.01, np.nan, normal),
        "inf_sprinkled": lambda: np.where(rng.random(size=shape) < 0.01, np.inf * np.sign(normal), normal),
        "subnormal": lambda: normal * 1e-40,
    }
    if kind not in generated:
        raise ValueError(f"unknown value kind {kind!r}")
    return np.asarray(generated[kind]()).astype(input_spec.dtype)


def build_example(spec: ModelSpec, recipe: ExampleRecipe) -> list[np.ndarray]:
    return [build_array(input_spec, recipe.dims, input_recipe)
            for input_spec, input_recipe in zip(spec.inputs, recipe.inputs)]


def largest_recipe(spec: ModelSpec, seed: int = 0) -> ExampleRecipe:
    """The export example: every symbolic dim at its upper bound (a tracer given size 1 may
    specialise the axis away), standard values."""
    dims: dict[str, int] = {}
    for input_spec in spec.inputs:
        dims.update({name: high for name, (_, high) in input_spec.dim_bounds.items()})
    first = [KINDS_BY_DOMAIN[s.domain][0] for s in spec.inputs]
    return ExampleRecipe(dims, tuple(InputRecipe(kind, 0, seed + i) for i, kind in enumerate(first)))


def at_export_dims(spec: ModelSpec) -> ModelSpec:
    """`spec` with every symbolic dim held at the export example's size (its upper bound): the inputs a converter
    that writes static shapes only can be judged on. Regression examples at other sizes are left out."""
    import dataclasses

    export_dims = largest_recipe(spec).dims
    inputs = tuple(dataclasses.replace(input_spec, dim_bounds={name: (high, high) for name, (_, high)
                                                               in input_spec.dim_bounds.items()})
                   for input_spec in spec.inputs)
    kept = tuple(recipe for recipe in spec.regression_examples if recipe.dims == export_dims)
    return dataclasses.replace(spec, inputs=inputs, regression_examples=kept)


def spread_recipes(spec: ModelSpec, *, count: int, seed: int, nonfinite: bool = False) -> list[ExampleRecipe]:
    """`count` seeded recipes drawn from the whole distribution the search draws from: every value kind of each
    input's domain in turn (zeros, ties, sparse, wide, large ...), scales over the full range, random dims. What
    the hops before a failing one get once the search has stopped at the failure."""
    kinds = [kinds_for(input_spec, nonfinite=nonfinite) for input_spec in spec.inputs]
    recipes = []
    for number in range(count):
        rng = np.random.default_rng([seed, number])
        dims = random_dims(spec, rng)
        recipes.append(ExampleRecipe(dims, tuple(
            InputRecipe(own[(number + i) % len(own)], int(rng.integers(-MAX_SCALE_EXPONENT, MAX_SCALE_EXPONENT + 1)),
                        seed * 1000 + number * 10 + i)
            for i, own in enumerate(kinds))))
    return recipes


def random_dims(spec: ModelSpec, rng: np.random.Generator) -> dict[str, int]:
    """Every symbolic dim of the spec's inputs drawn within its bounds."""
    dims: dict[str, int] = {}
    for input_spec in spec.inputs:
        dims.update({name: int(rng.integers(low, high + 1)) for name, (low, high) in input_spec.dim_bounds.items()})
    return dims


def seeded_recipes(spec: ModelSpec, *, count: int, seed: int) -> list[ExampleRecipe]:
    """A fixed list without hypothesis: the export example, then random dims with standard values."""
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    recipes = [largest_recipe(spec, seed)]
    for example_seed in range(seed + 1, seed + count):
        rng = np.random.default_rng(example_seed)
        dims = random_dims(spec, rng)
        recipes.append(ExampleRecipe(dims, tuple(
            InputRecipe(KINDS_BY_DOMAIN[s.domain][0], 0, example_seed * 100 + i) for i, s in enumerate(spec.inputs))))
    return recipes
