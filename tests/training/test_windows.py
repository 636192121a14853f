"""Training windows of consecutive epochs: never across a gap, every epoch of a long-enough run covered."""

from __future__ import annotations

import numpy as np
import pytest

from isatsleepnet.augment.balance import augment_dataset
from isatsleepnet.data.store import PreparedDataset
from isatsleepnet.errors import IsatSleepNetError
from isatsleepnet.training.windows import WindowDataset, window_starts_in_runs


def test_window_starts_cover_each_run_and_skip_short_runs():
    index = np.r_[np.arange(10), np.arange(20, 23), np.arange(30, 37)]
    starts = window_starts_in_runs(index, 4, 4)
    assert starts.tolist() == [0, 4, 6, 13, 16]
    covered = {int(s) + k for s in starts for k in range(4)}
    assert covered == set(range(10)) | set(range(13, 20))  # the 3-epoch run is left out
    for s in starts:
        assert np.all(np.diff(index[s:s + 4]) == 1)


def test_window_dataset_reads_consecutive_real_epochs_with_their_labels(synthetic_prepared):
    recs = list(PreparedDataset(synthetic_prepared))[:2]
    data = WindowDataset(recs, length=5, channels=["EEG Fpz-Cz"])
    x, y = data[3]
    assert tuple(x.shape) == (5, 1, recs[0].epochs.shape[-1]) and tuple(y.shape) == (5,)
    r, positions = data.items[3]
    assert y.tolist() == recs[r].labels[positions].tolist()
    assert np.all(np.diff(positions) == 1)
    assert int(data.class_counts().sum()) == data.labels.size
    with pytest.raises(IsatSleepNetError, match="no run of 100000 consecutive epochs"):
        WindowDataset(recs, length=100000)


def test_synthetic_epochs_borrow_real_neighbours_once_each(synthetic_prepared, tmp_path):
    augment_dataset(synthetic_prepared, tmp_path / "aug", mode="transforms", progress=False)
    recs = list(PreparedDataset(tmp_path / "aug"))[:2]
    real_only = WindowDataset(recs, length=5, channels=["EEG Fpz-Cz"])
    data = WindowDataset(recs, length=5, channels=["EEG Fpz-Cz"], include_synthetic=True, seed=3)
    plain = [(r, p) for r, p in data.items if recs[r].real[p].all()]
    extra = [(r, p) for r, p in data.items if not recs[r].real[p].all()]
    assert len(plain) == len(real_only) and all(  # the real windows are all there, unchanged
        a[0] == b[0] and np.array_equal(a[1], b[1]) for a, b in zip(plain, real_only.items))
    used = {r: [] for r in range(len(recs))}
    for r, positions in extra:
        real = recs[r].real[positions]
        fake = positions[~real]
        assert len(set(recs[r].labels[fake])) == 1  # of one stage, in that stage's slots
        used[r] += fake.tolist()
        kept = positions[real]
        assert np.all(np.diff(kept) > 0)  # the real neighbours stay in night order
    for r, rec in enumerate(recs):
        synthetic = np.flatnonzero(~rec.real)
        assert synthetic.size and sorted(used[r]) == synthetic.tolist()  # every synthetic epoch, exactly once
    assert data.synthetic_epochs == sum(int((~rec.real).sum()) for rec in recs) and real_only.synthetic_epochs == 0
    before, after = real_only.class_counts(), data.class_counts()
    assert np.all(after >= before) and after[1] > before[1]  # N1 is seen more often
    again = WindowDataset(recs, length=5, channels=["EEG Fpz-Cz"], include_synthetic=True, seed=3)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(data.items, again.items))  # seeded: the same windows
