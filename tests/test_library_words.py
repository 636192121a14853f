"""The library speaks in settings, not in command-line flags.

A message the library raises, warns or logs names a setting as ``{setting}`` (see
:mod:`isatsleepnet.errors`) and each front end spells it: the CLI as ``--start``, the Python
API as ``start=``. A ``--flag`` written into a library message would reach a Python caller
in the command line's words, so this test reads every module outside ``cli/`` with
:mod:`ast` and fails on any string (f-string parts included, and ``--`` followed by a
formatted value: ``f"--{role}"``) inside a ``raise``, an error made anywhere
(``SettingError(...)``, ``DataError(...)``, any ``...Error(...)``: errors are also kept in
results and printed later), a ``warnings.warn(...)`` call, a logger call (any level) or a
``tqdm.write(...)`` line. Comments and docstrings may still describe the CLI.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "isatsleepnet"
FLAG = re.compile(r"--[a-z]")
LOGGER_METHODS = frozenset({"debug", "info", "warning", "warn", "error", "exception", "critical", "log"})
FORMATTED = "x"
"""What a formatted value of an f-string reads as: ``f"--{role}"`` is checked as ``--x``."""


def _callee(func: ast.expr) -> str:
    """The called name: ``f`` for ``f(...)``, ``b`` for ``a.b(...)``."""
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else ""


def _is_message_call(node: ast.Call) -> bool:
    """``warnings.warn(...)``, ``warn(...)``, ``<logger>.<level>(...)``, ``tqdm.write(...)`` or ``...Error(...)``."""
    func, name = node.func, _callee(node.func)
    if name.endswith("Error") or (isinstance(func, ast.Name) and name == "warn"):
        return True
    if isinstance(func, ast.Attribute):
        owner = func.value.id if isinstance(func.value, ast.Name) else ""
        if name == "write":
            return owner == "tqdm"
        return name in LOGGER_METHODS
    return False


def _texts(message: ast.AST) -> set[tuple[int, str]]:
    """Each string of ``message`` with its line: constants, and f-strings read whole (values as ``x``)."""
    found: set[tuple[int, str]] = set()
    inside_fstrings: set[int] = set()
    for inner in ast.walk(message):
        if isinstance(inner, ast.JoinedStr):
            parts = [v.value if isinstance(v, ast.Constant) else FORMATTED for v in inner.values]
            inside_fstrings.update(id(v) for v in inner.values)
            found.add((inner.lineno, "".join(str(p) for p in parts)))
    for inner in ast.walk(message):
        if isinstance(inner, ast.Constant) and isinstance(inner.value, str) and id(inner) not in inside_fstrings:
            found.add((inner.lineno, inner.value))
    return found


def flags_in_messages(source: str, filename: str = "<source>") -> list[str]:
    """``filename:line: text`` for each message string in ``source`` that holds a ``--flag``."""
    tree = ast.parse(source, filename=filename)
    messages: list[ast.AST] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and node.exc is not None:
            messages.append(node.exc)
        elif isinstance(node, ast.Call) and _is_message_call(node):
            messages.extend([*node.args, *(keyword.value for keyword in node.keywords)])
    found = {(line, text) for message in messages for line, text in _texts(message) if FLAG.search(text)}
    return [f"{filename}:{line}: {text!r}" for line, text in sorted(found)]


LIBRARY = sorted(p for p in PACKAGE.rglob("*.py") if "cli" not in p.relative_to(PACKAGE).parts)


def test_the_checker_finds_flags_in_every_kind_of_message() -> None:
    snippet = '''
import logging, warnings
log = logging.getLogger("x")
def f(n, path):
    if n < 0:
        raise ValueError(f"--epochs must be positive, not {n}")
    warnings.warn("pass --assume-unit to override", stacklevel=2)
    log.warning("%s: see --start", path)
    log.error(msg="try --out-dir")
    raise SettingError("max_epochs", "must be at least 1")   # a setting, no flag
    log.debug("--verbose is a flag in debug output too")
    errors.append(DataError(path, f"name one with --{n}"))   # kept in a result, printed later
    note = SettingError("start", "use --end")
    tqdm.write(f"note: {path}: see --lights")
    text = "--not-a-message"
    print(f"{n}--{n}")
    """--docstring-like text"""
'''
    found = flags_in_messages(snippet, "snippet.py")
    assert [entry.split(":")[1] for entry in found] == ["6", "7", "8", "9", "11", "12", "13", "14"]
    assert found[0].startswith("snippet.py:6: '--epochs must be positive, not x'")
    assert "'name one with --x'" in found[5]


def test_the_checker_lets_settings_and_dashes_pass() -> None:
    snippet = '''
def f(x):
    raise IsatSleepNetError("{start} must come before {end}; a -- b; -1 --5")
'''
    assert flags_in_messages(snippet) == []


def test_library_messages_name_settings_not_flags() -> None:
    found = [entry for path in LIBRARY
             for entry in flags_in_messages(path.read_text(encoding="utf-8"), str(path.relative_to(PACKAGE)))]
    assert not found, "library messages with a command-line flag (name the setting as {setting}):\n" + "\n".join(found)
