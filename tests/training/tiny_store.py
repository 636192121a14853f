"""A prepared store small enough to train on in a second: a few short, learnable nights written directly."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from isatsleepnet.data.store import PreparedDataset, write_manifest, write_recording

CHANNELS = ["EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal"]
ROLES = ["eeg", "eeg2", "eog"]


def write_tiny_store(root: Path, *, subjects: int = 3, n_epochs: int = 90, fs: float = 10.0,
                     seed: int = 0) -> PreparedDataset:
    """``subjects`` one-night subjects (S0, S1, ...) of ``n_epochs`` 30-s epochs at ``fs`` Hz.

    Each stage adds a sine of its own frequency to noise, so a tiny network
    learns something in a few epochs and its validation scores change from
    epoch to epoch (a resume that diverged would select another epoch).
    """
    rng = np.random.default_rng(seed)
    n = int(30 * fs)
    t = np.arange(n) / fs
    for s in range(subjects):
        labels = np.repeat(rng.permutation(np.arange(n_epochs) % 5)[: n_epochs // 3], 3)[:n_epochs]
        labels = np.concatenate([labels, np.arange(n_epochs - len(labels)) % 5]).astype(np.int8)
        freq = 0.5 + 0.8 * labels[:, None, None]
        noise = rng.normal(0, 10, (n_epochs, 3, n))
        x = noise + 25 * np.sin(2 * np.pi * freq * t + rng.uniform(0, 6, (n_epochs, 3, 1)))
        write_recording(root, f"S{s}-night1", x.astype(np.float32), labels, np.arange(n_epochs) * 30.0,
                        {"subject": f"S{s}", "night": 1, "sampling_rate": fs, "channels": CHANNELS, "roles": ROLES,
                         "epoch_seconds": 30.0})
    write_manifest(root)
    return PreparedDataset(root)
