"""Whose finding a failure is: a converter answers only for inputs a user would have, so the artifact a failing hop
read is checked strictly, and an invalid one makes the failure the previous hop's.

The checks parse the artifact and never run what it names. They run in a stack's interpreter (the controller has
no onnx or TensorFlow): `python -m harness.fuzz.validity FORMAT PATH` prints a JSON list of problems."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from harness.execution.stacks import get_stack

VALIDATION_TIMEOUT = 300.0  # seconds: importing TensorFlow and parsing a small SavedModel takes well under this
# Ops that hold a Python callable of the converting process: the SavedModel runs nowhere else.
PROCESS_BOUND_OPS = frozenset({"PyFunc", "PyFuncStateless", "EagerPyFunc"})
# The stack whose packages judge each format (the readers a maintained converter of that format uses).
VALIDATING_STACK = {"onnx": "current", "tf": "current", "tflite": "current"}


# -- stack side: parse, never run --------------------------------------------------------------------------------
def onnx_problems(path: str) -> list[str]:
    """What the full checker and strict, type-checked shape inference refuse in an ONNX model."""
    import onnx
    import onnx.shape_inference

    model = onnx.load(path)
    problems = []
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as exc:  # the checker's errors have no common base class across onnx releases
        problems.append(f"onnx.checker.check_model(full_check=True): {first_line(exc)}")
    try:
        onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    except Exception as exc:
        problems.append(f"onnx.shape_inference.infer_shapes(strict_mode=True): {first_line(exc)}")
    return problems


def saved_model_problems(path: str) -> list[str]:
    """Ops of a SavedModel's graphs (functions included) that are process-bound or not in TensorFlow's registry."""
    from tensorflow.core.protobuf import saved_model_pb2
    from tensorflow.python.framework import op_def_registry

    saved = saved_model_pb2.SavedModel()
    saved.ParseFromString((Path(path) / "saved_model.pb").read_bytes())
    ops: set[str] = set()
    for meta_graph in saved.meta_graphs:
        ops.update(node.op for node in meta_graph.graph_def.node)
        for function in meta_graph.graph_def.library.function:
            ops.update(node.op for node in function.node_def)
    functions = {function.signature.name for meta_graph in saved.meta_graphs
                 for function in meta_graph.graph_def.library.function}
    problems = [f"op {op} holds a Python function of the process that wrote the SavedModel"
                for op in sorted(ops & PROCESS_BOUND_OPS)]
    problems += [f"op {op} is not registered in TensorFlow" for op in sorted(ops - PROCESS_BOUND_OPS - functions)
                 if op_def_registry.get(op) is None]
    return problems


def tflite_problems(path: str) -> list[str]:
    """Whether LiteRT's interpreter can allocate the model's tensors."""
    from ai_edge_litert.interpreter import Interpreter

    try:
        Interpreter(model_path=path).allocate_tensors()
    except Exception as exc:
        return [f"the LiteRT interpreter cannot allocate it: {first_line(exc)}"]
    return []


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]


CHECKS = {"onnx": onnx_problems, "tf": saved_model_problems, "tflite": tflite_problems}


def main(argv: list[str]) -> int:
    kind, path = argv
    print(json.dumps(CHECKS[kind](path)))
    return 0


# -- controller side -------------------------------------------------------------------------------------------
def artifact_problems(path: Path, artifact_format: str) -> list[str]:
    """Run the strict check of `artifact_format` on `path` in its validating stack; [] when it is valid."""
    from harness.execution.pool import worker_environment

    if artifact_format not in CHECKS:
        raise ValueError(f"no strict check for {artifact_format!r} artifacts")
    python = get_stack(VALIDATING_STACK[artifact_format]).ensure()
    done = subprocess.run([str(python), "-m", "harness.fuzz.validity", artifact_format, str(path)],
                          capture_output=True, text=True, timeout=VALIDATION_TIMEOUT, env=worker_environment())
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return [f"the strict check could not read it: {tail[:300]}"]
    problems = json.loads(lines[-1])
    return [str(problem) for problem in problems]


@dataclass(frozen=True)
class Ownership:
    """Whose finding a failing hop is, and why."""

    owner: str  # the package the finding is reported to
    blamed_hop: int  # the hop whose converter answers for it
    kind: str  # "" when the failing converter's own (its kind then comes from the failure), else the owner's kind
    reason: str


def judge_ownership(packages: list[str], hop_index: int, consumed_format: str,
                    problems: list[str] | None) -> Ownership:
    """`packages` are the route's converters' packages, hop 1 first; `problems` what the strict check found in the
    failing hop's input (None when it was not checked because it came from the source or straight from the
    exporter applied to it, which a user would have by definition)."""
    failing = packages[hop_index - 1]
    if hop_index == 1:
        return Ownership(failing, hop_index, "", "its input is the source model")
    previous = packages[hop_index - 2]
    if problems is None:
        if hop_index == 2:
            return Ownership(failing, hop_index, "", f"its input was written by {previous} from the source model")
        raise ValueError(f"hop {hop_index}'s input comes from a converted artifact: it must be checked")
    if not problems:
        return Ownership(failing, hop_index, "", f"its {consumed_format} input passes the strict checks")
    return Ownership(previous, hop_index - 1, f"wrote an artifact {failing} cannot be expected to read",
                     f"{previous} wrote a {consumed_format} artifact that fails the strict checks: "
                     + "; ".join(problems))


def consumed_artifact(folder: Path, hop: str) -> tuple[Path, str] | None:
    """The copy a finding folder keeps of what its failing hop read (`hop` is "onnx->tf" and the like)."""
    consumed_format = hop.split("->")[0]
    kept = {"onnx": folder / "model.onnx", "tf": folder / "saved_model", "tflite": folder / "model.tflite"}
    path = kept.get(consumed_format)
    return (path, consumed_format) if path is not None and path.exists() else None


def judge_finding(folder: Path) -> Ownership:
    """Whose finding a committed finding folder is (finding.json is data, validated by read_finding); hop 2 and
    later inputs are checked strictly when the folder keeps them, and hop 3 and later must keep them."""
    from harness.fuzz.findings import read_finding, route_for_finding

    record = read_finding(folder)
    hop_index = int(record.data["hop_index"])
    route = route_for_finding(str(record.data["route"]), hop_index)
    packages = [hop.converter.package for hop in route.hops]
    if hop_index == 1:
        return judge_ownership(packages, hop_index, route.source.name, None)
    artifact = consumed_artifact(folder, record.signature.hop)
    if artifact is None:
        if hop_index == 2:
            return judge_ownership(packages, hop_index, record.signature.hop.split("->")[0], None)
        raise ValueError(f"{folder.name}: no copy of hop {hop_index}'s input to check")
    problems = artifact_problems(*artifact)
    if hop_index == 2:
        # Straight from the exporter: the converter's finding whatever the check says, which is kept as a note.
        judged = judge_ownership(packages, hop_index, artifact[1], None)
        note = f"; the strict checks find: {'; '.join(problems)}" if problems else "; it passes the strict checks"
        return Ownership(judged.owner, judged.blamed_hop, judged.kind, judged.reason + note)
    return judge_ownership(packages, hop_index, artifact[1], problems)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
