"""`parity zoo -j 1` against `-j 2` on the same cells, task cache off, side by side in one run.

Usage: .tox/tests/bin/python benchmarks/parallel_cells.py [--jobs 1 2] [--workers forked fresh] [--out DIR]
       [-- ZOO OPTIONS...]

Everything after `--` goes to `parity zoo` for both runs (default: the nine hand-written models, derandomized,
10 examples). The runs alternate order with --repeat, so a change in the machine's load hits both sides.
`--workers forked fresh` measures both ways of starting workers in one go: forked from zygotes (the default)
and each a new interpreter (PARITY_FRESH_WORKERS=1).
Prints each run's wall time, the speedup over the first --jobs value, and whether the statuses agree.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

DEFAULT_ZOO = ["--models", "potato_leaf_cnn", "mlp", "resnet_blocks", "mobilenet_block", "lstm_classifier",
               "gru_classifier", "transformer_encoder", "encoder_decoder", "text_cnn",
               "--profile", "ci", "--examples", "10"]


def statuses(out: Path) -> pd.Series:
    frame = pd.read_csv(out / "results.csv", low_memory=False)
    return frame.set_index(["model", "route", "hop_index", "output"])["status"].sort_index()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--workers", nargs="+", choices=["forked", "fresh"], default=["forked"],
                        help="how workers start: forked from zygotes, or each a new interpreter (both: side by side)")
    parser.add_argument("--repeat", type=int, default=1, help="rounds; each round reverses the order of the runs")
    parser.add_argument("--out", type=Path, default=Path(".parity/bench-parallel"))
    parser.add_argument("--parity", default=str(Path(sys.executable).with_name("parity")))
    parser.add_argument("zoo", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    zoo = [part for part in args.zoo if part != "--"] or DEFAULT_ZOO
    base = args.jobs[0]
    first = None
    for workers in args.workers:
        environment = {**os.environ, "PARITY_FRESH_WORKERS": "1" if workers == "fresh" else "0"}
        out_dir = args.out / workers if len(args.workers) > 1 else args.out
        seconds: dict[int, list[float]] = {jobs: [] for jobs in args.jobs}
        for round_number in range(args.repeat):
            order = args.jobs if round_number % 2 == 0 else list(reversed(args.jobs))
            for jobs in order:
                out = out_dir / f"j{jobs}-r{round_number}"
                command = [args.parity, "zoo", *zoo, "--no-cache", "-j", str(jobs), "--out", str(out / "reports"),
                           "--work-dir", str(out / "work")]
                started = time.perf_counter()
                completed = subprocess.run(command, check=False, stdout=subprocess.DEVNULL, env=environment)
                seconds[jobs].append(time.perf_counter() - started)
                if completed.returncode not in (0, 1):
                    sys.exit(f"{' '.join(command)} exited {completed.returncode}")
                print(f"[{workers} workers] -j {jobs} (round {round_number + 1}): {seconds[jobs][-1]:.0f} s",
                      flush=True)
        first = statuses(out_dir / f"j{base}-r0" / "reports") if first is None else first
        for jobs in args.jobs:
            mean = sum(seconds[jobs]) / len(seconds[jobs])
            same = all(statuses(out_dir / f"j{jobs}-r{r}" / "reports").equals(first) for r in range(args.repeat))
            speedup = sum(seconds[base]) / sum(seconds[jobs])
            print(f"[{workers} workers] -j {jobs}: {mean:.0f} s on average, {speedup:.2f}x the speed of -j {base}; "
                  f"same statuses as the first run: {same} ({len(first)} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
