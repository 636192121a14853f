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
