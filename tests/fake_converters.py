"""Converters that misbehave on purpose, for the harness's isolation tests. Imported inside workers."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

from harness.converters.base import Converter
from harness.formats import ONNX, TORCH


class SegfaultingConverter(Converter):
    """Kills its own worker process the way a crashing native converter would."""

    source = TORCH
    target = ONNX
    framework = "none"
    package = "numpy"

    def convert(self, source: Path, target: Path, io: dict[str, Any], example: list[Any]) -> None:
        os.kill(os.getpid(), signal.SIGSEGV)


class HangingConverter(Converter):
    source = TORCH
    target = ONNX
    framework = "none"
    package = "numpy"

    def convert(self, source: Path, target: Path, io: dict[str, Any], example: list[Any]) -> None:
        time.sleep(3600)


class RaisingConverter(Converter):
    source = TORCH
    target = ONNX
    framework = "none"
    package = "numpy"

    def convert(self, source: Path, target: Path, io: dict[str, Any], example: list[Any]) -> None:
        raise NotImplementedError("op Frobnicate version 99 is not implemented.\nsecond line is not shown")
