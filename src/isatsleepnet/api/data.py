"""Data from Python: :func:`read_hypnogram`, :func:`synthetic_night` and :func:`prepare`.

Thin wrappers over what the commands use (:mod:`isatsleepnet.data.readers.hypnogram`,
:mod:`isatsleepnet.data.synthetic`, :mod:`isatsleepnet.data.prepare`), with the
defaults a script wants (no progress bars).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from isatsleepnet import STAGES
from isatsleepnet.checks import is_real, whole_number
from isatsleepnet.errors import IsatSleepNetError, SettingError

if TYPE_CHECKING:
    from isatsleepnet.data.readers.hypnogram_grid import Hypnogram
    from isatsleepnet.data.store import PreparedDataset

SYNTHETIC_CHANNELS = ("EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal")
"""The channels :func:`synthetic_night` returns as arrays (those of Sleep-EDF, 100 Hz)."""


def read_hypnogram(
    path: str | os.PathLike,
    *,
    epoch_seconds: float = 30.0,
    stage_codes: str | None = None,
    psg_start: dt.datetime | None = None,
) -> Hypnogram:
    """Read an expert hypnogram: EDF+/BDF+ annotations, NSRR or Profusion XML, CSV/TSV/TXT.

    Parameters
    ----------
    path : path-like
        The hypnogram file; its type is chosen by its suffix.
    epoch_seconds : float
        The staging epoch length, a finite number of seconds above 0 (hypnograms scored in other
        epoch lengths are refused).
    stage_codes : {None, "aasm", "rk"}
        Coding of bare integer stages in CSV/TSV/EDF+: ``"aasm"`` (4 = REM) or ``"rk"``
        (4 = N3, 5 = REM); None decides per file and refuses a file that could be either.
    psg_start : datetime.datetime, optional
        Start of the recording, to place an EDF+ hypnogram that has its own start time.

    Returns
    -------
    Hypnogram
        Stage events (``onsets``, ``durations`` in seconds, AASM ``codes``, -1 unscored) and
        ``notes`` on how the file was read; ``to_epochs(n, 30)`` gives one code per epoch.

    Raises
    ------
    DataError
        A file that cannot be one night's scoring, naming it and the first problem.
    SettingError
        An ``epoch_seconds`` that is not a finite number above 0, a ``psg_start`` that is not a datetime.

    Examples
    --------
    >>> import isatsleepnet as isn
    >>> hypnogram = isn.read_hypnogram("night/SC4001EC-Hypnogram.edf")
    >>> hypnogram.codes[:3].tolist(), hypnogram.onsets[:3].tolist()
    ([0, 1, 2], [0.0, ...])
    >>> len(hypnogram.to_epochs(120, 30.0))
    120
    """
    from isatsleepnet.data.readers.hypnogram import read_hypnogram as read

    if not isinstance(path, (str, os.PathLike)):
        raise IsatSleepNetError(f"read_hypnogram takes the path of a hypnogram file, not {type(path).__name__}")
    if psg_start is not None and not isinstance(psg_start, dt.datetime):
        raise SettingError("psg_start", f"must be a datetime.datetime, not {type(psg_start).__name__}")
    return read(Path(path), psg_start=psg_start, epoch_seconds=epoch_seconds, stage_codes=stage_codes)


@dataclass(frozen=True)
class SyntheticNight:
    """A night from :func:`synthetic_night`: files, or arrays, and the generator's own hypnogram.

    Attributes
    ----------
    stages : numpy.ndarray
        The true stage of every 30-s epoch ("W", "N1", "N2", "N3", "REM"; "?" for movement).
    psg, hypnogram : pathlib.Path or None
        The EDF recording and its Sleep-EDF hypnogram (None when returned as arrays).
    data : numpy.ndarray or None
        Channels x samples in µV (None when written to files).
    sfreq : float
        Sampling rate of ``data`` (100 Hz).
    ch_names : tuple of str
        The channel of each row of ``data``.
    start : datetime.datetime
        When the night starts.
    """

    stages: np.ndarray
    psg: Path | None = None
    hypnogram: Path | None = None
    data: np.ndarray | None = None
    sfreq: float = 100.0
    ch_names: tuple[str, ...] = SYNTHETIC_CHANNELS
    start: dt.datetime | None = None

    @property
    def source(self) -> Path | tuple[np.ndarray, float, list[str]]:
        """What :meth:`StagingModel.stage` takes: the file, or ``(data, sfreq, ch_names)``.

        Examples
        --------
        >>> import isatsleepnet as isn
        >>> data, sfreq, ch_names = isn.synthetic_night(hours=0.5).source
        >>> data.shape, sfreq, ch_names
        ((3, 180000), 100.0, ['EEG Fpz-Cz', 'EEG Pz-Oz', 'EOG horizontal'])
        """
        if self.psg is not None:
            return self.psg
        return self.data, self.sfreq, list(self.ch_names)


def synthetic_night(folder: str | os.PathLike | None = None, *, hours: float = 1.0, seed: int = 0) -> SyntheticNight:
    """A synthetic night (SYNTHETIC TEST DATA, never results): EDF + hypnogram files, or arrays.

    The signals carry textbook stage cues (alpha, spindles, K-complexes, delta, eye
    movements) over a simulated hypnogram, as ``isatsleepnet synth`` writes them
    (:func:`isatsleepnet.data.synthetic.synthesize`, Sleep-EDF layout: 100-Hz
    ``EEG Fpz-Cz``, ``EEG Pz-Oz``, ``EOG horizontal``). The same arguments always
    give the same night; each seed draws another person and night.

    Parameters
    ----------
    folder : path-like, optional
        Write ``SC4001E0-PSG.edf`` and ``SC4001EC-Hypnogram.edf`` into this folder (created;
        files of the same name are replaced); default: return the EEG and EOG as arrays,
        writing nothing.
    hours : float
        Length of the recording, wake before and after sleep included.
    seed : int
        Random seed.

    Returns
    -------
    SyntheticNight
        The files or arrays, and the true stage of every epoch.

    Examples
    --------
    >>> import isatsleepnet as isn
    >>> night = isn.synthetic_night("synthetic", hours=0.5, seed=1)
    >>> night.psg.name, night.hypnogram.name, len(night.stages)
    ('SC4001E0-PSG.edf', 'SC4001EC-Hypnogram.edf', 60)
    >>> str(night.stages[0])
    'W'
    """
    from isatsleepnet.data.synthetic import SynthConfig, synthesize

    if not is_real(hours) or not 0 < hours <= 48:
        raise SettingError("hours", f"must be a number of hours in (0, 48], not {hours!r}")
    seed = whole_number("seed", seed, least=0)
    if folder is not None:
        _check_folder(folder)
    config = SynthConfig(layout="sleep-edf", subjects=1, hours=hours, seed=seed)
    if folder is not None:
        written = synthesize(Path(folder), config, progress=False)[0]
        return SyntheticNight(_labels(written.stages), written.psg, written.hypnogram, start=_start(written.psg))
    tmp = Path(tempfile.mkdtemp(prefix="isatsleepnet-synthetic-"))
    try:
        written = synthesize(tmp, config, progress=False)[0]
        data, sfreq = _read_channels(written.psg)
        return SyntheticNight(_labels(written.stages), data=data, sfreq=sfreq, start=_start(written.psg))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _check_folder(folder: Any) -> None:
    """A one-line error for a ``folder`` that cannot hold the night: not a path, or a file (itself or above it)."""
    if not isinstance(folder, (str, os.PathLike)):
        raise SettingError("folder", f"must be the path of a folder, not {type(folder).__name__}")
    path = Path(folder)
    for place in (path, *path.parents):  # the first that exists decides: a file there, and mkdir fails
        if place.exists():
            if not place.is_dir():
                raise SettingError("folder", f"{folder} is a file, not a folder" if place == path
                                   else f"{folder}: {place} is a file, not a folder")
            return


def _labels(codes: np.ndarray) -> np.ndarray:
    labels = np.array([*STAGES, "?"], dtype="<U3")
    return labels[np.where(codes >= 0, codes, -1)]


def _start(psg: Path) -> dt.datetime:
    import edfio

    edf = edfio.read_edf(psg, lazy_load_data=True)
    return dt.datetime.combine(edf.startdate, edf.starttime)


def _read_channels(psg: Path) -> tuple[np.ndarray, float]:
    """The EEG and EOG of a synthetic Sleep-EDF PSG, in µV, as the file holds them."""
    import edfio

    edf = edfio.read_edf(psg)
    by_label = {s.label: s for s in edf.signals}
    signals = [by_label[name] for name in SYNTHETIC_CHANNELS]
    return np.stack([s.data for s in signals]), float(signals[0].sampling_frequency)


def prepare(
    data_dir: str | os.PathLike,
    out: str | os.PathLike,
    *,
    dataset: str,
    jobs: int = 1,
    overwrite: bool = False,
    progress: bool = False,
    **settings: Any,
) -> PreparedDataset:
    """Prepare raw recordings into 30-s epochs for training, as ``isatsleepnet prepare`` does.

    Parameters
    ----------
    data_dir : path-like
        Folder searched recursively for recordings (or one EDF file with ``dataset="edf"``).
    out : path-like
        The prepared dataset's folder; rerunning continues where it stopped.
    dataset : str
        Which layout to read: a name of the table of datasets,
        :data:`isatsleepnet.data.datasets.DATASETS` ("sleep-edf-20", "sleep-edf-78",
        "sleep-edf-st", "sleep-edf", "shhs", "edf", "npz", and any registered since).
    jobs : int
        Recordings prepared in parallel.
    overwrite : bool
        Prepare again recordings already in ``out``, with other settings.
    progress : bool
        Show a progress bar.
    **settings
        Any field of :class:`isatsleepnet.data.prepare_config.PrepareConfig`: ``sampling_rate``,
        ``epoch_seconds``, ``trim``, ``trim_minutes``, ``eeg``, ``eeg2``, ``eog``, ``bandpass``,
        ``notch``, ``assume_unit``, ``stage_codes`` ...

    Returns
    -------
    PreparedDataset
        The prepared dataset; recordings that failed are reported on stderr, one line each.

    Raises
    ------
    IsatSleepNetError
        Unknown settings, a folder prepared with other settings, or no recording prepared.

    Examples
    --------
    >>> import isatsleepnet as isn
    >>> data = isn.prepare("night", "prepared", dataset="sleep-edf", trim=False)
    >>> data.names, data.subjects()
    (['SC4001E0'], ['SC400'])
    """
    from isatsleepnet.config import replace_from
    from isatsleepnet.data.prepare import prepare_dataset
    from isatsleepnet.data.prepare_config import PrepareConfig
    from isatsleepnet.data.store import PreparedDataset

    config = replace_from(PrepareConfig(), {"dataset": dataset, **settings}, source="prepare()")
    results = prepare_dataset(data_dir, out, config, jobs=jobs, overwrite=overwrite, progress=progress)
    failed = [r for r in results if r.status == "failed"]
    if results and len(failed) == len(results):
        raise IsatSleepNetError(f"no recording prepared ({len(failed)} failed; the first: {failed[0].error})")
    if not results:
        raise IsatSleepNetError(f"{data_dir}: no {dataset} recording found")
    return PreparedDataset(out)
