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
