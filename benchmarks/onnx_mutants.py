"""Broken ONNX files for the fuzz benchmark; run with a stack's python (it needs onnx).

    python benchmarks/onnx_mutants.py OUT_DIR --count N --seed S --outside FILE

writes OUT_DIR/NNNN_<kind>/model.onnx for N mutants, cycling through the kinds, and OUT_DIR/mutants.json.
Every mutant is a bad input for `parity check`: a byte-level mutant that onnx still loads and checks
(a flipped weight, a cut at a field boundary) is drawn again, and the redraws are counted.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import sys
from pathlib import Path
from typing import Any

import onnx
from onnx import TensorProto, helper

KINDS = ("truncated", "flipped_bytes", "huge_dim", "cyclic_graph", "wrong_opset", "external_missing",
         "external_outside")
TINY = Path(__file__).resolve().parents[1] / "tests" / "data" / "tiny.onnx"


def base_models() -> list[onnx.ModelProto]:
    """A few small valid models: tiny.onnx (Mul, Relu) and two built here (Gemm+Softmax, Conv+Relu)."""
    rng = random.Random(0)

    def weights(name: str, dims: list[int]) -> TensorProto:
        count = 1
        for dim in dims:
            count *= dim
        return helper.make_tensor(name, TensorProto.FLOAT, dims, [rng.uniform(-1, 1) for _ in range(count)])

    gemm = helper.make_graph(
        [helper.make_node("Gemm", ["x", "w", "b"], ["h"], transB=1), helper.make_node("Softmax", ["h"], ["y"])],
        "gemm", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["B", 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["B", 3])], [weights("w", [3, 6]), weights("b", [3])])
    conv = helper.make_graph(
        [helper.make_node("Conv", ["x", "k"], ["c"], pads=[1, 1, 1, 1]), helper.make_node("Relu", ["c"], ["y"])],
        "conv", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["B", 2, 5, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["B", 4, 5, 5])], [weights("k", [4, 2, 3, 3])])
    made = [helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
            for graph in (gemm, conv)]
    models = [onnx.load(str(TINY)), *made]
    for model in models:
        onnx.checker.check_model(model)
    return models


def still_valid(data: bytes) -> bool:
    try:
        onnx.checker.check_model(onnx.load_from_string(data))
    except Exception:
        return False
    return True


def to_external(model: onnx.ModelProto, location: str) -> None:
    """Move the first initializer's data to an external file reference at `location`."""
    tensor = model.graph.initializer[0]
    length = len(tensor.raw_data) or 4 * len(tensor.float_data)
    tensor.ClearField("raw_data")
    tensor.ClearField("float_data")
    tensor.data_location = TensorProto.EXTERNAL
    tensor.external_data.add(key="location", value=location)
    tensor.external_data.add(key="length", value=str(length))


def mutate(kind: str, model: onnx.ModelProto, rng: random.Random, outside: Path,
           folder: Path) -> tuple[bytes, str, int]:
    """(bytes, what was done, how many byte-level draws were still valid models and drawn again).
    `outside`: a file outside `folder`, the mutant's folder, for references that climb out of it."""
    original = model.SerializeToString()
    redraws = 0
    if kind in ("truncated", "flipped_bytes"):
        while True:
            data = bytearray(original)
            if kind == "truncated":
                cut = rng.randrange(0, len(data))
                data, detail = data[:cut], f"cut to {cut} of {len(original)} bytes"
            else:
                positions = rng.sample(range(len(data)), rng.randint(1, 6))
                for position in positions:
                    data[position] ^= 1 << rng.randrange(8)
                detail = f"bits flipped at bytes {sorted(positions)}"
            if not still_valid(bytes(data)):
                return bytes(data), detail, redraws
            redraws += 1
    mutant = copy.deepcopy(model)
    graph = mutant.graph
    if kind == "huge_dim":
        dims = [d for graph_input in graph.input for d in graph_input.type.tensor_type.shape.dim]
        dim = rng.choice(dims)
        value = rng.choice([10**12, 2**40, 2**62, 0, -1, -7])
        dim.Clear()
        dim.dim_value = value
        detail = f"an input dimension declared {value}"
    elif kind == "cyclic_graph":
        node = rng.choice(list(graph.node))
        later = list(graph.node)[list(graph.node).index(node):]
        node.input[0] = rng.choice([out for n in later for out in n.output])
        detail = f"node {node.op_type} reads {node.input[0]}, produced at or after itself"
    elif kind == "wrong_opset":
        newest = onnx.defs.onnx_opset_version()
        version = rng.choice([0, -1, newest + 1, 999, 2**40])
        mutant.opset_import[0].version = version
        detail = f"ai.onnx opset {version} (this onnx knows up to {newest})"
    elif kind == "external_missing":
        to_external(mutant, rng.choice(["weights.bin", "data/weights.bin", "missing..bin"]))
        detail = f"initializer data in missing file {graph.initializer[0].external_data[0].value}"
    elif kind == "external_outside":
        climbing = os.path.relpath(outside, folder)
        location = rng.choice([climbing, str(outside), "../" * 12 + str(outside).lstrip("/")])
        to_external(mutant, location)
        detail = f"initializer data in a file outside the model's folder: {location}"
    else:
        raise ValueError(f"unknown mutation kind {kind!r}")
    return mutant.SerializeToString(), detail, redraws


def generate(out_dir: Path, count: int, seed: int, outside: Path, kinds: tuple[str, ...] = KINDS) -> dict[str, Any]:
    rng = random.Random(seed)
    models = base_models()
    entries = []
    redraws = 0
    for number in range(count):
        kind = kinds[number % len(kinds)]
        folder = out_dir / f"{number:04d}_{kind}"
        folder.mkdir(parents=True, exist_ok=True)
        data, detail, drawn_again = mutate(kind, rng.choice(models), rng, outside, folder.resolve())
        redraws += drawn_again
        (folder / "model.onnx").write_bytes(data)
        entries.append({"folder": folder.name, "kind": kind, "detail": detail})
    manifest = {"seed": seed, "onnx": onnx.__version__, "still_valid_redrawn": redraws, "mutants": entries}
    (out_dir / "mutants.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--outside", type=Path, required=True, help="a file outside every mutant's folder")
    parser.add_argument("--kinds", nargs="*", choices=KINDS, default=list(KINDS))
    args = parser.parse_args()
    manifest = generate(args.out_dir, args.count, args.seed, args.outside.resolve(), tuple(args.kinds))
    print(f"{len(manifest['mutants'])} mutants in {args.out_dir} ({manifest['still_valid_redrawn']} byte-level "
          "draws were still valid models and were drawn again)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
