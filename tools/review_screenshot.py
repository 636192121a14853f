"""Write a PNG screenshot of the review page (``isatsleepnet review``) on a synthetic night.

The night is made up here: a hypnogram drawn from a simple sleep-cycle pattern, made-up
model probabilities, a made-up second scorer, and signals synthesised per stage (alpha in
wake, theta in N1, spindles in N2, slow waves in N3, eye movements in REM). It is named
``synthetic-example`` on the page; it is no recording of anyone.

Needs Playwright for Python and a Chromium binary (``chromium`` on PATH, or /usr/bin/chromium).

Usage::

    python tools/review_screenshot.py [OUTPUT.png]   # default: docs/review.png
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from isatsleepnet.data.labels import STAGES
from isatsleepnet.data.readers.memory import MemoryRecording
from isatsleepnet.inference.exports import CSV_COLUMNS, write_csv_sidecar, write_epochs_csv
from isatsleepnet.review.serve import start_server
from isatsleepnet.review.session import Review

RATE = 100.0
EPOCH = 30.0
START = dt.datetime(2026, 12, 5, 22, 40, 0)
NAME = "synthetic-example"


def synthetic_hypnogram(rng: np.random.Generator, hours: float = 6.0) -> list[str]:
    """Stages of a made-up night: wake, then ~90-minute cycles with deep sleep early and REM late."""
    stages: list[str] = ["W"] * 24
    cycle = 0
    while len(stages) < hours * 120:
        deep = max(0, 40 - 14 * cycle)
        rem = 10 + 12 * cycle
        for stage, minutes in (("N1", 4), ("N2", 24), ("N3", deep / 2), ("N2", 16), ("REM", rem / 2), ("W", 1)):
            stages += [stage] * int(round(2 * minutes * rng.uniform(0.7, 1.3)))
        cycle += 1
    return stages[: int(hours * 120)]


def synthetic_model(stages: list[str], rng: np.random.Generator) -> np.ndarray:
    """Made-up model probabilities (the CSV's stages are their argmax): mostly right, unsure near stage changes."""
    n = len(stages)
    logits = rng.normal(0, 0.6, (n, 5))
    for i, stage in enumerate(stages):
        near_change = 0 < i < n - 1 and (stages[i - 1] != stage or stages[i + 1] != stage)
        logits[i, STAGES.index(stage)] += 1.6 if near_change else 3.2
        if stage == "N1":
            logits[i, STAGES.index("W")] += 1.4
            logits[i, STAGES.index("N2")] += 1.2
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return probabilities


def synthetic_signals(stages: list[str], rng: np.random.Generator) -> np.ndarray:
    """EEG, EOG and EMG in µV, one epoch at a time after its stage."""
    per = int(EPOCH * RATE)
    t = np.arange(per) / RATE
    eeg, eog, emg = [], [], []
    for stage in stages:
        noise = np.cumsum(rng.normal(0, 1.0, per))
        noise -= np.linspace(noise[0], noise[-1], per)
        x = 4 * noise / max(np.abs(noise).max(), 1e-9) + rng.normal(0, 3, per)
        e = rng.normal(0, 4, per)
        m = rng.normal(0, 1, per)
        if stage == "W":
            x += 18 * np.sin(2 * np.pi * 10 * t + rng.uniform(0, 6)) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.2 * t))
            m *= 14
            for blink in rng.uniform(1, 28, 3):
                e += 120 * np.exp(-((t - blink) ** 2) / 0.02)
        elif stage == "N1":
            x += 22 * np.sin(2 * np.pi * 5.5 * t + rng.uniform(0, 6))
            e += 60 * np.sin(2 * np.pi * 0.25 * t)
            m *= 8
        elif stage == "N2":
            x += 14 * np.sin(2 * np.pi * 4 * t)
            for spindle in rng.uniform(2, 27, 3):
                x += 25 * np.sin(2 * np.pi * 13 * t) * np.exp(-((t - spindle) ** 2) / 0.15)
            complex_at = rng.uniform(3, 26)
            x += -90 * np.exp(-((t - complex_at) ** 2) / 0.03) + 60 * np.exp(-((t - complex_at - 0.4) ** 2) / 0.05)
            m *= 6
        elif stage == "N3":
            x += 70 * np.sin(2 * np.pi * 0.9 * t + rng.uniform(0, 6)) + 30 * np.sin(2 * np.pi * 1.6 * t)
            m *= 5
        else:  # REM: low-voltage mixed EEG, rapid eye movements, atonia
            x += 12 * np.sin(2 * np.pi * 6 * t + rng.uniform(0, 6))
            for saccade in rng.uniform(1, 28, 6):
                e += 110 * np.sign(rng.normal()) * np.tanh((t - saccade) * 12) * np.exp(-((t - saccade) ** 2) / 0.5)
            m *= 2.5
        eeg.append(x)
        eog.append(e)
        emg.append(m)
    return np.stack([np.concatenate(eeg), np.concatenate(eog), np.concatenate(emg)]).astype(np.float32)


def write_night(folder: Path, rng: np.random.Generator) -> tuple[Path, MemoryRecording]:
    """NAME.hypnogram.csv and .json of the synthetic night, and its recording in memory."""
    truth = synthetic_hypnogram(rng)
    probabilities = synthetic_model(truth, rng)
    n = len(truth)
    expert = [s if rng.uniform() > 0.06 else STAGES[rng.integers(5)] for s in truth]
    confidence = 1 + (probabilities * np.log(probabilities)).sum(axis=1) / np.log(5)
    csv_path = folder / f"{NAME}.hypnogram.csv"
    write_epochs_csv(csv_path, np.arange(n), np.arange(n) * EPOCH, probabilities, confidence, confidence < 0.45,
                     expert=expert, start=START)
    summary = {"recording": {"epoch_seconds": EPOCH, "start": START.isoformat(), "file": str(folder / f"{NAME}.edf")},
               "model": {"file": "synthetic", "backend": "none"}}
    write_csv_sidecar(folder / f"{NAME}.hypnogram.json", [*CSV_COLUMNS, "expert", "clock_time"], summary,
                      min_confidence=0.45)
    recording = MemoryRecording.from_arrays(synthetic_signals(truth, rng), RATE,
                                            ["EEG Fpz-Cz", "EOG horizontal", "EMG submental"])
    return csv_path, recording


def screenshot(output: Path, *, width: int = 1600, height: int = 1000) -> Path:
    """Serve the synthetic night, review a few epochs, and save the page as ``output``."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    rng = np.random.default_rng(7)
    with tempfile.TemporaryDirectory() as tmp:
        csv_path, recording = write_night(Path(tmp), rng)
        review = Review.open(csv_path, reviewer="example")
        # A few edits, so that the progress and agreement panels have something to show.
        flagged = [int(i) for i in np.flatnonzero(review.night.flagged)][:12]
        for epoch in flagged:
            stage = review.night.expert[epoch] if review.night.expert else review.state.stages[epoch]
            review.set_stage(epoch, stage if stage in STAGES else review.state.stages[epoch], version=review.version)
        server = start_server([(review, recording)])
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
                page = browser.new_page(viewport={"width": width, "height": height}, device_scale_factor=1)
                target = flagged[-1] + 1 if flagged else 1
                page.goto(server.url + f"#epoch={target}")  # the CSV's epoch numbers: rows here (staged from 0 s)
                page.wait_for_function("window.reviewState && window.reviewState.drawn > 0 && window.reviewState.spectrogram", timeout=60_000)
                page.wait_for_timeout(300)
                output.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(output))
                browser.close()
        finally:
            server.stop()
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", default="docs/review.png", type=Path, help="PNG to write")
    args = parser.parse_args(argv)
    print(f"wrote {screenshot(args.output)} (a synthetic night, not a recording)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
