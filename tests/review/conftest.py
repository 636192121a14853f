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
                 expert: list[str] | None = None, first: int = 0, recording: Path | None = None,
                 numbers: list[int] | None = None) -> Path:
    """NAME.hypnogram.csv and .json as `stage` writes them; the model is sure of all but rows 2 and 10.

    ``first``: the number of the first epoch staged (a window from ``--start``); ``numbers``: each row's epoch
    number instead, for a night with gaps (onsets ``30 * number``); ``recording``: the file the sidecar names
    (default: NAME.edf in ``folder``, which need not exist: no SHA1 recorded then).
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
    numbers = first + np.arange(n) if numbers is None else np.asarray(numbers)
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


GAPPED_RATE = 100.0
GAPPED_CHANNELS = ["EEG Fpz-Cz", "EOG horizontal"]
GAPPED_SEGMENTS = ((0.0, 0, 8), (270.0, 8, 6), (1050.0, 14, 6))
"""The EDF+D of :func:`write_gapped_edf`: (real start s, first stored record, records) of each segment."""
GAPPED_NUMBERS = [*range(0, 8), *range(9, 15), 20, *range(35, 41)]
"""Epochs staged on it: its three segments, and epoch 20 (600-630 s), inside the 10-min gap (a staging made
while EDF+D files were read as continuous would name such an epoch), whose window holds nothing recorded."""


def gapped_frequency(record: int) -> float:
    """Each stored record of :func:`write_gapped_edf` is a sine of its own frequency: which record a window or a
    spectrogram row shows can be read from it."""
    return 1.0 + record


def write_gapped_edf(path: Path) -> Path:
    """An EDF+D of 20 records of 30 s at 100 Hz (:data:`GAPPED_CHANNELS`): records 0-7 at 0-240 s, a 30-s gap,
    records 8-13 at 270-450 s, a 10-min gap, records 14-19 at 1050-1230 s (:data:`GAPPED_SEGMENTS`)."""
    import edfio

    from tests.inference import make_discontinuous

    t = np.arange(int(30 * GAPPED_RATE)) / GAPPED_RATE
    eeg = np.concatenate([40 * np.sin(2 * np.pi * gapped_frequency(k) * t) for k in range(20)])
    signals = [edfio.EdfSignal(x, GAPPED_RATE, label=label, physical_dimension="uV", physical_range=(-100, 100))
               for label, x in zip(GAPPED_CHANNELS, (eeg, 0.5 * eeg))]
    edfio.Edf(signals, annotations=[edfio.EdfAnnotation(0.0, None, "start")], data_record_duration=30.0).write(path)
    make_discontinuous(path, 8, 30.0)  # records 8.. 30 s later
    make_discontinuous(path, 14, 630.0)  # records 14.. 630 s later: 10 min after record 13 ends
    return path
