"""A torch artifact from elsewhere may name only trusted rebuild functions: anything else is refused unimported."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from harness.cli import main
from harness.errors import UntrustedArtifactError
from harness.execution.torch_artifact import (
    HARNESS_REBUILDS,
    RECIPE_FILE,
    TRUSTED_REBUILDS_ENV,
    load_torch_module,
    read_recipe,
)
from harness.execution.worker import import_object


def canary_folder(folder: Path, rebuild: str, **args: object) -> Path:
    """A torch artifact whose module.json names `rebuild`, beside a .pth file that leaves a marker
    when site.addsitedir processes the folder (the reproduction of the issue)."""
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / "canary-ran"
    (folder / "canary.pth").write_text(f"import pathlib; pathlib.Path({str(marker)!r}).write_text('ran')\n")
    (folder / RECIPE_FILE).write_text(json.dumps({"rebuild": rebuild, "args": args}))
    return marker


def canary_package(site: Path, marker: Path) -> str:
    """An importable module that leaves a marker when it is imported; its factory reference."""
    site.mkdir(parents=True, exist_ok=True)
    (site / "canary_factories.py").write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).write_text('imported')\ndef build():\n    return None\n")
    return "canary_factories:build"


def test_a_recipe_naming_site_addsitedir_is_refused_before_any_import(tmp_path: Path) -> None:
    marker = canary_folder(tmp_path / "artifact", "site:addsitedir")
    with pytest.raises(UntrustedArtifactError, match="site:addsitedir") as refused:
        load_torch_module(tmp_path / "artifact")
    assert "\n" not in str(refused.value)
    assert not marker.exists()


def test_a_harness_rebuild_cannot_smuggle_an_untrusted_factory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    marker = tmp_path / "factory-imported"
    factory = canary_package(tmp_path / "site", marker)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    canary_folder(tmp_path / "artifact", "harness.run.user_model:rebuild_factory", factory=factory)
    with pytest.raises(UntrustedArtifactError, match="canary_factories:build"):
        load_torch_module(tmp_path / "artifact")
    assert not marker.exists()


def test_a_factory_named_in_the_environment_is_trusted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The user's own environment (what `parity check FACTORY` gives its workers), not the folder, decides
    what else may be imported; reading the recipe still imports nothing."""
    marker = tmp_path / "factory-imported"
    factory = canary_package(tmp_path / "site", marker)
    monkeypatch.setenv(TRUSTED_REBUILDS_ENV, f"some.other:thing,{factory}")
    canary_folder(tmp_path / "artifact", "harness.run.user_model:rebuild_factory", factory=factory)
    recipe = read_recipe(tmp_path / "artifact")
    assert recipe["args"] == {"factory": factory}
    assert not marker.exists()


@pytest.mark.parametrize("recipe", ['{"rebuild": 3}', "[]", '{"rebuild": "x:y", "args": []}', "{not json"])
def test_a_malformed_recipe_is_refused(tmp_path: Path, recipe: str) -> None:
    (tmp_path / RECIPE_FILE).write_text(recipe)
    with pytest.raises(UntrustedArtifactError, match=RECIPE_FILE):
        load_torch_module(tmp_path)


def test_every_harness_rebuild_names_a_function() -> None:
    for reference in HARNESS_REBUILDS:
        assert callable(import_object(reference)), reference


def test_parity_replay_refuses_the_cell_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A cell folder as a colleague might attach it: the source artifact's recipe names site:addsitedir."""
    cell = tmp_path / "cell"
    marker = canary_folder(cell / "source" / "torch_module", "site:addsitedir")
    np.savez(cell / "minimal_example.npz", x=np.zeros((1, 4), np.float32))
    (cell / "cell.json").write_text(json.dumps({
        "model": "mlp", "route": "torch>onnx>tf>onnx>torch", "source_format": "torch",
        "source_artifact": str(cell / "source" / "torch_module"), "io": {"inputs": [], "outputs": []},
        "hops": [{"index": 1, "hop": "torch->onnx", "format": "onnx", "artifact": str(cell / "hop1"),
                  "stack": "current", "status": "ok"}]}))
    capsys.readouterr()
    assert main(["replay", str(cell)]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("parity: error: ") and "site:addsitedir" in lines[0], captured
    assert not marker.exists()
    assert not (cell / "replay-logs").exists()  # refused before any worker started


@pytest.mark.stacks
def test_a_cell_the_harness_wrote_still_replays(tmp_path: Path) -> None:
    """Its torch artifacts name the harness's own rebuild functions (the zoo twin, onnx2pytorch's)."""
    work = tmp_path / "work"
    assert main(["zoo", "--models", "mlp", "--routes", "torch>onnx>tf>onnx>torch", "--examples", "1", "--profile",
                 "ci", "--no-localize", "--work-dir", str(work), "--out", str(tmp_path / "reports")]) == 0
    cell = work / "mlp" / "torch_onnx_tf_onnx_torch"
    assert main(["replay", str(cell), "--example", str(cell / "export_example.npz")]) == 0
