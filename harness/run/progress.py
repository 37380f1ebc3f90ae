"""Progress of a long run: one redrawn status line on a terminal, plain lines in a CI log."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO


class Progress:
    """Call it with transient news (the hop being converted); `note` prints lines that stay."""

    def __init__(self, stream: TextIO | None = None, *, interactive: bool | None = None) -> None:
        self.stream = stream or sys.stdout
        self.interactive = self.stream.isatty() if interactive is None else interactive
        self.started = time.monotonic()
        self.done = 0
        self.total = 0
        self._status_shown = False
        self._lock = threading.Lock()  # cells running in parallel (-j) report from several threads

    def elapsed(self) -> str:
        seconds = int(time.monotonic() - self.started)
        return f"{seconds // 60}:{seconds % 60:02d}"

    def __call__(self, text: str) -> None:
        with self._lock:
            self._status(text)

    def _status(self, text: str) -> None:
        line = f"[{self.done}/{self.total} cells, {self.elapsed()}] {text.strip()}"
        if self.interactive:
            width = 160
            self.stream.write("\r\x1b[K" + line[:width])
            self._status_shown = True
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def note(self, text: str) -> None:
        with self._lock:
            self._note(text)

    def _note(self, text: str) -> None:
        if self._status_shown:
            self.stream.write("\r\x1b[K")
            self._status_shown = False
        self.stream.write(text + "\n")
        self.stream.flush()


class Silent(Progress):
    def __call__(self, text: str) -> None:
        pass

    def note(self, text: str) -> None:
        pass


REPORT_INTERVAL = 30.0  # seconds between the reports written while a run goes


class Throttled:
    """Call `action` at most once per `interval` seconds (the first call always goes through).

    The reports written while a run goes: each write renders every row so far, so writing after every cell
    of a large run costs time quadratic in its cells. The run journal keeps every finished cell anyway (and
    `--resume` reads it), and the final reports are written when the run ends."""

    def __init__(self, action: Callable[..., object], interval: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.action, self.interval, self.clock = action, interval, clock
        self.last: float | None = None

    def __call__(self, *args: Any) -> None:
        now = self.clock()
        if self.last is None or now - self.last >= self.interval:
            self.last = now
            self.action(*args)
