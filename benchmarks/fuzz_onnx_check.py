"""Fuzz benchmark: mutated ONNX files through `parity check`, one process per file, as a user would run it.

    .venv/bin/python benchmarks/fuzz_onnx_check.py [--files 1000] [--jobs 2] [--seed 0] [--keep DIR]

Every mutant (truncated, bits flipped, a huge or impossible input dimension, a cyclic graph, a wrong
opset, initializer data in a missing file or in a file outside the model's folder; benchmarks/onnx_mutants.py)
must end in exit status 2 with one line on stderr and no traceback. Under strace (when installed) the
benchmark also records every file the check and its workers open: none may be the canary file outside
the mutants' folders, and nothing may be written outside the check's own folders. It prints the figures
and exits 1 when any expectation failed.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.execution.stacks import get_stack, project_root

CANARY_NAME = "outside-canary-secret.bin"
TRACED_CALLS = "open,openat,openat2,creat,mkdir,mkdirat,rename,renameat,renameat2,unlink,unlinkat,truncate"
TRACE_LINE = re.compile(r'^\d+\s+(?P<call>\w+)\((?:AT_FDCWD|\d+), "(?P<path>[^"]*)"(?P<rest>.*)$|'
                        r'^\d+\s+(?P<call2>\w+)\("(?P<path2>[^"]*)"(?P<rest2>.*)$')
WRITING_FLAGS = ("O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC")


@dataclass
class Case:
    folder: Path
    kind: str
    detail: str
    code: int = 0
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0
    canary_reads: list[str] = field(default_factory=list)
    outside_writes: list[str] = field(default_factory=list)

    @property
    def traceback(self) -> bool:
        return "Traceback" in self.stdout + self.stderr

    @property
    def one_line(self) -> bool:
        lines = self.stderr.strip().splitlines()
        return len(lines) == 1 and lines[0].startswith("parity: error: ")


@dataclass
class Figures:
    cases: list[Case]
    seconds: float
    still_valid_redrawn: int
    traced: bool

    @property
    def tracebacks(self) -> int:
        return sum(case.traceback for case in self.cases)

    @property
    def exit_codes(self) -> dict[int, int]:
        return dict(sorted(Counter(case.code for case in self.cases).items()))

    @property
    def one_line_errors(self) -> int:
        return sum(case.one_line for case in self.cases)

    @property
    def failures(self) -> list[Case]:
        return [case for case in self.cases if case.traceback or case.code != 2 or not case.one_line
                or case.canary_reads or case.outside_writes]

    def report(self) -> str:
        by_kind: dict[str, Counter[int]] = {}
        for case in self.cases:
            by_kind.setdefault(case.kind, Counter())[case.code] += 1
        slowest = max(self.cases, key=lambda case: case.seconds)
        lines = [
            f"files tried        {len(self.cases)}",
            f"tracebacks         {self.tracebacks}",
            f"exit codes         {self.exit_codes}",
            f"one-line errors    {self.one_line_errors}",
            f"outside reads      {sum(len(c.canary_reads) for c in self.cases)}"
            + ("" if self.traced else " (not traced: strace missing)"),
            f"outside writes     {sum(len(c.outside_writes) for c in self.cases)}"
            + ("" if self.traced else " (not traced)"),
            f"seconds            {self.seconds:.0f} wall, {sum(c.seconds for c in self.cases) / len(self.cases):.2f} "
            f"per file (slowest {slowest.seconds:.1f}: {slowest.folder.name})",
            f"byte-level mutants still valid, drawn again: {self.still_valid_redrawn}",
            "per kind (exit code: files):",
            *(f"  {kind:18s} {dict(codes)}" for kind, codes in sorted(by_kind.items())),
        ]
        for case in self.failures[:10]:
            lines.append(f"FAILED {case.folder.name} ({case.detail}): exit {case.code}; "
                         f"{(case.stderr.strip().splitlines() or [''])[-1][:200]}; canary reads {case.canary_reads}; "
                         f"outside writes {case.outside_writes[:3]}")
        return "\n".join(lines)


def generate(sandbox: Path, files: int, seed: int) -> dict[str, Any]:
    """Mutants under sandbox/cases, the canary under sandbox/outside, made in the current stack (it has onnx)."""
    canary = sandbox / "outside" / CANARY_NAME
    canary.parent.mkdir(parents=True, exist_ok=True)
    canary.write_bytes(b"\0" * 64)
    python = get_stack("current").ensure()
    subprocess.run([str(python), str(Path(__file__).with_name("onnx_mutants.py")), str(sandbox / "cases"),
                    "--count", str(files), "--seed", str(seed), "--outside", str(canary)],
                   check=True, capture_output=True, text=True)
    manifest: dict[str, Any] = json.loads((sandbox / "cases" / "mutants.json").read_text())
    return manifest


def writes_outside(trace: str, case_folder: Path) -> tuple[list[str], list[str]]:
    """(opens of the canary, paths written outside the case folder) in an strace log."""
    canary_reads, outside = [], []
    allowed = (str(case_folder) + "/", "/dev/", "/proc/")
    for line in trace.splitlines():
        match = TRACE_LINE.match(line)
        if not match:
            continue
        call = match["call"] or match["call2"]
        path = match["path"] if match["path"] is not None else match["path2"]
        rest = match["rest"] if match["rest"] is not None else match["rest2"]
        if CANARY_NAME in path:
            canary_reads.append(path)
        writing = call not in ("open", "openat", "openat2") or any(flag in rest for flag in WRITING_FLAGS)
        if "= -1 " in rest or not writing or "__pycache__" in path:
            continue  # failed calls changed nothing; Python caching its bytecode is not the check's doing
        if not path.startswith("/") or not path.startswith(allowed):
            outside.append(path)
    return canary_reads, outside


def run_case(case: Case, parity: Path, strace: str | None, timeout: float) -> Case:
    # The check's folders, given absolute so that every path the trace shows is absolute too.
    command = [str(parity), "check", "model.onnx", "--work-dir", str(case.folder / "work"),
               "--out", str(case.folder / "reports")]
    trace_file = case.folder.parent / f"{case.folder.name}.strace"
    if strace:
        # --seccomp-bpf stops the process only at the traced calls: the checks run at nearly full speed.
        command = [strace, "-f", "-qq", "--seccomp-bpf", "-e", f"trace={TRACED_CALLS}", "-o", str(trace_file),
                   *command]
    started = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=case.folder, capture_output=True, text=True, timeout=timeout)
        case.code, case.stdout, case.stderr = done.returncode, done.stdout, done.stderr
    except subprocess.TimeoutExpired:
        case.code, case.stderr = -1, f"no answer within {timeout:.0f} s"
    case.seconds = time.perf_counter() - started
    if strace and trace_file.exists():
        case.canary_reads, case.outside_writes = writes_outside(trace_file.read_text(), case.folder.resolve())
        trace_file.unlink()
    return case


def run_benchmark(files: int, *, seed: int = 0, jobs: int = 2, sandbox: Path, timeout: float = 300.0,
                  trace: bool = True) -> Figures:
    manifest = generate(sandbox, files, seed)
    cases = [Case(sandbox / "cases" / entry["folder"], entry["kind"], entry["detail"]) for entry in manifest["mutants"]]
    parity = Path(sys.executable).parent / "parity"
    strace = shutil.which("strace") if trace else None
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        done = list(pool.map(lambda case: run_case(case, parity, strace, timeout), cases))
    return Figures(done, time.perf_counter() - started, int(manifest["still_valid_redrawn"]), strace is not None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=2, help="checks run at once (default 2)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-trace", action="store_true", help="do not run the checks under strace")
    parser.add_argument("--keep", type=Path, help="keep the mutants and the checks' folders here")
    args = parser.parse_args()
    sandbox = args.keep or Path(tempfile.mkdtemp(prefix="parity-fuzz-"))
    print(f"[fuzz] {args.files} mutants in {sandbox}; {args.jobs} checks at a time; checkout {project_root()}")
    figures = run_benchmark(args.files, seed=args.seed, jobs=args.jobs, sandbox=sandbox, trace=not args.no_trace)
    print(figures.report())
    if not args.keep:
        shutil.rmtree(sandbox, ignore_errors=True)
    return 1 if figures.failures else 0


if __name__ == "__main__":
    sys.exit(main())
