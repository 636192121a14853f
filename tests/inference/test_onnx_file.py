"""The top-level fields of an ONNX file read and written on its bytes (no onnx package needed)."""

from __future__ import annotations

import pytest

from isatsleepnet.inference.onnx_file import WireError, content_sha256, fields, metadata_entries, with_metadata

# a ModelProto by hand: ir_version 10 (field 1, varint), producer_name "x" (field 2), a graph (field 7) whose
# payload is 300 bytes (a two-byte length), an opset import (field 8: domain "", version 21)
GRAPH = b"\x0a\x01g" + b"\x2a" + bytes([0xAC, 0x02]) + bytes(range(256)) + bytes(range(44))
MODEL = (b"\x08\x0a" + b"\x12\x01x" + b"\x3a" + bytes([len(GRAPH) & 0x7F | 0x80, len(GRAPH) >> 7]) + GRAPH
         + b"\x42\x02\x10\x15")


def test_fields_walk_the_top_level():
    numbers = [(n, bytes(p)) for n, _, p in fields(MODEL)]
    assert [n for n, _ in numbers] == [1, 2, 7, 8]
    assert numbers[1][1] == b"x" and numbers[2][1] == GRAPH and numbers[3][1] == b"\x10\x15"
    assert b"".join(bytes(whole) for _, whole, _ in fields(MODEL)) == MODEL


@pytest.mark.parametrize("data, problem", [
    (MODEL[:-1], "field 8 at byte"),  # the last payload cut short
    (b"\x08\x80", "truncated varint"),
    (b"\x0b\x00", "wire type 3"),  # a group
    (b"\x00\x01", "field number 0"),
    (b"\x08" + b"\xff" * 11, "varint longer than 10 bytes"),
])
def test_malformed_bytes_are_refused(data, problem):
    with pytest.raises(WireError, match=problem):
        fields(data)


def test_metadata_entries_are_replaced_by_key_and_the_rest_keeps_its_bytes():
    data = with_metadata(with_metadata(MODEL, "other", "kept"), "isatsleepnet", "{}")
    assert metadata_entries(data) == [("other", "kept"), ("isatsleepnet", "{}")]
    again = with_metadata(data, "isatsleepnet", '{"a": 1}')
    assert metadata_entries(again) == [("other", "kept"), ("isatsleepnet", '{"a": 1}')]
    assert again.startswith(MODEL)  # every other field untouched, in its place
    long = with_metadata(MODEL, "isatsleepnet", "é" * 200)  # a value longer than 127 bytes, not ASCII
    assert metadata_entries(long) == [("isatsleepnet", "é" * 200)]


def test_the_checksum_covers_the_metadata_and_every_other_byte_but_not_other_metadata():
    meta = {"stages": ["W", "N1"], "file_sha256": "ignored"}
    base = content_sha256(MODEL, meta, checksum_key="file_sha256")
    assert content_sha256(with_metadata(MODEL, "other", "x"), meta, checksum_key="file_sha256") == base
    assert content_sha256(MODEL, {**meta, "file_sha256": "changed"}, checksum_key="file_sha256") == base
    assert content_sha256(MODEL, {**meta, "stages": ["W"]}, checksum_key="file_sha256") != base
    flipped = bytearray(MODEL)
    flipped[100] ^= 0x01  # a bit inside the graph's payload
    assert content_sha256(bytes(flipped), meta, checksum_key="file_sha256") != base


def test_onnx_reads_what_was_written_on_the_bytes():
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.metadata_props.add(key="other", value="kept")
    data = with_metadata(model.SerializeToString(), "isatsleepnet", "ü" * 300)
    read = onnx.load_model_from_string(data)
    assert [(e.key, e.value) for e in read.metadata_props] == [("other", "kept"), ("isatsleepnet", "ü" * 300)]
    assert metadata_entries(data) == [("other", "kept"), ("isatsleepnet", "ü" * 300)]
    onnx.checker.check_model(read)
