"""Every error the harness raises on purpose, under one base class, and how an error is described in one line.

A command-line tool catches ParityError once; the subclasses also keep the built-in base they always had
(ValueError, RuntimeError), so code that caught those still does.
"""

from __future__ import annotations

import re


class ParityError(Exception):
    """The base of every error the harness raises on purpose."""


class UsageError(ParityError, ValueError):
    """Bad input from the user: printed as one line, exit status 2."""


class ModelInputError(ParityError, ValueError):
    """MODEL or --input is unusable; the message names the problem and the fix (exit status 2)."""


class UntrustedArtifactError(ParityError, ValueError):
    """A torch artifact's recipe is malformed or names a function that is not trusted (exit status 2)."""


class StackError(ParityError, RuntimeError):
    """A stack is missing, broken or cannot be derived; the message says what to do."""


class PluginError(ParityError, RuntimeError):
    """An installed plugin could not be loaded; the message names the plugin and its package."""


class NoFloat64Run(ParityError, RuntimeError):
    """This artifact has no float64 twin: the row says so and the float32 reference rule applies."""


class InvalidOnnxModel(ParityError):
    """A converter wrote a file that the onnx checker rejects."""


class OpsetNotWritten(ParityError):
    """An exporter asked for one opset wrote another (torch's dynamo exporter keeps opset 18, with only a
    log line, when it cannot convert its graph down to the requested opset)."""


class WorkerFailure(ParityError):
    """The worker process itself failed: status is "crash" or "timeout"; `fault`: it died by a fault signal."""

    def __init__(self, status: str, message: str, *, fault: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.fault = fault


ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
NAMED_ERROR = re.compile(r"^\s*(<class '[\w.]+'>|[\w.]*(Error|Exception)):")


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, or its class name when the message is empty."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def describe_error(exc: BaseException) -> str:
    """The error's class and its most telling line.

    TensorFlow ("in user code:") and torch.export ("## Exception summary") put the real cause at the
    end of a long message; there the last line naming an error is more telling than the first line.
    """
    lines = [ANSI_ESCAPE.sub("", line).strip() for line in str(exc).strip().splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        return type(exc).__name__
    telling = lines[0]
    if len(lines) > 1 and (telling.endswith(":") or "Exception summary" in str(exc)):
        named = [line for line in lines[1:] if NAMED_ERROR.match(line)]
        telling = named[-1] if named else lines[-1]
    if not telling.startswith(f"{type(exc).__name__}:"):
        telling = f"{type(exc).__name__}: {telling}"
    return telling[:500]


def describe_error_source() -> str:
    """describe_error and the patterns it reads, as the text every generated repro embeds (needs `import re`)."""
    import inspect

    return (f"ANSI_ESCAPE = re.compile({ANSI_ESCAPE.pattern!r})\nNAMED_ERROR = re.compile({NAMED_ERROR.pattern!r})\n"
            "\n\n" + inspect.getsource(describe_error))
