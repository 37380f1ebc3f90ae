"""The process a hop runs in: one stack, one framework; reads JSON-line tasks on stdin, answers on stdout.

Stray prints from converters would corrupt the protocol, so the worker keeps the real stdout for
replies and points file descriptor 1 at stderr (the worker's log file).
Replay one saved task by hand with: python -m harness.execution.worker --replay TASK.json
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

from harness.atomic import open_atomic
from harness.errors import describe_error

CONFLICTING_FRAMEWORKS = {"torch": "tensorflow", "tf": "torch"}  # they segfault when they share a process
# A converter that needs both by design (nobuco runs the torch module while it builds the Keras model) gets a
# worker of its own kind; whatever it writes is still run in a one-framework worker.
BOTH_FRAMEWORKS = "torch+tf"
FRAMEWORKS = ("torch", "tf", BOTH_FRAMEWORKS, "none")
CALLER_DIR_ENV = "PARITY_CALLER_DIR"
THREADS_ENV = "PARITY_WORKER_THREADS"  # threads each framework runs an op on in a worker (harness.execution.pool)
DEFAULT_WORKER_THREADS = 1


def worker_threads() -> int:
    """The threads each framework runs an op on in every worker: $PARITY_WORKER_THREADS, else one."""
    value = os.environ.get(THREADS_ENV, "")
    return int(value) if value.isdigit() and int(value) > 0 else DEFAULT_WORKER_THREADS


def add_caller_dir() -> None:
    """Make the directory parity was run from importable, last on sys.path: a factory's package there
    loads, but a stray numpy.py or onnx.py there cannot shadow the stack's own packages."""
    caller = os.environ.get(CALLER_DIR_ENV)
    if caller and caller not in sys.path:
        sys.path.append(caller)


def clear_folder_target(source: Path, target: Path) -> None:
    """A rerun converts into the work folder of the run before: a converter that moves a folder into place would
    nest it in the old one (onnx2tf's variables/variables, the old weights loaded) or fail, so a folder target
    starts empty. A file target is overwritten as it is written, and may be the source itself (an ONNX-to-ONNX
    converter on a localization prefix rewrites model.onnx in place)."""
    if target.is_dir() and not target.is_symlink() and not source.resolve().is_relative_to(target.resolve()):
        shutil.rmtree(target)


def load_npz(path: str) -> list[np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return [data[key] for key in data.files]


def save_npz(path: str, names: list[str], arrays: list[np.ndarray]) -> None:
    named: dict[str, Any] = {f"{index:02d}_{name}": array for index, (name, array) in enumerate(zip(names, arrays))}
    with open_atomic(Path(path)) as handle:
        np.savez(handle, **named)


def converter_from_reference(reference: dict[str, Any]) -> Any:
    """The converter a task names (Converter.reference): its class, variant and chosen opset."""
    converter = import_object(reference["class"])(reference["variant"])
    return converter.with_opset(reference["opset"]) if reference.get("opset") is not None else converter


def import_object(reference: str) -> Any:
    module_name, _, qualname = reference.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


class Worker:
    def __init__(self, framework: str) -> None:
        self.framework = framework
        self.runners: dict[str, Any] = {}

    def check_framework(self, needed: str) -> None:
        if needed not in ("none", self.framework):
            raise RuntimeError(f"a {needed} task was sent to a {self.framework} worker")
        conflicting = CONFLICTING_FRAMEWORKS.get(self.framework)
        if conflicting and conflicting in sys.modules:
            raise RuntimeError(f"{conflicting} was imported into a {self.framework} worker")

    def handle(self, task: dict[str, Any]) -> dict[str, Any]:
        kind = task["task"]
        if kind == "ping":
            return {"pid": os.getpid()}
        if kind == "build_source":
            return self.build_source(task)
        if kind == "convert":
            converter = converter_from_reference(task["converter"])
            self.check_framework(converter.framework)
            example = load_npz(task["example"])
            source, target = Path(task["source"]), Path(task["target"])
            clear_folder_target(source, target)
            converter.convert(source, target, task["io"], example)
            if converter.target.name == "onnx":
                from harness.execution.onnx_ops import check_written_model, graph_input_dims, inventory

                # Some converters log an unsupported op and still write a file; the checker makes
                # that a conversion error instead of a confusing runtime failure.
                check_written_model(Path(task["target"]), converter.target_opset)
                target = Path(task["target"])
                return {"onnx_ops": inventory(target), "graph_inputs": graph_input_dims(target)}
            return {}
        if kind == "run":
            return self.run(task)
        if kind == "call":
            # A function of the project run inside this worker, e.g. a probe builder; it imports its
            # framework itself and returns something JSON can carry.
            self.check_framework(task.get("framework", "none"))
            result = import_object(task["function"])(**task.get("kwargs", {}))
            self.check_framework(task.get("framework", "none"))
            return {"value": result}
        raise ValueError(f"unknown task {kind!r}")

    def build_source(self, task: dict[str, Any]) -> dict[str, Any]:
        spec, rebuild, rebuild_args = source_spec(task)
        target = Path(task["target"])
        if task["format"] == "torch":
            self.check_framework("torch")
            import torch

            from harness.execution.torch_artifact import save_torch_module

            if spec.build_torch is None:
                raise ValueError(f"model {spec.name!r} has no torch builder")
            torch.manual_seed(spec.seed)
            module = spec.build_torch().eval()
            save_torch_module(target, module, rebuild, **rebuild_args)
            state = {key: value.detach().cpu().numpy() for key, value in module.state_dict().items()}
            with open_atomic(Path(task["state"])) as handle:
                np.savez(handle, **state)
            return {"parameters": int(sum(p.numel() for p in module.parameters()))}
        self.check_framework("tf")
        if spec.build_keras is None:
            raise ValueError(f"model {spec.name!r} has no Keras builder")
        names_keras_layers_afresh()
        if spec.transfer_weights is None:  # Keras only: its own weights, drawn from the spec's seed
            import keras

            keras.utils.set_random_seed(spec.seed)
            keras_model = spec.build_keras()
        else:
            keras_model = spec.build_keras()
            with np.load(task["state"], allow_pickle=False) as state:
                spec.transfer_weights({key: state[key] for key in state.files}, keras_model)
        # Saved beside and renamed over: a lane running this twin while another lane builds it again (lanes share
        # a model's folder) must never read a half-written zip. Keras wants the name to end in .keras.
        staging = target.with_name(f".{os.getpid()}.{target.name}")
        try:
            keras_model.save(staging)
            os.replace(staging, target)
        finally:
            staging.unlink(missing_ok=True)
        return {"parameters": int(keras_model.count_params())}

    def run(self, task: dict[str, Any]) -> dict[str, Any]:
        """Run an artifact on every input file; with `truth_outputs`, also its float64 twin (the truth)."""
        reference = task["runner"]["class"]
        if reference not in self.runners:
            self.runners[reference] = import_object(reference)()
        runner = self.runners[reference]
        self.check_framework(runner.framework)
        names = list(task["io"]["outputs"])
        errors: list[str | None] = []
        # Per example, as a task of that one example would give them: a batch of examples (one task per hop and
        # round) is judged example by example.
        example_notes: list[list[str]] = []
        truths_used: list[str] = []  # how each example's truth was computed, "" when it has none
        truth_errors: list[str] = []
        truth_paths = task.get("truth_outputs") or []
        for index, (input_path, output_path) in enumerate(zip(task["inputs"], task["outputs"])):
            inputs = load_npz(input_path)
            truths_used.append("")
            truth_errors.append("")
            try:
                outputs = runner.run(Path(task["artifact"]), task["io"], inputs)
                example_notes.append(sorted(set(runner.notes)))
                save_npz(output_path, output_names(names, len(outputs)), [np.asarray(out) for out in outputs])
                errors.append(None)
            except Exception as exc:
                # The input shapes tell a baked-in batch size apart from a broken kernel.
                shapes = ", ".join("x".join(map(str, array.shape)) for array in inputs)
                errors.append(f"on inputs {shapes}: {describe_error(exc)}")
                example_notes.append([])
                continue
            if index < len(truth_paths):
                try:
                    wide = runner.run_float64(Path(task["artifact"]), task["io"], inputs)
                    save_npz(truth_paths[index], output_names(names, len(wide)), [np.asarray(out) for out in wide])
                    truths_used[index] = runner.truth_used
                except Exception as exc:  # no float64 twin: the row says why, the float32 rule applies
                    truth_errors[index] = describe_error(exc)
        self.check_framework(runner.framework)
        return {"errors": errors, "notes": sorted({note for notes in example_notes for note in notes}),
                "example_notes": example_notes, "truths_used": truths_used, "truth_errors": truth_errors,
                "truth": next((used for used in reversed(truths_used) if used), ""),
                "truth_error": next((error for error in truth_errors if error), "")}


# A generated model (parity fuzz) is built by the fuzz package's own functions, named here as trusted rebuilds
# are named in torch_artifact: by reference, from this module's constants, never from the task.
GENERATED_REBUILD = "harness.fuzz.grammar:rebuild_torch"
GENERATED_SPEC = "harness.fuzz.grammar:spec_from_json"


def names_keras_layers_afresh() -> None:
    """Keras numbers the layer names it makes up process-wide (rescaling, then rescaling_1): reset them, so a
    model built in a long-lived worker is named as a fresh process names it, whatever the worker built before
    (its names reach the saved file, the ONNX node names, the errors quoting them and every cache key after)."""
    import keras

    keras.backend.clear_session(free_memory=False)


def source_spec(task: dict[str, Any]) -> tuple[Any, str, dict[str, Any]]:
    """The spec a build_source task names, with the torch artifact's rebuild recipe: a zoo entry by name, or a
    generated model carried as its description (parsed and validated; nothing it names is imported)."""
    if task.get("description") is not None:
        spec, description = import_object(GENERATED_SPEC)(task["description"], task["model"])
        return spec, GENERATED_REBUILD, {"description": description}
    from model_zoo import all_models

    spec = all_models()[task["model"]]
    return spec, "harness.execution.torch_artifact:rebuild_zoo_model", {"model": spec.name}


def output_names(names: list[str], count: int) -> list[str]:
    """The model's output names, then `extra_N` for outputs an artifact gives beyond them (kept, not dropped)."""
    return names[:count] + [f"extra_{index}" for index in range(len(names), count)]




def keep_to_thread_count(framework: str) -> None:
    """Size the framework's thread pools before its first op (harness.execution.pool.worker_environment says why).
    torch also reads OMP_NUM_THREADS; onnxruntime reads the count per session."""
    if framework in ("torch", BOTH_FRAMEWORKS):
        import torch

        torch.set_num_threads(worker_threads())
    if framework in ("tf", BOTH_FRAMEWORKS):
        import tensorflow as tf

        # Only within an op: how many ops run side by side changes no op's result, and one at a time made
        # onnx-tf's SavedModel export about 13% slower.
        tf.config.threading.set_intra_op_parallelism_threads(worker_threads())


def serve(framework: str) -> None:
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    keep_to_thread_count(framework)
    worker = Worker(framework)
    for line in sys.stdin:
        task = json.loads(line)
        started = time.perf_counter()
        subject = task.get("target", task.get("artifact", ""))
        print(f"[worker {os.getpid()}] task {task.get('task')} {subject}", file=sys.stderr, flush=True)
        try:
            reply = {"ok": True, "result": worker.handle(task)}
        except Exception as exc:
            traceback.print_exc()
            reply = {"ok": False, "error": describe_error(exc), "traceback": traceback.format_exc()}
        reply["seconds"] = time.perf_counter() - started
        replies.write(json.dumps(reply) + "\n")


def replay(task_file: str) -> int:
    task = json.loads(Path(task_file).read_text())
    framework = task.get("framework", "none")
    try:
        result = Worker(framework).handle(task)
    except Exception:
        traceback.print_exc()
        return 1
    print(json.dumps(result, indent=1))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--framework", choices=FRAMEWORKS, default="none")
    parser.add_argument("--replay", metavar="TASK_JSON")
    args = parser.parse_args()
    add_caller_dir()
    if args.replay:
        return replay(args.replay)
    serve(args.framework)
    return 0


if __name__ == "__main__":
    sys.exit(main())
