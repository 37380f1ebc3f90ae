"""Stacks: Python environments that pin converter versions; defined in stacks.toml, derived by `--with`,
provisioned into a per-user cache keyed by their pins, and described by the versions they hold."""

from __future__ import annotations

import ast
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from harness.errors import StackError

DEFINITIONS = Path(__file__).with_name("stacks.toml")
HARNESS_PACKAGE = Path(__file__).resolve().parent.parent  # the harness package folder, this module two levels down
MARKER = "stack.json"  # written beside a stack's environment once it installed and its checks imported
LAYER_PTH = "_parity_base.pth"  # in a derived stack's site-packages: puts its base's packages after its own
# Folders of a source checkout that are not its source: they change on every build and never enter its key.
NOT_SOURCE = {".git", ".hg", ".svn", ".tox", ".nox", ".venv", "venv", "__pycache__", "build", "dist",
              ".mypy_cache", ".pytest_cache", ".ruff_cache", ".parity"}


@dataclass(frozen=True)
class StackDefinition:
    name: str
    requirements: tuple[str, ...]  # pip requirement lines, the worker's own included
    description: str = ""
    base: bool = False  # every run uses it
    hosts: tuple[str, ...] = ()  # a defined extra stack: the converter classes it runs a second version of
    checks: tuple[str, ...] = ()  # Python lines imported once after installation, each in its own process
    derived_from: str = ""  # a derived stack: the base whose pins it copies, with `package` replaced
    package: str = ""  # a derived stack: the canonical name of the package it replaces
    fingerprint: str = ""  # the bytes of local wheels and checkouts among the requirements
    origin: str = ""  # a derived stack: the --with text that made it
    python: str = ""  # "3.12": the interpreter version it is built on; "": the harness's own
    layer_over: str = ""  # a defined layer: the base stack whose pins it keeps, with its own packages added
    adds: tuple[str, ...] = ()  # a layered stack (`--requires`): the requirement lines a user's model adds to it

    @property
    def layered_on(self) -> str:
        """The stack this one is a thin layer over (a derived stack's base, a defined layer's), or ""."""
        return self.derived_from or self.layer_over

    @property
    def python_version(self) -> str:
        return self.python or f"{sys.version_info.major}.{sys.version_info.minor}"

    @property
    def key(self) -> str:
        """What the environment depends on: the interpreter's version, the pins, local files' contents."""
        identity = {"python": self.python_version,
                    "requirements": sorted(self.requirements), "fingerprint": self.fingerprint}
        return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]

    def pins(self) -> dict[str, Requirement]:
        """Each requirement by its canonical package name."""
        return {canonicalize_name(requirement.name): requirement
                for requirement in map(Requirement, self.requirements)}

    def pinned_version(self, package: str) -> str:
        """The version this stack pins for `package` (the specifier when it is not one == version)."""
        specifier = self.pins()[canonicalize_name(package)].specifier
        exact = [spec.version for spec in specifier if spec.operator == "=="]
        return exact[0] if len(exact) == 1 else safe_label(str(specifier) or "any")


# ------------------------------------------------------------------------------------------- definitions


@cache
def defined_stacks() -> dict[str, StackDefinition]:
    """The stacks stacks.toml defines, in its order (the package ships the file: no checkout needed)."""
    data = tomllib.loads(DEFINITIONS.read_text())
    worker = tuple(data.get("worker_requirements", ()))
    definitions: dict[str, StackDefinition] = {}
    for name, entry in data["stack"].items():
        # A layer holds its base's pins and its own: the key changes when either does, and the layer's packages
        # are resolved against the base's installed ones (install_layer).
        under = definitions.get(entry.get("layer_over", "")) if "layer_over" in entry else None
        if "layer_over" in entry and (under is None or under.layer_over):
            raise StackError(f"stacks.toml: stack {name!r} is a layer over {entry['layer_over']!r}, which is not a "
                             "stack defined above it (and not itself a layer)")
        requirements = (*under.requirements, *entry["requirements"]) if under else (*worker, *entry["requirements"])
        definitions[name] = StackDefinition(
            name=name, requirements=requirements, description=entry.get("description", ""),
            base=bool(entry.get("base")), hosts=tuple(entry.get("hosts", ())), checks=tuple(entry.get("checks", ())),
            python=under.python if under else str(entry.get("python", "")), layer_over=under.name if under else "")
    return definitions


KNOWN_STACKS = tuple(defined_stacks())
# The stacks every run uses; the others host a second version of some converters, for side-by-side
# upgrade checks (`parity zoo --stacks current,legacy,tf2onnx116`, `--with PKG==VER`).
BASE_STACKS = tuple(name for name, definition in defined_stacks().items() if definition.base)
SECOND_VERSIONS = {name: definition.hosts for name, definition in defined_stacks().items() if definition.hosts}
# A stack neither base nor hosting second versions is the home of converters that declare it (onnx2tf): provisioned
# when a chosen route runs one of them.
_derived: dict[str, StackDefinition] = {}  # registered by --with for this process
_layered: dict[str, StackDefinition] = {}  # a stack of this name runs with a user's packages layered on (--requires)


def register(definition: StackDefinition) -> None:
    """Make a derived stack known by its name (its routes' mark) to get_stack in this process."""
    known = defined_stacks().get(definition.name) or _derived.get(definition.name)
    if known is not None and known != definition:
        raise StackError(f"two different stacks would be named {definition.name!r}: {known.origin or 'stacks.toml'} "
                         f"and {definition.origin}")
    if definition.name not in defined_stacks():
        _derived[definition.name] = definition


def get_stack(name: str) -> Stack:
    definition = _layered.get(name) or defined_stacks().get(name) or _derived.get(name)
    if definition is None:
        raise StackError(f"unknown stack {name!r}; known stacks: {', '.join(KNOWN_STACKS)} (stacks.toml), "
                         "or derive one with --with PKG==VERSION")
    return Stack(definition)


# ------------------------------------------------------------------------------------------- locations


def checkout_root() -> Path | None:
    """The project checkout (tox.ini beside harness/): PARITY_PROJECT_DIR, else upward from cwd, else beside
    this package; None for an installed harness."""
    if env_dir := os.environ.get("PARITY_PROJECT_DIR"):
        return Path(env_dir).resolve()
    for start in (Path.cwd(), HARNESS_PACKAGE):
        for folder in (start, *start.parents):
            if (folder / "tox.ini").is_file() and (folder / "harness").is_dir():
                return folder
    return None


def project_root() -> Path:
    """Where runs keep .parity/ and look for known_failures.toml: the checkout, else the current directory
    (an installed harness works from any directory)."""
    return checkout_root() or Path.cwd().resolve()


def cache_root() -> Path:
    """The per-user cache: PARITY_CACHE_DIR, else $XDG_CACHE_HOME/parity, else ~/.cache/parity."""
    if env_dir := os.environ.get("PARITY_CACHE_DIR"):
        return Path(env_dir).expanduser().resolve()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "parity"


def harness_import_root() -> Path:
    """A folder holding only the harness and model_zoo packages, for the workers' PYTHONPATH and working directory.

    In a checkout that is the checkout. An installed harness lives in a site-packages whose numpy and pandas
    must not shadow a stack's own, so the workers get a cache folder of links to the two packages instead.
    """
    package = HARNESS_PACKAGE
    checkout = checkout_root()
    if checkout is not None and (checkout / "harness").resolve() == package:
        return checkout
    folder = cache_root() / "import-root" / hashlib.sha256(str(package).encode()).hexdigest()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("harness", "model_zoo"):
        link, target = folder / name, package.parent / name
        if target.is_dir() and not link.exists():
            try:
                link.symlink_to(target, target_is_directory=True)
            except FileExistsError:  # another process made it first
                pass
    return folder


# ------------------------------------------------------------------------------------------- provisioning


@dataclass(frozen=True)
class Stack:
    definition: StackDefinition

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def folder(self) -> Path:
        return cache_root() / "stacks" / f"{self.name}-{self.definition.key}"

    @property
    def python(self) -> Path:
        return self.folder / "env" / "bin" / "python"

    @property
    def provision_command(self) -> str:
        if self.definition.adds:
            return "parity check MODEL " + " ".join(f"--requires {line!r}" for line in self.definition.adds)
        if self.definition.origin:
            return f"parity stacks --with {self.definition.origin}"
        return f"parity stacks {self.name}"

    def is_provisioned(self) -> bool:
        marker = self.folder / MARKER
        if not (marker.is_file() and self.python.exists()):
            return False
        # A layer imports its base's packages: it works only while that base is there.
        layer_over = json.loads(marker.read_text()).get("layer_over")
        return not layer_over or (self.folder.parent / layer_over / MARKER).is_file()

    def ensure(self, *, provision: bool = True) -> Path:
        """The stack's interpreter, provisioning it when it is missing and allowed to."""
        if self.is_provisioned():
            return self.python
        if not provision:
            raise StackError(f"stack {self.name!r} is not provisioned; run: {self.provision_command}")
        self.provision()
        return self.python

    def provision(self) -> None:
        """Create the environment (uv venv and uv pip install of the pins, or pip without uv; a derived stack as a
        layer over its base), then the import checks, once: a lock keeps two runs from building it together, and
        the marker is written only when everything worked."""
        self.folder.parent.mkdir(parents=True, exist_ok=True)
        with exclusive(self.folder.parent / f"{self.folder.name}.lock"):
            if self.is_provisioned():
                return  # another process finished it while this one waited
            if self.folder.exists():
                shutil.rmtree(self.folder)  # a build that was interrupted, or a layer whose base is gone
            self.folder.mkdir()
            started = time.perf_counter()
            adopted = self.adopt_checkout_env()
            uv, layer_over = uv_binary(), ""
            layer: dict[str, str] = {}
            if adopted is None:
                adds = f" with {', '.join(self.definition.adds)} layered on" if self.definition.adds else ""
                print(f"[parity] provisioning stack {self.name!r}{adds} into {self.folder} with "
                      f"{'uv' if uv else 'pip'} (log: {self.folder / 'provision.log'})", flush=True)
                if uv is None:
                    print("[parity] uv not found (the harness depends on it; PARITY_INSTALLER=pip also asks for "
                          "pip): provisioning with pip, which takes minutes and copies every package", flush=True)
                if self.definition.layered_on:
                    layer_over, layer = self.install_layer(uv)
                else:
                    self.install(uv)
            self.check_imports()
            record = {"name": self.name, "requirements": list(self.definition.requirements),
                      "python": installed_versions(self.python, [])["python"],
                      "derived_from": self.definition.derived_from,
                      "origin": self.definition.origin, "adopted": str(adopted or ""),
                      "installer": "" if adopted else "uv" if uv else "pip", "layer_over": layer_over,
                      # What the resolver put in the layer over its base (a release's own pins), by name.
                      "layer": layer,
                      "seconds": round(time.perf_counter() - started, 1)}
            (self.folder / MARKER).write_text(json.dumps(record, indent=1) + "\n")

    def install(self, uv: str | None) -> None:
        """The environment with every pin. uv links the packages from its shared cache (hardlinks: a second stack
        or a rebuild costs seconds and no disk for what the cache holds) and resolves from pip's own sources.
        The venv is python's own in both cases, not `uv venv`: its pip and setuptools are what pip-built stacks
        hold, and uv keeps an installed release that satisfies a pin, so both installers give the same versions
        (`uv venv` has no setuptools, and uv would add the newest where a package asks for any: in `legacy`
        one without pkg_resources, which its tensorboard imports)."""
        # The stack's own interpreter (stacks.toml's `python`, else the harness's).
        commands = [[str(find_python(self.definition)), "-m", "venv", str(self.folder / "env")]]
        if uv is None:
            commands.append([str(self.python), "-m", "pip", "install", "--disable-pip-version-check", "--no-input",
                             *self.definition.requirements])
            self.run_logged(commands)
            return
        options, variables = uv_source_options()
        commands.append([uv, "pip", "install", "--python", str(self.python), "--link-mode", "hardlink", *options,
                         *self.definition.requirements])
        self.run_logged(commands, variables)

    def install_layer(self, uv: str | None) -> tuple[str, dict[str, str]]:
        """A derived stack, or one stacks.toml declares a layer, as a layer over its base: an environment of its
        own whose site-packages goes on to the base's (a .pth, so the base's packages come after the layer's),
        holding only the distributions its pins need beyond what the base has installed (uv's or pip's dry run in
        the base says which). Returns the base's folder name, which must stay provisioned for the layer to work,
        and what the layer installed."""
        # The defined stack itself: a layered stack bears its base's name, and get_stack would give the layer.
        base = Stack(defined_stacks()[self.definition.layered_on])
        base_python = base.ensure()  # the layer runs the base's interpreter and imports its packages
        env, requirements = self.folder / "env", self.definition.requirements
        options, variables = uv_source_options() if uv else ([], {})
        # A local wheel or checkout: uv would reuse what it built from the same path before the edit.
        refresh = ["--refresh-package", self.definition.package] if self.definition.fingerprint else []
        if uv is None:
            # No pip of its own: ensurepip's setuptools would shadow the base's. The harness's pip works on it.
            self.run_logged([[str(base_python), "-m", "venv", "--without-pip", str(env)]])
            plan = self.run_logged([[*harness_pip(base_python), "install", "--no-input", "--dry-run", "--quiet",
                                     "--report", "-", *requirements]], capture=True)
            report, _ = json.JSONDecoder().raw_decode(plan)  # the report, then any warnings
            changed = {canonicalize_name(item["metadata"]["name"]): item["metadata"]["version"]
                       for item in report["install"]}
        else:
            self.run_logged([[uv, "venv", "--quiet", "--python", str(base_python), str(env)]])
            plan = self.run_logged([[uv, "pip", "install", "--dry-run", "--python", str(base_python), *options,
                                     *refresh, *requirements]], variables, capture=True)
            # ` + name==version`, or ` + name @ url` for a local wheel or checkout.
            changed = {canonicalize_name(name): version
                       for name, version in re.findall(r"^ \+ ([\w.-]+)(?:==(\S+)| @ )", plan, flags=re.MULTILINE)}
        if self.definition.adds:
            replaced = sorted(name for name in changed if name in base.definition.pins())
            if replaced:  # what the stack pins is what the harness tests: a user's package must work with it
                pin = base.definition.pins()[replaced[0]]
                raise StackError(f"--requires {', '.join(self.definition.adds)} would replace the {base.name} stack's "
                                 f"pin {pin} with {replaced[0]} {changed[replaced[0]] or '(a local build)'}; "
                                 f"require a release that works with {pin}")
        base_paths, layer_paths = site_package_folders(base_python), site_package_folders(self.python)
        # addsitedir rather than a bare path: the base's own .pth files (setuptools', coloredlogs') still apply.
        (layer_paths[0] / LAYER_PTH).write_text("".join(f"import site; site.addsitedir({str(path)!r})\n"
                                                         for path in base_paths))
        pins = self.definition.pins()
        new = [str(pins[name]) if name in pins else f"{name}=={version}" for name, version in sorted(changed.items())]
        if new:
            install = ([uv, "pip", "install", "--no-deps", "--python", str(self.python), "--link-mode", "hardlink",
                        *options, *refresh, *new] if uv else
                       [*harness_pip(self.python), "install", "--no-input", "--no-deps", *new])
            self.run_logged([install], variables)
        self.check_layer(base_python)
        return base.folder.name, dict(sorted(changed.items()))

    def check_layer(self, base_python: Path) -> None:
        """`pip check` inside the layered environment: every distribution it sees (the layer's first, then the
        base's) has what it requires (uv's own check reads only the layer's folder). A problem the base has too
        is not the layer's."""
        def problems(python: Path) -> list[str] | None:
            completed = subprocess.run([*harness_pip(python), "check"], capture_output=True, text=True,
                                       cwd=self.folder)
            if completed.returncode != 0 and "No module named pip" in completed.stderr:
                return None
            return completed.stdout.splitlines() if completed.returncode != 0 else []

        found = problems(self.python)
        if found is None:
            print(f"[parity] stack {self.name!r}: the harness has no pip to check the layer over its base with; "
                  "import checks only", flush=True)
            return
        in_base = (problems(base_python) or []) if found else []
        new = [line for line in found if line not in in_base]
        if new:
            raise StackError(f"stack {self.name!r} installed but does not resolve over its base "
                             f"{self.definition.layered_on!r}: {new[0][:200]}")

    def run_logged(self, commands: list[list[str]], variables: dict[str, str] | None = None, *,
                   capture: bool = False) -> str:
        """Run commands with their output in the provision log (and the last one's stdout then stderr returned when
        `capture`: uv prints its plan on stderr); a one-line StackError with the log's error line when one fails."""
        log = self.folder / "provision.log"
        env = {**os.environ, **(variables or {})}
        out = ""
        with log.open("ab") as sink:
            for command in commands:
                pipe = subprocess.PIPE if capture else sink
                completed = subprocess.run(command, stdout=pipe, stderr=pipe, cwd=self.folder, env=env)
                if capture:
                    out = (completed.stdout + completed.stderr).decode(errors="replace")
                    sink.write(completed.stdout + completed.stderr)
                if completed.returncode != 0:
                    sink.flush()
                    raise StackError(f"provisioning stack {self.name!r} failed: `{' '.join(command[:4])} ...` "
                                     f"exited {completed.returncode}: {last_error_line(log)} (full log: {log})")
        return out

    def check_imports(self) -> None:
        """Each check in its own process, side by side: importing torch or TensorFlow takes about ten seconds of
        one core, most of a provisioning from a warm uv cache."""
        def run(line: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([str(self.python), "-c", line], capture_output=True, text=True, cwd=self.folder)

        with ThreadPoolExecutor(max_workers=max(1, len(self.definition.checks))) as pool:
            results = list(pool.map(run, self.definition.checks))
        for line, completed in zip(self.definition.checks, results):
            if completed.returncode != 0:
                last = (completed.stderr.strip().splitlines() or ["no output"])[-1]
                raise StackError(f"stack {self.name!r} installed but `{line}` fails: {last[:200]}")

    def adopt_checkout_env(self) -> Path | None:
        """A checkout's `.tox/<name>`, from when tox.ini defined the stacks, if it holds exactly these pins:
        linked instead of downloaded again. Only defined stacks, whose pins say what the folder must hold."""
        checkout = checkout_root()
        if self.definition.origin or checkout is None:
            return None
        old = checkout / ".tox" / self.name
        if not (old / "bin" / "python").exists():
            return None
        installed = installed_versions(old / "bin" / "python", list(self.definition.pins()))
        for package, requirement in self.definition.pins().items():
            version = installed.get(package)
            if version is None or not requirement.specifier.contains(version, prereleases=True):
                return None
        (self.folder / "env").symlink_to(old.resolve(), target_is_directory=True)
        print(f"[parity] stack {self.name!r}: using {old}, which holds its pins", flush=True)
        return old


def find_python(definition: StackDefinition) -> Path:
    """The interpreter a stack is built with: the harness's own, or for a stack pinning another version
    (`python = "3.12"`) a `pythonX.Y` on PATH or under pyenv, each asked for its version (a pyenv shim of a
    version not selected is on PATH but fails); a one-line StackError when there is none."""
    wanted = definition.python_version
    if wanted == f"{sys.version_info.major}.{sys.version_info.minor}":
        return Path(sys.executable)
    command = f"python{wanted}"
    pyenv_root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    # Newest patch release first: 3.12.10 before 3.12.9.
    installed = sorted(pyenv_root.glob(f"versions/{wanted}.*/bin/{command}"),
                       key=lambda path: [int(part) if part.isdigit() else -1
                                         for part in path.parent.parent.name.split(".")], reverse=True)
    on_path = shutil.which(command)
    for candidate in [*([Path(on_path)] if on_path else []), *installed]:
        try:
            completed = subprocess.run([str(candidate), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                                       capture_output=True, text=True, timeout=60, cwd=candidate.parent)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if completed.returncode == 0 and completed.stdout.strip() == wanted:
            return candidate
    raise StackError(f"stack {definition.name!r} needs Python {wanted}: no working {command} on PATH or under "
                     f"{pyenv_root}/versions (install one, e.g. `pyenv install {wanted}`)")


@contextmanager
def exclusive(lock_path: Path) -> Iterator[None]:
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def last_error_line(log: Path) -> str:
    """The line of a failed install's log that says why: pip's first `ERROR`; uv's `error:` with its first
    reason (`cause: Because ...`, or `Caused by: ...`); else the last line."""
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    for index, line in enumerate(lines):
        if line.startswith("ERROR"):
            return line[:300]
        if line.startswith("error:"):
            reason = next((later for later in lines[index + 1:index + 3]
                           if later.startswith(("cause:", "Caused by:"))), "")
            return f"{line}: {reason}"[:300] if reason else line[:300]
    return (lines or ["no output"])[-1][:300]


def uv_binary() -> str | None:
    """uv: the harness depends on it (its wheel carries the binary), else on PATH. None when it is missing or
    PARITY_INSTALLER=pip asks for pip."""
    if os.environ.get("PARITY_INSTALLER", "").strip().lower() == "pip":
        return None
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


# pip's options that say where packages come from, and uv's flag for each.
PIP_SOURCES = {"index-url": "--index-url", "extra-index-url": "--extra-index-url", "find-links": "--find-links",
               "constraint": "--constraint"}


@cache
def uv_source_options() -> tuple[list[str], dict[str, str]]:
    """pip's configuration on this machine (its files and PIP_* variables, as `pip config list` shows them) as uv
    options and variables. uv reads neither: without them it would resolve from other sources than pip does
    (a machine's local wheels, its mirror, its caps) and could install other builds, or download gigabytes."""
    try:
        listed = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True,
                                timeout=120).stdout
    except (OSError, subprocess.SubprocessError):
        listed = ""
    chosen: dict[str, tuple[int, str]] = {}
    rank = {"global": 0, "install": 1, ":env:": 2}  # pip's precedence: a variable over [install] over [global]
    for line in listed.splitlines():
        match = re.fullmatch(r"(:env:|global|install)\.([\w-]+)=(.*)", line.strip())
        if match is None:
            continue
        try:
            value = str(ast.literal_eval(match.group(3)))
        except (ValueError, SyntaxError):
            continue
        section, key = rank[match.group(1)], match.group(2)
        if key not in chosen or chosen[key][0] <= section:
            chosen[key] = (section, value)
    values = {key: value for key, (_, value) in chosen.items()}
    # pip takes the best version over all its indexes; uv by default only looks at the first index naming a package.
    options = ["--index-strategy", "unsafe-best-match"]
    for key, flag in PIP_SOURCES.items():
        for value in values.get(key, "").split():
            options += [flag, value]
    if values.get("no-index", "").lower() in ("1", "true", "yes", "on"):
        options.append("--no-index")
    variables = {"SSL_CERT_FILE": values["cert"]} if values.get("cert") else {}
    return options, variables


def harness_pip(python: Path) -> list[str]:
    """The harness's own pip working on another environment (pip >= 22.3), which needs no pip of its own."""
    return [sys.executable, "-m", "pip", "--python", str(python), "--disable-pip-version-check"]


def site_package_folders(python: Path) -> list[Path]:
    """An environment's site-packages folders (purelib first; platlib when it is another folder)."""
    probe = "import json, sysconfig; print(json.dumps([sysconfig.get_path('purelib'), sysconfig.get_path('platlib')]))"
    completed = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, check=True,
                               cwd=python.parent)
    return [Path(path) for path in dict.fromkeys(json.loads(completed.stdout))]


def installed_versions(python: Path, packages: Iterable[str]) -> dict[str, str]:
    """Versions of `packages` in the environment of `python`, read without importing any of them."""
    probe = (
        "import json, importlib.metadata as m, sys\n"
        "out = {'python': sys.version.split()[0]}\n"
        f"for p in {list(packages)!r}:\n"
        "    try: out[p] = m.version(p)\n"
        "    except m.PackageNotFoundError: pass\n"
        "print(json.dumps(out))\n"
    )
    # From the environment's own folder: `-c` puts the working directory first on sys.path, where a json.py
    # could shadow json.
    completed = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, check=True,
                               cwd=python.parent)
    versions: dict[str, str] = json.loads(completed.stdout)
    return versions


def provision_stacks(names: list[str]) -> None:
    """Provision every missing stack among `names`: the defined ones side by side (they download independently),
    then the derived ones one after another. Layers over one base share its large wheels, and uv unpacks a wheel
    into its cache once per concurrent install: five onnx2tf layers on TensorFlow 2.19 built side by side held
    five 2 GB copies of it instead of links to one."""
    missing = [get_stack(name) for name in names if not get_stack(name).is_provisioned()]
    if not missing:
        return
    defined = [stack for stack in missing if not stack.definition.derived_from]
    failures: list[str] = []
    if defined:
        with ThreadPoolExecutor(max_workers=len(defined)) as pool:
            failures += [str(exc) for exc in pool.map(provision_or_error, defined) if exc is not None]
    failures += [str(exc) for exc in map(provision_or_error, [s for s in missing if s not in defined])
                 if exc is not None]
    if failures:
        raise StackError("; ".join(failures))


def provision_or_error(stack: Stack) -> StackError | None:
    try:
        stack.provision()
    except StackError as exc:
        return exc
    return None


def stack_versions(name: str, packages: tuple[str, ...]) -> dict[str, str]:
    """Versions of `packages` installed in a stack (harness.converters.tracked_packages: the frameworks and the
    converters' records), and of the packages a user's model layered on it, read without importing any of them."""
    stack = get_stack(name)
    added = tuple(Requirement(line).name for line in stack.definition.adds)
    return _stack_versions(stack, tuple(dict.fromkeys([*packages, *added])))


@cache  # by the stack itself, not its name: a layered stack bears its base's name
def _stack_versions(stack: Stack, packages: tuple[str, ...]) -> dict[str, str]:
    versions = installed_versions(stack.ensure(), packages)
    # tensorflow-cpu installs the module "tensorflow"; one name in the reports is enough.
    if "tensorflow-cpu" in versions:
        versions.setdefault("tensorflow", versions.pop("tensorflow-cpu"))
    return versions


# ------------------------------------------------------------------------------------------- derived stacks


@dataclass(frozen=True)
class Derivation:
    """What `--with SPEC` asks for: the stack that runs it, and the versions an upgrade report compares."""

    stack: StackDefinition
    package: str  # canonical name
    base: str  # the base stack that pins the package today
    old_version: str
    new_version: str


def safe_label(text: str) -> str:
    """Text fit for a route mark and a folder name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "x"


def tree_digest(root: Path) -> str:
    """SHA-256 over a source checkout's files (relative path and bytes), build and VCS folders left out."""
    digest = hashlib.sha256()
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(name for name in subfolders
                               if name not in NOT_SOURCE and not name.endswith(".egg-info"))
        for name in sorted(files):
            path = Path(folder, name)
            relative = path.relative_to(root).as_posix().encode()
            if path.is_symlink():
                digest.update(b"link\0" + relative + b"\0" + os.readlink(path).encode() + b"\0")
            elif path.is_file():
                digest.update(b"file\0" + relative + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def checkout_metadata(root: Path) -> tuple[str, str]:
    """(name, version) a source checkout declares statically: pyproject.toml [project], else setup.cfg.
    Read as text, never executed: the checkout is the user's, and it is built only inside the stack."""
    import configparser

    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        try:
            project = tomllib.loads(pyproject.read_text()).get("project", {})
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise StackError(f"{pyproject}: not valid TOML ({exc})") from None
        if isinstance(project.get("name"), str):
            return project["name"], str(project.get("version") or "checkout")
    setup_cfg = root / "setup.cfg"
    if setup_cfg.is_file():
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(setup_cfg)
        except configparser.Error as exc:
            raise StackError(f"{setup_cfg}: not readable ({str(exc).splitlines()[0]})") from None
        if parser.has_option("metadata", "name"):
            version = parser.get("metadata", "version", fallback="checkout")
            return parser.get("metadata", "name"), version if re.fullmatch(r"[\w.+!-]+", version) else "checkout"
    raise StackError(f"{root}: no static package name (pyproject.toml [project] name or setup.cfg [metadata] name); "
                     "name it: --with NAME@PATH")


@dataclass(frozen=True)
class WithRequest:
    package: str  # canonical name
    requirement: str  # the pip requirement line that replaces the base stack's pin
    label: str  # the stack's name after the package: a version, `<version>-wheel` or `checkout`
    version: str
    fingerprint: str = ""


def parse_with(text: str) -> WithRequest:
    """`PKG==VER`, a wheel file, a source checkout, or `NAME@PATH`; a StackError saying which forms exist."""
    named = re.fullmatch(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*@\s*(\S.*)", text)
    path_text = named.group(2) if named else text
    path = Path(path_text).expanduser()
    looks_like_path = path_text.endswith(".whl") or "/" in path_text or path_text.startswith(".")
    if looks_like_path or (named and path.exists()):
        if not path.exists():
            raise StackError(f"--with {text}: no such file or folder {path}")
        path = path.resolve()
        if path.is_file():
            try:
                wheel_name, version, _, _ = parse_wheel_filename(path.name)
            except InvalidWheelFilename as exc:
                raise StackError(f"--with {text}: not a wheel file ({exc})") from None
            name, version_text = str(wheel_name), str(version)
            fingerprint, label = hashlib.sha256(path.read_bytes()).hexdigest(), f"{safe_label(version_text)}-wheel"
        else:
            name, version_text = checkout_metadata(path) if not named else (named.group(1), "checkout")
            fingerprint, label = tree_digest(path), "checkout"
        package = canonicalize_name(named.group(1) if named else name)
        return WithRequest(package, f"{package} @ {path.as_uri()}", label, version_text, fingerprint)
    try:
        requirement = Requirement(text)
    except InvalidRequirement:
        requirement = None
    exact = [spec.version for spec in requirement.specifier if spec.operator == "=="] if requirement else []
    if requirement is None or len(exact) != 1 or len(requirement.specifier) != 1 or requirement.url \
            or requirement.marker or requirement.extras:
        raise StackError(f"--with {text}: expected PKG==VERSION, a .whl file, a source checkout folder, "
                         "or NAME@PATH")
    package = canonicalize_name(requirement.name)
    return WithRequest(package, f"{package}=={exact[0]}", safe_label(exact[0]), exact[0])


def derivable_stacks() -> list[str]:
    """Stacks a --with derives from: the base stacks, and the homes of converters that live apart (neither base nor
    hosting second versions: onnx2tf's), so `--with onnx2tf==2.0.0` is a thin layer over the stack onnx2tf runs in."""
    return [name for name, definition in defined_stacks().items() if definition.base or not definition.hosts]


def with_extras(requirement: str, pin: Requirement) -> str:
    """The --with requirement (`PKG==VER` or `PKG @ URL`) carrying the extras of the pin it replaces
    (`onnx2tf[tensorflow]==2.6.9`): the other release is installed the way its stack installs this one."""
    if not pin.extras:
        return requirement
    name, rest = re.fullmatch(r"([A-Za-z0-9._-]+)((?:==| @ ).*)", requirement).groups()  # type: ignore[union-attr]
    return f"{name}[{','.join(sorted(pin.extras))}]{rest}"


def derive(text: str) -> Derivation:
    """The stack `--with text` asks for: a defined stack pinning exactly that version (stacks.toml says why
    one exists: derivation would not resolve), else the base stack that pins the package, else the stack its
    converters live in (a home stack pinning it), with its pin replaced. `STACK:SPEC` chooses the stack when
    several pin the package."""
    derivable = derivable_stacks()
    chosen, colon, rest = text.partition(":")
    if not colon or chosen not in derivable:
        chosen, rest = "", text
    request = parse_with(rest)
    pinning = [definition for definition in defined_stacks().values()
               if definition.name in derivable and request.package in definition.pins()
               and chosen in ("", definition.name)]
    # A base stack first; else the home of the converters that use the package (onnx2tf's on its own Python).
    bases = [definition for definition in pinning if definition.base] or pinning
    if not bases:
        pinned = sorted({package for definition in defined_stacks().values() if definition.name in derivable
                         for package in definition.pins()})
        raise StackError(f"--with {text}: no stack pins {request.package!r}; the stacks pin: {', '.join(pinned)}")
    if len(bases) > 1:
        raise StackError(f"--with {text}: {request.package} is pinned by stacks "
                         f"{' and '.join(b.name for b in bases)}; say which: --with {bases[0].name}:{rest}")
    base = bases[0]
    old = base.pinned_version(request.package)
    for definition in defined_stacks().values():
        pin = definition.pins().get(request.package)
        # A layer's pins are mostly its base's: --with onnx==X means the base's onnx, not the layer holding it.
        if not definition.base and not definition.layer_over and pin is not None and not request.fingerprint \
                and str(pin.specifier) == f"=={request.version}":
            return Derivation(definition, request.package, base.name, old, request.version)
    requirements = tuple(with_extras(request.requirement, Requirement(line)) if
                         canonicalize_name(Requirement(line).name) == request.package else line
                         for line in base.requirements)
    definition = StackDefinition(
        name=f"{request.package}-{request.label}", requirements=requirements,
        description=f"{base.name} with {request.requirement}", checks=base.checks, derived_from=base.name,
        package=request.package, fingerprint=request.fingerprint, origin=text, python=base.python)
    return Derivation(definition, request.package, base.name, old, request.version)


def layer_requirements(base: str, requires: Iterable[str]) -> StackDefinition:
    """The base stack with the packages a user's model needs layered on (`--requires`, `[tool.parity] requires`):
    its own name, so every hop it runs runs with them, and its own key and folder, so it is provisioned once
    (a thin layer, like a --with stack) and the task cache keys on it. A package the stack pins is refused: the
    pins are what the harness tests (`--with` runs another release side by side)."""
    definition = defined_stacks()[base]
    lines: list[str] = []
    for text in requires:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            requirement = None
        if requirement is None or requirement.url or requirement.marker:
            raise StackError(f"--requires {text!r}: expected a package name with versions, e.g. timm==1.0.31")
        pinned = definition.pins().get(canonicalize_name(requirement.name))
        if pinned is not None:
            raise StackError(f"--requires {text}: the {base} stack pins {pinned} (what the harness tests); to try "
                             f"another release side by side: --with {requirement.name}==VERSION")
        lines.append(str(requirement))
    if not lines:
        return definition
    return StackDefinition(name=definition.name, requirements=(*definition.requirements, *lines),
                           description=f"{definition.description} with {', '.join(lines)}", base=definition.base,
                           checks=definition.checks, derived_from=definition.name, origin=f"--requires {lines}",
                           python=definition.python, adds=tuple(lines))


@contextmanager
def layered(definition: StackDefinition) -> Iterator[None]:
    """Within the block, get_stack(definition.name) is this layered stack (a forked lane keeps it)."""
    if not definition.adds:
        yield
        return
    _layered[definition.name] = definition
    try:
        yield
    finally:
        _layered.pop(definition.name, None)


def stacks_with(specs: Iterable[str]) -> list[str]:
    """Derive and register the stack of each `--with` spec; their names, in order, once each."""
    names: list[str] = []
    for spec in specs:
        derivation = derive(spec)
        register(derivation.stack)
        if derivation.stack.name not in names:
            names.append(derivation.stack.name)
    return names


def portable(value: Any) -> Any:
    """A text with this machine's folders taken out: paths inside the checkout relative to it (its commands run
    from the checkout), the per-user cache (the stacks' interpreters) named from ~, which the shell expands."""
    return path_scrubber()(value)


def path_scrubber() -> Callable[[Any], Any]:
    """portable(), with the folders looked up once: a report maps it over every cell of its frame."""
    replacements = []
    cache, home = cache_root(), Path.home()
    if cache.is_relative_to(home):
        replacements.append((f"{cache}/", f"~/{cache.relative_to(home)}/"))
    replacements.append((f"{project_root()}/", ""))

    def scrub(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        for machine_path, portable_path in replacements:
            value = value.replace(machine_path, portable_path)
        return value

    return scrub
