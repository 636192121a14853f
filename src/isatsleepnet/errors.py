"""Errors that reach the user as one line, not a traceback, in the words of whoever called.

The library does not know whether a command line or a Python caller set a value, so its
messages name *settings* as ``{name}`` placeholders (``"{epochs} must be at least 1"``) and
each front end spells them its own way: the CLI as its flag (``--epochs``, see
:mod:`isatsleepnet.cli.flags`), the Python API and ``str(error)`` as a keyword
(``epochs=``). Nothing rewrites finished text with regular expressions.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

_PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)\}")
"""``{setting}``: lower-case letters, digits (``init_sha256``) and underscores only, so that set or
dict reprs and most file names in a message are never taken for one."""


def keyword(setting: str) -> str:
    """A setting as the Python API spells it: ``start`` -> ``start=``.

    Examples
    --------
    >>> keyword("min_confidence")
    'min_confidence='
    """
    return f"{setting}="


def render(template: str, spell: Callable[[str], str] = keyword) -> str:
    """``template`` with each ``{setting}`` spelled by ``spell`` (keywords by default).

    Examples
    --------
    >>> render("{start} must come before {end}")
    'start= must come before end='
    >>> render("{start} must come before {end}", lambda name: "--" + name)
    '--start must come before --end'
    """
    return _PLACEHOLDER.sub(lambda match: spell(match.group(1)), template)


def settings_named(template: str) -> tuple[str, ...]:
    """The settings a message template names, in order, each once.

    Examples
    --------
    >>> settings_named("{trim} needs {hypnogram}; {trim} keeps wake")
    ('trim', 'hypnogram')
    """
    return tuple(dict.fromkeys(_PLACEHOLDER.findall(template)))


def template_of(exc: BaseException) -> str:
    """The unrendered text of an error, for wrapping it in another without losing its settings."""
    return exc.template if isinstance(exc, IsatSleepNetError) else str(exc)


def template_line(exc: BaseException) -> str:
    """An error's one line with its settings left as ``{setting}``: ``NAME: problem`` for a file's error.

    Why: a failure kept and printed later (a failed recording's line in a result) is spelled by
    whoever prints it (:func:`render`), not where it was caught.

    Examples
    --------
    >>> template_line(DataError("night/n.edf", "needs {hypnogram}"))
    'n.edf: needs {hypnogram}'
    >>> render(template_line(SettingError("trim_minutes", "must not be negative")))
    'trim_minutes= must not be negative'
    """
    if isinstance(exc, DataError):
        return f"{exc.path.name}: {exc.problem}"
    return template_of(exc)


def with_settings_renamed(exc: IsatSleepNetError, **names: str) -> IsatSleepNetError:
    """``exc`` (same class, file and text) about the settings ``names`` maps it to.

    Why: a front end may set a library setting under another name (the API's ``start=`` sets
    the staging option ``start_s``); the front end that knows renames, instead of rewriting text.

    Examples
    --------
    >>> str(with_settings_renamed(SettingError("start_s", "must come before {end_s}"), start_s="start", end_s="end"))
    'start= must come before end='
    >>> str(with_settings_renamed(DataError("n.edf", "use {start_s}"), start_s="start"))
    'n.edf: use start='
    """

    def rename(template: str) -> str:
        return render(template, lambda setting: "{" + names.get(setting, setting) + "}")

    new = type(exc).__new__(type(exc), *exc.args)  # no __init__: subclasses take other arguments
    new.__dict__.update(exc.__dict__)
    new.template = rename(exc.template)
    new.args = (new.template, *exc.args[1:])
    if isinstance(new, SettingError):
        new.setting, new.problem = names.get(new.setting, new.setting), rename(new.problem)
    elif isinstance(new, DataError):
        new.problem = rename(new.problem)
    return new


class IsatSleepNetError(Exception):
    """An error the user can act on, printed as one line.

    ``message`` is a template: ``{setting}`` placeholders are spelled by :meth:`render`
    (``str(error)`` gives keyword spelling).

    Examples
    --------
    >>> error = IsatSleepNetError("{batch_size} must be at least 1")
    >>> str(error)
    'batch_size= must be at least 1'
    >>> error.render(lambda name: "--" + name.replace("_", "-"))
    '--batch-size must be at least 1'
    """

    def __init__(self, message: str = "", *args: object) -> None:
        self.template = message
        super().__init__(message, *args)

    @property
    def settings(self) -> tuple[str, ...]:
        """The settings this error is about, in the order its message names them."""
        return settings_named(self.template)

    def render(self, spell: Callable[[str], str] = keyword) -> str:
        """The message with each setting spelled by ``spell``."""
        return render(self.template, spell)

    def __str__(self) -> str:
        return self.render(keyword)


class SettingError(IsatSleepNetError, ValueError):
    """A setting with a value the library cannot use: ``SettingError("start", "must not be negative")``.

    Examples
    --------
    >>> str(SettingError("start", "must not be negative"))
    'start= must not be negative'
    """

    def __init__(self, setting: str, problem: str) -> None:
        self.setting = setting
        self.problem = problem
        super().__init__(f"{{{setting}}} {problem}")


class DataError(IsatSleepNetError):
    """A problem with one input file: the message names the file and the problem.

    The file name is never read as a template, only ``problem`` is.
    """

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(problem)

    def render(self, spell: Callable[[str], str] = keyword) -> str:
        return f"{self.path.name}: {render(self.problem, spell)}"


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
    return f"unexpected {type(exc).__name__}: {text} ({{debug}} shows the traceback)"  # {debug}: the CLI's --debug


def unexpected_error(path: str | Path, exc: BaseException) -> str:
    """``NAME: what went wrong`` for an unexpected failure while handling the file ``path``."""
    return f"{Path(path).name}: {describe_exception(exc)}"
