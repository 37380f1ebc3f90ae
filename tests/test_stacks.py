"""Stacks from pins: definitions in the package, derived stacks (--with), their keys, and an installed harness."""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from harness.cli import by_mark, main
from harness.converters import default_converters, hosted_by
from harness.errors import StackError
from harness.execution import stacks
from harness.execution.stacks import StackDefinition, derive, get_stack, installed_versions, parse_with

CHECKOUT = Path(__file__).resolve().parents[1]


def fake_wheel(folder: Path, name: str, version: str, body: str, requires: tuple[str, ...] = ()) -> Path:
    """A pure-Python wheel of one module, built by hand (a wheel is a zip with its metadata and RECORD)."""
    folder.mkdir(parents=True, exist_ok=True)
    dist_info = f"{name}-{version}.dist-info"
    depends = "".join(f"Requires-Dist: {line}\n" for line in requires)
    files = {
        f"{name}.py": body,
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n{depends}",
        f"{dist_info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    files[f"{dist_info}/RECORD"] = "\n".join([*record, f"{dist_info}/RECORD,,"]) + "\n"
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


@pytest.fixture
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PARITY_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(stacks, "_derived", {})  # stacks a test registers stay in the test
    return tmp_path / "cache"


@pytest.fixture
def local_packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder of wheels that pip, and uv through pip's configuration, install from with no index: a tiny
    stack's whole provisioning in seconds, offline. uv's cache is the test's own."""
    folder = tmp_path / "wheels"
    folder.mkdir()
    monkeypatch.setenv("PIP_FIND_LINKS", str(folder))
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))
    stacks.uv_source_options.cache_clear()  # it read pip's configuration once per process
    yield folder
    stacks.uv_source_options.cache_clear()


def test_the_package_ships_its_stack_definitions() -> None:
    assert stacks.BASE_STACKS == ("current", "legacy")
    assert stacks.SECOND_VERSIONS == {"tf2onnx116": ("OnnxFromSavedModel",)}
    assert stacks.defined_stacks()["onnx2tf"].python == "3.12"  # its converters' home, on its own interpreter
    current = stacks.defined_stacks()["current"]
    assert str(current.pins()["onnx2pytorch"]) == "onnx2pytorch==0.6.0"
    assert "hypothesis>=6.100" in current.requirements  # the worker's own requirement, in every stack


def test_a_derived_stack_replaces_one_pin_of_the_base_that_hosts_it(isolated_cache: Path) -> None:
    derivation = derive("onnx2pytorch==0.5.1")
    current = stacks.defined_stacks()["current"]
    assert (derivation.base, derivation.old_version, derivation.new_version) == ("current", "0.6.0", "0.5.1")
    derived = derivation.stack
    assert derived.name == "onnx2pytorch-0.5.1" and derived.derived_from == "current"
    assert [line for line in derived.requirements if line not in current.requirements] == ["onnx2pytorch==0.5.1"]
    assert [line for line in current.requirements if line not in derived.requirements] == ["onnx2pytorch==0.6.0"]
    assert str(derived.pins()["torch"]) == "torch==2.14.1"  # the torch of its base, never another
    # Keyed by its pins: another pin is another environment, the same pins the same one.
    assert derived.key != current.key and derived.key == derive("onnx2pytorch == 0.5.1").stack.key
    assert get_stack("current").folder.parent == get_stack("legacy").folder.parent == isolated_cache / "stacks"


def test_a_version_no_derivation_can_host_picks_the_stack_defined_for_it() -> None:
    # tf2onnx 1.16.1 pins protobuf ~= 3.20, which TensorFlow 2.21 refuses: stacks.toml defines its stack.
    derivation = derive("tf2onnx==1.16.1")
    assert derivation.stack.name == "tf2onnx116"
    assert (derivation.base, derivation.old_version, derivation.new_version) == ("current", "1.17.0", "1.16.1")


def test_a_package_several_bases_pin_needs_the_base_named() -> None:
    with pytest.raises(StackError, match="pinned by stacks current and legacy; say which: --with current:onnx"):
        derive("onnx==1.16.0")
    derivation = derive("legacy:onnx==1.14.1")
    assert derivation.base == "legacy" and str(derivation.stack.pins()["onnx"]) == "onnx==1.14.1"


@pytest.mark.parametrize(("spec", "message"), [
    ("tf2onnxx==1.0", "no stack pins 'tf2onnxx'; the stacks pin: "),
    ("onnx2pytorch>=0.5", "expected PKG==VERSION"),
    ("onnx2pytorch", "expected PKG==VERSION"),
    ("./no/such/checkout", "no such file or folder"),
])
def test_a_bad_with_says_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(StackError, match=message):
        derive(spec)


def test_with_an_unknown_package_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["zoo", "--models", "mlp", "--with", "nosuchconverter==1.0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no stack pins 'nosuchconverter'" in err[0] and "onnx2pytorch" in err[0]
    assert main(["upgrade", "nosuchconverter==1.0", "--models", "mlp"]) == 2


def test_converters_of_the_replaced_package_run_in_the_derived_stack(isolated_cache: Path) -> None:
    names = stacks.stacks_with(["onnx2pytorch==0.5.1"])
    second = [c for c in default_converters(["current", "legacy", *names]) if c.stack == "onnx2pytorch-0.5.1"]
    assert [(type(c).__name__, c.marks) for c in second] == [("TorchFromOnnx", ["onnx2pytorch-0.5.1"])]
    # A shared dependency (no converter is named after it): every converter of its base gets a second version.
    shared = derive("current:onnx==1.22.0").stack
    stacks.register(shared)
    base = default_converters(["current", "legacy"])
    assert {c.name for c in hosted_by(shared.name, base)} == {c.name for c in base if c.stack == "current"}
    assert [type(c).__name__ for c in hosted_by("tf2onnx116", base)] == ["OnnxFromSavedModel"]


def test_a_mark_is_matched_whole_when_the_sides_are_split() -> None:
    frame = pd.DataFrame({"route": ["torch>onnx>torch", "torch>onnx>torch@p-1.0", "torch>onnx>torch@p-1.0-wheel"]})
    assert by_mark(frame, "p-1.0", keep=True)["route"].tolist() == ["torch>onnx>torch"]
    assert by_mark(frame, "p-1.0", keep=False)["route"].tolist() == ["torch>onnx>torch",
                                                                     "torch>onnx>torch@p-1.0-wheel"]


def test_a_checkout_is_keyed_by_its_source_not_its_build_folders(tmp_path: Path) -> None:
    checkout = tmp_path / "onnx2pytorch-src"
    (checkout / "onnx2pytorch").mkdir(parents=True)
    (checkout / "pyproject.toml").write_text('[project]\nname = "onnx2pytorch"\nversion = "0.6.1.dev0"\n')
    (checkout / "onnx2pytorch" / "__init__.py").write_text("FIX = 1\n")
    first = derive(str(checkout))
    assert first.stack.name == "onnx2pytorch-checkout" and first.new_version == "0.6.1.dev0"
    assert f"onnx2pytorch @ {checkout.as_uri()}" in first.stack.requirements
    (checkout / "build" / "lib").mkdir(parents=True)  # what pip leaves behind when it builds the checkout
    (checkout / "build" / "lib" / "stale.py").write_text("x = 1\n")
    assert derive(str(checkout)).stack.key == first.stack.key
    (checkout / "onnx2pytorch" / "__init__.py").write_text("FIX = 2\n")  # an edit is another environment
    assert derive(str(checkout)).stack.key != first.stack.key
    named = parse_with(f"onnx2pytorch@{checkout}")  # a checkout without static metadata is named by the user
    assert named.package == "onnx2pytorch" and named.label == "checkout"


@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_a_stack_derived_from_a_local_wheel_is_a_layer_over_its_base(
        installer: str, isolated_cache: Path, local_packages: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Whole provisionings (venv, install, import checks, the layer's pip check) of a two-package base stack and a
    stack derived from a local wheel, so they take seconds: with uv, and with pip when uv is not there."""
    if installer == "pip":
        monkeypatch.setenv("PARITY_INSTALLER", "pip")
    fake_wheel(local_packages, "fakedep", "1.0", "VERSION = '1.0'\n")
    fake_wheel(local_packages, "fakeconv", "1.0", "ANSWER = 'base'\n", requires=("fakedep",))
    tiny = StackDefinition(name="tiny", requirements=("fakeconv==1.0",), base=True,
                           checks=("import fakeconv, fakedep",))
    monkeypatch.setattr(stacks, "defined_stacks", lambda: {"tiny": tiny})
    # The new release needs a newer fakedep, which appears after the base was provisioned.
    wheel = fake_wheel(tmp_path / "v2", "fakeconv", "2.0", "ANSWER = 'from the wheel'\n", requires=("fakedep>=2",))
    derivation = derive(str(wheel))
    assert (derivation.base, derivation.old_version, derivation.new_version) == ("tiny", "1.0", "2.0")
    assert derivation.stack.name == "fakeconv-2.0-wheel"
    base_python = get_stack("tiny").ensure()
    fake_wheel(local_packages, "fakedep", "2.0", "VERSION = '2.0'\n")
    stacks.register(derivation.stack)
    stack = get_stack("fakeconv-2.0-wheel")
    python = stack.ensure()
    printed = capsys.readouterr().out
    assert f"with {installer}" in printed and ("uv not found" in printed) == (installer == "pip")
    assert python.is_relative_to(isolated_cache / "stacks")
    ran = subprocess.run([str(python), "-c", "import fakeconv, fakedep; print(fakeconv.ANSWER, fakedep.VERSION)"],
                         capture_output=True, text=True, check=True, cwd=tmp_path)
    assert ran.stdout.split() == ["from", "the", "wheel", "2.0"]
    assert installed_versions(python, ["fakeconv", "fakedep"]) | {"python": ""} == {
        "python": "", "fakeconv": "2.0", "fakedep": "2.0"}
    assert installed_versions(base_python, ["fakeconv", "fakedep"])["fakeconv"] == "1.0"  # the base is untouched
    # The layer holds only what changed; the rest is its base's.
    layer = {path.name.split("-")[0] for path in (stack.folder / "env").glob("lib/python*/site-packages/*.dist-info")}
    assert {"fakeconv", "fakedep"} <= layer and not layer & {"hypothesis"}
    record = json.loads((stack.folder / stacks.MARKER).read_text())
    assert record["installer"] == installer and record["layer_over"] == get_stack("tiny").folder.name
    assert stack.ensure() == python  # reused: the second call provisions nothing
    # Other bytes under the same file name are another stack; the first stays where it was.
    rebuilt = fake_wheel(tmp_path / "v2b", "fakeconv", "2.0", "ANSWER = 'rebuilt'\n")
    assert derive(str(rebuilt)).stack.key != derivation.stack.key
    # A layer whose base is gone is not provisioned (it would import nothing of the base's).
    (get_stack("tiny").folder / stacks.MARKER).unlink()
    assert not stack.is_provisioned()


def test_a_stack_declared_a_layer_keeps_its_bases_pins_and_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    defined = stacks.defined_stacks()
    current, litert = defined["current"], defined["litert-torch"]
    # litert-torch lowers typing-extensions: a layer over current, whose own pins (and key) it leaves alone.
    assert litert.layer_over == "current" and litert.layered_on == "current" and not litert.base
    assert litert.requirements == (*current.requirements, "litert-torch==0.10.0") and litert.key != current.key
    assert "litert-torch" not in current.pins() and defined["nobuco"].layer_over == "legacy"
    # --with a version current pins derives from current: never the layer that carries current's pins.
    assert derive("current:onnx==1.23.2").stack.derived_from == "current"
    bad = tmp_path / "stacks.toml"
    bad.write_text('[stack.top]\nlayer_over = "below"\nrequirements = []\n[stack.below]\nrequirements = []\n')
    monkeypatch.setattr(stacks, "DEFINITIONS", bad)
    stacks.defined_stacks.cache_clear()
    try:
        with pytest.raises(StackError, match="'top' is a layer over 'below', which is not a stack defined above it"):
            stacks.defined_stacks()
    finally:
        monkeypatch.undo()
        stacks.defined_stacks.cache_clear()


def test_a_stack_declared_a_layer_installs_only_what_it_adds(isolated_cache: Path, local_packages: Path,
                                                             tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_wheel(local_packages, "fakedep", "1.0", "VERSION = '1.0'\n")
    fake_wheel(local_packages, "fakeconv", "1.0", "ANSWER = 'base'\n", requires=("fakedep",))
    fake_wheel(local_packages, "fakeextra", "1.0", "EXTRA = 'layer'\n", requires=("fakedep",))
    tiny = StackDefinition(name="tiny", requirements=("fakeconv==1.0",), base=True, checks=("import fakeconv",))
    extra = StackDefinition(name="extra", requirements=("fakeconv==1.0", "fakeextra==1.0"), layer_over="tiny",
                            checks=("import fakeconv, fakeextra",))
    monkeypatch.setattr(stacks, "defined_stacks", lambda: {"tiny": tiny, "extra": extra})
    python = get_stack("extra").ensure()  # provisions its base first
    ran = subprocess.run([str(python), "-c", "import fakeconv, fakeextra; print(fakeconv.ANSWER, fakeextra.EXTRA)"],
                         capture_output=True, text=True, check=True, cwd=tmp_path)
    assert ran.stdout.split() == ["base", "layer"]
    layer = {path.name.split("-")[0] for path in (get_stack("extra").folder / "env").glob(
        "lib/python*/site-packages/*.dist-info")}
    assert "fakeextra" in layer and not layer & {"fakeconv", "fakedep", "hypothesis"}
    record = json.loads((get_stack("extra").folder / stacks.MARKER).read_text())
    assert record["layer_over"] == get_stack("tiny").folder.name
    assert "fakeextra" not in installed_versions(get_stack("tiny").python, ["fakeextra"])  # the base untouched


def test_a_derived_stack_that_does_not_resolve_is_one_line(isolated_cache: Path, local_packages: Path,
                                                           tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_wheel(local_packages, "fakeconv", "1.0", "ANSWER = 'base'\n")
    tiny = StackDefinition(name="tiny", requirements=("fakeconv==1.0",), base=True, checks=("import fakeconv",))
    monkeypatch.setattr(stacks, "defined_stacks", lambda: {"tiny": tiny})
    wheel = fake_wheel(tmp_path / "v2", "fakeconv", "2.0", "", requires=("nosuchdep>=1",))
    stacks.register(derive(str(wheel)).stack)
    with pytest.raises(StackError) as failure:
        get_stack("fakeconv-2.0-wheel").ensure()
    message = str(failure.value)
    assert "\n" not in message and "provisioning stack 'fakeconv-2.0-wheel' failed" in message
    assert "nosuchdep" in message and not get_stack("fakeconv-2.0-wheel").is_provisioned()


def test_uv_resolves_from_where_pip_is_configured_to(monkeypatch: pytest.MonkeyPatch) -> None:
    """uv reads no pip configuration: the harness passes pip's (a variable over the files) so that both install
    the same files, the best version over every index as pip does."""
    monkeypatch.setenv("PIP_FIND_LINKS", "/wheels/a /wheels/b")
    monkeypatch.setenv("PIP_INDEX_URL", "https://mirror.example/simple")
    monkeypatch.setenv("PIP_CERT", "/certs/ca.pem")
    stacks.uv_source_options.cache_clear()
    try:
        options, variables = stacks.uv_source_options()
    finally:
        stacks.uv_source_options.cache_clear()
    pairs = list(zip(options[::2], options[1::2]))
    assert ("--index-strategy", "unsafe-best-match") in pairs
    assert ("--index-url", "https://mirror.example/simple") in pairs
    assert [value for flag, value in pairs if flag == "--find-links"] == ["/wheels/a", "/wheels/b"]
    assert variables["SSL_CERT_FILE"] == "/certs/ca.pem"


@pytest.mark.parametrize(("log", "line"), [
    ("Collecting x\nERROR: No matching distribution found for x==9\nmore\n", "ERROR: No matching distribution"),
    ("Using Python 3.11.7\nerror: No solution found when resolving dependencies\n  cause: Because x==9 was not "
     "found in the package registry, we can conclude ...\n", "error: No solution found when resolving dependencies: "
     "cause: Because x==9 was not found"),
    ("error: Failed to fetch: `https://pypi.org/simple/x/`\n  Caused by: timeout\n", "error: Failed to fetch"),
])
def test_a_failed_install_is_named_by_the_line_that_says_why(log: str, line: str, tmp_path: Path) -> None:
    path = tmp_path / "provision.log"
    path.write_text(log)
    assert stacks.last_error_line(path).startswith(line)


@pytest.mark.stacks
def test_an_installed_harness_checks_a_model_from_an_empty_directory(tmp_path: Path) -> None:
    """`pip install <checkout>` (into a target folder, without dependencies: the controller's are already
    here), then `parity check model.onnx` from an empty directory: no checkout in sight, stacks from the
    per-user cache, .parity/ and the reports in that directory."""
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--disable-pip-version-check",
                    "--target", str(site), str(CHECKOUT)], check=True, timeout=600)
    assert (site / "harness" / "execution" / "stacks.toml").is_file()
    assert (site / "harness" / "known_failures.toml").is_file()  # an installed harness judges by the records too
    empty = tmp_path / "somewhere"
    empty.mkdir()
    (empty / "model.onnx").write_bytes((CHECKOUT / "tests" / "data" / "tiny.onnx").read_bytes())
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PARITY_PROJECT_DIR")}
    env["PYTHONPATH"] = str(site)
    ran = subprocess.run(
        [sys.executable, "-c", "import sys; from harness.cli import main; sys.exit(main())", "check", "model.onnx",
         "--routes", "onnx>torch>onnx", "--examples", "1", "--profile", "ci", "--no-localize", "-j", "1"],
        cwd=empty, env=env, capture_output=True, text=True, timeout=900)
    assert ran.returncode in (0, 1), ran.stderr[-2000:]
    rows = pd.read_csv(empty / "reports" / "results.csv")
    assert set(rows["route"]) == {"onnx>torch>onnx"} and "pass" in set(rows["status"])
    assert (empty / ".parity" / "check").is_dir() and not (CHECKOUT / "reports" / "model").exists()
    # The workers imported the installed copy, through a folder of links, not the checkout.
    links = list((stacks.cache_root() / "import-root").glob("*/harness"))
    assert any(link.resolve() == (site / "harness").resolve() for link in links)


@pytest.mark.stacks
def test_a_derived_stack_is_a_thin_layer_that_imports_its_base(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--with onnx2pytorch==0.5.1` over the real `current` stack (provisioned in the per-user cache, as
    `tox -e tests` does first): the layer imports the new release, and torch and onnx from its base, in megabytes.
    The layer is made in a cache of the test's own, whose `current` is a link to the real one."""
    current = get_stack("current")
    current.ensure()
    cache = tmp_path / "cache"
    (cache / "stacks").mkdir(parents=True)
    (cache / "stacks" / current.folder.name).symlink_to(current.folder, target_is_directory=True)
    monkeypatch.setenv("PARITY_CACHE_DIR", str(cache))
    monkeypatch.setattr(stacks, "_derived", {})
    [name] = stacks.stacks_with(["onnx2pytorch==0.5.1"])
    layer = get_stack(name)
    python = layer.ensure()
    probe = ("import json, onnx, onnx2pytorch, torch; print(json.dumps([onnx2pytorch.__file__, torch.__file__, "
             "onnx.__file__, torch.__version__]))")
    ran = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert ran.returncode == 0, ran.stderr[-2000:]
    converter, torch_file, onnx_file, torch_version = json.loads(ran.stdout)
    assert Path(converter).is_relative_to(layer.folder)
    assert not Path(torch_file).is_relative_to(layer.folder) and not Path(onnx_file).is_relative_to(layer.folder)
    assert torch_version.startswith("2.14.1")
    assert installed_versions(python, ["onnx2pytorch"])["onnx2pytorch"] == "0.5.1"
    assert installed_versions(current.python, ["onnx2pytorch"])["onnx2pytorch"] == "0.6.0"  # the base unchanged
    size = sum(path.stat().st_size for path in layer.folder.rglob("*") if path.is_file() and not path.is_symlink())
    assert size < 300 * 2**20, f"the layer holds {size / 2**20:.0f} MB"


def test_reports_name_a_stack_interpreter_from_home_not_this_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.reporting.results import to_frame

    monkeypatch.setenv("PARITY_CACHE_DIR", str(Path.home() / ".cache" / "parity"))
    replay = f"{get_stack('legacy').python} -m harness.execution.worker --replay task.json"
    written = to_frame([{"model": "mlp", "replay": replay}])["replay"].iloc[0]
    assert written.startswith("~/.cache/parity/stacks/legacy-") and str(Path.home()) not in written


@pytest.mark.parametrize(("derived_fails", "exit_status"), [(True, 1), (False, 0)])
def test_upgrade_runs_both_sides_and_diffs_them_into_the_upgrade_folder(
        derived_fails: bool, exit_status: int, isolated_cache: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The run itself is replaced by rows in which the derived stack's hops fail or pass: what is checked is
    which cells run, where the report goes, what the diff compares and the exit status."""
    from harness import cli

    provisioned: list[str] = []
    monkeypatch.setattr(stacks, "provision_stacks", provisioned.extend)
    ran: list[str] = []

    def run_rows(args: argparse.Namespace, work_dir: Path, cells_for: Callable[[None], list[tuple[Any, Any]]],
                 **options: object) -> list[dict[str, object]]:
        rows = []
        for spec, route in cells_for(None):
            ran.append(route.id)
            for hop in route.hops:
                broken = derived_fails and hop.converter.stack == "onnx2pytorch-0.5.1"
                # A hop before the upgraded one, judged on other drawn examples: not the upgrade's doing.
                drifted = "@onnx2pytorch" in route.id and hop.index == 1
                rows.append({"model": spec.name, "route": route.id, "hop_index": hop.index, "hop": hop.name,
                             "output": "logits", "status": "run_error" if broken else "mismatch" if drifted else "pass",
                             "stack": hop.converter.stack})
        out = Path(args.out)
        out.mkdir(parents=True)
        (out / "results.json").write_text(json.dumps(rows))
        return rows

    monkeypatch.setattr(cli, "run_and_report", run_rows)
    monkeypatch.chdir(tmp_path)
    assert main(["upgrade", "onnx2pytorch==0.5.1", "--models", "mlp"]) == exit_status
    marked = {route.replace("@onnx2pytorch-0.5.1", "") for route in ran if "@onnx2pytorch-0.5.1" in route}
    assert marked and marked == {route for route in ran if "@onnx2pytorch-0.5.1" not in route}
    # The routes through onnx2tf and nobuco read onnx2pytorch's module back too (torch>onnx>tf@onnx2tf>onnx>torch,
    # torch>tf@nobuco>onnx>torch).
    assert {"current", "legacy", "onnx2pytorch-0.5.1", "onnx2tf", "nobuco"} == set(provisioned)
    diff = pd.read_csv(tmp_path / "reports" / "upgrades" / "onnx2pytorch-0.6.0-to-0.5.1" / "diff.csv")
    regressed = diff[diff["class"] == "regressed"]
    assert set(regressed["hop"]) == ({"onnx->torch"} if derived_fails else set())
    assert "onnx2pytorch 0.6.0 (stack current) -> onnx2pytorch 0.5.1" in (
        tmp_path / "reports" / "upgrades" / "onnx2pytorch-0.6.0-to-0.5.1" / "diff.md").read_text()


def test_parity_stacks_provisions_the_base_stacks_and_only_names_the_optional_ones(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """`parity stacks` alone must not spend minutes and gigabytes on a stack no run uses unless asked for."""
    from harness import cli

    provisioned: list[str] = []
    monkeypatch.setattr(stacks, "provision_stacks", provisioned.extend)
    monkeypatch.setattr(stacks, "stack_versions", lambda name, packages: {"python": "3.11", "transformers": "5"})
    assert cli.main(["stacks"]) == 0
    assert provisioned == list(stacks.BASE_STACKS) and "tf2onnx116" not in provisioned
    printed = capsys.readouterr().out
    assert "stack tf2onnx116 (optional" in printed and "transformers 5" in printed


def test_an_upgrade_of_a_package_no_converter_uses_is_refused_before_provisioning(
        isolated_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """onnx2torch is pinned in the current stack for a plugin; without the plugin no converter's record names it,
    so an upgrade would double every route without exercising it, and read as an approval."""
    provisioned: list[str] = []
    monkeypatch.setattr(stacks, "provision_stacks", provisioned.extend)
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert main(["upgrade", "onnx2torch==1.5.14", "--models", "mlp"]) == 2
    error = capsys.readouterr().err
    assert "no converter uses onnx2torch" in error and provisioned == []


def test_a_stack_on_another_python_is_keyed_by_it_and_says_in_one_line_when_it_is_missing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace

    own = f"{sys.version_info.major}.{sys.version_info.minor}"
    current = stacks.defined_stacks()["current"]
    # A stack without `python` is keyed as before: by the harness's own interpreter.
    assert replace(current, python=own).key == current.key != replace(current, python="3.99").key
    assert stacks.find_python(current) == Path(sys.executable)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))
    with pytest.raises(StackError) as missing:
        stacks.find_python(replace(stacks.defined_stacks()["onnx2tf"], python="3.99"))
    assert "stack 'onnx2tf' needs Python 3.99" in str(missing.value) and "\n" not in str(missing.value)
