"""Windows of consecutive epochs for sequence-to-sequence networks (many epochs in, one stage per epoch out).

Why its own dataset: TinySleepNet and U-Time read ``L`` consecutive 30-s epochs
at once and stage each of them, so a training item is a window, not an epoch.
A window never bridges a gap: epochs are neighbours only when their numbers on
the recording's grid are consecutive (an EDF+D gap, or an epoch `prepare`
dropped, breaks a run), as at staging (:mod:`isatsleepnet.model.context_plan`).
Each run of at least ``L`` epochs is cut into windows ``stride`` epochs apart
(a quarter window by default, as staging spaces them), plus one that ends where
the run ends, so that every epoch is trained on; runs shorter than ``L`` are
left out of training (staging pads them).

Synthetic (augmented) epochs have no neighbours of their own, so they borrow
those of a real epoch of their stage (``include_synthetic=True``, training sets
only): for each stage with synthetic epochs in a recording, real windows of that
recording that hold the stage are taken in a seeded random order, and each gives
one extra window in which every epoch of that stage is replaced by the next
synthetic epoch of the stage, until they are all used. Each synthetic epoch is
then trained on once, amid real neighbours of the night it was made from; the
extra windows hold real epochs of the other stages too, so balancing is weaker
than for single-epoch networks (``class_counts`` says what the loss sees).
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
from isatsleepnet.model.context_plan import runs_of, staging_stride


def window_starts_in_runs(index: np.ndarray, length: int, stride: int) -> np.ndarray:
    """Positions where the training windows start, from the epochs' grid numbers ``index``.

    Examples
    --------
    >>> window_starts_in_runs(np.array([0, 1, 2, 3, 4, 5, 6, 20, 21]), 3, 3).tolist()
    [0, 3, 4]
    """
    starts: list[int] = []
    for first, stop in runs_of(np.asarray(index)):
        if stop - first < length:
            continue
        run_starts = list(range(first, stop - length + 1, stride))
        if run_starts[-1] != stop - length:
            run_starts.append(stop - length)  # the run's last epochs are trained on too
        starts += run_starts
    return np.asarray(starts, dtype=np.int64)


class WindowDataset(Dataset):
    """(x: float32 (L, channels, samples), y: int64 (L,)) for the windows of some recordings.

    Parameters
    ----------
    recordings
        Prepared recordings; their real epochs only.
    length
        Epochs per window (``L``, the architecture's sequence length).
    stride
        Epochs between the starts of consecutive windows (default: a quarter window, as staging
        spaces them, so that each epoch is trained on at about four places in a window).
    channels, normalize
        As :class:`~isatsleepnet.training.data.EpochDataset`.
    include_synthetic
        Add the windows that carry the recordings' synthetic epochs (see the module's docstring).
    seed
        Seeds the order in which real windows lend their neighbours to synthetic epochs.
    """

    def __init__(self, recordings: Sequence[PreparedRecording], *, length: int, stride: int | None = None,
                 channels: Sequence[str] | None = None, normalize: str = "epoch-zscore",
                 include_synthetic: bool = False, seed: int = 0) -> None:
        self.recordings = list(recordings)
        if not self.recordings:
            raise IsatSleepNetError("no recordings to load")
        if length < 1:
            raise IsatSleepNetError(f"a window must hold at least one epoch, not {length}")
        self.length, self.normalize = int(length), normalize
        self.channels = list(channels) if channels else self.recordings[0].channels
        self.channel_index = []
        items: list[tuple[int, np.ndarray]] = []
        for r, rec in enumerate(self.recordings):
            missing = [c for c in self.channels if c not in rec.channels]
            if missing:
                raise IsatSleepNetError(f"recording {rec.name} lacks channel(s) {missing}; it has {rec.channels}")
            self.channel_index.append([rec.channels.index(c) for c in self.channels])
            positions = np.flatnonzero(rec.real)
            epoch_s = float(rec.meta.get("epoch_seconds", 30.0))
            index = np.round(np.asarray(rec.onsets)[positions] / epoch_s).astype(np.int64)
            real_windows = [positions[start:start + self.length]
                            for start in window_starts_in_runs(index, self.length, stride or staging_stride(self.length))]
            items += [(r, window) for window in real_windows]
            if include_synthetic:
                items += [(r, window) for window in _synthetic_windows(rec, real_windows, seed + r)]
        if not items:
            raise IsatSleepNetError(f"no run of {self.length} consecutive epochs in "
                                    f"{', '.join(rec.name for rec in self.recordings[:3])}: the recordings are too "
                                    "short or too broken for this architecture's window")
        self.items = items
        self.labels = np.stack([self.recordings[r].labels[p] for r, p in items]).astype(np.int64)
        # synthetic epochs placed in a window (those of a stage no window of their night holds are not)
        self.synthetic_epochs = int(sum((~np.asarray(self.recordings[r].real)[p]).sum() for r, p in items))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        r, positions = self.items[index]
        rec = self.recordings[r]
        raw = np.asarray(rec.epochs[positions], dtype=np.float32)[:, self.channel_index[r]]
        x = normalize_epochs(raw, self.normalize)
        if not np.isfinite(x).all():
            raise IsatSleepNetError(f"{rec.path}: epochs {positions[0]}-{positions[-1]} hold NaN or infinite samples; "
                                    "prepare the recording again or leave it out")
        return torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(self.labels[index])

    def class_counts(self) -> np.ndarray:
        """Epochs per stage over all windows (an epoch in two windows counts twice, as the loss sees it)."""
        return np.bincount(self.labels.reshape(-1), minlength=5)


def _synthetic_windows(rec: PreparedRecording, real_windows: list[np.ndarray], seed: int) -> list[np.ndarray]:
    """Windows of ``rec`` in which synthetic epochs stand in for real epochs of their stage (module docstring)."""
    synthetic = np.flatnonzero(~np.asarray(rec.real, dtype=bool))
    if synthetic.size == 0 or not real_windows:
        return []
    labels = np.asarray(rec.labels)
    rng = np.random.default_rng(seed)
    windows: list[np.ndarray] = []
    for stage in np.unique(labels[synthetic]):
        pool = synthetic[labels[synthetic] == stage]
        lenders = [w for w in real_windows if (labels[w] == stage).any()]
        if not lenders:
            continue  # no window of this night holds the stage: its synthetic epochs have no neighbours to borrow
        used = 0
        while used < pool.size:  # rounds over the lenders, each in a new seeded order
            for k in rng.permutation(len(lenders)):
                window = lenders[k].copy()
                slots = np.flatnonzero(labels[window] == stage)[:pool.size - used]
                window[slots] = pool[used:used + slots.size]
                used += slots.size
                windows.append(window)
                if used == pool.size:
                    break
    return windows
