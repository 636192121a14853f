"""Which integer path a CPU offers an int8 model, from its feature flags; the warning where there is none."""

from __future__ import annotations

import logging

import pytest

from isatsleepnet.inference import int8_cpu
from isatsleepnet.inference.int8_cpu import Int8Support, cpu_flags, int8_support


@pytest.mark.parametrize("flags, instructions, fast", [
    ({"sse2", "avx2", "avx512vnni", "amx_int8"}, "AMX (int8 tile products)", True),
    ({"sse2", "avx2", "avx512_vnni"}, "AVX-512 VNNI", True),  # /proc/cpuinfo's spelling
    ({"sse2", "avx2", "AVX512VNNI"}, "AVX-512 VNNI", True),  # numpy's
    ({"avx2", "avx_vnni"}, "AVX-VNNI", True),
    ({"avx2", "avx512bw"}, "AVX2 without VNNI (products in two steps: int8 gains less over float32)", True),
    ({"neon", "asimd", "asimddp", "i8mm"}, "ARM int8 matrix multiply (I8MM)", True),
    ({"neon", "asimd"}, "none found", False),  # an ARM core without the dot product (a Raspberry Pi 3)
    ({"sse2", "sse41", "avx"}, "none found", False),
    (set(), "none found", False),
])
def test_the_best_path_among_the_flags(flags, instructions, fast):
    assert int8_support(flags) == Int8Support(instructions, fast)


def test_a_cpu_without_a_fast_path_is_told_so():
    line = int8_support({"sse41"}).describe()
    assert line.startswith("int8 on this CPU: none found: no fast integer path") and "no faster" in line


def test_this_cpu_is_probed_not_assumed():
    flags = cpu_flags()
    assert flags and all(flag == flag.lower() for flag in flags)  # numpy always reports something (SSE2, NEON...)
    assert int8_support() == int8_support(flags)


def test_staging_an_int8_model_on_a_slow_cpu_warns_once(monkeypatch, caplog):
    monkeypatch.setattr(int8_cpu, "cpu_flags", lambda: {"sse2"})
    monkeypatch.setattr(int8_cpu, "_WARNED", set())
    with caplog.at_level(logging.WARNING, logger="isatsleepnet"):
        int8_cpu.warn_if_slow("m-int8.onnx")
        int8_cpu.warn_if_slow("m-int8.onnx")
    assert [r.getMessage() for r in caplog.records] == ["m-int8.onnx: " + int8_support({"sse2"}).describe()]


def test_a_fast_cpu_gets_no_warning(monkeypatch, caplog):
    monkeypatch.setattr(int8_cpu, "cpu_flags", lambda: {"avx2", "avx512vnni"})
    monkeypatch.setattr(int8_cpu, "_WARNED", set())
    with caplog.at_level(logging.WARNING, logger="isatsleepnet"):
        int8_cpu.warn_if_slow("m-int8.onnx")
    assert not caplog.records
