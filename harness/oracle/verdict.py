"""The verdict of one hop: every example's outputs judged against the source (and its float64 truth),
the worst kept per output, and the row columns that state it.

A hop is judged on what the *converter* did: an element fails only when it is off the float64 truth by
more than the tolerance policy and by more than NOISE_FACTOR times the float32 reference's own error
(compare.NOISE_FACTOR); without a truth, the float32 reference rule of compare.measure applies and the
row says why there was no truth.
"""

from __future__ import annotations

import json
import math
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.oracle.compare import NOISE_FACTOR, Comparison, compare, default_tolerance, severity
from harness.spec import ModelSpec, OutputSpec, Tolerance

# Statuses of a hop whose failure the localizer can explain.
LOCALIZABLE = ("mismatch", "imprecise", "convert_error", "run_error")


def tolerance_for(spec: ModelSpec, output: str, reference: np.ndarray) -> Tolerance:
    """The model's override for this output (it carries its reason), else torch.testing's dtype default."""
    return spec.tolerances.get(output) or default_tolerance(reference.dtype)


def failure_kind(text: str) -> str:
    """A failure's text with its figures and shapes masked: two examples off by different amounts, or failing on
    different input shapes, fail the same way."""
    return NUMBER.sub("#", text)


NUMBER = re.compile(r"-?\d+(\.\d+)?(e[-+]?\d+)?|\bnan\b|\binf\b")


def distinct(texts: list[str]) -> list[str]:
    """The first text of each kind of failure, in order."""
    kept: dict[str, str] = {}
    for text in texts:
        kept.setdefault(failure_kind(text), text)
    return list(kept.values())


@dataclass
class OutputTrack:
    """What an output did at one hop, over every example the search ran: the worst example (its input kept for
    localization) and every metric aggregated over all of them."""

    cumulative: Comparison | None = None
    cumulative_recipe: str = ""
    own: Comparison | None = None
    seen: list[Comparison] = field(default_factory=list)  # every example's comparison, in order
    examples_without_truth: int = 0  # examples judged by the float32 rule because their truth was missing
    nonfinite_reference: int = 0  # the most non-finite reference elements in one example
    tolerance: Tolerance = field(default_factory=lambda: default_tolerance(np.dtype("float32")))
    failing_input: Path | None = None  # a copy of the input the worst failing example ran on
    failing_recipe: str = ""
    # The source's float64 outputs (every output) on failing_input, kept by the engine: the precision check
    # reads them instead of running the source again.
    failing_truths: list[np.ndarray] | None = None
    float32_rule_failed: bool | None = None  # what judging against the float32 reference alone would say

    def judge(self, output: OutputSpec, tolerance: Tolerance, reference: np.ndarray, truth: np.ndarray | None,
              previous: np.ndarray | None, produced: np.ndarray | None, produced_count: int, label: str,
              input_file: Path, keep_dir: Path) -> Comparison:
        """Judge one example's output and keep it when it is the worst so far (and its input, when it failed)."""
        self.tolerance = tolerance
        if produced is None:
            comparison = Comparison(False, np.inf, np.inf, np.inf, 1.0, 0, allowance_used=np.inf, error=(
                f"the artifact gave {produced_count} outputs; output {output.name!r} is missing"))
        else:
            comparison = compare(reference, produced, tolerance, truth=truth, classifier=output.is_classifier)
            if truth is not None:
                # Both rules, computed: the float32 rule's atol scales with the row, so it may pass where the
                # truth's fails. Kept beside the verdict so a report shows what the truth changed.
                plain = compare(reference, produced, tolerance)
                self.float32_rule_failed = bool(self.float32_rule_failed) or not plain.passed
            else:
                self.examples_without_truth += 1
            if previous is not None:
                own = compare(previous, produced, tolerance)
                if self.own is None or severity(own) > severity(self.own):
                    self.own = own
        self.seen.append(comparison)
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

    def failures(self) -> list[str]:
        """Every distinct kind of failure over the examples, the worst example's first."""
        worst = self.cumulative
        texts = [] if worst is None or worst.passed else worst.error.split("; ")
        for comparison in self.seen:
            if not comparison.passed:
                texts.extend(comparison.error.split("; "))
        return distinct([text for text in texts if text])


def largest(values: list[float]) -> float:
    """The largest of the figures that have a value (NaN: none has one)."""
    known = [value for value in values if not math.isnan(value)]
    return max(known) if known else math.nan


def smallest(values: list[float]) -> float:
    known = [value for value in values if not math.isnan(value)]
    return min(known) if known else math.nan


def comparison_columns(track: OutputTrack, truth: str) -> dict[str, Any]:
    """The row's verdict columns: every metric aggregated over the examples (the worst of each: smallest top-1
    and cosine, largest errors), every distinct kind of failure, and the worst example's recipe."""
    worst = track.cumulative
    assert worst is not None
    seen = track.seen or [worst]
    tolerance = track.tolerance
    top1 = [c.top1_agreement for c in seen if c.top1_agreement is not None]
    judged_without = track.examples_without_truth
    if truth.startswith(("torch", "keras", "onnx")) and judged_without:
        truth += f" ({judged_without} of {len(seen)} examples had none: judged by the float32 rule)"
    return {
        "status": "pass" if all(c.passed for c in seen) else "mismatch", "error": "; ".join(track.failures()),
        "max_abs_err": max(c.max_abs_err for c in seen), "max_rel_err": max(c.max_rel_err for c in seen),
        "required_atol": max(c.required_atol for c in seen),
        "mismatched_fraction": max(c.mismatched_fraction for c in seen),
        "cosine_similarity": smallest([c.cosine_similarity for c in seen]),
        "max_ulp": largest([c.max_ulp for c in seen]),
        "top1_agreement": min(top1) if top1 else None, "transposed": worst.transposed,
        "nonfinite_reference": track.nonfinite_reference, "output_scale": max(c.output_scale for c in seen),
        "worst_example": track.cumulative_recipe,
        "truth": truth, "error_vs_truth": largest([c.error_vs_truth for c in seen]),
        "reference_noise": largest([c.reference_noise for c in seen]),
        "noise_multiple": max(c.noise_multiple for c in seen), "noise_factor": NOISE_FACTOR if truth.startswith(
            ("torch", "keras", "onnx")) else None,
        "float32_rule": None if track.float32_rule_failed is None else (
            "mismatch" if track.float32_rule_failed else "pass"),
        "verdict_note": "; ".join(distinct([c.note for c in seen if c.note])),
        "atol": tolerance.atol, "rtol": tolerance.rtol, "tolerance_reason": tolerance.reason,
    }


# What the precision check writes when the converted model, run in float64, computes the function it was given.
ROUNDING_ONLY = "float32 rounding only"
# The one kind of mismatch message rounding can explain: elements off the truth (not a shape, dtype, lost Inf or
# NaN, which are wrong answers whatever the precision check says).
OFF_THE_TRUTH = "elements off the float64 truth"


def settle_rounding(row: dict[str, Any]) -> None:
    """A mismatch whose every failure is elements off the truth, and whose precision check showed the function
    kept (float32 rounding only), is `imprecise`: the converter did not change the model, its arithmetic rounds
    worse than the reference's by the factor shown. Without a float64 twin it cannot be shown: it stays mismatch."""
    if row.get("status") != "mismatch" or not str(row.get("precision") or "").startswith(ROUNDING_ONLY):
        return
    listed = row.get("failures")
    failures = json.loads(listed) if isinstance(listed, str) and listed else [["mismatch", str(row.get("error"))]]
    if not all(status == "mismatch" and OFF_THE_TRUTH in text for status, text in failures):
        return
    row["status"] = "imprecise"
    row["error"] = (f"imprecise: the function is kept; float32 rounding is {float(row['noise_multiple']):.3g} x "
                    f"the reference's noise (K = {NOISE_FACTOR:g}); {row.get('error') or ''}")
