"""Whether a verdict says anything: a model whose outputs do not move with its input, or sit far below the
tolerance, passes every converter, right or wrong. Measured on the source model's own outputs over a cell's
examples."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from harness.spec import Tolerance

# Outputs whose largest magnitude is below this many times the tolerance's atol: any candidate within atol of
# zero passes, so the comparison cannot tell a converter that kept the function from one that lost it.
BELOW_TOLERANCE = 10.0


@dataclass
class Sensitivity:
    """One output of the source model over a cell's examples."""

    first: dict[tuple[int, ...], np.ndarray] = field(default_factory=dict)  # the first output seen per shape
    moved: float = 0.0  # the largest |y(x) - y(x')| between examples of one shape
    compared: int = 0  # examples compared with an earlier one of their shape
    scale: float = 0.0  # the largest finite |y| seen
    examples: int = 0
    dtype: str = "float32"  # the output's own dtype, whose default tolerance applies

    def add(self, output: np.ndarray) -> None:
        self.dtype = np.asarray(output).dtype.name
        values = np.asarray(output).astype(np.float64)
        self.examples += 1
        finite = values[np.isfinite(values)]
        if finite.size:
            self.scale = max(self.scale, float(np.abs(finite).max()))
        earlier = self.first.setdefault(values.shape, values)
        if earlier is values:
            return
        self.compared += 1
        both = np.isfinite(earlier) & np.isfinite(values)
        moved = np.abs(values[both] - earlier[both])
        unequal_nonfinite = not np.array_equal(np.isfinite(earlier), np.isfinite(values))
        self.moved = max(self.moved, float(moved.max()) if moved.size else 0.0, math.inf if unequal_nonfinite else 0.0)

    @property
    def input_dependence(self) -> float:
        """The largest change of the output between two inputs of one shape; NaN where none was compared."""
        return self.moved if self.compared else math.nan

    def vacuous(self, tolerance: Tolerance) -> str:
        """Why a pass on this output would say nothing, or "" when the outputs carry a signal."""
        if self.compared and self.moved == 0.0:
            return (f"the outputs do not depend on the input: the same on all {self.compared + 1} examples of one "
                    "shape, so any converter that keeps a constant passes")
        if self.examples and self.scale < BELOW_TOLERANCE * tolerance.atol:
            return (f"the outputs are at most {self.scale:.2g}, below {BELOW_TOLERANCE:g} x the tolerance's atol "
                    f"({tolerance.atol:g}): a converter that zeroed them would pass too")
        return ""
