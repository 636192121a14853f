"""Which windows stage which epochs of a context model: plain numpy, shared by the torch and ONNX backends.

A context model (:mod:`isatsleepnet.model.context`) reads each epoch in a window
of ``context`` consecutive epochs in which it is as central as the recording
allows; only consecutive epoch numbers are neighbours, so a gap of an EDF+D
recording, an unusable epoch or an epoch `prepare` dropped breaks the context.
"""

from __future__ import annotations

import numpy as np

__all__ = ["context_plan", "gather_windows", "runs_of", "staging_stride", "window_starts"]


def window_starts(n: int, length: int, stride: int = 1) -> np.ndarray:
    """For each of ``n`` consecutive epochs, the start of the window of ``length`` that stages it.

    The window centred on the epoch, shifted inside ``0..n`` at the ends; a run
    shorter than ``length`` is one window (start 0). With ``stride`` > 1 windows
    start only every ``stride`` epochs (and at ``n - length``), and each epoch is
    staged by the one among them where it is most central: ``stride`` times fewer
    windows, each epoch at most ``stride // 2`` epochs off the centre.

    Examples
    --------
    >>> window_starts(7, 3).tolist()
    [0, 0, 1, 2, 3, 4, 4]
    >>> window_starts(2, 5).tolist()
    [0, 0]
    >>> window_starts(10, 4, stride=2).tolist()
    [0, 0, 0, 0, 2, 2, 4, 4, 6, 6]
    """
    if n <= length:
        return np.zeros(n, dtype=np.int64)
    ideal = np.clip(np.arange(n) - length // 2, 0, n - length)
    if stride <= 1:
        return ideal.astype(np.int64)
    candidates = np.unique(np.r_[np.arange(0, n - length + 1, stride), n - length])
    nearest = np.abs(ideal[:, None] - candidates[None, :]).argmin(axis=1)  # ties: the earlier window
    return candidates[nearest].astype(np.int64)


def staging_stride(length: int) -> int:
    """Epochs between the windows a sequence-to-sequence network stages with: a quarter of its window.

    Why not 1: such a network stages every epoch of a window at once, so one
    window per epoch costs ``length`` times the work a pass over the night needs
    (35x for U-Time); with a quarter-window stride each epoch still sits within
    an eighth of a window of the centre, at 4 windows per ``length`` epochs.

    Examples
    --------
    >>> staging_stride(20), staging_stride(35), staging_stride(3)
    (5, 8, 1)
    """
    return max(1, length // 4)


def runs_of(index: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) positions of the runs of consecutive epoch numbers in ``index`` (a gap breaks a run).

    Examples
    --------
    >>> runs_of(np.array([0, 1, 2, 5, 6, 9]))
    [(0, 3), (3, 5), (5, 6)]
    """
    index = np.asarray(index)
    if len(index) == 0:
        return []
    breaks = np.flatnonzero(np.diff(index) != 1) + 1
    edges = [0, *breaks.tolist(), len(index)]
    return list(zip(edges[:-1], edges[1:]))


def context_plan(index: np.ndarray, length: int, stride: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The windows that stage epochs numbered ``index``: (rows (W, length), window of each epoch, place in it).

    ``rows`` holds positions into the epochs, -1 where a run shorter than the
    window is padded (zeros, as in training). Each epoch is read in the window of
    :func:`window_starts` (with its ``stride``); only consecutive numbers are
    neighbours (:func:`runs_of`).

    Examples
    --------
    >>> rows, which, place = context_plan(np.array([0, 1, 2, 3, 9]), 3)
    >>> rows.tolist(), which.tolist(), place.tolist()
    ([[0, 1, 2], [1, 2, 3], [4, -1, -1]], [0, 0, 1, 1, 2], [0, 1, 1, 2, 0])
    """
    rows, which, place = [], np.empty(len(index), dtype=np.int64), np.empty(len(index), dtype=np.int64)
    for start, stop in runs_of(index):
        n = stop - start
        starts = window_starts(n, length, stride)
        firsts = np.unique(starts)
        for first in firsts:
            window = np.full(length, -1, dtype=np.int64)
            width = min(length, n)
            window[:width] = start + first + np.arange(width)
            rows.append(window)
        which[start:stop] = len(rows) - len(firsts) + np.searchsorted(firsts, starts)
        place[start:stop] = np.arange(n) - starts
    return np.array(rows, dtype=np.int64).reshape(-1, length), which, place


def gather_windows(outputs: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """(W, length, D) windows of per-epoch outputs (N, D), zeros where ``rows`` is -1 (numpy: the ONNX path)."""
    windows = np.asarray(outputs, dtype=np.float32)[np.maximum(rows, 0)]
    windows[rows < 0] = 0.0
    return windows
