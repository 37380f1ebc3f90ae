"""Files written whole or not at all: through a temporary file in the same folder and a rename.

Imports only the standard library, so the controller and every worker can use it.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


@contextmanager
def open_atomic(path: Path) -> Iterator[IO[bytes]]:
    """A binary file that appears at `path` complete when the block ends, and not at all if it raises.

    The file gets the mode a plain open() would give (0666 less the umask), not tempfile's 0600.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            yield handle
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_atomic(path: Path, content: str | bytes) -> None:
    with open_atomic(path) as handle:
        handle.write(content.encode() if isinstance(content, str) else content)
