"""The harness's speed figures side by side in one run on one commit, printed as one table.

Usage: .tox/tests/bin/python benchmarks/speed_table.py [--steps provision bench lanes main-job ci] [--out DIR]

Each step runs the commands a user or CI runs, one after the other, and reads their figures:
- provision: both base stacks from empty parity, uv and pip caches, with pip (PARITY_INSTALLER=pip) and with
  uv; then a derived stack of a pure-Python converter (`--with onnx2pytorch==0.5.1`) over each, its seconds
  and the disk it added (du over the caches and stacks, hardlinks counted once). The registry is whatever the
  machine reaches (warm when these pins were installed before).
- bench: `parity bench` (the default 27 cells), harness against the bare script.
- lanes: benchmarks/parallel_cells.py, `-j 1` against `-j 2` on three models through every route.
- main-job: benchmarks/rerun.py on `parity publish` (cold from an empty task cache, then warm), then
  `parity diff` of the cold run's reports against the published ones in reports/ (taken before the run:
  `--publish-to reports` has the cold run publish).
- ci: `.ci/run` on a fresh clone of HEAD with an empty home folder.
Every command's output goes to a log in --out; figures go to speed_table.json there.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STEPS = ("provision", "bench", "lanes", "main-job", "ci")
DERIVED = "onnx2pytorch==0.5.1"
LANE_MODELS = ["potato_leaf_cnn", "mlp", "resnet_blocks"]


def run_logged(command: list[str], log: Path, environment: Mapping[str, str] | None = None,
               cwd: Path = ROOT) -> tuple[float, str, int]:
    """Seconds, everything it printed, exit status."""
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=cwd, env=dict(environment or os.environ), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, check=False)
    seconds = time.perf_counter() - started
    log.write_text(completed.stdout)
    print(f"  {' '.join(command[:4])}...: {seconds:.0f} s, exit {completed.returncode} (log: {log.name})",
          flush=True)
    return seconds, completed.stdout, completed.returncode


def disk_mb(*folders: Path) -> float:
    """Disk used by the folders together, each hardlinked file once."""
    present = [str(folder) for folder in folders if folder.exists()]
    if not present:
        return 0.0
    out = subprocess.run(["du", "-scm", *present], capture_output=True, text=True, check=True).stdout
    return float(out.strip().splitlines()[-1].split()[0])


def number(pattern: str, text: str) -> float | None:
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group(1)) if found else None


def provision(parity: str, out: Path, scratch: Path) -> dict[str, object]:
    figures: dict[str, object] = {}
    for installer in ("pip", "uv"):
        home = scratch / f"provision-{installer}"
        caches = {"PARITY_CACHE_DIR": home / "parity", "UV_CACHE_DIR": home / "uv", "PIP_CACHE_DIR": home / "pip"}
        environment = {**os.environ, "PARITY_INSTALLER": installer, **{k: str(v) for k, v in caches.items()}}
        base, _, code = run_logged([parity, "stacks", "current", "legacy"], out / f"provision-{installer}.log",
                                   environment)
        before = disk_mb(*caches.values())
        derived, _, derived_code = run_logged([parity, "stacks", "--with", DERIVED],
                                              out / f"derived-{installer}.log", environment)
        figures[installer] = {"base_seconds": round(base, 1), "base_exit": code, "base_disk_mb": before,
                              "derived_seconds": round(derived, 1), "derived_exit": derived_code,
                              "derived_added_mb": round(disk_mb(*caches.values()) - before, 1)}
        shutil.rmtree(home, ignore_errors=True)
    return figures


def bench(parity: str, out: Path, scratch: Path) -> dict[str, object]:
    seconds, printed, code = run_logged([parity, "bench", "--work-dir", str(scratch / "bench")], out / "bench.log")
    shutil.rmtree(scratch / "bench", ignore_errors=True)
    totals = re.search(r"^total\s+(\d+\.\d+)\s+(\d+\.\d+)", printed, re.MULTILINE)
    return {"ratio": number(r"^harness / bare: (\d+\.\d+)$", printed),
            "ratio_without_verification": number(r"^harness / bare without .*: (\d+\.\d+)$", printed),
            "harness_seconds": float(totals.group(1)) if totals else None,
            "bare_seconds": float(totals.group(2)) if totals else None, "wall_seconds": round(seconds, 1),
            "exit": code}


def lanes(out: Path, scratch: Path) -> dict[str, object]:
    _, printed, code = run_logged(
        [sys.executable, "benchmarks/parallel_cells.py", "--out", str(scratch / "lanes"), "--",
         "--models", *LANE_MODELS, "--profile", "ci", "--examples", "10"], out / "lanes.log")
    shutil.rmtree(scratch / "lanes", ignore_errors=True)
    return {"j1_seconds": number(r"-j 1: (\d+) s on average", printed),
            "j2_seconds": number(r"-j 2: (\d+) s on average", printed),
            "speedup": number(r"-j 2: \d+ s on average, (\d+\.\d+)x", printed),
            "same_statuses": "same statuses as the first run: False" not in printed, "exit": code}


def main_job(parity: str, out: Path, scratch: Path, cold: Path | None) -> dict[str, object]:
    """cold: where the cold run's reports go (reports/ to publish them; default a scratch folder)."""
    published = scratch / "published"  # the reports before, for parity diff
    published.mkdir()
    for name in ("results.json", "results.csv"):
        if (ROOT / "reports" / name).exists():
            shutil.copyfile(ROOT / "reports" / name, published / name)
    cold, warm = cold or scratch / "main-cold", scratch / "main-warm"
    _, printed, code = run_logged(
        [sys.executable, "benchmarks/rerun.py", "--cold-out", str(cold), "--warm-out", str(warm),
         "--cache-dir", str(scratch / "main-cache"), "--parity", parity, "--", "publish"], out / "main-job.log")
    _, diffed, _ = run_logged([parity, "diff", str(published), str(cold), "--out", str(scratch / "diff")],
                              out / "main-job-diff.log")
    figures = {"cold_seconds": number(r"^cold \(empty cache\): (\d+) s", printed),
               "warm_seconds": number(r"^warm \(nothing changed\): (\d+) s", printed),
               "warm_same_statuses": "same statuses: True" in printed, "exit": code,
               "diff_against_published": (found.group(1) if (found := re.search(r"diff: (.*unchanged)", diffed))
                                          else "parity diff printed no counts")}
    for folder in (warm, scratch / "main-cache", scratch / "diff", published,
                   *([] if cold.is_relative_to(ROOT) else [cold])):
        shutil.rmtree(folder, ignore_errors=True)
    return figures


def ci(out: Path, scratch: Path) -> dict[str, object]:
    clone, home = scratch / "ci-clone", scratch / "ci-home"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    home.mkdir()
    environment = {**os.environ, "HOME": str(home), "CI": "true"}
    for variable in ("XDG_CACHE_HOME", "PARITY_CACHE_DIR", "UV_CACHE_DIR", "PIP_CACHE_DIR", "VIRTUAL_ENV"):
        environment.pop(variable, None)
    seconds, printed, code = run_logged(["bash", ".ci/run"], out / "ci.log", environment, cwd=clone)
    summary = re.findall(r"^=* ?(\d+ (?:passed|failed).*?) ?=*$", printed, re.MULTILINE)
    shutil.rmtree(clone, ignore_errors=True)
    shutil.rmtree(home, ignore_errors=True)
    return {"seconds": round(seconds, 1), "exit": code, "pytest": summary[-1] if summary else ""}


def table(figures: Mapping[str, Mapping[str, object]]) -> str:
    rows = ["| what | figure |", "|---|---|"]
    if "provision" in figures:
        for installer in ("pip", "uv"):
            f: Mapping[str, object] = figures["provision"][installer]  # type: ignore[assignment]
            rows.append(f"| both base stacks, empty caches, {installer} | {f['base_seconds']} s "
                        f"({f['base_disk_mb']:.0f} MB of caches and stacks) |")
            rows.append(f"| derived stack `--with {DERIVED}`, {installer} | {f['derived_seconds']} s, "
                        f"{f['derived_added_mb']} MB added |")
    if "bench" in figures:
        f = figures["bench"]
        rows.append(f"| `parity bench` (27 cells) | {f['harness_seconds']} s / {f['bare_seconds']} s = "
                    f"**{f['ratio']}** ({f['ratio_without_verification']} without verification) |")
    if "lanes" in figures:
        f = figures["lanes"]
        rows.append(f"| `-j 2` against `-j 1` ({', '.join(LANE_MODELS)}, every route) | {f['j2_seconds']} s "
                    f"against {f['j1_seconds']} s = **{f['speedup']}x**; same statuses: {f['same_statuses']} |")
    if "main-job" in figures:
        f = figures["main-job"]
        rows.append(f"| main job (`parity publish`), cold / warm | {f['cold_seconds']} s / {f['warm_seconds']} s; "
                    f"warm same statuses: {f['warm_same_statuses']} |")
        rows.append(f"| main job cold against the published reports | {f['diff_against_published']} |")
    if "ci" in figures:
        f = figures["ci"]
        rows.append(f"| `.ci/run` on a fresh clone, empty home | {f['seconds']} s, exit {f['exit']}: {f['pytest']} |")
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", nargs="+", choices=STEPS, default=list(STEPS))
    parser.add_argument("--out", type=Path, default=ROOT / ".parity" / "speed-table")
    parser.add_argument("--parity", default=str(Path(sys.executable).with_name("parity")))
    parser.add_argument("--publish-to", type=Path, default=None,
                        help="the main job's cold run writes its reports here (reports: publish them)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                            check=True).stdout.strip()
    figures: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory(prefix="parity-speed-") as folder:
        scratch = Path(folder)
        for step in args.steps:
            print(f"[speed] {step}", flush=True)
            if step == "provision":
                figures[step] = provision(args.parity, args.out, scratch)
            elif step == "bench":
                figures[step] = bench(args.parity, args.out, scratch)
            elif step == "lanes":
                figures[step] = lanes(args.out, scratch)
            elif step == "main-job":
                figures[step] = main_job(args.parity, args.out, scratch,
                                         args.publish_to.resolve() if args.publish_to else None)
            else:
                figures[step] = ci(args.out, scratch)
            record = {"commit": commit, "date": time.strftime("%Y-%m-%d"), "figures": figures}
            (args.out / "speed_table.json").write_text(json.dumps(record, indent=1))
    print(f"\nmeasured on {commit}, {time.strftime('%Y-%m-%d')}:\n{table(figures)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
