"""Exact time alignment: a 24-h recording at any EDF rate keeps every sample where it belongs.

Each case is a hand-made EDF+ (or BDF+) file of 24 h, written sparse (only
the header, the first record's time stamp and a few impulses are on disk), so
that even 16384 Hz costs nothing. An impulse at a known sample must come out of
`prepare` and of `stage`'s reader in the epoch that holds its time, at the
output sample nearest to it (within one sample at 100 Hz).
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from isatsleepnet.data.prepare import prepare_dataset
from isatsleepnet.data.prepare_config import PrepareConfig
from isatsleepnet.data.signal import resample, resample_span
from isatsleepnet.data.store import PreparedDataset
from isatsleepnet.inference.raw import ModelInputs, RawRecording
from tests.edf_bytes import write_sparse_edf

DAY = 86400
# (samples per record, record seconds, BDF): every rate of the issue, and 1-, 10-, 30-, 100-, 1000-s records
RATES = [
    (3000, 30, False),    # 100 Hz
    (100033, 1000, False),  # 100.033 Hz
    (3001, 30, False),    # 100.0333... Hz, the drifting example
    (99967, 1000, False),  # 99.967 Hz
    (128, 1, False),      # 128 Hz, 1-s records
    (17361, 100, False),  # 173.61 Hz
    (19998, 100, False),  # 199.98 Hz
    (2000, 10, False),    # 200 Hz, 10-s records
    (250, 1, False),      # 250 Hz
    (2560, 10, False),    # 256 Hz
    (15000, 30, False),   # 500 Hz
    (512, 1, False),      # 512 Hz
    (10000, 10, False),   # 1000 Hz
    (4096, 1, True),      # 4096 Hz BioSemi
    (16384, 1, True),     # 16384 Hz BioSemi
]
# impulse times (s): early, mid-night, and late, where a drifting resampler is furthest off
TIMES = [45.5, 3 * 3600 + 17.123, 12 * 3600 + 1234.567, 23.5 * 3600 + 7.77, DAY - 75.3]


def _case(tmp_path: Path, spr: int, record_s: int, bdf: bool) -> tuple[Path, Fraction, list[Fraction]]:
    rate = Fraction(spr, record_s)
    n_records = math.ceil(DAY / record_s)
    impulses = [round(Fraction(repr(t)) * rate) for t in TIMES]
    true_times = [Fraction(j) / rate for j in impulses]
    path = write_sparse_edf(tmp_path / f"night{'.bdf' if bdf else '.edf'}", spr, record_s, n_records, impulses, bdf=bdf)
    return path, rate, true_times


def _check(epoch_onset: float, epoch: np.ndarray, t: Fraction) -> None:
    expected = float((t - Fraction(repr(float(epoch_onset)))) * 100)
    peak = int(np.argmax(epoch))
    assert epoch[peak] > 5 * np.abs(np.delete(epoch, range(max(peak - 20, 0), peak + 21))).max(initial=1e-9)
    assert abs(peak - expected) <= 1.0, (epoch_onset, peak, expected)


@pytest.mark.parametrize(("spr", "record_s", "bdf"), RATES, ids=[f"{s}per{r}s{'-bdf' if b else ''}" for s, r, b in RATES])
def test_impulses_stay_in_their_epoch_at_their_time(tmp_path, spr, record_s, bdf):
    path, rate, times = _case(tmp_path, spr, record_s, bdf)
    epochs_of = [int(t // 30) for t in times]
    n_epochs = int(Fraction(math.ceil(DAY / record_s) * record_s) // 30)
    # the hypnogram scores only the impulses' epochs ('?' elsewhere), so prepare reads just those
    stages = ["?"] * n_epochs
    for e in epochs_of:
        stages[e] = "N2"
    (tmp_path / f"{path.stem}.csv").write_text("stage\n" + "\n".join(stages) + "\n")

    config = PrepareConfig(dataset="edf", eeg=["EEG Fpz-Cz"], eeg2=["none"], eog=["none"])
    results = prepare_dataset(path, tmp_path / "prepared", config, progress=False)
    assert [r.status for r in results] == ["prepared"], results[0].error
    rec = PreparedDataset(tmp_path / "prepared")[path.stem]
    assert rec.onsets.tolist() == [30.0 * e for e in epochs_of]
    for row, t in enumerate(times):
        _check(rec.onsets[row], rec.epochs[row, 0], t)

    staged = RawRecording.open(path, ModelInputs(("eeg",), ("EEG Fpz-Cz",), 100.0, 30.0))
    epochs = staged.read(index=np.array(epochs_of))
    for row, (e, t) in enumerate(zip(epochs_of, times)):
        _check(30.0 * e, epochs[row, 0], t)
    np.testing.assert_array_equal(epochs[:, 0], rec.epochs[:, 0])  # prepare and stage read the same samples


@pytest.mark.parametrize("rate", [Fraction(3001, 30), Fraction(17361, 100), Fraction(64), Fraction(16384),
                                  Fraction(1234567, 10000)])
def test_a_span_equals_the_same_samples_of_the_whole_signal(rate):
    """Reading a stretch gives exactly what resampling the whole channel gives (polyphase rates), or
    agrees to far below the signal (the interpolating fallback for huge factors)."""
    n = int(300 * rate)
    t = np.arange(n) / float(rate)
    x = np.sin(2 * np.pi * 3.3 * t) + 0.5 * np.sin(2 * np.pi * 17 * t)
    whole = resample(x, rate, 100)
    assert len(whole) == math.ceil(n * 100 / rate)
    for start in (0, 90, 240):
        span = resample_span(lambda a, b: x[a:b], n, rate, 100, start, 3000)
        if max(*(rate / 100).as_integer_ratio()) <= 200_000:
            np.testing.assert_array_equal(span, whole[start * 100: start * 100 + 3000])
        else:
            np.testing.assert_allclose(span[100:-100], whole[start * 100 + 100: start * 100 + 2900], atol=1e-6)
        tt = start + np.arange(3000) / 100
        np.testing.assert_allclose(span[200:-200], (np.sin(2 * np.pi * 3.3 * tt) + 0.5 * np.sin(2 * np.pi * 17 * tt))[200:-200],
                                   atol=5e-3)


def test_a_segment_that_starts_between_output_samples_is_interpolated_at_exact_times():
    # EDF+D segments may start at any time (here 0.005 s): the output grid stays k / 100 s
    rate, t0 = Fraction(100), Fraction(1, 200)
    n = 6000
    x = np.sin(2 * np.pi * 1.7 * (float(t0) + np.arange(n) / 100))
    y = resample_span(lambda a, b: x[a:b], n, rate, 100, 30, 1000, t0=t0)
    expected = np.sin(2 * np.pi * 1.7 * (30 + np.arange(1000) / 100))
    np.testing.assert_allclose(y, expected, atol=2e-3)
