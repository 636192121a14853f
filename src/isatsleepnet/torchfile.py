"""Reading PyTorch files without ever running code from them.

``torch.load`` unpickles, and a pickle can call any Python function while it
loads (a crafted ``model.pt`` or ``last.ckpt`` could delete files or start a
process). Every torch file the project reads goes through :func:`load_plain`,
which loads with ``weights_only=True`` (tensors, dicts, lists, tuples, numbers,
strings and None only) and turns every way of failing into one line naming the
file; what we write therefore holds only those types.
"""

from __future__ import annotations

import hashlib
import json
import struct
import warnings
import zipfile
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from isatsleepnet.errors import IsatSleepNetError

REFUSED = "it holds Python objects, not plain weights: refused, a crafted or foreign file?"
TRUNCATED = "truncated or corrupt: its zip archive is incomplete"
RAW_PICKLE = "a raw Python pickle, not a PyTorch file: refused, a crafted or foreign file?"


def _reason(exc: BaseException, head: bytes) -> str:
    """Why torch could not read a file starting with ``head``, in a few words (torch's messages run to paragraphs)."""
    text = str(exc).strip()
    lower = text.lower()
    if "unsupported global" in lower:
        return REFUSED
    if head[:1] == b"\x80" and "weights only load failed" in lower:  # PROTO: a pickle, not in torch's format
        return RAW_PICKLE
    if isinstance(exc, EOFError):
        return "empty or truncated"
    if "failed reading zip archive" in lower or "failed finding central directory" in lower:
        return TRUNCATED
    if ("weights only load failed" in lower or "invalid load key" in lower or "invalid magic number" in lower
            or isinstance(exc, (KeyError, struct.error, UnicodeDecodeError))):
        return "not a PyTorch file"
    first = text.splitlines()[0] if text else type(exc).__name__
    return first.split(". ")[0][:200]


def load_plain(path: str | Path, what: str, *, map_location: Any = "cpu", hint: str = "") -> Any:
    """The content of torch file ``path`` if it holds plain data only; else a one-line error.

    ``what`` names the kind of file in messages ("model file", "training checkpoint");
    ``hint`` is appended to them (e.g. "; delete it to start again").
    """
    path = Path(path)
    if not path.is_file():
        raise IsatSleepNetError(f"{path}: {what} not found")
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols of foreign files
            warnings.simplefilter("ignore")
            return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - every failure of a file we were given becomes one line
        head = _head(path)
        reason = TRUNCATED if head == b"PK\x03\x04" and not zipfile.is_zipfile(path) else _reason(exc, head)
        raise IsatSleepNetError(f"{path}: not a readable {what} ({reason}){hint}") from None


def _head(path: Path) -> bytes:
    """The first bytes of a file (torch files are zip archives: b"PK\\x03\\x04")."""
    try:
        with path.open("rb") as f:
            return f.read(4)
    except OSError:
        return b""


def non_finite_tensors(state: Mapping[str, Any]) -> list[str]:
    """Names of floating-point tensors in ``state`` (nested dicts and lists too) holding NaN or infinity."""
    bad: list[str] = []

    def visit(value: Any, name: str) -> None:
        if isinstance(value, torch.Tensor):
            if value.is_floating_point() and not bool(torch.isfinite(value).all()):
                bad.append(name)
        elif isinstance(value, Mapping):
            for key, item in value.items():
                visit(item, f"{name}.{key}" if name else str(key))
        elif isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                visit(item, f"{name}[{i}]")

    visit(state, "")
    return bad


_PLAIN_SCALARS = (str, int, float, bool, type(None))


def to_plain(value: Any) -> Any:
    """Metadata as the types a weights-only load accepts: NumPy scalars and arrays become numbers and lists
    (mappings become dicts; lists and tuples stay what they are).

    (A NumPy float is a Python float to ``isinstance`` but pickles as a NumPy object, which a
    weights-only load refuses: a file holding one could be written but not read back.)
    """
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Mapping):
        return {key: to_plain(item) for key, item in value.items()}
    if type(value) in (list, tuple):
        return type(value)(to_plain(item) for item in value)
    return value


def not_plain(value: Any, name: str = "") -> list[str]:
    """Where ``value`` holds something a weights-only load would refuse (names of the offending entries)."""
    if type(value) in _PLAIN_SCALARS or isinstance(value, (torch.Tensor, torch.Size, torch.dtype)):
        return []
    if type(value) in (dict, OrderedDict):
        return [bad for key, item in value.items() if type(key) in _PLAIN_SCALARS
                for bad in not_plain(item, f"{name}.{key}" if name else str(key))] + \
               [f"{name}[{key!r}]" for key in value if type(key) not in _PLAIN_SCALARS]
    if type(value) in (list, tuple):
        return [bad for i, item in enumerate(value) for bad in not_plain(item, f"{name}[{i}]")]
    return [f"{name or 'the value'} ({type(value).__name__})"]


def plain_sha256(value: Any) -> str:
    """sha256 of plain data (what :func:`load_plain` returns), the same for the same content.

    Why not the file's bytes: the zip layout of a torch file depends on the torch
    version, and a file is read back as content. Mappings are hashed in key order,
    tensors by dtype, shape and bytes, other values as typed JSON, each framed with
    its length, so that no two different values share an encoding (a list is not a
    tuple, 1 is not 1.0 nor True, "a" + "b" is not "ab").
    """
    digest = hashlib.sha256()
    _feed(digest, value)
    return digest.hexdigest()


def _put(digest: Any, tag: bytes, data: bytes) -> None:
    digest.update(tag + len(data).to_bytes(8, "little") + data)


def _scalar(value: Any) -> bytes:
    """A scalar (or anything else) as typed JSON; unknown objects by their repr (plain data never holds them)."""
    try:
        return json.dumps([type(value).__name__, value]).encode()
    except (TypeError, ValueError):
        return json.dumps([type(value).__name__, repr(value)]).encode()


def _feed(digest: Any, value: Any) -> None:
    if isinstance(value, torch.Tensor):
        tensor = value.detach().cpu().contiguous()
        _put(digest, b"T", json.dumps([str(tensor.dtype), list(tensor.shape)]).encode())
        _put(digest, b"B", tensor.reshape(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    elif isinstance(value, Mapping):
        items = sorted(((_scalar(key), item) for key, item in value.items()), key=lambda pair: pair[0])
        _put(digest, b"D", str(len(items)).encode())
        for key, item in items:
            _put(digest, b"K", key)
            _feed(digest, item)
    elif isinstance(value, (list, tuple)):
        _put(digest, b"L" if isinstance(value, list) else b"U", str(len(value)).encode())
        for item in value:
            _feed(digest, item)
    else:
        _put(digest, b"S", _scalar(value))
