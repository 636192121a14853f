"""Configuration files: dataclasses with the paper's defaults, overridden by a file and flags.

A config file is TOML or JSON holding the fields of one dataclass (a table
named after the section, e.g. ``[prepare]``, or the fields at top level).
The resolved configuration is saved as JSON beside every output.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
import typing
from pathlib import Path
from typing import Any, TypeVar

from isatsleepnet.atomic import atomic_write_text
from isatsleepnet.errors import IsatSleepNetError

T = TypeVar("T")


def read_config_file(path: str | Path, section: str) -> dict[str, Any]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise IsatSleepNetError(f"{path}: cannot read config file ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise IsatSleepNetError(f"{path}: not a text file (a config file is TOML or JSON in UTF-8)") from None
    kind = "TOML" if path.suffix.lower() == ".toml" else "JSON"  # any other name is read as JSON
    try:
        data = tomllib.loads(text) if kind == "TOML" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise IsatSleepNetError(f"{path}: not valid {kind} ({exc})") from None
    if not isinstance(data, dict):
        raise IsatSleepNetError(f"{path}: a config file holds settings (a JSON object), not {type(data).__name__}")
    if isinstance(data.get(section), dict):
        data = data[section]
    return data


def _coerce(value: Any, annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if value is None:
        return None
    # a sequence only: a string stays one value, which the dataclass's own check refuses as it was written
    if (origin is tuple or annotation is tuple) and isinstance(value, (list, tuple)):
        return tuple(value)
    if origin is list and isinstance(value, (list, tuple)):
        return list(value)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        for arg in typing.get_args(annotation):
            if arg is not type(None):
                return _coerce(value, arg)
    return value


def replace_from(config: T, overrides: dict[str, Any], *, source: str = "config") -> T:
    """A copy of the dataclass ``config`` with ``overrides`` applied; unknown keys are errors.

    The copy is made by the dataclass's constructor, so a configuration that checks itself in
    ``__post_init__`` refuses a bad value here, naming the setting (``source`` names the file
    only for keys the dataclass does not have).

    Examples
    --------
    >>> from isatsleepnet.engine import Engine
    >>> replace_from(Engine(), {"threads": 2}).threads
    2
    >>> replace_from(Engine(), {"speed": 2}, source="run.toml")
    Traceback (most recent call last):
    ...
    isatsleepnet.errors.IsatSleepNetError: run.toml: unknown option(s) speed; known: device, devices, num_nodes, precision, threads, workers
    """
    fields = {f.name: f for f in dataclasses.fields(config)}  # type: ignore[arg-type]
    hints = typing.get_type_hints(type(config))
    unknown = sorted(set(overrides) - set(fields))
    if unknown:
        raise IsatSleepNetError(
            f"{source}: unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(fields))}"
        )
    values = {k: _coerce(v, hints[k]) for k, v in overrides.items()}
    return dataclasses.replace(config, **values)  # type: ignore[type-var]


def save_config(config: Any, path: str | Path) -> None:
    atomic_write_text(path, json.dumps(dataclasses.asdict(config), indent=2, sort_keys=True) + "\n")


def load_saved_config(cls: type[T], path: str | Path) -> T:
    return replace_from(cls(), json.loads(Path(path).read_text()), source=str(path))
