"""Which export opset to try when a failure is tied to one: by a known-failure record (the rows' `opset_hint`,
set where the records are applied) or by the converter's own declared-support table."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

# The opsets an exporter may be asked for (harness.cli.MIN_OPSET..MAX_OPSET).
OPSETS = range(7, 24)
OP_IN_GRAPH = re.compile(r"([A-Za-z0-9_]+)@(?:ai\.onnx)?:\d+")


def opset_hint(cell: list[dict[str, Any]], declared: dict[str, dict[str, bool]],
               failed_opsets: set[int]) -> tuple[int | None, str]:
    """(the opset to try, the sentence saying why) for a failing cell of one model and route, or (None, "").
    An opset the same route was already tested at and failed is never advised."""
    ordered = sorted(cell, key=lambda row: int(row["hop_index"]))
    judged = "raw_status" if "raw_status" in ordered[0] else "status"
    first = next((row for row in ordered if row[judged] not in ("pass", "skipped", "xpass")), None)
    if first is None:
        return None, ""
    hint = str(first.get("opset_hint") or "")
    found = re.match(r"try opset (\d+)", hint)
    if found and int(found[1]) not in failed_opsets:
        return int(found[1]), hint
    opset = first.get("opset")
    segments = str(first["route"]).split(">")
    index = int(first["hop_index"])
    if opset is None or opset != opset or index >= len(segments) or not segments[index - 1].startswith("onnx"):
        return None, ""
    # The probe route whose declared table judges this hop: onnx>tf for onnx-tf, onnx>tf@onnx2tf for onnx2tf.
    table = declared.get("onnx>" + re.sub(r"@op\d+", "", segments[index]))
    before = next((row for row in ordered if int(row["hop_index"]) == index - 1), None)
    if not table or before is None:
        return None, ""
    ops = list(dict.fromkeys(OP_IN_GRAPH.findall(str(before.get("onnx_ops") or ""))))
    current = int(opset)
    missing = [op for op in ops if table.get(f"{op}@{current}") is False]
    if not missing:
        return None, ""

    def works(candidate: int) -> bool:
        # An op the table lists at no version for that opset did not exist yet: the exporter writes it as other
        # ops there (torch's LayerNorm below 17), which the converter may handle.
        return not any(table.get(f"{op}@{candidate}") is False for op in ops)

    # The nearest opset below first (an older form of an op is what a converter lagging behind handles), then above.
    candidates = [n for n in sorted(OPSETS, key=lambda n: (n > current, abs(n - current)))
                  if n != current and n not in failed_opsets and works(n)]
    if not candidates:
        return None, ""
    converter = str(first.get("converter") or "the converter")
    name = converter_packages().get(converter, converter)
    return candidates[0], (f"{name} declares no {', '.join(missing)} at opset {current}: try opset {candidates[0]} "
                           f"(--opsets {candidates[0]})")


@cache
def converter_packages() -> dict[str, str]:
    """Each converter's package by its name in the rows (TfFromOnnx: onnx-tf), as its record declares it."""
    from harness.converters import default_converters

    return {converter.name: converter.package for converter in default_converters()}
