"""Epochs streamed from the prepared store, in bounded memory whatever the dataset size.

An index of (recording, epoch) pairs and the labels are all that is held in
memory; each item is read from its recording's memory map when asked for, so a
loader can shuffle across thousands of nights.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from isatsleepnet.data.normalize import normalize_epochs
from isatsleepnet.data.store import PreparedRecording
from isatsleepnet.errors import IsatSleepNetError
from isatsleepnet.training.reproducible import EpochSampler


class EpochDataset(Dataset):
    """(x: float32 channels x samples, y: int64) for the epochs of some recordings."""

    def __init__(
        self,
        recordings: Sequence[PreparedRecording],
        *,
        channels: Sequence[str] | None = None,
        normalize: str = "epoch-zscore",
        include_synthetic: bool = False,
    ) -> None:
        """``include_synthetic`` admits augmented epochs; only training sets may pass True,
        so validation, test and prediction see recorded epochs alone by construction."""
        self.recordings = list(recordings)
        if not self.recordings:
            raise IsatSleepNetError("no recordings to load")
        first = self.recordings[0]
        self.channels = list(channels) if channels else first.channels
        self.channel_index = [self._indices(rec) for rec in self.recordings]
        self.normalize = normalize
        # Positions of the admitted epochs inside each recording.
        self.positions = [
            np.arange(rec.n_epochs) if include_synthetic else np.flatnonzero(rec.real) for rec in self.recordings
        ]
        lengths = np.array([len(p) for p in self.positions], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(lengths)])
        self.labels = np.concatenate(
            [rec.labels[p] for rec, p in zip(self.recordings, self.positions)]
        ).astype(np.int64)
        rates = {rec.sampling_rate for rec in self.recordings}
        if len(rates) > 1:
            raise IsatSleepNetError(f"recordings have different sampling rates {sorted(rates)}; prepare them at one rate")

    def _indices(self, rec: PreparedRecording) -> list[int]:
        missing = [c for c in self.channels if c not in rec.channels]
        if missing:
            raise IsatSleepNetError(f"recording {rec.name} lacks channel(s) {missing}; it has {rec.channels}")
        return [rec.channels.index(c) for c in self.channels]

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def locate(self, index: int) -> tuple[int, int]:
        """(recording number, epoch position inside that recording) of item ``index``."""
        r = int(np.searchsorted(self.offsets, index, side="right") - 1)
        return r, int(self.positions[r][index - self.offsets[r]])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        """One epoch; a non-finite one is an error naming its recording and epoch (a few µs per item),
        so that it never reaches a loss or a prediction as NaN."""
        r, e = self.locate(index)
        raw = np.asarray(self.recordings[r].epochs[e], dtype=np.float32)[self.channel_index[r]]
        x = normalize_epochs(raw, self.normalize)
        if not np.isfinite(x).all():
            what = "NaN or infinite samples" if not np.isfinite(raw).all() else "samples too large to normalise"
            raise IsatSleepNetError(f"{self.recordings[r].path}: epoch {e} holds {what}; "
                                    "prepare the recording again or leave it out")
        return torch.from_numpy(np.ascontiguousarray(x)), int(self.labels[index])

    def class_counts(self) -> np.ndarray:
        return np.bincount(self.labels, minlength=5)


def balanced_sampler(dataset: Any, seed: int) -> EpochSampler:
    """Draws every stage equally often in expectation (one pass = len(dataset) draws), per epoch from (seed, epoch).

    ``dataset`` has ``labels`` and ``class_counts()``: an :class:`EpochDataset`, or a
    :class:`~isatsleepnet.training.windows.WindowDataset`, whose windows are drawn in
    proportion to the mean weight of their epochs (windows rich in rare stages more often;
    a window is not split, so stages are then closer to, not exactly, equal).
    """
    counts = dataset.class_counts().astype(np.float64)
    weights = 1.0 / np.maximum(counts[dataset.labels], 1.0)
    if weights.ndim == 2:
        weights = weights.mean(axis=1)
    return EpochSampler(len(dataset), seed, torch.from_numpy(weights))

