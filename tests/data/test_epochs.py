import numpy as np

from isatsleepnet.data.epochs import contiguous_runs, keep_mask
from isatsleepnet.data.labels import DROP, UNLABELLED


def test_trim_keeps_window_around_sleep():
    codes = np.array([0] * 100 + [1, 2, 3, 2, 4] + [0] * 100, dtype=np.int8)
    keep = keep_mask(codes, trim=True, trim_epochs=60)
    kept = np.flatnonzero(keep)
    assert kept[0] == 40 and kept[-1] == 164 and keep.sum() == 5 + 120


def test_trim_clips_at_recording_edges_and_drops_unscored():
    codes = np.array([0] * 3 + [2, DROP, 2] + [0] * 2 + [UNLABELLED], dtype=np.int8)
    keep = keep_mask(codes, trim=True, trim_epochs=60)
    assert list(np.flatnonzero(keep)) == [0, 1, 2, 3, 5, 6, 7]


def test_no_trim_keeps_every_scored_epoch():
    codes = np.array([0, 0, DROP, 1, 0, 0], dtype=np.int8)
    assert keep_mask(codes, trim=False, trim_epochs=1).sum() == 5


def test_all_wake_keeps_nothing_when_trimming():
    assert not keep_mask(np.zeros(10, dtype=np.int8), trim=True, trim_epochs=2).any()


def test_contiguous_runs():
    assert contiguous_runs(np.array([1, 2, 3, 7, 8, 10])) == [(1, 4), (7, 9), (10, 11)]
    assert contiguous_runs(np.array([], dtype=int)) == []
