"""The benchmark scripts still run against the current package (tiny settings; the figures are not checked)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _run(script: str, *args: str) -> str:
    done = subprocess.run([sys.executable, str(BENCHMARKS / script), *args], capture_output=True, text=True,
                          timeout=600, env=None)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_bench_gan_runs():
    out = _run("bench_gan.py", "--epochs", "2", "--steps", "2", "--repeats", "2",
               "--threads", "1")
    assert "GAN training" in out and "total added per fold" in out
    assert " nan " not in out


def test_bench_gan_with_another_epoch_length_says_what_it_skipped():
    out = _run("bench_gan.py", "--epochs", "2", "--steps", "2", "--repeats", "1", "--threads", "1",
               "--n-samples", "1500")
    assert "not timed: the data's epochs have 3000 samples, --n-samples 1500" in out
    assert "nan" not in out and "(GAN training only)" in out


@pytest.mark.parametrize("size", ["paper", "small"])
def test_bench_model_runs(size):
    out = _run("bench_model.py", "--threads", "1", "--batch-sizes", "2", "--repeats", "1", "--warmup", "0",
               "--min-time", "0", "--no-memory", "--model-size", size)
    assert "inference" in out and "training" in out
    assert ("parameters 605,788" in out) == (size == "small")


def test_bench_stage_runs(sleep_edf_dir):
    pytest.importorskip("yasa", reason="bench_stage compares with YASA (pip install -e '.[bench]')")
    out = _run("bench_stage.py", "--data-dir", str(sleep_edf_dir), "--cases", "trimmed", "--engines", "torch", "torch-small", "yasa", "--repeats", "1",
               "--threads", "1")
    assert "speed vs YASA" in out


def test_bench_input_check_runs(tmp_path):
    out = _run("bench_input_check.py", "--seeds", "0", "--subjects", "3", "--hours", "0.5", "--train-subjects", "2",
               "--data-dir", str(tmp_path / "no-real-night"), "--no-self-check")
    assert "false alarms" in out
