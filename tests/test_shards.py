"""Shards: every item owned by exactly one shard, and three merged shards equal the unsharded run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.run.shards import Shard


def test_every_item_belongs_to_exactly_one_shard() -> None:
    items = [f"cell:model{index}:route{index % 7}" for index in range(200)] + [f"node:test_op_{i}" for i in range(300)]
    shards = [Shard(index, 3) for index in (1, 2, 3)]
    owners = [[shard for shard in shards if shard.owns(item)] for item in items]
    assert all(len(owner) == 1 for owner in owners)
    sizes = [sum(owner == [shard] for owner in owners) for shard in shards]
    assert min(sizes) > len(items) / 3 * 0.7  # no shard left idle


@pytest.mark.parametrize("text", ["0/3", "4/3", "2", "a/b", "1/0"])
def test_a_bad_shard_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="expected K/N"):
        Shard.parse(text)


def statuses(folder: Path) -> list[tuple[str, str, str, str]]:
    rows = json.loads((folder / "results.json").read_text())
    return sorted((row["model"], row["route"], row["hop"], row["status"]) for row in rows)


@pytest.mark.stacks
def test_three_merged_shards_give_the_statuses_of_the_unsharded_run(tmp_path: Path) -> None:
    # The routes of the base stacks: the onnx2tf stack (Python 3.12) is not provisioned where the tests run.
    routes = ["torch>onnx>tf>onnx>torch", "torch>onnx@dynamo>tf>onnx>torch", "keras>onnx>torch>onnx>tf",
              "keras>onnx>torch>onnx@dynamo>tf"]
    common = ["--models", "mlp", "--routes", *routes, "--profile", "ci", "--examples", "3",
              "--cache-dir", str(tmp_path / "cache")]
    assert main(["zoo", *common, "--work-dir", str(tmp_path / "w"), "--out", str(tmp_path / "whole")]) == 0
    for index in (1, 2, 3):
        assert main(["zoo", *common, "--shard", f"{index}/3", "--work-dir", str(tmp_path / f"w{index}"),
                     "--out", str(tmp_path / f"shard{index}")]) == 0
    shard_sizes = [len(statuses(tmp_path / f"shard{index}")) for index in (1, 2, 3)]
    assert sum(shard_sizes) == len(statuses(tmp_path / "whole")) and max(shard_sizes) < sum(shard_sizes)
    assert main(["merge", *(str(tmp_path / f"shard{index}") for index in (1, 2, 3)),
                 "--out", str(tmp_path / "merged")]) == 0
    assert statuses(tmp_path / "merged") == statuses(tmp_path / "whole")
    # The same shard twice is refused: a row must come from exactly one shard.
    fullest = tmp_path / f"shard{shard_sizes.index(max(shard_sizes)) + 1}"
    assert main(["merge", str(fullest), str(fullest), "--out", str(tmp_path / "x")]) == 2
