"""Where the library's status lines go: the ``isatsleepnet`` logger, set up by the command line.

Why logging and not print: a notebook or a pipeline that calls the library decides
what it sees. Every module logs to ``logging.getLogger(__name__)``, a child of
``isatsleepnet``; the library attaches no handler (so Python's own last-resort
handler still shows warnings on stderr when nothing is configured, as the old
prints did). The command line calls :func:`configure`: INFO lines on stdout,
warnings and errors on stderr, prefixed ``warning:``/``error:`` there as the
command line's other lines are (the message itself carries no such prefix, so a
notebook's own formatter does not print it twice).
Progress bars (tqdm) are no log lines and stay as they are.

Silence the status lines in a notebook::

    import logging
    logging.getLogger("isatsleepnet").setLevel(logging.WARNING)
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager

LOGGER_NAME = "isatsleepnet"


class _StreamOfTheMoment(logging.Handler):
    """Writes each record to ``sys.stdout`` or ``sys.stderr`` as they are when it is emitted.

    Looking the stream up at emit time (not once, at setup) lets a redirected
    stdout, pytest's capture among them, receive the lines.
    """

    def __init__(self, stream: str, *, below: int | None = None) -> None:
        super().__init__()
        self.stream_name = stream
        self.below = below

    def filter(self, record: logging.LogRecord) -> bool:  # type: ignore[override]
        return (self.below is None or record.levelno < self.below) and bool(super().filter(record))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream = getattr(sys, self.stream_name)
            stream.write(self.format(record) + "\n")
            stream.flush()
        except Exception:  # noqa: BLE001 - logging's contract: a failing handler never stops the program
            self.handleError(record)


class _Prefixed(logging.Formatter):
    """``warning: MESSAGE`` / ``error: MESSAGE``: a warning on stderr reads like the command line's errors."""

    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.lower()}: {super().format(record)}"


def status_level(quiet: bool, verbose: bool = False) -> int:
    """The logging level of a command: WARNING with ``quiet``, DEBUG with ``verbose``, else INFO.

    Examples
    --------
    >>> status_level(quiet=True) == logging.WARNING, status_level(quiet=False) == logging.INFO
    (True, True)
    >>> status_level(quiet=False, verbose=True) == logging.DEBUG
    True
    """
    if quiet:
        return logging.WARNING
    return logging.DEBUG if verbose else logging.INFO


def configure(level: int = logging.INFO) -> list[logging.Handler]:
    """Send the ``isatsleepnet`` logger's lines at ``level`` and above to stdout (below WARNING) and stderr.

    Replaces the handlers an earlier call installed, and stops the lines from also
    reaching the root logger (no line twice). Returns the handlers it installed.

    Examples
    --------
    >>> handlers = configure(logging.WARNING)
    >>> [h.stream_name for h in handlers]
    ['stdout', 'stderr']
    >>> unconfigure()
    """
    unconfigure()
    logger = logging.getLogger(LOGGER_NAME)
    handlers: list[logging.Handler] = [_StreamOfTheMoment("stdout", below=logging.WARNING),
                                       _StreamOfTheMoment("stderr")]
    handlers[0].setFormatter(logging.Formatter("%(message)s"))
    handlers[1].setLevel(logging.WARNING)
    handlers[1].setFormatter(_Prefixed())
    for handler in handlers:
        logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    return handlers


def unconfigure() -> None:
    """Undo :func:`configure`: its handlers removed, the level and propagation back to the defaults.

    Examples
    --------
    >>> unconfigure()
    >>> logging.getLogger(LOGGER_NAME).level == logging.NOTSET
    True
    """
    logger = logging.getLogger(LOGGER_NAME)
    for handler in [h for h in logger.handlers if isinstance(h, _StreamOfTheMoment)]:
        logger.removeHandler(handler)
    logger.setLevel(logging.NOTSET)
    logger.propagate = True


@contextmanager
def status_output(level: int = logging.INFO) -> Iterator[None]:
    """:func:`configure` for the duration of a command; afterwards the logger is as it was before.

    So a command run in-process (a test, a notebook calling ``main``) leaves no handler behind.

    Examples
    --------
    >>> with status_output(logging.INFO):
    ...     logging.getLogger("isatsleepnet.training").info("train on 3 subject(s)")
    train on 3 subject(s)
    """
    logger = logging.getLogger(LOGGER_NAME)
    before = (logger.level, logger.propagate)
    configure(level)
    try:
        yield
    finally:
        unconfigure()
        logger.setLevel(before[0])
        logger.propagate = before[1]
