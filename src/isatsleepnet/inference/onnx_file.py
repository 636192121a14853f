"""An exported model's bytes without the onnx package: its top-level fields, its metadata, its checksum.

Why: the staging install runs a model with ONNX Runtime alone. The onnx package (31 MB here, 0.05 s
to import and as much again to parse a model and hash its tensors) is needed only to *write* a graph
(`export`, `export --int8`). An ONNX file is one protobuf ``ModelProto``; staging needs only two
things from it besides what ONNX Runtime reads: the isatsleepnet metadata (``metadata_props``, field
14) and a checksum of everything else. Both come from the protobuf wire format's top level: a run of
fields, each a varint key (field number and wire type) and its payload, the graph among them as one
length-delimited payload.

The checksum (:func:`content_sha256`) covers the metadata (its canonical JSON, without the checksum
itself) and the bytes of every top-level field but ``metadata_props``, in file order: the graph with
every weight, the opsets, the IR version. A flipped bit anywhere outside the metadata changes it, and
so does an edited metadata field; metadata entries of other tools are left out, so a tool that adds
its own keeps the file valid.

Examples
--------
>>> data = with_metadata(b"\\x08\\x0a", "isatsleepnet", '{"a": 1}')  # ir_version 10, then the entry
>>> metadata_entries(data)
[('isatsleepnet', '{"a": 1}')]
>>> content_sha256(data, {"a": 1}) == content_sha256(b"\\x08\\x0a", {"a": 1})
True
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

METADATA_FIELD = 14  # ModelProto.metadata_props: repeated StringStringEntryProto {key = 1, value = 2}
_VARINT, _FIXED64, _BYTES, _FIXED32 = 0, 1, 2, 5


class WireError(ValueError):
    """The bytes are not a well-formed protobuf message."""


def _varint(data: bytes | memoryview, pos: int) -> tuple[int, int]:
    """The varint at ``pos`` and the position after it."""
    value = shift = 0
    while True:
        if pos >= len(data):
            raise WireError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise WireError("varint longer than 10 bytes")


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def fields(data: bytes | memoryview) -> list[tuple[int, memoryview, memoryview]]:
    """Every top-level field of a message: (field number, its whole bytes with the key, its payload).

    A payload is a varint's bytes, 8 or 4 fixed bytes, or a length-delimited run (a string, a nested
    message, packed numbers); groups (wire types 3 and 4, unused by ONNX) are refused.
    """
    view, pos, out = memoryview(data), 0, []
    while pos < len(view):
        start = pos
        key, pos = _varint(view, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise WireError(f"field number 0 at byte {start}")
        if wire == _VARINT:
            end = _varint(view, pos)[1]
        elif wire == _FIXED64:
            end = pos + 8
        elif wire == _FIXED32:
            end = pos + 4
        elif wire == _BYTES:
            length, pos = _varint(view, pos)
            end = pos + length
        else:
            raise WireError(f"wire type {wire} at byte {start}")
        if end > len(view):
            raise WireError(f"field {number} at byte {start} runs past the end")
        out.append((number, view[start:end], view[pos:end]))
        pos = end
    return out


def metadata_entries(data: bytes) -> list[tuple[str, str]]:
    """The (key, value) pairs of a ModelProto's ``metadata_props``, in file order."""
    entries = []
    for number, _, payload in fields(data):
        if number == METADATA_FIELD:
            parts = {n: bytes(p) for n, _, p in fields(payload)}
            try:
                entries.append((parts.get(1, b"").decode(), parts.get(2, b"").decode()))
            except UnicodeDecodeError:
                raise WireError("a metadata entry that is not UTF-8") from None
    return entries


def _entry(key: str, value: str) -> bytes:
    payload = b"".join(_encode_varint(number << 3 | _BYTES) + _encode_varint(len(text)) + text
                       for number, text in ((1, key.encode()), (2, value.encode())))
    return _encode_varint(METADATA_FIELD << 3 | _BYTES) + _encode_varint(len(payload)) + payload


def with_metadata(data: bytes, key: str, value: str) -> bytes:
    """The file's bytes with ``value`` as the one metadata entry named ``key`` (entries of other keys stay);
    every other field keeps its bytes, so :func:`content_sha256` is the same before and after."""
    kept = [bytes(whole) for number, whole, payload in fields(data)
            if number != METADATA_FIELD or dict((n, bytes(p)) for n, _, p in fields(payload)).get(1) != key.encode()]
    return b"".join(kept) + _entry(key, value)


def content_sha256(data: bytes, meta: dict[str, Any], *, checksum_key: str = "") -> str:
    """sha256 of ``meta`` as canonical JSON (without ``checksum_key``), then of every top-level field of
    the file but ``metadata_props``, each as its length and its bytes."""
    digest = hashlib.sha256()

    def put(chunk: bytes | memoryview) -> None:
        digest.update(len(chunk).to_bytes(8, "little"))
        digest.update(chunk)

    rest = {k: v for k, v in meta.items() if k != checksum_key}
    put(json.dumps(rest, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode())
    for number, whole, _ in fields(data):
        if number != METADATA_FIELD:
            put(whole)
    return digest.hexdigest()
