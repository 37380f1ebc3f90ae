"""tf2onnx on SavedModels: a `python -m tf2onnx.convert` process per artifact vs OnnxFromSavedModel in the worker.

Usage: .venv/bin/python benchmarks/tf2onnx_inprocess.py [--cases 30] [--filter GLOBS] [--stack current] [--run-dir DIR]

The SavedModels are node-probe cases exported by onnx-tf (the onnx>tf hop, first variant per op), as in the
main job. Both ways convert every SavedModel in the same long-lived worker of the stack, one after
the other; the script prints seconds per conversion and checks that both ways give the same graph.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CLI_TIMEOUT = 300.0


def resident_mb() -> float:
    status = Path("/proc/self/status").read_text()
    return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")) / 1024


def graph_summary(path: Path) -> dict[str, Any]:
    """What must agree between the two ways: graph inputs and outputs in order with their types and
    shapes, the op sequence, the opsets and the weights. Not node names: TensorFlow's process-wide uid
    is part of the names of control-flow branches, and it counts on in a long-lived worker.
    """
    import hashlib

    import onnx

    model = onnx.load(str(path))
    graph = model.graph

    def values(items: Any) -> list[str]:
        return [f"{value.name}:{onnx.helper.printable_type(value.type)}" for value in items]

    weights = sorted(f"{onnx.numpy_helper.to_array(tensor).dtype}{list(tensor.dims)}:"
                     f"{hashlib.sha1(onnx.numpy_helper.to_array(tensor).tobytes()).hexdigest()[:12]}"
                     for tensor in graph.initializer)
    return {"inputs": values(graph.input), "outputs": values(graph.output),
            "ops": [f"{node.domain or 'ai.onnx'}::{node.op_type}" for node in graph.node],
            "opsets": sorted(f"{entry.domain or 'ai.onnx'}={entry.version}" for entry in model.opset_import),
            "weights": weights}


def convert_by_cli(saved_model: Path, target: Path) -> str:
    """The conversion as OnnxFromSavedModel made it before: one tf2onnx process per SavedModel."""
    from harness.converters.onnx_from_tf import OPSET, SIGNATURE

    command = [sys.executable, "-m", "tf2onnx.convert", "--saved-model", str(saved_model),
               "--signature_def", SIGNATURE, "--opset", str(OPSET), "--output", str(target)]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=CLI_TIMEOUT)
    if completed.returncode != 0 or not target.exists():
        errors = [line for line in completed.stderr.splitlines() if "Error" in line or "error" in line]
        return f"tf2onnx exited {completed.returncode}: {(errors or ['no output'])[-1].strip()}"
    return checker_error(target)


def checker_error(target: Path) -> str:
    """The worker's check of a written model, which follows either way of converting."""
    from harness.errors import describe_error
    from harness.execution.onnx_ops import check_written_model

    try:
        check_written_model(target)
    except Exception as exc:
        return describe_error(exc)
    return ""


def convert_in_process(saved_model: Path, target: Path) -> str:
    from harness.converters.onnx_from_tf import OnnxFromSavedModel
    from harness.errors import describe_error

    try:
        OnnxFromSavedModel().convert(saved_model, target, {}, [])
    except Exception as exc:
        return describe_error(exc)
    return checker_error(target)


def compare_ways(saved_models: list[str], out_dir: str) -> dict[str, Any]:
    """Runs inside a tf worker of the stack: both ways on each SavedModel, timed."""
    started = time.perf_counter()
    import tensorflow  # noqa: F401 - imported once per worker, timed apart from the conversions
    import tf2onnx.convert  # noqa: F401

    import_seconds = time.perf_counter() - started
    memory_before = resident_mb()
    rows = []
    for index, saved_model in enumerate(map(Path, saved_models)):
        folder = Path(out_dir) / f"{index:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        row: dict[str, Any] = {"saved_model": str(saved_model)}
        for way, convert in (("cli", convert_by_cli), ("in_process", convert_in_process)):
            target = folder / f"{way}.onnx"
            began = time.perf_counter()
            row[f"{way}_error"] = convert(saved_model, target)
            row[f"{way}_seconds"] = time.perf_counter() - began
            row[f"{way}_graph"] = graph_summary(target) if target.exists() else None
        rows.append(row)
    return {"import_seconds": import_seconds, "rows": rows,
            "memory_before_mb": memory_before, "memory_after_mb": resident_mb()}


def build_saved_models(run_dir: Path, cases: int, case_filter: str | None) -> list[Path]:
    from harness.execution.pool import WorkerPool
    from harness.probes.node_cases import run_node_probes

    with WorkerPool(run_dir / "logs") as pool:
        rows = run_node_probes(run_dir, pool, hops=("onnx>tf",), case_filter=case_filter, sample="per_op",
                               limit=cases, progress=lambda line: None)
    built = [run_dir / "node" / "legacy" / row["probe"] / "tf" / "saved_model" for row in rows]
    return [path for path in built if (path / "saved_model.pb").is_file()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=30, help="node cases to export (some fail in onnx-tf)")
    parser.add_argument("--filter", default=None, help="comma-separated globs on case names")
    parser.add_argument("--stack", default="current", help="a stack hosting OnnxFromSavedModel (tf2onnx116 too)")
    parser.add_argument("--run-dir", type=Path, default=None, help="where the cases go (default: a temp folder)")
    args = parser.parse_args()

    from harness.execution.pool import WorkerPool

    # tf2onnx's optimizers visit some nodes in set order, so two CLI runs can differ (one Reshape more or
    # less); one hash seed for the worker and its CLI children makes the two ways comparable.
    os.environ.setdefault("PYTHONHASHSEED", "0")
    run_dir = args.run_dir or Path(tempfile.mkdtemp(prefix="bench_tf2onnx_"))
    saved_models = build_saved_models(run_dir, args.cases, args.filter)
    print(f"{len(saved_models)} SavedModels from onnx-tf under {run_dir}", flush=True)
    task = {"task": "call", "function": "benchmarks.tf2onnx_inprocess:compare_ways", "framework": "tf",
            "kwargs": {"saved_models": [str(path) for path in saved_models], "out_dir": str(run_dir / "bench")}}
    with WorkerPool(run_dir / "logs") as pool:
        reply = pool.call(args.stack, "tf", task, timeout=CLI_TIMEOUT * max(1, len(saved_models)))
    if not reply["ok"]:
        print(reply["traceback"], file=sys.stderr)
        return 1
    value = reply["result"]["value"]
    rows = value["rows"]
    (run_dir / "bench" / "rows.json").write_text(json.dumps(value, indent=1))

    cli = [row["cli_seconds"] for row in rows]
    in_process = [row["in_process_seconds"] for row in rows]
    same_graph = [row for row in rows if row["cli_graph"] == row["in_process_graph"]]
    same_outcome = [row for row in rows if bool(row["cli_error"]) == bool(row["in_process_error"])]
    print(f"tf2onnx in stack {args.stack}, {os.cpu_count()} cpus: {len(rows)} SavedModels, each converted both "
          f"ways in one worker (TensorFlow + tf2onnx import, once per worker: {value['import_seconds']:.1f} s)")
    print(f"  process per artifact (CLI): median {statistics.median(cli):.2f} s, total {sum(cli):.1f} s")
    print(f"  in the worker (Python API): median {statistics.median(in_process):.2f} s, total {sum(in_process):.1f} s")
    print(f"  ratio CLI / in-process: median {statistics.median(cli) / statistics.median(in_process):.1f}x, "
          f"total {sum(cli) / sum(in_process):.1f}x")
    print(f"  same graph (inputs, outputs, ops, opsets, weights): {len(same_graph)}/{len(rows)}; "
          f"same outcome (converted or failed): {len(same_outcome)}/{len(rows)}")
    print(f"  worker memory: {value['memory_before_mb']:.0f} MB before, {value['memory_after_mb']:.0f} MB after")
    for row in rows:
        if row["cli_error"] or row["in_process_error"] or row not in same_graph:
            print(f"  {Path(row['saved_model']).parent.parent.name}:\n    cli: {row['cli_error'] or 'ok'}\n"
                  f"    in-process: {row['in_process_error'] or 'ok'}"
                  + ("" if row in same_graph else "\n    graphs differ (see rows.json)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
