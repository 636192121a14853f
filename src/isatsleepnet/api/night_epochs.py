"""The per-epoch arrays of a staged night (:class:`NightEpochs`, the base of :class:`~isatsleepnet.api.night.Night`).

Every array has one entry per epoch of the staged window (the whole recording,
or ``start``..``end``); epoch ``k`` of the recording starts ``k * 30`` s after
its start. An epoch without a stage (a gap of an EDF+D recording, samples that
are not finite) has the label :data:`~isatsleepnet.api.views.UNSTAGED`, code -1,
NaN probabilities and confidence, and is never flagged for review. Every
property returns a copy: changing it changes nothing of the night.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from isatsleepnet import STAGES
from isatsleepnet.api.views import UNSTAGED
from isatsleepnet.inference.options import StageOptions
from isatsleepnet.inference.outputs import StagedRecording

if TYPE_CHECKING:
    from isatsleepnet.inference.predictor import Predictor


class StagedBy(Protocol):
    """What a night needs of the model that staged it (a :class:`~isatsleepnet.api.model.StagingModel`).

    A protocol, not the class itself, so that the imports run one way:
    ``api.model`` -> ``api.night`` -> ``api.night_epochs``, never back.
    """

    @property
    def predictor(self) -> Predictor:
        """The model's predictor (its file, inputs and engine), which :meth:`Night.write` records."""
        ...


class NightEpochs:
    """Stages, probabilities, confidence and review flags of every epoch of a staged window.

    Examples
    --------
    >>> night.stages.shape == night.onsets.shape == night.confidence.shape
    True
    """

    def __init__(self, staged: StagedRecording, model: StagedBy, options: StageOptions) -> None:
        self._staged = staged
        self._options = options
        self.model = model
        self.name = staged.name
        recording = staged.recording
        self.start: dt.datetime | None = recording.start
        self.epoch_seconds = float(recording.inputs.epoch_seconds)
        self._first = int(staged.first)
        stop = round(staged.summary["recording"]["window_s"][1] / self.epoch_seconds)
        n = stop - self._first
        at = np.asarray(staged.index, dtype=np.int64) - self._first
        self._at = at
        self._codes = np.full(n, -1, dtype=np.int64)
        self._codes[at] = staged.probabilities.argmax(axis=1)
        self._probabilities = np.full((n, len(STAGES)), np.nan)
        self._probabilities[at] = staged.probabilities
        self._confidence = np.full(n, np.nan)
        self._confidence[at] = staged.confidence
        self._review = np.zeros(n, dtype=bool)
        self._review[at] = staged.review

    # ------------------------------------------------------------------ per epoch
    def __len__(self) -> int:
        return len(self._codes)

    def __repr__(self) -> str:
        return (f"<Night {self.name}: {len(self)} epochs of {self.epoch_seconds:g} s from "
                f"{self._first * self.epoch_seconds:g} s, {len(self._at)} staged, {int(self._review.sum())} for review>")

    @property
    def stages(self) -> np.ndarray:
        """The stage of every epoch: "W", "N1", "N2", "N3", "REM", or :data:`UNSTAGED` ("?").

        Examples
        --------
        >>> night.stages[:3]
        array([...], dtype='<U3')
        """
        labels = np.array([*STAGES, UNSTAGED], dtype="<U3")
        return labels[self._codes]  # code -1 picks the last label

    @property
    def codes(self) -> np.ndarray:
        """The stage of every epoch as an integer: 0..4 in the order of :data:`isatsleepnet.STAGES`, -1 unstaged.

        Examples
        --------
        >>> isn.STAGES[night.codes[0]] == night.stages[0]
        True
        """
        return self._codes.copy()

    @property
    def epochs(self) -> np.ndarray:
        """Epoch numbers on the recording's grid (epoch ``k`` starts ``k * epoch_seconds`` after its start).

        Examples
        --------
        >>> night.epochs[:3]
        array([0, 1, 2])
        """
        return self._first + np.arange(len(self), dtype=np.int64)

    @property
    def onsets(self) -> np.ndarray:
        """Start of every epoch, in seconds from the recording start.

        Examples
        --------
        >>> night.onsets[:3]
        array([ 0., 30., 60.])
        """
        return self.epochs * self.epoch_seconds

    @property
    def probabilities(self) -> np.ndarray:
        """Stage probabilities, epochs x 5 (columns in the order of :data:`isatsleepnet.STAGES`); NaN unstaged.

        Examples
        --------
        >>> night.probabilities.shape
        (120, 5)
        >>> bool(np.allclose(night.probabilities.sum(axis=1), 1.0))
        True
        """
        return self._probabilities.copy()

    @property
    def confidence(self) -> np.ndarray:
        """1 - normalised entropy of each epoch's probabilities (1: one stage certain, 0: all alike); NaN unstaged.

        Examples
        --------
        >>> bool(((night.confidence >= 0) & (night.confidence <= 1)).all())
        True
        """
        return self._confidence.copy()

    @property
    def flagged(self) -> np.ndarray:
        """Epochs flagged for review: confidence below ``min_confidence`` (a bool mask over the epochs).

        (The ``review`` column of the staged files; :meth:`Night.review` opens them in the browser.)

        Examples
        --------
        >>> bool((night.flagged == (night.confidence < 0.6)).all())
        True
        """
        return self._review.copy()

    @property
    def staged(self) -> np.ndarray:
        """Epochs that have a stage (False: a gap of an EDF+D recording, samples that are not finite).

        Examples
        --------
        >>> int(night.staged.sum())
        120
        """
        return self._codes >= 0

    @property
    def expert(self) -> np.ndarray | None:
        """The reference hypnogram given to :meth:`StagingModel.stage`, one label per epoch ("?" unscored); None
        without one.

        Examples
        --------
        >>> night.expert[:2]
        array(['W', 'W'], dtype='<U3')
        """
        if self._staged.expert is None:
            return None
        labels = np.array([*STAGES, UNSTAGED], dtype="<U3")
        return labels[np.where(self._staged.expert >= 0, self._staged.expert, -1)]

    # ------------------------------------------------------------------ what stage writes in the JSON
    @property
    def summary(self) -> dict[str, Any]:
        """Everything ``NAME.sleep_stats.json`` holds: recording, model, statistics, expert, review, notes, warnings.

        Examples
        --------
        >>> sorted(night.summary)
        ['expert', 'isatsleepnet_version', 'model', 'notes', 'recording', 'review', 'statistics', 'warnings']
        """
        return copy.deepcopy(self._staged.summary)

    @property
    def notes(self) -> list[str]:
        """What was done to read the recording (resampling, aliases, ignored tail), one sentence each.

        Examples
        --------
        >>> [n for n in night.notes if "resampled" in n]
        []
        """
        return list(self._staged.summary["notes"])

    @property
    def warnings(self) -> list[str]:
        """Why the stages may deserve less trust (synthetic training data, a recording unlike the model's ...).

        Examples
        --------
        >>> isinstance(night.warnings, list)
        True
        """
        return list(self._staged.summary["warnings"])
