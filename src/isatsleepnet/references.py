"""``"module:function"`` references: how every extension table names its code.

The tables (architectures, datasets, output files, signal formats) name their functions
as strings, so that reading a table imports nothing heavy and an entry can live in a
plug-in's own module; :func:`resolve` imports one when it is first used.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from typing import Any

from isatsleepnet.errors import IsatSleepNetError
from isatsleepnet.installs import is_training_module_missing

REFERENCE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
"""``package.module:name``, where ``name`` may be dotted (``Class.method``)."""


def is_reference(value: object) -> bool:
    """Whether ``value`` is a well-formed ``"module:name"`` string.

    Examples
    --------
    >>> is_reference("isatsleepnet.data.readers.edf:EdfRecording.open"), is_reference("edf.open")
    (True, False)
    """
    return isinstance(value, str) and REFERENCE.match(value) is not None


def resolve(target: str | Callable[..., Any]) -> Any:
    """The object a ``"module:name"`` string names, imported now (a callable is returned as it is).

    Examples
    --------
    >>> resolve("isatsleepnet.references:resolve") is resolve
    True
    >>> resolve("isatsleepnet.references:nothing")
    Traceback (most recent call last):
    ...
    isatsleepnet.errors.IsatSleepNetError: isatsleepnet.references:nothing: isatsleepnet.references has no nothing
    """
    if callable(target):
        return target
    if not is_reference(target):
        raise IsatSleepNetError(f"{target!r} is not a 'module:name' reference")
    module_name, _, attribute = target.partition(":")
    try:
        found: Any = importlib.import_module(module_name)
    except ImportError as exc:
        if is_training_module_missing(exc):  # torch in the staging install: the caller says which extra
            raise
        raise IsatSleepNetError(f"{target}: cannot import {module_name} ({exc})") from None
    for part in attribute.split("."):
        if not hasattr(found, part):
            raise IsatSleepNetError(f"{target}: {module_name} has no {attribute}")
        found = getattr(found, part)
    return found
