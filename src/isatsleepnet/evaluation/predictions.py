"""Per-recording predictions saved beside a model, the raw material of every metric."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from isatsleepnet.atomic import atomic_path


@dataclass
class RecordingPrediction:
    recording: str
    subject: str
    y_true: np.ndarray
    probabilities: np.ndarray
    onsets: np.ndarray

    @property
    def y_pred(self) -> np.ndarray:
        return self.probabilities.argmax(1)

    def save(self, folder: Path) -> Path:
        path = folder / f"{self.recording}.npz"
        with atomic_path(path) as tmp:
            with tmp.open("wb") as f:
                np.savez(f, recording=self.recording, subject=self.subject, y_true=self.y_true,
                         probabilities=self.probabilities.astype(np.float32), onsets=self.onsets)
        return path

    @classmethod
    def load(cls, path: Path) -> RecordingPrediction:
        with np.load(path) as f:
            return cls(str(f["recording"]), str(f["subject"]), f["y_true"], f["probabilities"], f["onsets"])


def load_all(folder: Path) -> list[RecordingPrediction]:
    return [RecordingPrediction.load(p) for p in sorted(Path(folder).glob("*.npz"))]
