"""What `stage` wrote for one recording, read back for its review: ``NAME.hypnogram.csv`` and its sidecar.

The CSV holds each epoch's onset, the model's stage, probabilities, confidence and
review flag (and the expert's stage when `stage --hypnogram` was given); the sidecar
``NAME.hypnogram.json`` holds the epoch length, the recording's start and its file.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from isatsleepnet.data.labels import STAGES
from isatsleepnet.data.staged_sidecar import SidecarRecording
from isatsleepnet.errors import DataError
from isatsleepnet.inference.output_formats import OUTPUT_FORMATS

STAGED_SUFFIX = OUTPUT_FORMATS["hypnogram_csv"].suffix
"""The file of a staged recording that a review opens (NAME.hypnogram.csv)."""
SIDECAR_SUFFIX = OUTPUT_FORMATS["hypnogram_json"].suffix


@dataclass(frozen=True)
class StagedNight:
    """One staged recording, as `stage` wrote it.

    Attributes
    ----------
    csv : Path
        ``NAME.hypnogram.csv``.
    name : str
        ``NAME``, the recording's stem, which the review's files share.
    onsets_s : ndarray, shape (n_epochs,)
        Epoch starts, seconds from the recording start.
    stages : list of str
        The model's stage of each epoch.
    probabilities : ndarray, shape (n_epochs, 5)
        The model's probabilities of W, N1, N2, N3, REM.
    confidence : ndarray, shape (n_epochs,)
        ``1 - entropy / log 5`` of each epoch's probabilities.
    flagged : ndarray of bool, shape (n_epochs,)
        Epochs whose confidence is below the run's review threshold.
    expert : list of str or None
        A reference hypnogram's stage per epoch ('?' unscored, '' outside it), when staged with one.
    epoch_seconds : float
        Epoch length.
    start : datetime or None
        The recording's start (clock time of onset 0), when known.
    recording : Path or None
        The PSG that was staged, as the sidecar names it, read from the sidecar's folder.
    recording_sha1 : str or None
        Its SHA1 when it was staged (None: staged from memory, or by a version that did not say).
    epoch_numbers : ndarray of int or None
        The CSV's ``epoch`` column: each epoch's number on the recording's grid (epoch k starts
        k x epoch_seconds after the recording's start), whatever window was staged.
    source : SidecarRecording or None
        What the sidecar says of the recording: :meth:`~isatsleepnet.data.staged_sidecar.SidecarRecording.locate`
        finds it from any folder (None: no sidecar read).
    """

    csv: Path
    name: str
    onsets_s: np.ndarray
    stages: list[str]
    probabilities: np.ndarray
    confidence: np.ndarray
    flagged: np.ndarray
    expert: list[str] | None
    epoch_seconds: float
    start: dt.datetime | None
    recording: Path | None
    recording_sha1: str | None = None
    epoch_numbers: np.ndarray | None = None
    source: SidecarRecording | None = None

    @property
    def folder(self) -> Path:
        return self.csv.parent


def staged_csv(path: str | Path) -> Path:
    """The ``NAME.hypnogram.csv`` that ``path`` names: the file itself, or the only one in a folder.

    Examples
    --------
    >>> staged_csv("staged/SC4001E0-PSG.hypnogram.csv").name
    'SC4001E0-PSG.hypnogram.csv'
    """
    path = Path(path)
    if path.is_dir():
        found = sorted(path.glob("*" + STAGED_SUFFIX))
        if len(found) != 1:
            what = "no" if not found else f"{len(found)}"
            raise DataError(path, f"holds {what} staged recordings (NAME{STAGED_SUFFIX}); name one of them")
        return found[0]
    if not path.name.endswith(STAGED_SUFFIX):
        raise DataError(path, f"is not what `isatsleepnet stage` writes (NAME{STAGED_SUFFIX})")
    return path


def read_staged(path: str | Path) -> StagedNight:
    """The staged recording at ``path`` (its CSV, or a folder holding one), every column checked."""
    if not Path(path).exists():
        raise DataError(Path(path), f"no such file or folder (the NAME{STAGED_SUFFIX} `stage` wrote, or its folder)")
    csv_path = staged_csv(path)
    if not csv_path.is_file():
        raise DataError(csv_path, "no such staged recording")
    name = csv_path.name[: -len(STAGED_SUFFIX)]
    sidecar = csv_path.with_name(name + SIDECAR_SUFFIX)
    try:
        with csv_path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(sidecar, "missing: the staged CSV's sidecar names the epoch length and the recording") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, csv.Error) as exc:
        raise DataError(csv_path, f"cannot read the staged recording ({exc})") from None
    needed = ["epoch", "onset_s", "stage", *(f"p_{s}" for s in STAGES), "confidence", "review"]
    if not rows:
        raise DataError(csv_path, "holds no epochs")
    missing = [c for c in needed if c not in rows[0]]
    if missing:
        raise DataError(csv_path, f"lacks the column(s) {', '.join(missing)} that `stage` writes")
    try:
        numbers = np.array([int(r["epoch"]) for r in rows])
        onsets = np.array([float(r["onset_s"]) for r in rows])
        probabilities = np.array([[float(r[f"p_{s}"]) for s in STAGES] for r in rows])
        confidence = np.array([float(r["confidence"]) for r in rows])
        flagged = np.array([r["review"].strip() == "1" for r in rows])
        epoch_seconds = float(meta["EpochLength"])
    except (ValueError, KeyError, TypeError) as exc:
        raise DataError(csv_path, f"a value is not a number ({exc})") from None
    stages = [r["stage"] for r in rows]
    wrong = sorted({s for s in stages if s not in STAGES})
    if wrong:
        raise DataError(csv_path, f"stage column holds {', '.join(map(repr, wrong))}, not {', '.join(STAGES)}")
    start = meta.get("RecordingStart")
    source = SidecarRecording.of(sidecar, meta, owner=csv_path)
    return StagedNight(
        csv=csv_path, name=name, onsets_s=onsets, stages=stages, probabilities=probabilities,
        confidence=confidence, flagged=flagged,
        expert=[r["expert"] for r in rows] if "expert" in rows[0] else None,
        epoch_seconds=epoch_seconds, start=dt.datetime.fromisoformat(start) if start else None,
        recording=source.beside, recording_sha1=source.sha1, epoch_numbers=numbers, source=source,
    )


def with_second_scorer(night: StagedNight, hypnogram: str | Path, *, stage_codes: str | None = None) -> StagedNight:
    """``night`` with the stages of another scorer's hypnogram (any format ``read_hypnogram`` reads) as its expert.

    Each epoch gets the scorer's stage, '?' where the scorer marked it unscored or
    movement, and '' outside the hypnogram.

    Examples
    --------
    >>> night = with_second_scorer(read_staged("staged/"), "scorer2.xml")  # doctest: +SKIP
    """
    import dataclasses

    from isatsleepnet.data.labels import DROP
    from isatsleepnet.data.readers.hypnogram import read_hypnogram

    scored = read_hypnogram(hypnogram, psg_start=night.start, epoch_seconds=night.epoch_seconds,
                            stage_codes=stage_codes)
    epochs = np.round(night.onsets_s / night.epoch_seconds).astype(int)
    codes = scored.to_epochs(int(epochs.max()) + 1, night.epoch_seconds, min_coverage=0.0)
    expert = [STAGES[c] if c >= 0 else ("?" if c == DROP else "") for c in codes[epochs]]
    return dataclasses.replace(night, expert=expert)
