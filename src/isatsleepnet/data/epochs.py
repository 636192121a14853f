"""Choosing which epochs of a night to keep: scored ones, trimmed around sleep."""

from __future__ import annotations

import numpy as np

from isatsleepnet.data.labels import W


def keep_mask(codes: np.ndarray, *, trim: bool, trim_epochs: int) -> np.ndarray:
    """Epochs with a stage, limited (when ``trim``) to ``trim_epochs`` before the first and
    after the last sleep epoch, the convention of DeepSleepNet and its successors."""
    keep = codes >= 0
    if trim:
        sleep = np.flatnonzero(keep & (codes != W))
        if len(sleep) == 0:
            return np.zeros_like(keep)
        window = np.zeros_like(keep)
        window[max(sleep[0] - trim_epochs, 0) : sleep[-1] + trim_epochs + 1] = True
        keep &= window
    return keep


def contiguous_runs(indices: np.ndarray) -> list[tuple[int, int]]:
    """[(first, last_exclusive)] runs of consecutive integers, to read long stretches in one go."""
    if len(indices) == 0:
        return []
    breaks = np.flatnonzero(np.diff(indices) != 1) + 1
    starts = np.concatenate([[0], breaks])
    ends = np.concatenate([breaks, [len(indices)]])
    return [(int(indices[s]), int(indices[e - 1]) + 1) for s, e in zip(starts, ends)]


ABSURD_MICROVOLTS = 1e7
"""A sample beyond ±10 V is no body's signal: a wrong unit, gain or calibration."""


def unusable_epochs(epochs: np.ndarray) -> np.ndarray:
    """Per epoch: whether a sample of it is not finite or beyond :data:`ABSURD_MICROVOLTS` (µV input).

    Such an epoch is never stored, trained on or staged: its numbers are not a recording.

    Examples
    --------
    >>> x = np.zeros((3, 1, 4))
    >>> x[1, 0, 2], x[2, 0, 0] = np.nan, 2e7
    >>> unusable_epochs(x).tolist()
    [False, True, True]
    """
    flat = np.asarray(epochs).reshape(len(epochs), -1)
    if flat.shape[1] == 0:
        return np.zeros(len(flat), dtype=bool)
    # max and min carry a NaN through, and a NaN fails both comparisons: one pass each, no copies
    return ~((flat.max(axis=1) <= ABSURD_MICROVOLTS) & (flat.min(axis=1) >= -ABSURD_MICROVOLTS))


def unusable_problem(epochs: np.ndarray, onsets: np.ndarray | None = None) -> str | None:
    """One line for a prepared recording whose epochs hold non-finite or absurd samples, or None."""
    bad = unusable_epochs(epochs)
    if not bad.any():
        return None
    first = int(np.flatnonzero(bad)[0])
    where = f"epoch {first}" + (f" at {float(onsets[first]):g} s" if onsets is not None else "")
    return (f"{int(bad.sum())} of {len(bad)} epochs hold non-finite samples or samples beyond ±10 V (first: {where}): "
            "a wrong unit, gain or calibration?")
