"""Errors that reach the user as one line, not a traceback."""

from __future__ import annotations

from pathlib import Path


class IsatSleepNetError(Exception):
    """An error the user can act on; the CLI prints it as one line."""


class DataError(IsatSleepNetError):
    """A problem with one input file: the message names the file and the problem."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path.name}: {problem}")


def describe_exception(exc: BaseException) -> str:
    """One line for an exception the project did not raise itself (disk full, out of memory, a bug)."""
    if isinstance(exc, MemoryError):
        return "out of memory"
    if isinstance(exc, OSError) and exc.strerror:
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{exc.strerror}{where}"
    if isinstance(exc, OSError) and "requested and" in str(exc) and "written" in str(exc):
        return f"No space left on device (a short write: {exc})"  # how numpy reports a full disk
    text = " ".join(str(exc).split())
    text = text if len(text) <= 160 else text[:157] + "..."
    return f"unexpected {type(exc).__name__}: {text} (--debug shows the traceback)"


def unexpected_error(path: str | Path, exc: BaseException) -> str:
    """``NAME: what went wrong`` for an unexpected failure while handling the file ``path``."""
    return f"{Path(path).name}: {describe_exception(exc)}"
