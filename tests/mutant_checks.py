"""Worker-side checks of the mutation planter on the localization chain model. Imported in workers."""

from __future__ import annotations

import tempfile
from typing import Any

import numpy as np

from harness.oracle.mutants import Plan, plant

LARGE = 1e3  # an input scale that pushes every node past the saturation threshold planned on unit inputs


def node_change(model_path: str, inputs_npz: str, plan: dict[str, Any]) -> dict[str, Any]:
    """The planted node's own output before and after planting (largest relative change), on the example and
    on it scaled by LARGE; whether the planted graph passes the checker; and whether a graph cut before the
    node is left byte for byte unchanged."""
    import onnx
    import onnxruntime

    from harness.execution.worker import load_npz
    from harness.oracle.localize import extract_prefix

    chosen = Plan(plan["kind"], plan["node"], plan["index"], plan["op_type"], plan["params"])
    original = onnx.load(model_path)
    output = original.graph.node[chosen.index].output[0]
    mutated = onnx.load(model_path)
    planted = plant(mutated, chosen)
    onnx.checker.check_model(mutated, full_check=True)

    def node_output(model: Any, feed: np.ndarray) -> np.ndarray:
        exposed = onnx.ModelProto()
        exposed.CopyFrom(model)
        exposed.graph.output.append(onnx.helper.make_empty_tensor_value_info(output))
        session = onnxruntime.InferenceSession(exposed.SerializeToString(), providers=["CPUExecutionProvider"])
        return np.asarray(session.run([output], {session.get_inputs()[0].name: feed})[0])

    (example,) = load_npz(inputs_npz)
    changes = []
    for feed in (example, example * np.float32(LARGE)):
        before, after = node_output(original, feed), node_output(mutated, feed)
        changes.append(float(np.abs(after - before).max() / max(float(np.abs(before).max()), 1e-30)))
    untouched = True
    if chosen.index > 0:  # the localizer's own cut, as its bisection makes it
        with tempfile.TemporaryDirectory() as folder:
            extract_prefix(model_path, chosen.index - 1, f"{folder}/prefix.onnx")
            cut = onnx.load(f"{folder}/prefix.onnx")
        copy = onnx.ModelProto()
        copy.CopyFrom(cut)
        untouched = not plant(copy, chosen) and copy.SerializeToString() == cut.SerializeToString()
    return {"planted": planted, "relative_change": changes, "prefix_untouched": untouched}
