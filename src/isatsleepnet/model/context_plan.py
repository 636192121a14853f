"""Which windows stage which epochs of a context model: plain numpy, shared by the torch and ONNX backends.

A context model (:mod:`isatsleepnet.model.context`) reads each epoch in a window
of ``context`` consecutive epochs in which it is as central as the recording
allows; only consecutive epoch numbers are neighbours, so a gap of an EDF+D
recording, an unusable epoch or an epoch `prepare` dropped breaks the context.
"""

from __future__ import annotations

import numpy as np

__all__ = ["context_plan", "gather_windows", "runs_of", "window_starts"]


def window_starts(n: int, length: int) -> np.ndarray:
    """For each of ``n`` consecutive epochs, the start of the window of ``length`` that stages it.

    The window centred on the epoch, shifted inside ``0..n`` at the ends; a run
    shorter than ``length`` is one window (start 0).

    Examples
    --------
    >>> window_starts(7, 3).tolist()
    [0, 0, 1, 2, 3, 4, 4]
    >>> window_starts(2, 5).tolist()
    [0, 0]
    """
    if n <= length:
        return np.zeros(n, dtype=np.int64)
    return np.clip(np.arange(n) - length // 2, 0, n - length).astype(np.int64)


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


def context_plan(index: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The windows that stage epochs numbered ``index``: (rows (W, length), window of each epoch, place in it).

    ``rows`` holds positions into the epochs, -1 where a run shorter than the
    window is padded (zeros, as in training). Each epoch is read in the window of
    :func:`window_starts`; only consecutive numbers are neighbours (:func:`runs_of`).

    Examples
    --------
    >>> rows, which, place = context_plan(np.array([0, 1, 2, 3, 9]), 3)
    >>> rows.tolist(), which.tolist(), place.tolist()
    ([[0, 1, 2], [1, 2, 3], [4, -1, -1]], [0, 0, 1, 1, 2], [0, 1, 1, 2, 0])
    """
    rows, which, place = [], np.empty(len(index), dtype=np.int64), np.empty(len(index), dtype=np.int64)
    for start, stop in runs_of(index):
        n = stop - start
        starts = window_starts(n, length)
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
