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
import importlib.machinery
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from harness.errors import UntrustedArtifactError, UsageError
from harness.execution.stacks import Stack, get_stack, harness_import_root
from harness.execution.torch_artifact import IMPORTING_ARGUMENTS, REBUILD_CODE, RECIPE_FILE
from harness.execution.worker import DEFAULT_WORKER_THREADS, worker_threads

ENTRY = "entry.json"
FORMAT = 2  # bump when the entry layout or the key recipe changes
# Harness modules every task goes through in a worker; a change to one of them changes every key.
WORKER_MODULES = ("harness.execution.worker", "harness.execution.torch_artifact", "harness.execution.onnx_ops",
                  "harness.runners.base", "harness.converters.base", "harness.formats", "harness.errors")


def digest_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


_file_digests: dict[tuple[str, int, int, int], str] = {}
SETTLED_NS = 200_000_000  # a file unchanged this long before it is hashed keeps its digest (see digest_file)


def digest_file(path: Path, *, just_copied: bool = False) -> str:
    """A file's SHA-256. Every example runs each hop's artifact, so an artifact's digest is remembered by
    (path, inode, ctime, size), but only once the file had settled when it was hashed: a file system reuses a
    freed inode at once and may tick its clock coarser than the milliseconds between two examples written to
    one path, while a file made or changed later than the hash began has a later ctime (which no copy or
    utime sets back). A file the cache has `just_copied` into place is hashed afresh and remembered at once
    (see copy_hashed)."""
    stat = path.stat()
    identity = (str(path), stat.st_ino, stat.st_ctime_ns, stat.st_size)
    if not just_copied and identity in _file_digests:
        return _file_digests[identity]
    started = time.time_ns()
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    if just_copied or started - stat.st_ctime_ns > SETTLED_NS:
        _file_digests[identity] = sha.hexdigest()
    return sha.hexdigest()


def copy_hashed(source: Path, target: Path) -> str:
    """Put a copy of a file or a directory at `target` and hash it: digest_path's digest of it. Each copied
    file's digest is remembered for it at once: a restored artifact is read by the next task within
    milliseconds, every example again, long before it would have settled. A later write changes its ctime,
    and no writer but a task started after this returns could come within the same tick.

    The copy is made beside the target and renamed over it: lanes share a model's folder, and a task of another
    lane reading the target (the twin it runs) must never find it missing or half-written. A file is swapped in
    one rename; a directory in two, with a moment between them where the name is free."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.{os.getpid()}.restoring")
    remove(staging)
    try:
        if source.is_dir():
            shutil.copytree(source, staging)
        else:
            shutil.copyfile(source, staging)  # in the kernel (sendfile): 5x faster here than writing from Python
        if target.is_dir() and not target.is_symlink():
            replaced = target.with_name(f".{target.name}.{os.getpid()}.replaced")
            remove(replaced)
            os.replace(target, replaced)
            os.replace(staging, target)
            remove(replaced)
        else:
            os.replace(staging, target)
    finally:
        remove(staging)
    return digest_path(target, just_copied=True)


def digest_path(path: Path, *, just_copied: bool = False) -> str:
    """A file's SHA-256, or a directory's: its files' relative names and digests, in sorted order."""
    if path.is_file():
        return digest_file(path, just_copied=just_copied)
    if not path.is_dir():
        raise FileNotFoundError(path)
    listing = [f"{file.relative_to(path).as_posix()}\0{digest_file(file, just_copied=just_copied)}"
               for file in sorted(path.rglob("*")) if file.is_file()]
    return digest_bytes("\n".join(listing).encode())


@cache
def module_digest(module: str) -> str:
    """The source of a module, found without importing it (a converter module imports its framework lazily)."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None or not Path(spec.origin).is_file():
        return f"unknown:{module}"
    return digest_file(Path(spec.origin))


def locate_module(module: str) -> importlib.machinery.ModuleSpec:
    """Where a module's source lies, found without importing it or its parents (a user's package runs
    nothing in the controller): the worker's path, with the caller's directory last as the worker has it.
    The worker's path starts at the folder it imports harness and model_zoo from: an editable install's
    import hook, which this search cannot see, finds them in the controller but not on its sys.path."""
    search: list[str] = [str(harness_import_root()), *sys.path, os.getcwd()]
    spec = None
    parts = module.split(".")
    for depth in range(1, len(parts) + 1):
        spec = importlib.machinery.PathFinder.find_spec(".".join(parts[:depth]), search)
        if spec is None:
            raise LookupError(f"cannot find the source of {module!r}")
        search = list(spec.submodule_search_locations or [])
    assert spec is not None
    return spec


def package_files(module: str) -> tuple[Path, ...]:
    """Every source file of a package (or the one file of a plain module). Listed once per search path (see
    locate_module): every task reading a torch artifact needs its rebuild's code, and the search and the folder
    walk cost milliseconds a task; the files' bytes are still digested for every key."""
    return _package_files(module, os.getcwd(), tuple(sys.path))


@cache
def _package_files(module: str, cwd: str, path: tuple[str, ...]) -> tuple[Path, ...]:
    spec = locate_module(module)
    if spec.submodule_search_locations:
        return tuple(sorted(file for folder in spec.submodule_search_locations for file in Path(folder).rglob("*.py")))
    if spec.origin is None or not Path(spec.origin).is_file():
        raise LookupError(f"cannot find the source of {module!r}")
    return (Path(spec.origin),)


@cache
def model_plugin_packages() -> tuple[str, ...]:
    """The top-level packages of installed model plugins, read once: every key of a torch module task needs
    them, and reading the installed distributions' entry points takes milliseconds."""
    from importlib.metadata import entry_points

    return tuple(sorted({entry.module.partition(".")[0] for entry in entry_points(group="parity.models")}))


def zoo_code() -> list[Path]:
    """The code zoo models are built with: model_zoo, and the packages of installed model plugins."""
    return [file for package in ("model_zoo", *model_plugin_packages()) for file in package_files(package)]


def rebuild_code(artifact: Path) -> list[Path]:
    """The code a torch module artifact is rebuilt with: its files hold the weights, its forward lies in code,
    so a task reading it must miss when that code changes. A harness rebuild is its module and the packages
    it declares (REBUILD_CODE); anything else (a user's factory, a plugin's rebuild) is its whole top-level
    package. LookupError when the code cannot be found: such a task is never cached."""
    recipe_path = artifact / RECIPE_FILE
    if not recipe_path.is_file():
        return []
    try:
        recipe = json.loads(recipe_path.read_text())
        references = [str(recipe["rebuild"])]
        if references[0] in IMPORTING_ARGUMENTS:
            references.append(str(recipe["args"][IMPORTING_ARGUMENTS[references[0]]]))
    except (OSError, ValueError, KeyError, TypeError):
        return []  # not a recipe the worker would load either: the task fails on its own terms
    files: list[Path] = []
    for reference in references:
        module = reference.partition(":")[0]
        if module.startswith("harness."):
            files += package_files(module)
            for package in REBUILD_CODE.get(reference, ()):
                files += zoo_code() if package == "model_zoo" else package_files(package)
        else:
            files += package_files(module.partition(".")[0])
    return files


def stack_fingerprint(stack: str) -> str:
    """Every distribution installed in a stack, name and version: any upgrade changes the key; so do the bytes
    of a local wheel or checkout it was built from (an edited checkout keeps its version)."""
    return _stack_fingerprint(get_stack(stack))


@cache  # by the stack itself, not its name: a layered stack (--requires) bears its base's name
def _stack_fingerprint(stack: Stack) -> str:
    probe = ("import importlib.metadata as m\n"
             "print('\\n'.join(sorted(f\"{d.metadata['Name']}=={d.version}\" for d in m.distributions())))")
    # Isolated (-I): `python -c` would list what lies in the current directory too (a checkout's egg-info),
    # and the same stack would get another key in every folder a run starts from.
    listing = subprocess.run([str(stack.python), "-I", "-c", probe], capture_output=True, text=True,
                             check=True).stdout
    return digest_bytes((listing + stack.definition.fingerprint).encode())


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


def artifact_reads(artifact: Path) -> tuple[Path, ...]:
    """An artifact a task reads, with its external data file and, for a torch module, the code rebuilding it."""
    return (*with_external_data(artifact), *rebuild_code(artifact))


# Worker functions ("call" tasks) whose result depends only on their stack, their other arguments and the files
# they name: the keyword arguments naming the files each reads and writes. Any other call always runs.
PURE_CALLS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "harness.oracle.localize:list_nodes": (("model_path",), ()),
    "harness.oracle.localize:extract_prefix": (("model_path",), ("out_path",)),
    # It also writes the types onnxruntime saw into the cut it read (complete_output_types).
    "harness.oracle.localize:reference_outputs": (("model_path", "inputs_npz"), ("out_path", "model_path")),
    "harness.oracle.localize:reference_truth": (("model_path", "inputs_npz"), ("out_path",)),
    "harness.oracle.exporter_localize:torch_intermediates": (("module_dir", "inputs_npz"), ("out_path",)),
    "harness.oracle.exporter_localize:keras_intermediates": (("model_path", "inputs_npz"), ("out_path",)),
    "harness.oracle.exporter_localize:onnx_intermediates": (("model_path", "inputs_npz"), ("out_path",)),
    "harness.probes.node_cases:export_node_cases": ((), ("out_dir",)),
}
BUILD_PROBES = "harness.probes.source_ops:build_probes"  # a batch: each job reads inputs, writes its artifact
VERSION_CASES = "harness.probes.node_cases:version_node_cases"  # reads each exported case, writes one folder
CASE_FILES = ("model.onnx", "inputs.npz", "expected.npz")  # what an exported node case holds besides case.json


def call_files(function: str, kwargs: dict[str, Any], *,
               pure: bool = False) -> tuple[list[str], list[str], list[str]] | None:
    """The files a call reads and writes, and the other paths its arguments name (folders), or None. `pure`: the
    caller declares that a call outside PURE_CALLS reads and writes no file (a converter's declared table)."""
    if function == BUILD_PROBES:
        jobs = kwargs["jobs"]
        return ([path for job in jobs for path in job["inputs"]],
                [path for job in jobs for path in (job["artifact"], *job["outputs"])], [])
    if function == VERSION_CASES:
        manifests = kwargs["manifests"]
        return ([f"{manifest['folder']}/{name}" for manifest in manifests if manifest["status"] == "ok"
                 for name in CASE_FILES], [kwargs["out_dir"]], [manifest["folder"] for manifest in manifests])
    if function not in PURE_CALLS:
        return None if not pure else ([], [], [])
    reads, writes = PURE_CALLS[function]
    return [kwargs[name] for name in reads], [kwargs[name] for name in writes], []


def relocated(value: Any, moves: dict[str, str]) -> Any:
    """`value` with every string that is, or lies under, a path in `moves` moved to its new prefix: a call's
    arguments with their files' paths taken out (the key holds the files' bytes, never where they lie), and a
    reply naming what its task wrote (a case folder) named where the entry is restored, not where it was made."""
    if isinstance(value, dict):
        return {key: relocated(item, moves) for key, item in value.items()}
    if isinstance(value, list):
        return [relocated(item, moves) for item in value]
    if isinstance(value, str):
        for old, new in moves.items():
            if value == old or value.startswith(old + "/"):
                return new + value[len(old):]
    return value


def written_placeholder(index: int) -> str:
    return f"<written:{index}>"


def plan_for(task: dict[str, Any]) -> Plan | None:
    """None for a task the cache does not understand (it then always runs). LookupError when the code a
    task's torch module is rebuilt with cannot be found (it then always runs too)."""
    kind = task.get("task")
    if kind == "convert":
        module = task["converter"]["class"].partition(":")[0]
        return Plan((*artifact_reads(Path(task["source"])), Path(task["example"])), converted(Path(task["target"])),
                    (module,),
                    {"converter": task["converter"], "io": task["io"]})
    if kind == "run":
        module = task["runner"]["class"].partition(":")[0]
        truths = tuple(Path(path) for path in task.get("truth_outputs") or [])
        return Plan((*artifact_reads(Path(task["artifact"])), *map(Path, task["inputs"])),
                    (*map(Path, task["outputs"]), *truths), (module,),
                    {"runner": task["runner"], "io": task["io"], "truth": bool(truths)})
    if kind == "node_job":
        # An ONNX backend node case through one stage: convert (when the stage has a converter), then run.
        modules = ["harness.probes.node_cases", task["runner"]["class"].partition(":")[0]]
        if task.get("converter"):
            modules.append(task["converter"]["class"].partition(":")[0])
        writes = ([*converted(Path(task["target"]))] if task.get("target") else []) + [Path(task["outputs"]),
                                                                          Path(task["result"])]
        return Plan((*artifact_reads(Path(task["source"])), Path(task["inputs"])), tuple(writes), tuple(modules),
                    {"converter": task.get("converter"), "runner": task["runner"], "io": task["io"]})
    if kind == "build_source":
        # The zoo entry's code is the input: every model_zoo module (entries share helpers) and model plugins'.
        zoo = zoo_code()
        options = {"model": task["model"], "format": task["format"]}
        if task.get("description") is not None:  # a generated model: its description and the grammar's code
            options["description"] = task["description"]
            zoo += package_files("harness.fuzz")
        return Plan(tuple(zoo), (Path(task["target"]), Path(task["state"])), (), options)
    if kind == "call":
        pure = bool(task.get("pure")) and not task.get("kwargs")
        files = call_files(task["function"], task.get("kwargs", {}), pure=pure)
        if files is None:
            return None
        read_files, written_files, places = files
        read_paths = tuple(path for file in read_files for path in artifact_reads(Path(file)))
        if task["function"] == BUILD_PROBES:  # the probes it builds are data in torch_ops.py and keras_ops.py
            read_paths += package_files("harness.probes")
        located = dict.fromkeys([*read_files, *written_files, *places], "<file>")
        return Plan(read_paths, tuple(Path(file) for file in written_files), (task["function"].partition(":")[0],),
                    {"function": task["function"], "kwargs": relocated(task.get("kwargs", {}), located)})
    return None


class TaskCache:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.hits = self.misses = self.rebuilt = 0
        self.freed_bytes = 0

    def keep_to_budget(self, budget_bytes: int | None = None) -> tuple[int, int]:
        """Evict the least recently used entries beyond the budget (PARITY_CACHE_BUDGET_MB, default
        DEFAULT_BUDGET_MB; 0: no limit): the entries removed and the bytes freed."""
        budget = cache_budget_bytes() if budget_bytes is None else budget_bytes
        if not budget or not self.root.is_dir():
            return 0, 0
        before = self.freed_bytes
        removed = self.prune(keep_bytes=budget)
        return removed, self.freed_bytes - before

    def key(self, stack: str, task: dict[str, Any], plan: Plan) -> str:
        recipe = {
            "format": FORMAT, "task": task["task"], "stack": stack_fingerprint(stack), "options": plan.options,
            "reads": [digest_path(path) for path in plan.reads],
            "modules": {name: module_digest(name) for name in (*plan.modules, *WORKER_MODULES)},
            "writes": [path.name for path in plan.writes],  # a converter may branch on the target's suffix
        }
        if worker_threads() != DEFAULT_WORKER_THREADS:  # rounding depends on it (pool.worker_environment)
            recipe["threads"] = worker_threads()
        return digest_bytes(json.dumps(recipe, sort_keys=True, default=str).encode())

    def folder(self, key: str) -> Path:
        return self.root / key[:2] / key

    def entry_for(self, stack: str, task: dict[str, Any]) -> tuple[str, Plan] | None:
        """The task's key and plan, computed from its inputs as they are before it runs (a converter may write
        over what it read); None when the task is not cacheable or an input or its code is missing (it then
        runs, and fails on its own terms)."""
        try:
            plan = plan_for(task)
            return None if plan is None else (self.key(stack, task, plan), plan)
        except (LookupError, OSError, subprocess.CalledProcessError):
            return None

    def restore(self, stack: str, task: dict[str, Any],
                entry: tuple[str, Plan] | None = None) -> dict[str, Any] | None:
        """The cached reply of `task` ({"ok": True, "result": ...} or {"ok": False, "error": ...}), with its
        files copied to where the task would write them; None on a miss."""
        entry = entry or self.entry_for(stack, task)
        if entry is None:
            return None
        key, plan = entry
        folder = self.folder(key)
        if not (folder / ENTRY).is_file():
            self.misses += 1
            return None
        try:
            kept = json.loads((folder / ENTRY).read_text())
            digests = list(kept["digests"])
        except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError):
            digests = None
        copied: list[Path] = []
        try:
            if digests is None or len(digests) != len(plan.writes):
                raise ValueError(f"{folder / ENTRY} is unreadable or holds other files")
            for index, (target, expected) in enumerate(zip(plan.writes, digests)):
                if expected is None:
                    continue  # the task did not write this file (a run whose truth was unavailable)
                if holds(target, folder / "files" / str(index), expected):
                    continue
                copied.append(target)
                # The copy is what is checked: its digest is then known to the tasks that read it.
                if copy_hashed(folder / "files" / str(index), target) != expected:
                    raise ValueError(f"{folder / 'files' / str(index)} does not match its digest")
        except (OSError, ValueError):
            for target in copied:
                remove(target)
            shutil.rmtree(folder, ignore_errors=True)  # never trusted: the task runs again and rewrites it
            self.rebuilt += 1
            return None
        self.hits += 1
        try:
            os.utime(folder / ENTRY)  # its last use: the budget evicts the least recently used entries first
        except OSError:
            pass
        reply: dict[str, Any] = relocated(kept["reply"], {written_placeholder(index): str(path)
                                                          for index, path in enumerate(plan.writes)})
        return reply

    def store(self, stack: str, task: dict[str, Any], reply: dict[str, Any],
              entry: tuple[str, Plan] | None = None) -> None:
        """Keep a task's reply: a result, the converter's own error, or its crash by a fault signal ({"ok": False,
        "crash": ...}): all deterministic on the same bytes, and slow to get again. A kill (out of memory) or a
        timeout is the machine's and is never stored. `entry`: the key taken before the task ran."""
        if is_refusal(reply):
            return
        entry = entry or self.entry_for(stack, task)
        if entry is None:
            return
        key, plan = entry
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
            portable = relocated(reply, {str(path): written_placeholder(index)
                                         for index, path in enumerate(plan.writes)})
            (staging / ENTRY).write_text(json.dumps({"reply": portable, "digests": digests, "stored": time.time()}))
            os.rename(staging, folder)  # one rename: an entry is either complete or absent
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)  # another process stored it first, or the disk is full

    # -- parity cache info | prune ----------------------------------------------------------------------------
    def entries(self) -> Iterable[Path]:
        return (entry.parent for entry in self.root.glob(f"*/*/{ENTRY}"))

    def info(self) -> dict[str, Any]:
        sizes = [size for _, size, _ in self._present()]
        return {"root": str(self.root), "entries": len(sizes), "bytes": sum(sizes)}

    def _present(self) -> list[tuple[Path, int, float]]:
        """Each entry with its size and last use, skipping those another run sharing the cache removes meanwhile."""
        present = []
        for entry in self.entries():
            try:
                size = sum(file.stat().st_size for file in entry.rglob("*") if file.is_file())
                present.append((entry, size, (entry / ENTRY).stat().st_mtime))
            except OSError:
                continue
        return present

    def prune(self, *, older_than_days: float | None = None, keep_bytes: int | None = None) -> int:
        """Remove entries last used (stored or restored) more than `older_than_days` ago, then the least recently
        used beyond `keep_bytes`."""
        removed, kept_bytes, now = 0, 0, time.time()
        for entry, size, last_used in sorted(self._present(), key=lambda present: present[2], reverse=True):
            age_days = (now - last_used) / 86400
            if (older_than_days is not None and age_days > older_than_days) or (
                    keep_bytes is not None and kept_bytes + size > keep_bytes):
                shutil.rmtree(entry, ignore_errors=True)
                removed += 1
                self.freed_bytes += size
            else:
                kept_bytes += size
        for staging in self.root.glob("*/.staging-*"):  # left by a run killed mid-store
            shutil.rmtree(staging, ignore_errors=True)
        return removed


def is_refusal(reply: dict[str, Any]) -> bool:
    """A worker's refusal to load an untrusted artifact: it depends on what is trusted now (PARITY_TRUSTED_REBUILDS,
    the installed plugins' parity.rebuilds) and names this run's folder, so it is never kept to be replayed."""
    return not reply.get("ok", True) and UntrustedArtifactError.__name__ in str(reply.get("error", ""))


DEFAULT_BUDGET_MB = 10 * 1024  # a dozen checks of small models left 4.3 GB; the published job uses 6.4 GiB


def cache_budget_bytes() -> int:
    """The task cache's size limit in bytes (0: none), from PARITY_CACHE_BUDGET_MB or the default."""
    text = os.environ.get("PARITY_CACHE_BUDGET_MB", "")
    try:
        megabytes = float(text) if text else DEFAULT_BUDGET_MB
    except ValueError:
        raise UsageError(f"PARITY_CACHE_BUDGET_MB must be a number of megabytes, not {text!r}") from None
    return max(0, int(megabytes * 2**20))


CHECKED_IN_PLACE_BYTES = 1 << 18  # smaller files (a run's outputs, rewritten every example) are simply copied


def holds(target: Path, stored: Path, expected: str) -> bool:
    """The target already holds the entry's bytes: a rerun into the folder the last run used finds every
    artifact where it was made, and hashing it costs what hashing a fresh copy does, without the copy.
    Only artifacts are checked (folders, and files of at least CHECKED_IN_PLACE_BYTES)."""
    try:
        if stored.is_file() and (stored.stat().st_size < CHECKED_IN_PLACE_BYTES or not target.is_file()
                                 or target.stat().st_size != stored.stat().st_size):
            return False
        return target.exists() and digest_path(target) == expected
    except OSError:
        return False


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
