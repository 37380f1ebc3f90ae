"""ModelSpec, InputSpec, OutputSpec and Tolerance: the vocabulary a zoo entry is written in.

Nothing here imports a framework: the controller reads specs without torch or TensorFlow; the
builders named by a spec run only inside a worker of the right stack.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


# A recipe, not arrays: harness.run.inputs builds the arrays of one example from it.
@dataclass(frozen=True)
class InputRecipe:
    kind: str
    scale_exponent: int
    seed: int


@dataclass(frozen=True)
class ExampleRecipe:
    """Everything needed to rebuild one example's arrays exactly."""

    dims: Mapping[str, int]
    inputs: tuple[InputRecipe, ...]

    def describe(self) -> str:
        dims = ", ".join(f"{name}={size}" for name, size in self.dims.items())
        kinds = ", ".join(f"{r.kind}(1e{r.scale_exponent:+d}, seed {r.seed})" for r in self.inputs)
        return f"{dims}; {kinds}" if dims else kinds


Dim = int | str  # an int is fixed; a str names a symbolic dimension bounded by InputSpec.dim_bounds

FLOAT_DTYPES = ("float16", "float32", "float64")
INT_DTYPES = ("int32", "int64")
DOMAINS = ("real", "positive", "index")


@dataclass(frozen=True)
class Tolerance:
    """Elementwise |candidate - reference| <= atol + rtol * |reference|, as numpy.allclose."""

    atol: float
    rtol: float
    reason: str = ""


@dataclass(frozen=True)
class InputSpec:
    """One model input, described in the PyTorch twin's layout.

    `layout` names the axes in torch order (e.g. "NCHW"); the Keras twin takes the same tensor with
    the "C" axis moved last. None means both twins take the same layout.
    """

    name: str
    shape: tuple[Dim, ...]
    dtype: str = "float32"
    layout: str | None = None
    domain: str = "real"
    dim_bounds: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    high: int | None = None  # exclusive upper bound of the "index" domain (a vocabulary size)

    def __post_init__(self) -> None:
        if self.dtype not in FLOAT_DTYPES + INT_DTYPES:
            raise ValueError(f"input {self.name!r}: unsupported dtype {self.dtype!r}")
        if self.domain not in DOMAINS:
            raise ValueError(f"input {self.name!r}: domain must be one of {DOMAINS}, got {self.domain!r}")
        if self.domain == "index" and (self.high is None or self.dtype not in INT_DTYPES):
            raise ValueError(f"input {self.name!r}: the index domain needs an integer dtype and `high`")
        if self.layout is not None and len(self.layout) != len(self.shape):
            raise ValueError(f"input {self.name!r}: layout {self.layout!r} does not match rank {len(self.shape)}")
        for dim in self.shape:
            if isinstance(dim, str) and dim not in self.dim_bounds:
                raise ValueError(f"input {self.name!r}: symbolic dim {dim!r} has no bounds in dim_bounds")

    @property
    def symbolic_axes(self) -> dict[int, str]:
        return {axis: dim for axis, dim in enumerate(self.shape) if isinstance(dim, str)}


@dataclass(frozen=True)
class OutputSpec:
    """One model output; `layout` as in InputSpec, so NCHW outputs are compared against NHWC twins."""

    name: str
    layout: str | None = None
    is_classifier: bool = False  # logits: top-1 agreement is reported too


@dataclass(frozen=True)
class ModelSpec:
    """One zoo entry: a PyTorch model, its Keras twin, and how the twin gets the same weights.

    build_torch() returns an nn.Module in eval mode with its final weights (seed it yourself: the
    harness calls torch.manual_seed(seed) first). build_keras() returns an uninitialised-weights Keras
    model of the same function. transfer_weights(state, keras_model) copies the torch state_dict,
    given as numpy arrays, into the Keras model.

    An architecture that exists in one framework only leaves the other builder None: build_keras=None
    (torch only) or build_torch=None (Keras only: build_keras() then returns the model with its final
    weights, after the harness calls keras.utils.set_random_seed(seed)). Such an entry has no twin and
    no transfer_weights, and only the routes that start from its framework apply to it.
    """

    name: str
    family: str
    build_torch: Callable[[], Any] | None
    build_keras: Callable[[], Any] | None
    transfer_weights: Callable[[Mapping[str, Any], Any], None] | None
    inputs: tuple[InputSpec, ...]
    outputs: tuple[OutputSpec, ...]
    tolerances: Mapping[str, Tolerance] = field(default_factory=dict)  # per output name, with a reason
    tags: frozenset[str] = frozenset()
    seed: int = 0
    description: str = ""
    # Inputs a search once found failing: every route runs them after its
    # export example, so a finding stays in the matrix however the draws change, in every column alike.
    regression_examples: tuple[ExampleRecipe, ...] = ()

    def __post_init__(self) -> None:
        for output_name, tolerance in self.tolerances.items():
            if not tolerance.reason:
                raise ValueError(f"model {self.name!r}: tolerance override for {output_name!r} needs a reason")
        if self.build_torch is None and self.build_keras is None:
            raise ValueError(f"model {self.name!r}: needs a torch builder, a Keras builder, or both")
        if self.has_twins and self.transfer_weights is None:
            raise ValueError(f"model {self.name!r}: twins need transfer_weights to hold the same numbers")

    @property
    def has_twins(self) -> bool:
        return self.build_torch is not None and self.build_keras is not None

    @property
    def source_formats(self) -> tuple[str, ...]:
        """The source formats ("torch", "keras") this entry builds: the routes that may start from it."""
        return tuple(name for name, builder in (("torch", self.build_torch), ("keras", self.build_keras))
                     if builder is not None)


def channels_last(layout: str) -> str:
    """The Keras twin's layout for a torch layout: the channel axis moved last ("NCHW" -> "NHWC")."""
    if "C" not in layout:
        return layout
    return layout.replace("C", "") + "C"


def to_layout(array: Any, source: str | None, target: str | None) -> Any:
    """Transpose an array from one axis-lettered layout to another (no-op when either is None)."""
    if source is None or target is None or source == target:
        return array
    return array.transpose([source.index(axis) for axis in target])
