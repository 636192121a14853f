"""What a staged night shows: stage labels to codes, a reference on the night's epochs, MNE annotations,
a data frame and the two figures (the helpers behind :class:`~isatsleepnet.api.night.Night`)."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from isatsleepnet import STAGES
from isatsleepnet.data import labels as L
from isatsleepnet.errors import IsatSleepNetError
from isatsleepnet.installs import require_interop

if TYPE_CHECKING:
    import mne
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from isatsleepnet.inference.options import StageOptions
    from isatsleepnet.inference.outputs import StagedRecording

__all__ = ["UNSTAGED", "annotations_of", "dataframe_of", "figure_options", "hypnodensity_of", "hypnogram_of",
           "reference_codes", "stage_codes_of"]

UNSTAGED = "?"
"""The label of an epoch without a stage (and of an epoch a reference hypnogram leaves unscored)."""


def stage_codes_of(labels: Sequence[Any]) -> np.ndarray:
    """AASM codes (0..4 = W, N1, N2, N3, REM; -1 unscored) of a sequence of stage labels.

    Labels are stage names as hypnograms spell them ("W", "N2", "REM", "R", "Sleep stage 2" ...),
    integers 0..4 in the order of :data:`isatsleepnet.STAGES`, or None, "?", "" or a negative
    number for an unscored epoch.

    Examples
    --------
    >>> stage_codes_of(["W", "N1", "Sleep stage 2", "N3", "R", None, "?", 4, -1])
    array([ 0,  1,  2,  3,  4, -1, -1,  4, -1])
    >>> stage_codes_of(["W", "nap"])
    Traceback (most recent call last):
    ...
    isatsleepnet.errors.IsatSleepNetError: epoch 1: unknown stage label 'nap'
    >>> stage_codes_of(np.array([0.0, 2.0, np.nan]))  # a float column (pandas reads codes so when one is missing)
    array([ 0,  2, -1])
    """
    if hasattr(labels, "to_numpy") and not isinstance(labels, np.ndarray):  # a pandas Series or Index
        labels = labels.to_numpy()
    if isinstance(labels, (str, bytes)) or not isinstance(labels, (Sequence, np.ndarray)):
        raise IsatSleepNetError(f"stages are a sequence of labels, one per epoch; not {type(labels).__name__}")
    codes = np.empty(len(labels), dtype=np.int64)
    for i, label in enumerate(labels):
        if isinstance(label, (float, np.floating)) and (np.isnan(label) or float(label).is_integer()):
            label = -1 if np.isnan(label) else int(label)  # codes read as floats; NaN: unscored
        if label is None or (isinstance(label, str) and label.strip() in ("", UNSTAGED)):
            codes[i] = -1
        elif isinstance(label, (int, np.integer)) and not isinstance(label, bool):
            if not label < len(STAGES):
                raise IsatSleepNetError(f"epoch {i}: stage code {int(label)} is not one of 0..4 ({', '.join(STAGES)})")
            codes[i] = max(int(label), -1)
        elif isinstance(label, str):
            try:
                code = L.map_text(label, "aasm")
            except L.UnknownLabel:
                raise IsatSleepNetError(f"epoch {i}: unknown stage label {label.strip()!r}") from None
            codes[i] = max(code, -1)
        else:
            raise IsatSleepNetError(f"epoch {i}: a stage label is a name or a code 0..4, not {type(label).__name__}")
    return codes


def reference_codes(reference: Any, staged: StagedRecording, *, first: int, n: int, epoch_seconds: float,
                    stage_codes: str | None) -> np.ndarray:
    """A reference's code of every epoch of a staged window (-1 unscored).

    ``reference``: None (the hypnogram given when staging), a Hypnogram, a hypnogram
    file, or one label per epoch of the recording or of the window.
    """
    from isatsleepnet.data.readers.hypnogram import read_hypnogram
    from isatsleepnet.data.readers.hypnogram_grid import Hypnogram

    recording, name = staged.recording, staged.name
    if reference is None:
        if staged.expert is None:
            raise IsatSleepNetError(f"{name}: no reference hypnogram: pass one, or stage with hypnogram=")
        return np.asarray(staged.expert, dtype=np.int64)
    if isinstance(reference, (str, os.PathLike)):
        reference = read_hypnogram(reference, psg_start=recording.start, epoch_seconds=epoch_seconds,
                                   stage_codes=stage_codes)
    if isinstance(reference, Hypnogram):
        codes = reference.to_epochs(recording.n_epochs, epoch_seconds, min_coverage=0.0)
        return np.asarray(codes[first:first + n], dtype=np.int64)
    codes = stage_codes_of(reference)
    if len(codes) == recording.n_epochs:
        return codes[first:first + n]
    if len(codes) == n:
        return codes
    raise IsatSleepNetError(
        f"{name}: the reference has {len(codes)} epochs; give one per whole epoch of the recording "
        f"({recording.n_epochs}) or of the staged night ({n})"
    )


def annotations_of(staged: StagedRecording, epoch_seconds: float, start: dt.datetime | None) -> mne.Annotations:
    """The stages (and review flags) as mne.Annotations, those of ``NAME.annotations.edf``."""
    require_interop("mne", "Night.to_mne_annotations")
    import mne

    from isatsleepnet.inference.exports import annotation_events

    events = annotation_events(staged.index * epoch_seconds, staged.probabilities.argmax(axis=1),
                               staged.review, epoch_seconds)
    if start is not None and start.tzinfo is None:
        start = start.replace(tzinfo=dt.timezone.utc)
    return mne.Annotations(onset=[e[0] for e in events], duration=[e[1] for e in events],
                           description=[e[2] for e in events], orig_time=start)


def dataframe_of(staged: StagedRecording, stages: np.ndarray, at: np.ndarray, epoch_seconds: float,
                 start: dt.datetime | None) -> pd.DataFrame:
    """One row per staged epoch with the CSV's columns (``stages``: their labels; ``at``: their window rows)."""
    require_interop("pandas", "Night.to_dataframe")
    import pandas as pd

    from isatsleepnet.inference.exports import CSV_COLUMNS
    from isatsleepnet.inference.outputs import _expert_labels
    from isatsleepnet.time_axis import clock_time

    onsets = staged.index * epoch_seconds
    columns: dict[str, Any] = {
        "epoch": staged.index.astype(np.int64),
        "onset_s": onsets.astype(float),
        "stage": stages,
        **{f"p_{s}": staged.probabilities[:, k] for k, s in enumerate(STAGES)},
        "confidence": staged.confidence,
        "review": staged.review.astype(bool),
    }
    if tuple(columns) != CSV_COLUMNS:
        raise AssertionError("the CSV's columns changed: update isatsleepnet.api.reference.dataframe_of")
    if staged.expert is not None:
        columns["expert"] = _expert_labels(staged.expert[at])
    if start is not None:
        columns["clock_time"] = [clock_time(t, start) for t in onsets]
    return pd.DataFrame(columns)


def figure_options(start: dt.datetime | None, first: int, options: StageOptions, epoch_seconds: float) -> dict[str, Any]:
    """The time axis of a night's figures (see :mod:`isatsleepnet.time_axis`)."""
    from isatsleepnet.inference.outputs import window_origin

    return {"start": start, "origin": window_origin(first, options), "epoch_seconds": epoch_seconds}


def hypnogram_of(staged: StagedRecording, onsets: np.ndarray, codes: np.ndarray, name: str, *, ax: Axes | None,
                 expert: bool, **axis: Any) -> Figure:
    """The figure of ``NAME.hypnogram.png`` (the reference above it when there is one and ``ax`` is None)."""
    from isatsleepnet.plots import hypnogram as plots

    with_expert = expert and staged.expert is not None and ax is None
    title = f"{name}: ISATSleepNet hypnogram"
    agreement = (staged.summary["expert"] or {}).get("agreement")
    if with_expert and agreement is not None:  # the title of NAME.hypnogram.png
        title = (f"{name}: accuracy {100 * agreement['accuracy']:.1f} %, "
                 f"κ = {agreement['kappa']:.3f} ({agreement['n_epochs']} scored epochs)")
    return plots.hypnogram_figure(onsets, codes, expert=staged.expert if with_expert else None, title=title, ax=ax,
                                  **axis)


def hypnodensity_of(onsets: np.ndarray, probabilities: np.ndarray, review: np.ndarray, name: str, *,
                    ax: Axes | None, **axis: Any) -> Figure:
    """The figure of ``NAME.hypnodensity.png``; unstaged epochs are an empty column."""
    from isatsleepnet.plots import hypnodensity as plots

    return plots.hypnodensity_figure(onsets, np.nan_to_num(probabilities), review=review,
                                     title=f"{name}: stage probabilities", ax=ax, **axis)
