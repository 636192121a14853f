"""Staging results as files other tools read: per-epoch CSV, EDF+ and TSV annotations.

* CSV: one row per staged epoch with the stage probabilities, for spreadsheets
  and scripts.
* EDF+: an annotation-only EDF+ whose start date and time are the PSG's, so
  EDFbrowser can open it or import it onto the PSG, and ``mne.read_annotations``
  reads it. Consecutive epochs of one stage are one annotation ("Sleep stage N2"),
  as in Sleep-EDF's hypnograms; epochs flagged for review get an extra
  "Review: low confidence" annotation.
* JSON sidecar of the CSV (``<name>.hypnogram.json``, as BIDS describes a table
  beside it): what each column holds and in which unit, the epoch length, the
  recording's start, the channel or derivation used for every model input, and
  the model's file, so that the CSV can be read alone.
* TSV: the same annotations as a BIDS-style events table (onset, duration,
  trial_type), for pandas and MNE-BIDS (MNE itself reads the EDF+ file).

Every file is written to a temporary name and renamed, never half-written. Which files a
staging writes, and under which names, is the output table's to say
(:data:`~isatsleepnet.inference.output_formats.OUTPUT_FORMATS`; its writers,
:mod:`~isatsleepnet.inference.output_writers`, call these functions).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from isatsleepnet import STAGES
from isatsleepnet.atomic import atomic_path, atomic_write_text

CSV_COLUMNS: tuple[str, ...] = (
    "epoch", "onset_s", "stage", *(f"p_{s}" for s in STAGES), "confidence", "review",
)
ANNOTATION_TEXT: dict[str, str] = {
    "W": "Sleep stage W", "N1": "Sleep stage N1", "N2": "Sleep stage N2", "N3": "Sleep stage N3",
    "REM": "Sleep stage R",
}
REVIEW_TEXT = "Review: low confidence"


def write_epochs_csv(
    path: str | Path,
    epochs: np.ndarray,
    onsets_s: np.ndarray,
    probabilities: np.ndarray,
    confidence: np.ndarray,
    review: np.ndarray,
    *,
    expert: Sequence[str] | None = None,
    start: dt.datetime | None = None,
) -> Path:
    """``<name>.hypnogram.csv``: CSV_COLUMNS, plus ``expert`` when a reference hypnogram was given, plus
    ``clock_time`` (HH:MM:SS of the onset, :mod:`isatsleepnet.time_axis`) when the recording's ``start``
    is known.

    ``clock_time`` comes last, so that a script reading the older columns by position keeps working.
    """
    from isatsleepnet.time_axis import clock_time

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([*CSV_COLUMNS, *(["expert"] if expert is not None else []),
                     *(["clock_time"] if start is not None else [])])
    stages = probabilities.argmax(axis=1)
    for i in range(len(epochs)):
        row = [int(epochs[i]), f"{onsets_s[i]:g}", STAGES[stages[i]],
               *(f"{p:.6f}" for p in probabilities[i]), f"{confidence[i]:.4f}", int(bool(review[i]))]
        if expert is not None:
            row.append(expert[i])
        if start is not None:
            row.append(clock_time(onsets_s[i], start))
        writer.writerow(row)
    atomic_write_text(path, buf.getvalue())
    return Path(path)


COLUMN_DESCRIPTIONS: dict[str, dict[str, str]] = {
    "epoch": {"Description": "epoch number on the recording's grid: epoch k starts k x EpochLength s after its start"},
    "onset_s": {"Description": "start of the epoch, seconds from the recording start", "Units": "s"},
    "stage": {"Description": "the most probable stage", "Levels": "W, N1, N2, N3, REM (AASM)"},
    **{f"p_{s}": {"Description": f"probability of {s} (the five sum to 1)"} for s in STAGES},
    "confidence": {"Description": "1 - entropy of the probabilities / log(5): 1 one stage certain, 0 all equal"},
    "review": {"Description": "1 when confidence is below the review threshold (MinConfidence)"},
    "expert": {"Description": "the reference hypnogram's stage ('?' unscored or movement; empty outside it)"},
    "clock_time": {"Description": "clock time of the onset (recording start + onset_s)", "Units": "HH:MM:SS"},
}


def write_csv_sidecar(path: str | Path, columns: Sequence[str], summary: dict, *, min_confidence: float,
                      recording_sha1: str | None = None, folder: Path | None = None) -> Path:
    """``<name>.hypnogram.json``: the CSV's columns, epoch length, start, recording, channels (with derivations)
    and model (``recording_sha1``: the recording's, if the caller has it; computed otherwise).

    ``folder``: where the sidecar will lie (default: ``path``'s folder; a staging is written in a temporary
    folder and moved): the recording's path is written relative to it, and absolute
    (:func:`~isatsleepnet.data.staged_sidecar.recording_entries`), so that `review` and ``prepare --dataset
    reviewed`` find it from any folder.
    """
    import json

    from isatsleepnet.data.staged_sidecar import recording_entries

    recording, model = summary.get("recording") or {}, summary.get("model") or {}
    file = recording.get("file")
    sidecar = {
        **{name: COLUMN_DESCRIPTIONS[name] for name in columns},
        "EpochLength": recording.get("epoch_seconds"),
        "RecordingStart": recording.get("start"),
        # where the recording is, and what `isatsleepnet review` checks it against (None for one held in memory)
        **recording_entries(file, Path(path).parent if folder is None else folder,
                            recording_sha1 or _sha1_of_file(file)),
        "MinConfidence": min_confidence,
        # the channel, or derivation A-B, that fed each model input, at its own rate
        "Channels": recording.get("channels"),
        "Model": {"file": model.get("file"), "backend": model.get("backend")},  # its weights: model.sha1 beside
    }
    atomic_write_text(path, json.dumps(sidecar, indent=2, default=str) + "\n")
    return Path(path)


def stage_runs(onsets_s: np.ndarray, labels: Sequence[str], epoch_seconds: float) -> list[tuple[float, float, str]]:
    """(onset, duration, label) of runs of one label on consecutive epochs; empty labels are skipped."""
    runs: list[tuple[float, float, str]] = []
    for onset, label in zip(np.asarray(onsets_s, dtype=float), labels):
        if not label:
            continue
        if runs and runs[-1][2] == label and abs(runs[-1][0] + runs[-1][1] - onset) < 1e-6:
            runs[-1] = (runs[-1][0], runs[-1][1] + epoch_seconds, label)
        else:
            runs.append((float(onset), float(epoch_seconds), label))
    return runs


def _sha1_of_file(file: str | None) -> str | None:
    from isatsleepnet.data.hashing import sha1_of

    return sha1_of(Path(file)) if file and Path(file).is_file() else None


def annotation_events(
    onsets_s: np.ndarray, stages: np.ndarray, review: np.ndarray, epoch_seconds: float
) -> list[tuple[float, float, str]]:
    """Stage runs and review runs, sorted by onset."""
    texts = [ANNOTATION_TEXT[STAGES[s]] for s in stages]
    flags = [REVIEW_TEXT if r else "" for r in review]
    events = stage_runs(onsets_s, texts, epoch_seconds) + stage_runs(onsets_s, flags, epoch_seconds)
    return sorted(events, key=lambda e: (e[0], e[2] == REVIEW_TEXT))


def write_annotations_edf(
    path: str | Path, events: list[tuple[float, float, str]], *, start: dt.datetime | None
) -> Path:
    """An annotation-only EDF+ (no signals) starting when the PSG starts."""
    import edfio

    annotations = [edfio.EdfAnnotation(onset, duration, text) for onset, duration, text in events]
    kwargs = {}
    if start is not None and 1985 <= start.year <= 2084:  # the years EDF's two-digit dates can hold
        kwargs = {"recording": edfio.Recording(startdate=start.date()), "starttime": start.time().replace(microsecond=0)}
    edf = edfio.Edf([], annotations=annotations, **kwargs)
    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        edf.write(tmp)
    return Path(path)


def write_annotations_tsv(path: str | Path, events: list[tuple[float, float, str]]) -> Path:
    """BIDS-style events table: onset and duration in seconds from the PSG start, trial_type."""
    lines = ["onset\tduration\ttrial_type"]
    lines += [f"{onset:g}\t{duration:g}\t{text}" for onset, duration, text in events]
    atomic_write_text(path, "\n".join(lines) + "\n")
    return Path(path)
