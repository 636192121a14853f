"""The real epochs a Physio-GAN learns from: one channel, one stage, training subjects only.

Each epoch is z-scored on its own and clipped to ±clip (SPEC), so the GAN
learns waveform shape and spectrum, not the amplitude of a night or device;
the µV mean and standard deviation of every epoch are kept so that augment can
put generated epochs back on a real amplitude scale. Synthetic epochs of an
already augmented store and flat epochs are never used; a non-finite epoch is
an error naming its recording (a damaged store is not silently thinned out).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from isatsleepnet import STAGES
from isatsleepnet.data.store import PreparedDataset
from isatsleepnet.errors import IsatSleepNetError
from isatsleepnet.data.subjects import recordings_of

MIN_STD_UV = 1e-3  # below this an epoch is a flat line (disconnected electrode), not EEG


def channel_slug(channel: str) -> str:
    """Folder-safe channel name: ``"EEG Fpz-Cz"`` → ``"eeg-fpz-cz"``."""
    slug = re.sub(r"[^a-z0-9]+", "-", channel.lower()).strip("-")
    return slug or "channel"


def zscore_epochs(x: np.ndarray, clip: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(n, N) µV → (z-scored and clipped float32 (n, N), mean µV (n,), std µV (n,))."""
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(axis=-1)
    std = x.std(axis=-1)
    z = (x - mean[:, None]) / np.maximum(std, MIN_STD_UV)[:, None]
    return np.clip(z, -clip, clip).astype(np.float32), mean.astype(np.float32), std.astype(np.float32)


@dataclass
class StageEpochs:
    """Real epochs of one channel and stage; ``z`` is (n, n_samples) float32."""

    z: np.ndarray
    mean_uv: np.ndarray
    std_uv: np.ndarray
    channel: str
    stage: str
    sampling_rate: float
    subjects: list[str]
    recordings: list[str]

    def __len__(self) -> int:
        return len(self.z)

    @property
    def n_samples(self) -> int:
        return int(self.z.shape[1])

    def subset(self, index: np.ndarray) -> StageEpochs:
        return StageEpochs(self.z[index], self.mean_uv[index], self.std_uv[index], self.channel, self.stage,
                           self.sampling_rate, self.subjects, self.recordings)


def resolve_channels(dataset: PreparedDataset, subjects: Sequence[str], channel: str) -> list[str]:
    """``channel`` checked against the recordings of ``subjects``; ``"all"`` = channels they all have."""
    recs = recordings_of(dataset, subjects)
    if not recs:
        raise IsatSleepNetError(f"no recordings of subjects {list(subjects)[:5]} in {dataset.root}")
    common = [c for c in recs[0].channels if all(c in r.channels for r in recs)]
    if channel == "all":
        return common
    if channel not in common:
        raise IsatSleepNetError(f"channel {channel!r} is not in every training recording; they share {common}")
    return [channel]


def load_stage_epochs(
    dataset: PreparedDataset,
    subjects: Sequence[str],
    channel: str,
    stage: str,
    *,
    clip: float = 3.0,
    max_epochs: int | None = None,
    seed: int = 0,
) -> StageEpochs:
    """Real ``stage`` epochs of ``channel`` from the recordings of ``subjects`` (nothing else)."""
    if stage not in STAGES:
        raise IsatSleepNetError(f"unknown stage {stage!r}; choose from {', '.join(STAGES)}")
    code = STAGES.index(stage)
    recs = recordings_of(dataset, subjects)
    if not recs:
        raise IsatSleepNetError(f"no recordings of subjects {list(subjects)[:5]} in {dataset.root}")
    rates = {r.sampling_rate for r in recs}
    lengths = {int(r.meta["n_samples"]) for r in recs}
    if len(rates) > 1 or len(lengths) > 1:
        raise IsatSleepNetError(f"training recordings differ in sampling rate {sorted(rates)} or epoch length {sorted(lengths)}")
    parts, names = [], []
    for rec in recs:
        if channel not in rec.channels:
            raise IsatSleepNetError(f"recording {rec.name} lacks channel {channel!r}; it has {rec.channels}")
        idx = np.flatnonzero((rec.labels == code) & rec.real)
        if len(idx):
            x = np.asarray(rec.epochs[idx, rec.channels.index(channel)], dtype=np.float32)
            finite = np.isfinite(x).all(axis=1)
            if not finite.all():
                raise IsatSleepNetError(
                    f"{rec.path}: epoch {int(idx[~finite][0])} of {channel!r} holds NaN or infinite samples; "
                    "a GAN does not learn from it: prepare the recording again or leave its subject out"
                )
            parts.append(x)
            names.append(rec.name)
    n_samples = lengths.pop()
    raw = np.concatenate(parts) if parts else np.empty((0, n_samples), dtype=np.float32)
    good = raw.std(axis=1) >= MIN_STD_UV if len(raw) else np.zeros(0, bool)
    raw = raw[good]
    if max_epochs is not None and len(raw) > max_epochs:
        raw = raw[np.sort(np.random.default_rng(seed).choice(len(raw), max_epochs, replace=False))]
    z, mean, std = zscore_epochs(raw, clip)
    return StageEpochs(z, mean, std, channel, stage, rates.pop(), sorted({r.subject for r in recs}), names)


def split_holdout(n: int, fraction: float, *, min_holdout: int, min_train: int, seed: int,
                  max_holdout: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(GAN training indices, held-out indices for the quality report).

    Holds out ``ceil(fraction * n)`` epochs (at least ``min_holdout``, at most
    ``max_holdout``) when at least ``min_train`` stay for training; otherwise holds
    out nothing (the caller then measures quality on training epochs and says so).
    """
    order = np.random.default_rng(seed).permutation(n)
    n_hold = max(int(np.ceil(fraction * n)), min_holdout) if fraction > 0 else 0
    if max_holdout is not None:
        n_hold = min(n_hold, max(max_holdout, min_holdout))
    if n_hold == 0 or n - n_hold < min_train:
        return np.sort(order), np.empty(0, dtype=np.int64)
    return np.sort(order[n_hold:]), np.sort(order[:n_hold])
