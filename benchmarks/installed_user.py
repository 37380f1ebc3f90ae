"""A new user's check of six torchvision architectures from an installed harness, outside the checkout.

Creates a fresh virtual environment in a temporary folder, installs the project into it from the checkout
given on the command line (non-editable, with uv), writes a small user project of model factories beside it,
and from that project runs `parity check` on each architecture (weights=None, 10 classes, 64x64 inputs,
5 examples) and `parity check --mutants`. Prints per model: the verdict of every hop, whether the verdicts were
vacuous, and the mutation self-test's detection rate. The converter stacks are the per-user ones
(~/.cache/parity/stacks), as for any user; the task cache and the reports stay in the temporary folder.

    python benchmarks/installed_user.py CHECKOUT [--models shufflenet_v2_x0_5 ...] [--routes GLOB ...]
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ARCHITECTURES = ("shufflenet_v2_x0_5", "regnet_y_400mf", "mnasnet0_5", "googlenet", "convnext_tiny", "swin_t")
DEFAULT_ROUTES = ("torch>onnx>tf>onnx>torch",)
FACTORIES = '''"""A user's own models: torchvision architectures the zoo does not hold, untrained, 10 classes."""


def _build(name):
    import torch
    import torchvision

    torch.manual_seed(0)
    return getattr(torchvision.models, name)(weights=None, num_classes=10).eval()

'''


def run(command: list[str], cwd: Path, log: Path) -> tuple[int, float]:
    started = time.perf_counter()
    with log.open("ab") as sink:
        sink.write(("\n$ " + " ".join(command) + "\n").encode())
        sink.flush()
        code = subprocess.run(command, cwd=cwd, stdout=sink, stderr=subprocess.STDOUT).returncode
    return code, time.perf_counter() - started


def install(checkout: Path, root: Path, log: Path) -> Path:
    """A fresh venv with the project installed from `checkout`, not editable; its `parity` command."""
    from harness.execution.stacks import uv_binary, uv_source_options

    uv = uv_binary()
    if uv is None:
        sys.exit("uv is needed (the harness depends on it)")
    venv = root / "venv"
    options, _ = uv_source_options()  # pip's sources on this machine, as the harness provisions its stacks
    for command in ([uv, "venv", "--quiet", "--python", sys.executable, str(venv)],
                    [uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), *options,
                     str(checkout)]):
        code, _ = run(command, root, log)
        if code:
            sys.exit(f"install failed ({' '.join(command[:3])} ...); see {log}")
    return venv / "bin" / "parity"


def hop_verdicts(reports: Path) -> tuple[list[str], list[str]]:
    """(route: hop=status ... per route, the distinct vacuous reasons) from a check's results.json."""
    rows = json.loads((reports / "results.json").read_text())
    routes: dict[str, dict[str, str]] = {}
    for row in rows:
        status = str(row.get("raw_status") or row["status"])
        hops = routes.setdefault(str(row["route"]), {})
        # The worst over the outputs of a hop; a model here has one output.
        hops[str(row["hop"])] = status if hops.get(str(row["hop"]), "pass") == "pass" else hops[str(row["hop"])]
    verdicts = [f"{route}: " + ", ".join(f"{hop} {status}" for hop, status in hops.items())
                for route, hops in routes.items()]
    vacuous = sorted({str(row["vacuous"]) for row in rows if row.get("vacuous")})
    return verdicts, vacuous


def detection(reports: Path) -> str:
    path = reports / "mutation.csv"
    if not path.is_file():
        return "no mutation.csv"
    rows = list(csv.DictReader(path.open()))
    faults = [row for row in rows if row["control"] in ("False", "false", "0", "")]
    detected = sum(row["detected"] in ("True", "true", "1") for row in faults)
    controls = [row for row in rows if row not in faults]
    passed = sum(row["status"] == "pass" for row in controls)
    rate = f"{detected}/{len(faults)} ({detected / len(faults):.0%})" if faults else "no faults planted"
    return f"{rate} detected; controls passed {passed}/{len(controls)}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkout", type=Path, help="the project checkout to install (non-editable)")
    parser.add_argument("--models", nargs="*", default=list(ARCHITECTURES), choices=ARCHITECTURES)
    parser.add_argument("--routes", nargs="*", default=list(DEFAULT_ROUTES),
                        help=f"route patterns for the round trips (default: {' '.join(DEFAULT_ROUTES)})")
    parser.add_argument("--examples", type=int, default=5)
    parser.add_argument("--no-mutants", action="store_true", help="skip the mutation self-test")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (venv, reports, logs)")
    args = parser.parse_args()
    checkout = args.checkout.resolve()
    sys.path.insert(0, str(checkout))  # uv_source_options, from the checkout being measured

    root = Path(tempfile.mkdtemp(prefix="parity-installed-user-"))
    log = root / "commands.log"
    started = time.perf_counter()
    parity = install(checkout, root, log)
    print(f"installed {checkout.name} into a fresh venv in {time.perf_counter() - started:.0f} s", flush=True)
    project = root / "project"
    project.mkdir()
    (project / "vision_models.py").write_text(FACTORIES + "".join(
        f"\ndef {name}():\n    return _build({name!r})\n" for name in args.models))
    common = ["--input", "x:Bx3x64x64:float32", "--dim", "B=1:2", "--examples", str(args.examples),
              "--work-dir", str(root / "work")]
    for name in args.models:
        reports = root / "reports" / name
        code, seconds = run([str(parity), "check", f"vision_models:{name}", *common, "--routes", *args.routes,
                             "--out", str(reports)], project, log)
        verdicts, vacuous = hop_verdicts(reports) if (reports / "results.json").is_file() else ([f"exit {code}"], [])
        print(f"{name}: exit {code}, {seconds:.0f} s", flush=True)
        for line in verdicts:
            print(f"  {line}")
        print(f"  vacuous: {'; '.join(vacuous) if vacuous else 'no'}")
        if not args.no_mutants:
            mutants = root / "reports" / f"{name}-mutants"
            code, seconds = run([str(parity), "check", f"vision_models:{name}", *common[:6], "--mutants",
                                 "--work-dir", str(root / "mutants"), "--out", str(mutants)], project, log)
            print(f"  --mutants: {detection(mutants)} (exit {code}, {seconds:.0f} s)", flush=True)
    print(f"total {time.perf_counter() - started:.0f} s; log of every command: {log}")
    if args.keep:
        print(f"kept {root}")
    else:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
