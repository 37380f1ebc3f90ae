"""The verdict of one hop: every example's outputs judged against the source (and its float64 truth),
the worst kept per output, and the row columns that state it.

A hop is judged on what the *converter* did: an element fails only when it is off the float64 truth by
more than the tolerance policy and by more than NOISE_FACTOR times the float32 reference's own error
(compare.NOISE_FACTOR); without a truth, the float32 reference rule of compare.measure applies and the
row says why there was no truth.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.oracle.compare import NOISE_FACTOR, Comparison, compare, default_tolerance, severity
from harness.spec import ModelSpec, OutputSpec, Tolerance

# Statuses of a hop whose failure the localizer can explain.
LOCALIZABLE = ("mismatch", "convert_error", "run_error")


def tolerance_for(spec: ModelSpec, output: str, reference: np.ndarray) -> Tolerance:
    """The model's override for this output (it carries its reason), else torch.testing's dtype default."""
    return spec.tolerances.get(output) or default_tolerance(reference.dtype)


@dataclass
class OutputTrack:
    """The worst an output did at one hop, over every example the search ran."""

    cumulative: Comparison | None = None
    cumulative_recipe: str = ""
    own: Comparison | None = None
    nonfinite_reference: int = 0  # the most non-finite reference elements in one example
    tolerance: Tolerance = field(default_factory=lambda: default_tolerance(np.dtype("float32")))
    failing_input: Path | None = None  # a copy of the input the worst failing example ran on
    failing_recipe: str = ""
    float32_rule_failed: bool | None = None  # what judging against the float32 reference alone would say

    def judge(self, output: OutputSpec, tolerance: Tolerance, reference: np.ndarray, truth: np.ndarray | None,
              previous: np.ndarray | None, produced: np.ndarray | None, produced_count: int, label: str,
              input_file: Path, keep_dir: Path) -> Comparison:
        """Judge one example's output and keep it when it is the worst so far (and its input, when it failed)."""
        self.tolerance = tolerance
        if produced is None:
            comparison = Comparison(False, np.inf, np.inf, np.inf, 1.0, 0, error=(
                f"the artifact gave {produced_count} outputs; output {output.name!r} is missing"))
        else:
            comparison = compare(reference, produced, tolerance, truth=truth, classifier=output.is_classifier)
            if truth is not None:
                # Kept beside the verdict so a report can show the false alarms the truth removed.
                plain = comparison if not comparison.passed else compare(reference, produced, tolerance)
                self.float32_rule_failed = bool(self.float32_rule_failed) or not plain.passed
            if previous is not None:
                own = compare(previous, produced, tolerance)
                if self.own is None or severity(own) > severity(self.own):
                    self.own = own
        self.nonfinite_reference = max(self.nonfinite_reference, comparison.nonfinite_reference)
        if self.cumulative is None or severity(comparison) > severity(self.cumulative):
            self.cumulative, self.cumulative_recipe = comparison, label
            if not comparison.passed:
                # Localization runs on the input that failed, not on an export example that passes.
                keep_dir.mkdir(parents=True, exist_ok=True)
                self.failing_input = keep_dir / f"failing_example_{output.name}.npz"
                shutil.copyfile(input_file, self.failing_input)
                self.failing_recipe = label
        return comparison


def comparison_columns(track: OutputTrack, truth: str) -> dict[str, Any]:
    """The row's verdict columns from an output's worst comparison over the examples."""
    worst = track.cumulative
    assert worst is not None
    tolerance = track.tolerance
    return {
        "status": "pass" if worst.passed else "mismatch", "error": worst.error,
        "max_abs_err": worst.max_abs_err, "max_rel_err": worst.max_rel_err,
        "required_atol": worst.required_atol, "mismatched_fraction": worst.mismatched_fraction,
        "cosine_similarity": worst.cosine_similarity, "max_ulp": worst.max_ulp,
        "top1_agreement": worst.top1_agreement, "transposed": worst.transposed,
        "nonfinite_reference": track.nonfinite_reference, "output_scale": worst.output_scale,
        "worst_example": track.cumulative_recipe,
        "truth": truth, "error_vs_truth": worst.error_vs_truth, "reference_noise": worst.reference_noise,
        "noise_multiple": worst.noise_multiple, "noise_factor": NOISE_FACTOR if truth.startswith(
            ("torch", "keras", "onnx")) else None,
        "float32_rule": None if track.float32_rule_failed is None else (
            "mismatch" if track.float32_rule_failed else "pass"),
        "atol": tolerance.atol, "rtol": tolerance.rtol, "tolerance_reason": tolerance.reason,
    }
