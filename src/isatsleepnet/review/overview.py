"""The night's spectrogram for the review page's overview: one column per epoch, computed once, cached.

Why cached beside the review: a 22-hour night is read once (an hour at a time, so the
server never holds the recording), and reopening the review costs nothing. The cache
file is plain ``.npz`` read without pickle, and is recomputed when it does not match the
night (another channel, other epochs, or one written before :data:`CACHE_VERSION`).
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from isatsleepnet.data.readers.recording import Recording
from isatsleepnet.review.windows import channel_type, let_go

FREQUENCIES = (0.5, 30.0)
"""The band shown, Hz: slow waves to beta."""
CHUNK_EPOCHS = 120
"""Epochs read at a time (an hour of 30-s epochs)."""
CACHE_VERSION = 2
"""Of the cache file's layout and meaning; 2: an EDF+D read in real time (before, its epochs after a gap were
read at the stored samples of another time), with the epochs' onsets to match."""


@dataclass(frozen=True)
class Spectrogram:
    """Log power per epoch (rows) and frequency (columns), scaled to 0-255 for the page."""

    label: str
    frequencies: np.ndarray
    image: np.ndarray  # uint8, shape (n_epochs, n_frequencies)

    def pack(self) -> bytes:
        """A 4-byte length, a JSON header (label, epochs, frequencies), then the rows as bytes.

        Examples
        --------
        >>> message = Spectrogram("C4", np.array([1.0, 2.0]), np.zeros((3, 2), np.uint8)).pack()
        >>> size = struct.unpack("<I", message[:4])[0]
        >>> json.loads(message[4:4 + size])["epochs"], len(message) - 4 - size
        (3, 6)
        """
        header = json.dumps({"label": self.label, "epochs": int(self.image.shape[0]),
                             "frequencies": [round(float(f), 3) for f in self.frequencies]}).encode()
        return struct.pack("<I", len(header)) + header + np.ascontiguousarray(self.image, np.uint8).tobytes()


def first_eeg(recording: Recording) -> str | None:
    """The label of the recording's first EEG channel, None when it has none."""
    return next((label for label in recording.channel_names if channel_type(label) == "eeg"), None)


def compute(recording: Recording, label: str, onsets_s: np.ndarray, epoch_seconds: float) -> Spectrogram:
    """Welch power of ``label`` in every epoch starting at ``onsets_s``, in dB scaled to 0-255.

    ``onsets_s`` are seconds from the recording's start and sample ``j`` lies at ``j / rate``
    (an EDF+D read through :func:`~isatsleepnet.data.readers.real_time.in_real_time`, as the
    server does); an epoch holding a sample that is not finite (a gap) gets no power (0).
    Consecutive epochs are read together, up to :data:`CHUNK_EPOCHS`, never across a gap.

    Examples
    --------
    >>> from isatsleepnet.data.readers.memory import MemoryRecording
    >>> night = MemoryRecording.from_arrays(np.random.default_rng(0).normal(size=(1, 9000)), 100.0, ["C4"])
    >>> compute(night, "C4", np.array([0.0, 30.0, 60.0]), 30.0).image.shape
    (3, 60)
    """
    from scipy import signal as sps

    header = recording.signal(label)
    rate = float(header.rate)
    per_epoch = round(epoch_seconds * rate)
    total = recording.n_samples(header)
    nperseg = min(per_epoch, round(2 * rate))
    freqs = np.fft.rfftfreq(nperseg, 1 / rate)
    band = (freqs >= FREQUENCIES[0]) & (freqs <= FREQUENCIES[1])
    power = np.full((len(onsets_s), int(band.sum())), np.nan)
    starts = np.round(np.asarray(onsets_s) * rate).astype(np.int64)
    for lo, hi in pieces(onsets_s, epoch_seconds):
        block = starts[lo:hi]
        first, stop = int(block[0]), min(total, int(block[-1]) + per_epoch)
        if stop <= first:
            continue
        samples = recording.read_samples(header, first, stop)
        let_go(recording)  # an hour at a time: the server never holds the night
        whole = [k for k, start in enumerate(block) if start - first + per_epoch <= len(samples)]
        if not whole:
            continue
        epochs = np.stack([samples[block[k] - first:block[k] - first + per_epoch] for k in whole])
        finite = np.isfinite(epochs).all(axis=1)
        _, pxx = sps.welch(np.where(finite[:, None], epochs, 0.0), fs=rate, nperseg=nperseg, axis=-1)
        rows = lo + np.asarray(whole)
        power[rows[finite]] = pxx[finite][:, band]
    db = 10 * np.log10(np.maximum(power, 1e-12))
    finite = db[np.isfinite(power)]
    low, high = (np.percentile(finite, [2, 98]) if finite.size else (0.0, 1.0))
    scaled = np.clip((db - low) / max(high - low, 1e-6), 0, 1) * 255
    image = np.where(np.isfinite(power), scaled, 0).astype(np.uint8)
    return Spectrogram(label, freqs[band], image)


def pieces(onsets_s: np.ndarray, epoch_seconds: float) -> list[tuple[int, int]]:
    """Rows ``lo:hi`` of consecutive epochs, at most :data:`CHUNK_EPOCHS` each, none across a gap.

    Why not across a gap: the samples between two pieces are read for nothing, and an EDF+D's
    gap may last hours (all NaN, read in real time).

    Examples
    --------
    >>> pieces(np.array([0.0, 30.0, 60.0, 600.0, 630.0]), 30.0)
    [(0, 3), (3, 5)]
    """
    onsets = np.asarray(onsets_s, dtype=np.float64)
    breaks = np.flatnonzero(np.diff(onsets) > epoch_seconds + 1e-6) + 1
    out = []
    for lo, hi in zip(np.r_[0, breaks], np.r_[breaks, len(onsets)]):
        out.extend((int(a), int(min(a + CHUNK_EPOCHS, hi))) for a in range(int(lo), int(hi), CHUNK_EPOCHS))
    return out


def cached(path: Path, recording: Recording, label: str, onsets_s: np.ndarray, epoch_seconds: float) -> Spectrogram:
    """The spectrogram cached at ``path`` when it is this night's (its channel, epochs' onsets and
    :data:`CACHE_VERSION`), else computed and cached there."""
    from isatsleepnet.atomic import atomic_path

    onsets = np.asarray(onsets_s, dtype=np.float64)
    try:
        with np.load(path, allow_pickle=False) as stored:
            if (int(stored["version"]) == CACHE_VERSION and str(stored["label"]) == label
                    and float(stored["epoch_seconds"]) == epoch_seconds and np.array_equal(stored["onsets"], onsets)):
                return Spectrogram(label, stored["frequencies"], stored["image"])
    except (OSError, ValueError, KeyError):
        pass  # none yet, not ours, or from before CACHE_VERSION: computed again
    result = compute(recording, label, onsets, epoch_seconds)
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, version=np.array(CACHE_VERSION), label=np.array(label), onsets=onsets,
                 epoch_seconds=np.array(epoch_seconds), frequencies=result.frequencies, image=result.image)
    return result
