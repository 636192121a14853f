"""`isatsleepnet review NIGHT.edf --model MODEL`: staged into --out first, then served; reopened the next time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.api.conftest import stage_cli
from tests.review.conftest import ctrl_c_reaches_it

ROOT = Path(__file__).resolve().parents[2]


def _review(*argv: str | Path) -> tuple[subprocess.Popen, list[str]]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]), "PYTHONFAULTHANDLER": "1"}
    process = subprocess.Popen([sys.executable, "-m", "isatsleepnet.cli.main", "review", *map(str, argv),
                                "--no-browser", "--reviewer", "ana"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env, preexec_fn=ctrl_c_reaches_it)
    lines = []
    while not (lines and lines[-1].startswith("http")):
        line = process.stdout.readline()
        if not line:
            raise AssertionError(lines + [process.stderr.read()])
        lines.append(line.strip())
    return process, lines


def _refused(*argv: str | Path) -> subprocess.CompletedProcess:
    """`isatsleepnet review ...` expected to end before serving (a server that starts anyway is stopped)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    try:
        return subprocess.run([sys.executable, "-m", "isatsleepnet.cli.main", "review", *map(str, argv), "--no-browser"],
                              capture_output=True, text=True, env=env, timeout=120)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"review served instead of refusing: {exc.stdout}") from None


def _interrupt(process: subprocess.Popen) -> None:
    """Ctrl+C, as a user stops the server; a process still running a minute later shows where it hangs."""
    process.send_signal(signal.SIGINT)
    try:
        process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGABRT)  # faulthandler prints every thread's stack
        out, err = process.communicate(timeout=30)
        raise AssertionError(f"review did not stop on Ctrl+C:\n{out[-2000:]}\n{err[-6000:]}") from None


def test_a_recording_is_staged_then_reviewed_with_its_second_scorer(files, tmp_path):
    psg, hypnogram, model = files
    out = tmp_path / "staged"
    process, lines = _review(psg, "--model", model, "--out", out, "--hypnogram", hypnogram)
    try:
        base, token = lines[-1].split("/?token=")
        night = json.loads(urllib.request.urlopen(f"{base}/api/night?token={token}", timeout=10).read())
        assert (out / f"{psg.stem}.hypnogram.csv").is_file() and night["name"] == psg.stem
        assert night["expert"] is not None and night["agreement_with_expert"]["epochs"] > 0
    finally:
        _interrupt(process)
    assert process.returncode == 0
    process, lines = _review(psg, "--model", model, "--out", out)  # the second time: reopened, not staged again
    try:
        assert lines[0] == f"reopening the staging in {out / (psg.stem + '.hypnogram.csv')} (delete it to stage again)"
    finally:
        _interrupt(process)
    assert process.returncode == 0


def test_the_staging_flags_of_stage_apply_to_the_staging_review_makes(files, tmp_path):
    psg, _, model = files
    out = tmp_path / "staged"
    process, lines = _review(psg, "--model", model, "--out", out, "--start", "60", "--end", "660", "--no-plots",
                             "--min-confidence", "0.99", "--threads", "1", "--quiet")
    try:
        rows = (out / f"{psg.stem}.hypnogram.csv").read_text().splitlines()
        assert len(rows) == 1 + 20  # the header, then 60-660 s: 20 epochs of 30 s
        assert not list(out.glob("*.png"))  # --no-plots
    finally:
        _interrupt(process)
    assert process.returncode == 0
    process, lines = _review(psg, "--model", model, "--out", out, "--no-plots")
    try:
        assert lines[1] == "note: --no-plots not applied: the night is reviewed as it was staged"
    finally:
        _interrupt(process)


def test_another_recording_of_a_staged_name_is_refused_not_reviewed_over(files, tmp_path):
    psg, _, model = files
    out = tmp_path / "staged"
    assert stage_cli(psg, "--model", model, "--out", out, "--quiet", "--no-plots", "--no-report") == 0
    other = tmp_path / "b" / psg.name
    other.parent.mkdir()
    data = psg.read_bytes()
    other.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # another night under the same name: one sample differs
    refused = _refused(other, "--model", model, "--out", out)
    assert refused.returncode == 2, refused.stdout
    err = refused.stderr.strip().splitlines()[-1]  # (after a note of a busy machine)
    assert err.startswith(f"isatsleepnet review: error: {psg.name}: {out / psg.stem}.hypnogram.csv is the staging of "
                          "another recording")
    assert "--out" in err and "Traceback" not in refused.stderr


def test_staging_flags_without_a_model_are_refused_and_a_failed_staging_serves_nothing(files, tmp_path):
    psg, hypnogram, model = files
    out = tmp_path / "staged"
    assert stage_cli(psg, "--model", model, "--out", out, "--quiet", "--no-plots", "--no-report") == 0
    staged = out / f"{psg.stem}.hypnogram.csv"
    refused = _refused(staged, "--threads", "1", "--assume-unit", "uV")
    assert refused.returncode == 2 and refused.stderr.strip().splitlines()[-1] == (
        "isatsleepnet review: error: --assume-unit, --threads choose how a recording is staged: give --model too, "
        "or review the staging as it is")
    fresh = tmp_path / "fresh"
    failed = _refused(psg, "--model", model, "--out", fresh, "--quiet", "--eeg", "no such channel")
    assert failed.returncode == 1 and "http" not in failed.stdout
    errors = [line for line in failed.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "no such channel" in errors[0]
    assert not fresh.exists()  # nothing staged: no folder left


def test_a_staging_of_another_model_is_not_reopened_as_this_ones(files, tmp_path):
    psg, _, model = files
    out = tmp_path / "staged"
    assert stage_cli(psg, "--model", model, "--out", out, "--quiet", "--no-plots", "--no-report") == 0
    (out / "model.sha1").write_text("0" * 40 + "\n")  # as another model's stagings mark the folder
    refused = _refused(psg, "--model", model, "--out", out)
    assert refused.returncode == 2, refused.stdout
    staged = out / f"{psg.stem}.hypnogram.csv"
    assert refused.stderr.strip().splitlines()[-1] == (
        f"isatsleepnet review: error: {staged} was staged by another model than {model}: review it as it was staged "
        f"(isatsleepnet review {staged}), or stage this recording into another --out")
