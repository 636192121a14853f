"""Load a model file and stage recordings with it from Python: :func:`load_model`, :class:`StagingModel`.

A recording may be a file (EDF, EDF+, BDF), an ``mne.io.Raw``, or arrays
``(data, sfreq, ch_names)``; staging one returns a :class:`~isatsleepnet.api.night.Night`
in memory, computed exactly as ``isatsleepnet stage`` computes it (the same
channel rules, resampling, checks and statistics), and written only when asked.
"""

from __future__ import annotations

import logging
import numbers
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from isatsleepnet.api.night import Night
from isatsleepnet.checks import whole_number
from isatsleepnet.errors import IsatSleepNetError, with_settings_renamed
from isatsleepnet.inference.options import StageOptions

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from isatsleepnet.data.readers.hypnogram_grid import Hypnogram
    from isatsleepnet.engine import Engine
    from isatsleepnet.inference.predictor import Predictor


def load_model(
    path: str | os.PathLike, *, backend: str | None = None, device: str | None = None, threads: int | None = None,
    engine: Engine | None = None,
) -> StagingModel:
    """Load a model file for staging.

    Parameters
    ----------
    path : str or path-like
        ``model.pt`` written by ``isatsleepnet train`` or ``cv``, or a ``.onnx`` file
        written by ``isatsleepnet export``.
    backend : {None, "torch", "onnx"}
        Inference engine; None: ``"onnx"`` for a ``.onnx`` file, ``"torch"`` otherwise
        (``"onnx"`` with a ``.pt`` file exports it to a temporary ONNX file first).
    device : str, optional
        Torch device: ``"auto"`` (default: a GPU when there is one), ``"cpu"``, ``"cuda"``, ``"cuda:1"`` ...
    threads : int, optional
        CPU threads for inference (default: torch's choice, all cores). torch has one
        setting per process: it stays in force for later models of the process.
    engine : isatsleepnet.engine.Engine, optional
        Device, precision and threads together (``device`` and ``threads`` override its fields).

    Returns
    -------
    StagingModel
        The loaded model; :meth:`StagingModel.stage` stages recordings with it.

    Raises
    ------
    IsatSleepNetError
        A missing or damaged file, an unknown backend or device (one line).

    Examples
    --------
    >>> import isatsleepnet as isn
    >>> model = isn.load_model("model.pt", threads=1)
    >>> model
    <StagingModel model.pt (torch): eeg='EEG Fpz-Cz', eeg2='EEG Pz-Oz', eog='EOG horizontal' at 100 Hz>
    """
    from isatsleepnet.engine import Engine

    if not isinstance(path, (str, os.PathLike)):
        raise IsatSleepNetError(f"load_model takes the path of a model file (.pt or .onnx), not {type(path).__name__}")
    if engine is not None and not isinstance(engine, Engine):
        raise IsatSleepNetError(f"engine= takes an isatsleepnet.engine.Engine, not {type(engine).__name__}")
    threads = None if threads is None else whole_number("threads", threads)  # numpy's integers too
    return StagingModel(_load_predictor(path, backend=backend, device=device, threads=threads, engine=engine))


def _load_predictor(path: str | os.PathLike, *, backend: str | None, device: str | None, threads: int | None,
                    engine: Engine | None) -> Predictor:
    """The one call of the loader (keyword arguments only, so that the engine's options can change here alone)."""
    from isatsleepnet.inference.predictor import load_predictor

    return load_predictor(Path(path), backend=backend, engine=engine, device=device, threads=threads)


def _labels(role: str, value: Any) -> list[str]:
    """A role keyword's channel labels: one name, comma-separated alternatives, or a list of them."""
    if isinstance(value, str):
        names = [v.strip() for v in value.split(",") if v.strip()]
    elif isinstance(value, Sequence) and all(isinstance(v, str) for v in value):
        names = [v.strip() for v in value if v.strip()]
    else:
        raise IsatSleepNetError(f"{role}= takes a channel label or a list of them, not {type(value).__name__}")
    if not names:
        raise IsatSleepNetError(f"{role}= names no channel")
    return names


class StagingModel:
    """A loaded model file: what it needs from a recording, and :meth:`stage` to stage one.

    Made by :func:`load_model`.

    Attributes
    ----------
    path : pathlib.Path
        The model file.
    backend : str
        ``"torch"`` or ``"onnx"``.

    Examples
    --------
    >>> import isatsleepnet as isn
    >>> model = isn.load_model("model.pt", threads=1)
    >>> model.roles, model.sampling_rate, model.epoch_seconds
    (('eeg', 'eeg2', 'eog'), 100.0, 30.0)
    """

    def __init__(self, predictor: Predictor) -> None:
        self._predictor = predictor
        self.path = Path(predictor.source)
        self.backend = predictor.backend

    @property
    def predictor(self) -> Predictor:
        """The :class:`~isatsleepnet.inference.predictor.Predictor` behind this model."""
        return self._predictor

    @property
    def roles(self) -> tuple[str, ...]:
        """The model's inputs, in order (``"eeg"``, ``"eeg2"``, ``"eog"`` ...): the keywords of :meth:`stage`.

        Examples
        --------
        >>> model.roles
        ('eeg', 'eeg2', 'eog')
        """
        return self._predictor.inputs.roles

    @property
    def channels(self) -> dict[str, str]:
        """The channel each role was trained on, by role; :meth:`stage` looks for these (or their aliases).

        Examples
        --------
        >>> model.channels
        {'eeg': 'EEG Fpz-Cz', 'eeg2': 'EEG Pz-Oz', 'eog': 'EOG horizontal'}
        """
        inputs = self._predictor.inputs
        return dict(zip(inputs.roles, inputs.channels))

    @property
    def context(self) -> int:
        """Epochs the model reads around each epoch (0: the paper's per-epoch network; see ``--context``).

        Examples
        --------
        >>> model.context
        0
        """
        return self._predictor.context

    @property
    def sampling_rate(self) -> float:
        """Hz the model works at; channels at other rates are resampled to it.

        Examples
        --------
        >>> model.sampling_rate
        100.0
        """
        return self._predictor.inputs.sampling_rate

    @property
    def epoch_seconds(self) -> float:
        """Length of one staged epoch in seconds (30 for AASM scoring).

        Examples
        --------
        >>> model.epoch_seconds
        30.0
        """
        return self._predictor.inputs.epoch_seconds

    def describe(self) -> dict[str, Any]:
        """What the model file says about itself: file, backend, channels, roles, rate, training, metrics.

        Returns
        -------
        dict
            JSON-ready; the ``"model"`` entry of every ``NAME.sleep_stats.json``.

        Examples
        --------
        >>> info = model.describe()
        >>> info["backend"], info["roles"]
        ('torch', ['eeg', 'eeg2', 'eog'])
        """
        return self._predictor.describe()

    def __repr__(self) -> str:
        inputs = ", ".join(f"{role}={label!r}" for role, label in self.channels.items())
        return f"<StagingModel {self.path.name} ({self.backend}): {inputs} at {self.sampling_rate:g} Hz>"

    def stage(
        self,
        source: Any,
        *,
        eeg: str | Sequence[str] | None = None,
        eeg2: str | Sequence[str] | None = None,
        eog: str | Sequence[str] | None = None,
        hypnogram: str | os.PathLike | Hypnogram | None = None,
        start: float | None = None,
        end: float | None = None,
        min_confidence: float = 0.6,
        batch_size: int = 64,
        assume_unit: str | None = None,
        lights: bool = False,
        stage_codes: str | None = None,
        name: str | None = None,
        **channels: str | Sequence[str],
    ) -> Night:
        """Stage every whole epoch of a recording, in memory.

        Parameters
        ----------
        source : path-like, mne.io.BaseRaw, tuple or MemoryRecording
            An EDF/EDF+/BDF file; an ``mne.io.Raw`` (data in volts, as MNE holds them);
            a tuple ``(data, sfreq, ch_names)`` with ``data`` an array (channels x samples)
            in µV; or a :class:`~isatsleepnet.data.readers.memory.MemoryRecording`.
        eeg, eeg2, eog : str or list of str, optional
            The channel for that input of the model: a label, comma-separated
            alternatives (``"C4-M1,C4-A1"``) or a list of them; the first present is used.
            Default: the channel the model was trained on, or one of its aliases.
        hypnogram : path-like, Hypnogram or "auto", optional
            An expert hypnogram (EDF+, NSRR/Profusion XML, CSV/TSV, or :func:`read_hypnogram`'s
            result) to compare with: :meth:`Night.agreement` and the files :meth:`Night.write`
            writes then include it. ``"auto"``: the one beside a recording file, found as
            ``stage --hypnogram auto`` finds it (none found: staged without comparison, logged).
        start, end : float, optional
            Stage only from ``start`` to ``end``, in seconds from the recording start
            (rounded inwards to whole epochs).
        min_confidence : float
            Epochs whose confidence is below this are flagged for review (0-1).
        batch_size : int
            Epochs per forward pass (an ONNX model runs at most 16 at a time on each core).
        assume_unit : {None, "uV", "mV", "V"}
            Unit of EDF channels whose header leaves the physical dimension blank.
        lights : bool
            Stage only from the recording's "Lights off" to its "Lights on" EDF+ annotation.
        stage_codes : {None, "aasm", "rk"}
            Coding of bare integer stages in ``hypnogram``.
        name : str, optional
            The recording's name (default: the file's stem; the Raw's file; ``"recording"``).
        **channels : str or list of str
            The channel for any other input of the model (``eog2="E2-M1"``).

        Returns
        -------
        Night
            Stages, probabilities, confidence and statistics of the night.

        Raises
        ------
        IsatSleepNetError
            A source of another type, bad arrays, a keyword for an input the model does not
            have, a missing channel, no whole epoch, bad options: one line.

        Examples
        --------
        >>> night = model.stage("night/SC4001E0-PSG.edf", eeg="EEG Fpz-Cz", eog=["EOG horizontal"])
        >>> night
        <Night SC4001E0-PSG: 120 epochs of 30 s from 0 s, 120 staged, ... for review>
        >>> model.stage("night/SC4001E0-PSG.edf", emg="EMG submental")
        Traceback (most recent call last):
        ...
        isatsleepnet.errors.IsatSleepNetError: the model has no emg input (its roles: eeg, eeg2, eog)
        """
        from isatsleepnet.api.sources import open_source
        from isatsleepnet.inference.stage import stage_opened

        given = {"eeg": eeg, "eeg2": eeg2, "eog": eog, **channels}
        unknown = [role for role, value in given.items() if value is not None and role not in self.roles]
        if unknown:
            raise IsatSleepNetError(f"the model has no {', '.join(unknown)} input (its roles: {', '.join(self.roles)})")
        overrides = {role: _labels(role, value) for role, value in given.items() if value is not None}
        _check_numbers(start=start, end=end, min_confidence=min_confidence, batch_size=batch_size)
        try:  # the options check themselves when made
            options = StageOptions(channels=overrides, start_s=start, end_s=end, lights=lights,
                                   min_confidence=min_confidence, batch_size=batch_size, assume_unit=assume_unit,
                                   stage_codes=stage_codes)
            if isinstance(hypnogram, str) and hypnogram == "auto":
                hypnogram = _hypnogram_beside(source)
            elif hypnogram is not None and not _is_hypnogram(hypnogram):
                hypnogram = Path(hypnogram)
            recording, default_name, where = open_source(source, self._predictor.inputs, overrides=overrides,
                                                         assume_unit=assume_unit, name=name)
            staged = stage_opened(recording, self._predictor, options, name=name or default_name,
                                  hypnogram=hypnogram, source=where)
        except IsatSleepNetError as exc:  # the error as it is, about this method's keywords
            raise with_settings_renamed(exc, **_KEYWORDS) from None
        return Night(staged, self, options)


_KEYWORDS = {"start_s": "start", "end_s": "end"}
"""The staging settings (:class:`StageOptions` fields) that :meth:`StagingModel.stage` takes under another
keyword: their errors name the keyword (``start=``), as the command line names the flag (``--start``)."""


def _hypnogram_beside(source: Any) -> Path | None:
    """``hypnogram="auto"``: the expert hypnogram beside a recording file, as `stage --hypnogram auto` finds it."""
    from isatsleepnet.inference.stage import find_reference_hypnogram

    if not isinstance(source, (str, os.PathLike)):
        raise IsatSleepNetError("hypnogram='auto' looks beside a recording file; with this source, name the "
                                "hypnogram's file")
    found = find_reference_hypnogram(Path(source))
    if found is None:
        logger.info("%s: no hypnogram found beside it (hypnogram='auto'): staged without comparison", Path(source).name)
    return found


def _is_hypnogram(value: Any) -> bool:
    from isatsleepnet.data.readers.hypnogram_grid import Hypnogram

    if isinstance(value, Hypnogram):
        return True
    if not isinstance(value, (str, os.PathLike)):
        raise IsatSleepNetError(f"hypnogram= takes a file or read_hypnogram()'s result, not {type(value).__name__}")
    return False


def _check_numbers(**values: Any) -> None:
    """Types the command line's parser would have checked: one line instead of a TypeError later."""
    for what, value in values.items():
        kinds = numbers.Integral if what == "batch_size" else numbers.Real
        if value is not None and (isinstance(value, bool) or not isinstance(value, kinds)):
            raise IsatSleepNetError(f"{what}= takes a number, not {type(value).__name__}")
