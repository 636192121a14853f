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


def test_bench_loader_runs(tmp_path):
    out = _run("bench_loader.py", "--nights", "2", "--hours", "0.5", "--repeats", "1", "--workers", "0", "1",
               "--work", str(tmp_path), "--context", "5")
    assert "training loader" in out and "load average" in out
    header = next(line for line in out.splitlines() if line.lstrip().startswith("nights"))
    assert "epochs/s" in header and "vs 0" in header and "PSS" in header
    rows = [line.split() for line in out.splitlines() if line.split()[:2] == ["2", "0.5"]]
    assert [row[4] for row in rows] == ["0", "1", "ctx"] and rows[0][7] == "1.00x" and rows[2][5] == "5"
    assert " nan " not in out


def test_bench_context_runs(tmp_path):
    """The timing part with a tiny night, and the run part on a hand-made run folder (one fold, known truth)."""
    import json

    import numpy as np

    from isatsleepnet.evaluation.predictions import RecordingPrediction

    fold = tmp_path / "run" / "fold_00"
    (fold / "predictions").mkdir(parents=True)
    (fold / "DONE").write_text("done\n")
    (tmp_path / "run" / "config.json").write_text(json.dumps({"train": {"model": {"context": 5}}}))
    truth = np.array([0, 0, 1, 2, 2, 2, 4, 4])
    probabilities = np.eye(5)[truth]
    probabilities[2] = np.eye(5)[2]  # wrong on a transition epoch
    RecordingPrediction("r", "s", truth, probabilities, np.arange(8) * 30.0).save(fold / "predictions")
    out = _run("bench_context.py", "--runs", str(tmp_path / "run"), "--timing", "--epochs", "3", "--repeats", "1",
               "--threads", "1", "--model-size", "small", "--context", "3")
    lines = out.splitlines()
    row = lines[next(i for i, line in enumerate(lines) if line.startswith("---")) + 1]
    # transitions: epochs 1-2 (W->N1), 2-3 (N1->N2), 5-6 (N2->REM): 5 epochs, one of them wrong
    assert row.split()[-2:] == ["5", "80.0"] and " 5 " in row
    assert "context 3" in out and "x the per-epoch time" in out


def test_bench_load_runs(tmp_path):
    out = _run("bench_load.py", "--kinds", "stage", "--processes", "1", "2", "--policies", "default", "--seconds", "0.5",
               "--repeats", "1", "--model-size", "small", "--work", str(tmp_path), "--json", str(tmp_path / "load.json"))
    assert "together/alone" in out and "usable by this process" in out
    import json

    rows = json.loads((tmp_path / "load.json").read_text())["rows"]
    assert [(r["kind"], r["processes"]) for r in rows] == [("stage", 1), ("stage", 2)]
    assert all(r["total_epochs_per_s"] > 0 for r in rows)


def test_bench_compare_runs_the_comparison_and_the_fold_time(tmp_path):
    import json

    from tests.conftest import prepare_synthetic

    data = prepare_synthetic(tmp_path / "cohort", subjects=4, hours=1.0, seed=3)
    quick = ["--cv-arg=--epochs", "--cv-arg=1", "--cv-arg=--max-train-batches", "--cv-arg=2", "--folds", "2"]
    out = _run("bench_compare.py", "--data", str(data), "--out", str(tmp_path / "cmp"), "--architectures",
               "isatsleepnet", "attnsleep", "--channels", "EEG Fpz-Cz", *quick)
    assert "Paired differences" in out and "AttnSleep" in out and "cv wall time (s): isatsleepnet" in out
    assert (tmp_path / "cmp" / "comparison.json").is_file()
    assert set(json.loads((tmp_path / "cmp" / "times.json").read_text())) == {"isatsleepnet", "attnsleep"}
    out = _run("bench_compare.py", "--data", str(data), "--out", str(tmp_path / "time"), "--fold-time",
               "--architectures", "attnsleep")
    rows = json.loads((tmp_path / "time" / "fold_time.json").read_text())["rows"]
    # a pass over a tiny cohort can be lost in start-up noise: then the script says so instead of a row
    assert [r["architecture"] for r in rows] == ["attnsleep"] or "lost in the noise" in out
    assert all(r["seconds_one_pass_fold"] > 0 for r in rows) and "min/pass (fold)" in out


def test_bench_review_runs(tmp_path):
    import shutil

    pytest.importorskip("playwright.sync_api", reason="bench_review drives the page with Playwright")
    if not (shutil.which("chromium") or Path("/usr/bin/chromium").exists()):
        pytest.skip("bench_review needs a Chromium binary (chromium on PATH or /usr/bin/chromium)")
    out = _run("bench_review.py", "--hours", "0.5", "--channels", "2", "--turns", "5", "--pause", "0.05",
               "--requests", "2", "--work", str(tmp_path))
    assert "machine:" in out and "page turns: PageDown, 5 turns" in out
    for what in ("first page, spectrogram cache cold", "first page, reopened", "page turn, median (p95)",
                 "server memory, peak RSS (VmHWM)", "server RSS", "GET /api/window"):
        assert what in out, what
    header = next(line for line in out.splitlines() if line.startswith("what"))
    assert header.split() == ["what", "goal", "measured", "met"]
    assert " nan " not in out and "Traceback" not in out


@pytest.fixture(scope="module")
def tiny_onnx(tmp_path_factory) -> tuple[Path, Path]:
    """The inference tests' tiny model, exported as float32 and as int8."""
    pytest.importorskip("onnxscript")
    from isatsleepnet.cli.main import main
    from tests.inference import trained_model

    model = trained_model(tmp_path_factory.getbasetemp())[0]
    folder = tmp_path_factory.mktemp("tiny-onnx")
    assert main(["export", "--model", str(model), "--onnx", str(folder / "tiny.onnx")]) == 0
    assert main(["export", "--model", str(model), "--onnx", str(folder / "tiny-int8.onnx"), "--int8",
                 "--calibration-epochs", "64"]) == 0
    return folder / "tiny.onnx", folder / "tiny-int8.onnx"


def test_profile_onnx_runs(tiny_onnx):
    out = _run("profile_onnx.py", *map(str, tiny_onnx), "--epochs", "16", "--batch", "8", "--top", "3")
    lines = out.strip().splitlines()
    assert lines[0].startswith("tiny.onnx: ") and "ms per epoch" in lines[0] and len(lines) == 8
    assert lines[4].startswith("tiny-int8.onnx: ") and all(line.rstrip().endswith("%") for line in lines[5:])


def test_bench_int8_runs(tiny_onnx, sleep_edf_dir):
    float_path, int8_path = tiny_onnx
    out = _run("bench_int8.py", "--pairs", f"{float_path}:{int8_path}", "--data-dir", str(sleep_edf_dir),
               "--synthetic-nights", "1")
    rows = out.strip().splitlines()[1:]
    assert len(rows) == 2 and "SC4001E0-PSG.edf (real)" in rows[0] and "synthetic, seed101" in rows[1]
    assert all(row.split()[-4].endswith("%") and row.split()[-1].endswith("%") for row in rows)  # all, clear epochs


def test_bench_int8_held_out_runs(sleep_edf_dir, tmp_path):
    out = _run("bench_int8_held_out.py", "--data-dir", str(sleep_edf_dir), "--work", str(tmp_path), "--epochs", "1",
               "--model-size", "small")
    lines = out.strip().splitlines()
    assert lines[0].startswith("pieces of SC4001: partA 0.00-") and lines[0].endswith("-22.08 h")
    rows = lines[-2:]
    assert rows[0].startswith("partC (held out)") and rows[1].startswith("partB (selection)")
    assert all(row.split()[-4].endswith("%") and row.split()[-1].endswith("%") for row in rows)
    # the pieces: the night cut on its 30-s grid, the expert's stages cut with it
    import edfio

    durations = [edfio.read_edf(tmp_path / "data" / f"part{p}.edf", lazy_load_data=True).duration for p in "ABC"]
    assert sum(durations) == 79500.0 and all(d % 30 == 0 for d in durations)
