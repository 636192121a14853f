"""A staged night written by `stage`'s own writers, in a temporary folder (no model needed)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from isatsleepnet.data.labels import STAGES
from isatsleepnet.inference.exports import CSV_COLUMNS, write_csv_sidecar, write_epochs_csv

START = dt.datetime(2026, 12, 5, 22, 30, 0)
MODEL_STAGES = ["W", "W", "N1", "N2", "N2", "N3", "N3", "N2", "REM", "REM", "N1", "W"]


def ctrl_c_reaches_it() -> None:
    """For a server started by a test (Popen's preexec_fn): SIGINT back to Python's Ctrl+C, even when the
    tests themselves run in the background of a shell without job control, which ignores SIGINT in its
    children (a child inherits that, and Python then installs no KeyboardInterrupt)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def write_staged(folder: Path, stages: list[str] = MODEL_STAGES, *, name: str = "night",
                 expert: list[str] | None = None, first: int = 0, recording: Path | None = None) -> Path:
    """NAME.hypnogram.csv and .json as `stage` writes them; the model is sure of all but rows 2 and 10.

    ``first``: the number of the first epoch staged (a window from ``--start``); ``recording``: the file the
    sidecar names (default: NAME.edf in ``folder``, which need not exist: no SHA1 recorded then).
    """
    folder.mkdir(parents=True, exist_ok=True)
    n = len(stages)
    probabilities = np.full((n, 5), 0.025)
    for i, stage in enumerate(stages):
        probabilities[i, STAGES.index(stage)] = 0.9
    for i in (2, 10):
        probabilities[i] = [0.3, 0.32, 0.3, 0.04, 0.04]
    confidence = 1 + (probabilities * np.log(probabilities)).sum(axis=1) / np.log(5)
    csv_path = folder / f"{name}.hypnogram.csv"
    numbers = first + np.arange(n)
    write_epochs_csv(csv_path, numbers, numbers * 30.0, probabilities, confidence, confidence < 0.6,
                     expert=expert, start=START)
    columns = [*CSV_COLUMNS, *(["expert"] if expert is not None else []), "clock_time"]
    summary = {"recording": {"epoch_seconds": 30.0, "start": START.isoformat(), "file": str(recording or folder / f"{name}.edf")},
               "model": {"file": "model.pt", "backend": "torch"}}
    write_csv_sidecar(folder / f"{name}.hypnogram.json", columns, summary, min_confidence=0.6)
    return csv_path


@pytest.fixture
def staged(tmp_path: Path) -> Path:
    return write_staged(tmp_path / "staged")
