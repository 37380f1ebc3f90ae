"""A sample of the fuzz benchmark (benchmarks/fuzz_onnx_check.py): every kind of broken ONNX file ends
in exit status 2 with one line, no traceback, and no file read or written outside the check's folders."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from benchmarks.fuzz_onnx_check import run_benchmark

pytestmark = pytest.mark.stacks

# Every kind benchmarks/onnx_mutants.py makes (that module needs onnx, which only the stacks have), and
# what its one line must name, so that the user learns what is wrong with the file.
EXPECTED_WORDS = {
    "truncated": "not a valid ONNX model", "flipped_bytes": "not a valid ONNX model", "huge_dim": "dimension",
    "cyclic_graph": "topologically sorted", "wrong_opset": "opset", "external_missing": "external",
    "external_outside": "external",
}


def test_a_sample_of_mutated_onnx_files_through_parity_check(tmp_path: Path) -> None:
    figures = run_benchmark(3 * len(EXPECTED_WORDS), seed=13, jobs=2, sandbox=tmp_path)
    print(figures.report())
    assert figures.tracebacks == 0 and figures.exit_codes == {2: len(figures.cases)}
    assert figures.one_line_errors == len(figures.cases)
    assert figures.traced == (shutil.which("strace") is not None)
    assert {case.kind for case in figures.cases} == set(EXPECTED_WORDS)
    for case in figures.cases:
        assert case.canary_reads == [] and case.outside_writes == [], case.folder.name
        assert EXPECTED_WORDS[case.kind] in case.stderr, (case.kind, case.detail, case.stderr)
