"""`isatsleepnet review NIGHT.edf --model MODEL`: staged into --out first, then served; reopened the next time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

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
