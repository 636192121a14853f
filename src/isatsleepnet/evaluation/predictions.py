"""Per-recording predictions saved beside a model, the raw material of every metric."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from isatsleepnet.atomic import atomic_path
from isatsleepnet.errors import IsatSleepNetError


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
        """Read a saved prediction as plain arrays (never pickled objects); a damaged file is one line."""
        try:
            with np.load(path, allow_pickle=False) as f:
                return cls(str(f["recording"]), str(f["subject"]), f["y_true"], f["probabilities"], f["onsets"])
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
            raise IsatSleepNetError(
                f"{path}: not a readable prediction file ({reason}); delete it to predict again") from None


def load_all(folder: Path) -> list[RecordingPrediction]:
    return [RecordingPrediction.load(p) for p in sorted(Path(folder).glob("*.npz"))]
