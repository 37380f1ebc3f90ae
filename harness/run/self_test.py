"""`--mutants`, the self-test: plant faults and benign controls in a model's ONNX export and run each mutant
through the engine as a real converter's hop, judged and localized the same way."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.converters.base import Converter
from harness.converters.routes import Hop, Route
from harness.formats import ONNX, Format
from harness.oracle.mutants import MutantConverter, MutationRun, Plan
from harness.run.engine import save_inputs
from harness.run.inputs import build_example, largest_recipe


def exporter_for(source: Format, converters: list[Converter]) -> Converter | None:
    """The converter that writes ONNX from `source` (the first hop of every route from it); None for ONNX."""
    if source == ONNX:
        return None
    return next(converter for converter in converters if converter.source == source and converter.target == ONNX)


def localized_to(row: dict[str, Any], plan: Plan) -> bool:
    """The localizer's first divergent node is the planted one: same position and same name."""
    found = str(row.get("first_divergent_node") or "")
    return found.startswith(f"#{plan.index} ") and repr(plan.node) in found


def mutant_row(plan: Plan, model: str, source: str, rows: list[dict[str, Any]], hop_index: int,
               planted: bool, seconds: float) -> dict[str, Any]:
    hop_rows = [row for row in rows if row["hop_index"] == hop_index]
    failing = [row for row in hop_rows if row["status"] != "pass"]
    worst = failing[0] if failing else hop_rows[0]
    status = worst["status"] if planted else "not_planted"
    detected = planted and status not in ("pass", "skipped")
    return {
        "model": model, "source": source, "kind": plan.kind, "control": plan.control, "node_index": plan.index,
        "node": plan.node, "op_type": plan.op_type, "planted": plan.describe(), "status": status,
        "detected": detected, "first_divergent_node": worst.get("first_divergent_node") or "",
        "localized": detected and localized_to(worst, plan), "localized_on": worst.get("localized_on") or "",
        "error_vs_truth": worst.get("error_vs_truth"), "reference_noise": worst.get("reference_noise"),
        "max_abs_err": worst.get("max_abs_err"),
        "error": (worst.get("error") or "") if planted else "the export did not contain the planted node",
        "seconds": round(seconds, 1),
    }


def run_mutation(engine: Any, spec: Any, source: Format, converters: list[Converter], *,
                 progress: Callable[[str], None] = print) -> MutationRun:
    """Export the model once to plan, then run one route per mutant: exporter (if any), then the mutant hop,
    judged and localized by the engine exactly as a real converter's hop would be."""
    started = time.perf_counter()
    run = MutationRun(spec.name, source.name)
    exporter = exporter_for(source, converters)
    prefix = (Hop(1, exporter),) if exporter else ()
    if prefix:
        baseline = engine.run_route(spec, Route(source, prefix))
        failing = [row for row in baseline if row["status"] != "pass"]
        if failing:
            run.skipped = (f"the export hop {failing[0]['hop']} itself ends {failing[0]['status']}: "
                           f"{str(failing[0].get('error') or '')[:200]}")
            run.seconds = time.perf_counter() - started
            return run
        exported = Path(baseline[0]["artifact"])
        example = exported.parent.parent / "export_example.npz"
    else:
        context = engine.prepare(spec)
        exported = Path(context.artifacts[source.name])
        route_dir = context.folder / "mutation_plan"
        example = save_inputs(route_dir / "export_example.npz", spec, source,
                              build_example(spec, largest_recipe(spec, engine.options.seed)))
    batch_symbolic = any(input_spec.shape and isinstance(input_spec.shape[0], str)
                         and input_spec.dim_bounds.get(input_spec.shape[0], (1, 1))[1] > 1
                         for input_spec in spec.inputs)
    planned = engine.call_function("current", "none", "harness.oracle.mutants:plan_mutants",
                                   model_path=str(exported), inputs_npz=str(example), seed=engine.options.seed,
                                   batch_symbolic=batch_symbolic)
    run.not_applicable = planned["not_applicable"]
    for data in planned["plans"]:
        plan = Plan(data["kind"], data["node"], data["index"], data["op_type"], data["params"])
        converter = MutantConverter(plan.encode())
        hop = Hop(len(prefix) + 1, converter)
        progress(f"  {spec.name}: mutant {plan.kind} at #{plan.index} {plan.op_type} {plan.node!r}")
        begun = time.perf_counter()
        rows = engine.run_route(spec, Route(source, (*prefix, hop)))
        artifact = Path(next(row["artifact"] for row in rows if row["hop_index"] == hop.index))
        marker = artifact.parent / "planted.json"
        planted = json.loads(marker.read_text())["planted"] if marker.exists() else True
        run.rows.append(mutant_row(plan, spec.name, source.name, rows, hop.index, planted,
                                   time.perf_counter() - begun))
    run.seconds = time.perf_counter() - started
    return run
