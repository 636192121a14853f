"""Shared by the staging tests: a tiny model trained once per test session on synthetic nights.

A conftest fixture would be per folder; this cache lets every test module of
tests/inference share one training run (a few seconds) through the session's
base temporary folder.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

SLEEP_EDF_NAMES = ["EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal"]


@functools.cache
def trained_model(base: Path) -> tuple[Path, Path]:
    """(model.pt, folder of the raw synthetic nights), trained on 3 synthetic subjects for 2 epochs."""
    from isatsleepnet.data.prepare import prepare_dataset
    from isatsleepnet.data.prepare_config import PrepareConfig
    from isatsleepnet.data.store import PreparedDataset
    from isatsleepnet.data.synthetic import SynthConfig, synthesize
    from isatsleepnet.training.fit import train_split
    from isatsleepnet.training.folds import Fold
    from tests.training.conftest import tiny_config

    root = base / "inference-model"
    raw = root / "raw"
    synthesize(raw, SynthConfig(layout="sleep-edf", subjects=3, hours=1.0, seed=11), progress=False)
    results = prepare_dataset(raw, root / "prepared", PrepareConfig(dataset="sleep-edf", trim=False), progress=False)
    assert {r.status for r in results} == {"prepared"}
    data = PreparedDataset(root / "prepared")
    subjects = data.subjects()
    fold = Fold(0, tuple(subjects[:2]), tuple(subjects[2:]), ())
    model = train_split(data, fold, root / "run", tiny_config(max_epochs=2), progress=False)
    return model, raw


def write_night(write_edf, path: Path, n_epochs: int, *, fs: float = 100.0, extra_seconds: float = 0.0,
                labels: list[str] | None = None, units: str = "uV", seed: int = 0,
                annotations: list[tuple[float, float, str]] | None = None) -> Path:
    """A small PSG with the Sleep-EDF channels (or ``labels``), an optional partial epoch at the end, EDF+ annotations."""
    rng = np.random.default_rng(seed)
    n = int(round((n_epochs * 30.0 + extra_seconds) * fs))
    scale = {"uV": 1.0, "mV": 1e-3, "V": 1e-6}[units]
    signals = [(label, rng.normal(0, 20, n) * scale, fs, units) for label in (labels or SLEEP_EDF_NAMES)]
    record = 30.0 if extra_seconds == 0 else 1.0
    return write_edf(path, signals, annotations=annotations, record_seconds=record)


def make_discontinuous(path: Path, first_shifted_record: int, gap_s: float) -> Path:
    """Turn an EDF+C written by edfio (annotations only in record 0) into an EDF+D with one gap.

    Records from ``first_shifted_record`` on get their time stamp moved ``gap_s`` later; the
    samples stay where they are, as in a recording paused and resumed. With
    ``first_shifted_record=0`` every record moves: the data start ``gap_s`` after the recording.
    """
    data = bytearray(path.read_bytes())
    n_signals = int(data[252:256].decode().strip())
    labels = [data[256 + 16 * i: 256 + 16 * (i + 1)].decode().strip() for i in range(n_signals)]
    off = 256 + 216 * n_signals
    samples = [int(data[off + 8 * i: off + 8 * (i + 1)].decode().strip()) for i in range(n_signals)]
    record_s = float(data[244:252].decode().strip())
    n_records = int(data[236:244].decode().strip())
    ann = labels.index("EDF Annotations")
    start, length, record = 2 * sum(samples[:ann]), 2 * samples[ann], 2 * sum(samples)
    data[192:197] = b"EDF+D"
    header = 256 * (n_signals + 1)
    for k in range(first_shifted_record, n_records):
        tal = f"+{k * record_s + gap_s:g}\x14\x14\x00".encode()
        at = header + k * record + start
        data[at: at + length] = tal.ljust(length, b"\x00")
    path.write_bytes(bytes(data))
    return path
