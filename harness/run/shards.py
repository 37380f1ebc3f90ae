"""Shards: a deterministic split of a run's work (zoo cells, node cases, source probes) over N machines.

Each item is owned by exactly one shard, chosen by a hash of its name, so every machine computes the same
split without talking to the others, and `parity merge` puts the shards' results back together.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Shard:
    index: int  # 1-based, as written on the command line: 2/3 is the second of three
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
        if not match or not 1 <= int(match[1]) <= int(match[2]):
            raise ValueError(f"--shard {text!r}: expected K/N with 1 <= K <= N, e.g. 2/3")
        return cls(int(match[1]), int(match[2]))

    def owns(self, item: str) -> bool:
        """Whether this shard runs `item` (a stable name such as "cell:mlp:torch>onnx>tf>onnx>torch")."""
        if self.count == 1:
            return True
        bucket = int.from_bytes(hashlib.sha256(item.encode()).digest()[:8], "big") % self.count
        return bucket == self.index - 1

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


EVERYTHING = Shard(1, 1)
