"""The directory `parity check` runs from: its factory package imports, its stray modules shadow nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.stacks

POISON = "raise ImportError('the poison {name}.py in the caller directory was imported instead of {name}')\n"
FACTORY = '''
def build():
    import torch

    torch.manual_seed(5)
    return torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh()).eval()
'''


def test_a_stray_numpy_py_shadows_nothing_while_the_factory_loads(tmp_path: Path) -> None:
    caller = tmp_path / "project"
    (caller / "my_models").mkdir(parents=True)
    (caller / "my_models" / "__init__.py").write_text(FACTORY)
    for name in ("numpy", "onnx"):
        (caller / f"{name}.py").write_text(POISON.format(name=name))
    parity = Path(sys.executable).parent / "parity"  # the console script: its own path starts in bin/, not here
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    ran = subprocess.run(
        [str(parity), "check", "my_models:build", "--input", "x:Bx4:float32", "--routes", "torch>onnx>tf>onnx>torch",
         "--examples", "1", "--profile", "ci", "--no-localize", "--work-dir", str(tmp_path / "work"),
         "--out", str(tmp_path / "reports")],
        cwd=caller, env={**env, "PARITY_PROJECT_DIR": str(Path(__file__).parents[1])},
        capture_output=True, text=True, timeout=900)
    logs = "".join(path.read_text() for path in (tmp_path / "work" / "logs").glob("*.log"))
    assert "poison" not in ran.stderr + ran.stdout + logs
    assert ran.returncode in (0, 1), ran.stderr
    rows = pd.read_csv(tmp_path / "reports" / "results.csv")
    # The factory was built and exported: torch (from my_models) and onnx (the real one) both loaded.
    assert rows["model"].iloc[0] == "build" and rows.loc[rows["hop"] == "torch->onnx", "status"].iloc[0] == "pass"
