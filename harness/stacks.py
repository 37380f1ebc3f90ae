"""Stacks: tox environments that pin converter versions; find, provision and describe their interpreters."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

# Packages whose versions are recorded with every result row of a stack.
TRACKED_PACKAGES = (
    "torch", "torchvision", "tensorflow", "tensorflow-cpu", "keras", "tf-keras", "onnx", "onnxruntime",
    "onnxscript", "tf2onnx", "onnx-tf", "onnx2pytorch", "onnx2torch", "tensorflow-addons",
    "tensorflow-probability", "numpy", "protobuf",
)
KNOWN_STACKS = ("current", "legacy", "tf2onnx116")
# The stacks every run uses; the others host a second version of some converters, for side-by-side
# upgrade checks (`parity zoo --stacks current,legacy,tf2onnx116`).
BASE_STACKS = ("current", "legacy")
SECOND_VERSIONS = {"tf2onnx116": ("OnnxFromSavedModel",)}  # stack -> converter classes it can host


class StackError(RuntimeError):
    """A stack is missing or broken; the message says which command fixes it."""


def project_root() -> Path:
    """The checkout holding tox.ini: PARITY_PROJECT_DIR, else upward from cwd, else beside this package."""
    if env_dir := os.environ.get("PARITY_PROJECT_DIR"):
        return Path(env_dir).resolve()
    for start in (Path.cwd(), Path(__file__).resolve().parent):
        for folder in (start, *start.parents):
            if (folder / "tox.ini").is_file() and (folder / "harness").is_dir():
                return folder
    raise StackError("cannot find the project checkout (tox.ini beside harness/); set PARITY_PROJECT_DIR")


@dataclass(frozen=True)
class Stack:
    name: str

    @property
    def python(self) -> Path:
        return project_root() / ".tox" / self.name / "bin" / "python"

    @property
    def provision_command(self) -> list[str]:
        return [sys.executable, "-m", "tox", "-c", str(project_root() / "tox.ini"), "-e", self.name]

    def is_provisioned(self) -> bool:
        return self.python.exists()

    def ensure(self, *, provision: bool = True) -> Path:
        """The stack's interpreter, provisioning it through tox when it is missing and allowed to."""
        if self.is_provisioned():
            return self.python
        command = " ".join(self.provision_command)
        if not provision:
            raise StackError(f"stack {self.name!r} is not provisioned; run: {command}")
        print(f"[parity] provisioning stack {self.name!r} (several minutes on first use): {command}", flush=True)
        try:
            subprocess.run(self.provision_command, check=True, cwd=project_root())
        except (subprocess.CalledProcessError, FileNotFoundError) as exc:
            raise StackError(f"provisioning stack {self.name!r} failed ({exc}); run it by hand: {command}") from exc
        if not self.is_provisioned():
            raise StackError(f"tox ran but {self.python} does not exist; run: {command}")
        return self.python


def provision_stacks(names: list[str]) -> None:
    """Provision every missing stack among `names` in one parallel tox call (they download independently)."""
    missing = [name for name in names if not get_stack(name).is_provisioned()]
    if not missing:
        return
    command = [sys.executable, "-m", "tox", "-c", str(project_root() / "tox.ini"), "-e", ",".join(missing)]
    if len(missing) > 1:
        command += ["--parallel", "all", "--parallel-no-spinner"]
    print(f"[parity] provisioning stacks {', '.join(missing)} (several minutes): {' '.join(command)}", flush=True)
    completed = subprocess.run(command, cwd=project_root())
    still_missing = [name for name in missing if not get_stack(name).is_provisioned()]
    if completed.returncode != 0 or still_missing:
        raise StackError(f"provisioning {', '.join(missing)} failed (tox exit {completed.returncode}); "
                         f"run it by hand to see why: {' '.join(command)}")


def get_stack(name: str) -> Stack:
    if name not in KNOWN_STACKS:
        raise StackError(f"unknown stack {name!r}; known stacks: {', '.join(KNOWN_STACKS)} (tox.ini [testenv:NAME])")
    return Stack(name)


@cache
def stack_versions(name: str) -> dict[str, str]:
    """Versions of the tracked packages installed in a stack, read without importing any of them."""
    python = get_stack(name).ensure()
    probe = (
        "import json, importlib.metadata as m, sys\n"
        "out = {'python': sys.version.split()[0]}\n"
        f"for p in {TRACKED_PACKAGES!r}:\n"
        "    try: out[p] = m.version(p)\n"
        "    except m.PackageNotFoundError: pass\n"
        "print(json.dumps(out))\n"
    )
    # From the checkout: `-c` puts the working directory first on sys.path, where a json.py could shadow json.
    completed = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, check=True,
                               cwd=project_root())
    versions: dict[str, str] = json.loads(completed.stdout)
    # tensorflow-cpu installs the module "tensorflow"; one name in the reports is enough.
    if "tensorflow-cpu" in versions:
        versions.setdefault("tensorflow", versions.pop("tensorflow-cpu"))
    return versions
