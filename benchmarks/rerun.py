"""A parity command run cold (empty task cache) and again warm (same cache, nothing changed), side by side.

Usage: .tox/tests/bin/python benchmarks/rerun.py --cold-out reports --warm-out /tmp/warm [--cache-dir DIR] -- publish

Everything after `--` is the parity command (its --out and --cache-dir are added here). The stacks must be
provisioned already: the figure is the job's, not pip's. Prints both wall times, their ratio, how many
rows were served from the cache, and whether the two runs gave the same statuses.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd


def timed_run(command: list[str], out: Path, cache_dir: Path) -> float:
    started = time.perf_counter()
    completed = subprocess.run([*command, "--out", str(out), "--cache-dir", str(cache_dir)], check=False)
    seconds = time.perf_counter() - started
    if completed.returncode not in (0, 1):  # 1: some cell failed, which is a finding, not a broken run
        sys.exit(f"{' '.join(command)} exited {completed.returncode}")
    return seconds


def statuses(out: Path) -> pd.Series:
    frame = pd.read_csv(out / "results.csv", low_memory=False)
    keys = [column for column in ("model", "route", "hop_index", "output", "opset", "case") if column in frame]
    return frame.set_index(keys)["status"].sort_index()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cold-out", type=Path, required=True)
    parser.add_argument("--warm-out", type=Path, required=True)
    parser.add_argument("--cache-dir", type=Path, default=None, help="an empty folder (default: a fresh temporary one)")
    parser.add_argument("--parity", default=str(Path(sys.executable).with_name("parity")))
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the parity command, e.g. -- publish")
    args = parser.parse_args()
    command = [args.parity, *(part for part in args.command if part != "--")]
    cache_dir = args.cache_dir or Path(tempfile.mkdtemp(prefix="parity-cold-cache-"))
    if cache_dir.exists() and any(cache_dir.iterdir()):
        sys.exit(f"{cache_dir} is not empty: a cold run needs an empty cache")
    cold = timed_run(command, args.cold_out, cache_dir)
    warm = timed_run(command, args.warm_out, cache_dir)
    cold_status, warm_status = statuses(args.cold_out), statuses(args.warm_out)
    warm_rows = pd.read_csv(args.warm_out / "results.csv", low_memory=False)
    cached = int(warm_rows["cached"].astype(str).str.lower().eq("true").sum()) if "cached" in warm_rows else 0
    same = cold_status.equals(warm_status)
    print(f"command: {' '.join(command)}")
    print(f"cold (empty cache): {cold:.0f} s")
    print(f"warm (nothing changed): {warm:.0f} s  = {warm / cold:.1%} of cold")
    print(f"warm rows served from the cache: {cached} of {len(warm_rows)}")
    print(f"same statuses: {same} ({len(cold_status)} rows)")
    if args.cache_dir is None:
        shutil.rmtree(cache_dir, ignore_errors=True)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
