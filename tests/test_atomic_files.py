"""Files written whole or not at all: a write interrupted half way leaves the previous file untouched."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.atomic import open_atomic, write_atomic


def test_an_interrupted_write_keeps_the_previous_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "cell.json"
    write_atomic(path, '{"model": "mlp"}\n')
    with pytest.raises(KeyboardInterrupt), open_atomic(path) as handle:
        handle.write(b'{"model": "res')
        raise KeyboardInterrupt  # killed half way through the write
    assert path.read_text() == '{"model": "mlp"}\n'
    assert [entry.name for entry in tmp_path.iterdir()] == ["cell.json"]

