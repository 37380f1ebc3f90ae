"""A content-addressed cache of worker tasks: conversions, artifact runs and twin builds.

A task's key is a hash of everything its result depends on: the bytes of every file it reads (an
artifact, a directory artifact file by file, an input example), the task's own options (converter class,
variant and options, runner, io), every package installed in the stack that runs it, and the source of
the harness modules that carry it out (the converter's or runner's module, the worker). Nothing is keyed
by a path, so an entry is reused for the same bytes wherever they lie, and never for other bytes.

An entry is a folder holding the files the task wrote and `entry.json` (the task's result and the SHA-256
of every stored file), moved into place in one rename once complete. Restoring checks every digest: a
corrupt, half-written or tampered entry is deleted and the task runs again.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from harness.stacks import get_stack

ENTRY = "entry.json"
FORMAT = 1  # bump when the entry layout or the key recipe changes
# Harness modules every task goes through in a worker; a change to one of them changes every key.
WORKER_MODULES = ("harness.worker", "harness.torch_artifact", "harness.onnx_ops", "harness.runners.base")


def digest_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def digest_file(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def digest_path(path: Path) -> str:
    """A file's SHA-256, or a directory's: its files' relative names and digests, in sorted order."""
    if path.is_file():
        return digest_file(path)
    if not path.is_dir():
        raise FileNotFoundError(path)
    listing = [f"{file.relative_to(path).as_posix()}\0{digest_file(file)}"
               for file in sorted(path.rglob("*")) if file.is_file()]
    return digest_bytes("\n".join(listing).encode())


@cache
def module_digest(module: str) -> str:
    """The source of a module, found without importing it (a converter module imports its framework lazily)."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None or not Path(spec.origin).is_file():
        return f"unknown:{module}"
    return digest_file(Path(spec.origin))


@cache
def stack_fingerprint(stack: str) -> str:
    """Every distribution installed in a stack, name and version: any upgrade changes the key; so do the bytes
    of a local wheel or checkout it was built from (an edited checkout keeps its version)."""
    probe = ("import importlib.metadata as m\n"
             "print('\\n'.join(sorted(f\"{d.metadata['Name']}=={d.version}\" for d in m.distributions())))")
    listing = subprocess.run([str(get_stack(stack).python), "-c", probe], capture_output=True, text=True,
                             check=True).stdout
    return digest_bytes((listing + get_stack(stack).definition.fingerprint).encode())


@dataclass(frozen=True)
class Plan:
    """How a task maps onto the cache: the files it reads, the files it writes, the modules that run it."""

    reads: tuple[Path, ...]
    writes: tuple[Path, ...]
    modules: tuple[str, ...]
    options: dict[str, Any]


def converted(target: Path) -> tuple[Path, ...]:
    """What a conversion into `target` writes: an ONNX file may keep its weights beside it, in the
    `<name>.data` file the dynamo exporter writes; a cached model.onnx without it does not load."""
    return (target, target.with_name(target.name + ".data")) if target.suffix == ".onnx" else (target,)


def with_external_data(artifact: Path) -> tuple[Path, ...]:
    """An artifact a task reads, with its external data file when it has one: the same model.onnx whose
    weights file was missing (or other) must not hit the entry of one whose weights were there."""
    sidecar = artifact.with_name(artifact.name + ".data")
    return (artifact, sidecar) if artifact.suffix == ".onnx" and sidecar.is_file() else (artifact,)


def plan_for(task: dict[str, Any]) -> Plan | None:
    """None for a task the cache does not understand (it then always runs)."""
    kind = task.get("task")
    if kind == "convert":
        module = task["converter"]["class"].partition(":")[0]
        return Plan((*with_external_data(Path(task["source"])), Path(task["example"])), converted(Path(task["target"])),
                    (module,),
                    {"converter": task["converter"], "io": task["io"]})
    if kind == "run":
        module = task["runner"]["class"].partition(":")[0]
        truths = tuple(Path(path) for path in task.get("truth_outputs") or [])
        return Plan((*with_external_data(Path(task["artifact"])), *map(Path, task["inputs"])),
                    (*map(Path, task["outputs"]), *truths), (module,),
                    {"runner": task["runner"], "io": task["io"], "truth": bool(truths)})
    if kind == "node_job":
        # An ONNX backend node case through one stage: convert (when the stage has a converter), then run.
        modules = ["harness.probes.node_cases", task["runner"]["class"].partition(":")[0]]
        if task.get("converter"):
            modules.append(task["converter"]["class"].partition(":")[0])
        writes = ([*converted(Path(task["target"]))] if task.get("target") else []) + [Path(task["outputs"]),
                                                                          Path(task["result"])]
        return Plan((*with_external_data(Path(task["source"])), Path(task["inputs"])), tuple(writes), tuple(modules),
                    {"converter": task.get("converter"), "runner": task["runner"], "io": task["io"]})
    if kind == "build_source":
        # The zoo entry's code is the input: every model_zoo module, since entries share helpers.
        zoo = sorted(Path(importlib.util.find_spec("model_zoo").origin or "").parent.glob("*.py"))  # type: ignore[union-attr]
        options = {"model": task["model"], "format": task["format"]}
        if task.get("description") is not None:  # a generated model: its description and the grammar's code
            options["description"] = task["description"]
            zoo += sorted((Path(__file__).parent / "fuzz").glob("*.py"))
        return Plan(tuple(zoo), (Path(task["target"]), Path(task["state"])), (), options)
    return None


class TaskCache:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.hits = self.misses = self.rebuilt = 0

    def key(self, stack: str, task: dict[str, Any], plan: Plan) -> str:
        recipe = {
            "format": FORMAT, "task": task["task"], "stack": stack_fingerprint(stack), "options": plan.options,
            "reads": [digest_path(path) for path in plan.reads],
            "modules": {name: module_digest(name) for name in (*plan.modules, *WORKER_MODULES)},
            "writes": [path.name for path in plan.writes],  # a converter may branch on the target's suffix
        }
        return digest_bytes(json.dumps(recipe, sort_keys=True, default=str).encode())

    def folder(self, key: str) -> Path:
        return self.root / key[:2] / key

    def restore(self, stack: str, task: dict[str, Any]) -> dict[str, Any] | None:
        """The cached reply of `task` ({"ok": True, "result": ...} or {"ok": False, "error": ...}), with its
        files copied to where the task would write them; None on a miss."""
        plan = plan_for(task)
        if plan is None:
            return None
        try:
            key = self.key(stack, task, plan)
        except (FileNotFoundError, OSError, subprocess.CalledProcessError):
            return None  # an input is missing: let the task run and fail on its own terms
        folder = self.folder(key)
        if not (folder / ENTRY).is_file():
            self.misses += 1
            return None
        try:
            entry = json.loads((folder / ENTRY).read_text())
            stored = [folder / "files" / str(index) for index in range(len(plan.writes))]
            for path, expected in zip(stored, entry["digests"]):
                if expected is not None and digest_path(path) != expected:
                    raise ValueError(f"{path} does not match its digest")
        except (OSError, ValueError, KeyError, json.JSONDecodeError):
            shutil.rmtree(folder, ignore_errors=True)  # never trusted: the task runs again and rewrites it
            self.rebuilt += 1
            return None
        for source, target in zip(stored, plan.writes):
            if not source.exists():
                continue  # the task did not write this file (a run whose truth was unavailable)
            remove(target)
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(source, target)
            else:
                shutil.copyfile(source, target)
        self.hits += 1
        reply: dict[str, Any] = entry["reply"]
        return reply

    def store(self, stack: str, task: dict[str, Any], reply: dict[str, Any]) -> None:
        """Keep a task's reply: a result, or the converter's own error (deterministic, and slow to get again).
        A crash or timeout is not a reply and is never stored."""
        plan = plan_for(task)
        if plan is None:
            return
        try:
            key = self.key(stack, task, plan)
        except (FileNotFoundError, OSError, subprocess.CalledProcessError):
            return
        folder = self.folder(key)
        if (folder / ENTRY).is_file():
            return
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=folder.parent))
        try:
            digests: list[str | None] = []
            for index, written in enumerate(plan.writes):
                copy = staging / "files" / str(index)
                copy.parent.mkdir(parents=True, exist_ok=True)
                if written.is_dir():
                    shutil.copytree(written, copy)
                elif written.is_file():
                    shutil.copyfile(written, copy)
                else:
                    digests.append(None)
                    continue
                digests.append(digest_path(copy))
            (staging / ENTRY).write_text(json.dumps({"reply": reply, "digests": digests, "stored": time.time()}))
            os.rename(staging, folder)  # one rename: an entry is either complete or absent
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)  # another process stored it first, or the disk is full

    # -- parity cache info | prune ----------------------------------------------------------------------------
    def entries(self) -> Iterable[Path]:
        return (entry.parent for entry in self.root.glob(f"*/*/{ENTRY}"))

    def info(self) -> dict[str, Any]:
        sizes = [sum(file.stat().st_size for file in entry.rglob("*") if file.is_file()) for entry in self.entries()]
        return {"root": str(self.root), "entries": len(sizes), "bytes": sum(sizes)}

    def prune(self, *, older_than_days: float | None = None, keep_bytes: int | None = None) -> int:
        """Remove entries last stored more than `older_than_days` ago, then the oldest beyond `keep_bytes`."""
        entries = sorted(self.entries(), key=lambda entry: (entry / ENTRY).stat().st_mtime, reverse=True)
        removed, kept_bytes, now = 0, 0, time.time()
        for entry in entries:
            size = sum(file.stat().st_size for file in entry.rglob("*") if file.is_file())
            age_days = (now - (entry / ENTRY).stat().st_mtime) / 86400
            if (older_than_days is not None and age_days > older_than_days) or (
                    keep_bytes is not None and kept_bytes + size > keep_bytes):
                shutil.rmtree(entry, ignore_errors=True)
                removed += 1
            else:
                kept_bytes += size
        for staging in self.root.glob("*/.staging-*"):  # left by a run killed mid-store
            shutil.rmtree(staging, ignore_errors=True)
        return removed


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
