"""Recordings held in memory (NumPy arrays, an MNE ``Raw``), read like an EDF file.

Why: the Python API stages data a user has already loaded, without writing an
EDF first. :class:`MemoryRecording` offers what the channel vocabulary
(:mod:`isatsleepnet.data.channels`) and
:class:`~isatsleepnet.inference.raw.RawRecording` read from an
:class:`~isatsleepnet.data.readers.edf.EdfRecording` (signal headers, labels,
samples in µV, start time, annotations), so the same channel rules, unit checks
and the one resampler apply. Samples are kept in their own unit and scaled to µV
when read; the arrays are not copied (changing them later changes the recording).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from isatsleepnet.data.readers.edf import Annotation, microvolt_factor
from isatsleepnet.data.readers.edf_header import MAX_SAMPLING_RATE, SignalHeader
from isatsleepnet.data.signal import exact_rate
from isatsleepnet.errors import DataError, IsatSleepNetError

_FIFF_UNIT_V = 107  # MNE's code for volts (mne.io.constants.FIFF.FIFF_UNIT_V)


def _header(index: int, label: str, unit: str, n: int, rate: Fraction) -> SignalHeader:
    # values are stored physical: the calibration fields only say "identity"
    return SignalHeader(index, label, "", unit, -1.0, 1.0, -1.0, 1.0, "", n, 0, rate)


def _rate(name: str, value: Any) -> Fraction:
    if isinstance(value, (str, bytes, bool)):  # "100" is text (prepare's sampling_rate= refuses it too), True no rate
        raise DataError(name, f"sampling rate must be a number of Hz, not {value!r}")
    try:
        rate = float(value)
    except (TypeError, ValueError):
        raise DataError(name, f"sampling rate must be a number of Hz, not {value!r}") from None
    if not math.isfinite(rate) or rate <= 0 or rate > MAX_SAMPLING_RATE:
        raise DataError(name, f"sampling rate must be a finite number of Hz above 0 (at most "
                              f"{MAX_SAMPLING_RATE:g}), not {value!r}")
    return exact_rate(rate)


def _channel(name: str, label: str, x: Any) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype.kind not in "iuf":
        raise DataError(name, f"channel {label!r} holds {x.dtype} data, not numbers")
    if x.ndim != 1:
        raise DataError(name, f"channel {label!r} is {x.ndim}-D; each channel must be 1-D")
    bad = np.flatnonzero(~np.isfinite(x)) if x.dtype.kind == "f" else ()
    if len(bad):
        raise DataError(name, f"channel {label!r} holds {len(bad)} non-finite samples (the first is sample "
                              f"{int(bad[0])}); fill or cut them first")
    return x


@dataclass
class MemoryRecording:
    """A recording in memory, read through the interface of an EDF file (one 'record' per channel)."""

    name: str
    signals: list[SignalHeader]
    data: list[np.ndarray] = field(repr=False)  # per channel, in its signal's physical_dimension
    start: dt.datetime | None = None
    annotations: list[Annotation] = field(default_factory=list)

    @classmethod
    def from_arrays(
        cls,
        data: np.ndarray | Sequence[np.ndarray],
        sfreq: float | Sequence[float],
        ch_names: Sequence[str],
        *,
        units: str | Sequence[str] = "uV",
        start: dt.datetime | None = None,
        name: str = "recording",
        annotations: Sequence[tuple[float, float | None, str]] | None = None,
    ) -> MemoryRecording:
        """A recording from arrays: ``data`` (channels, samples) at one rate ``sfreq``, or one array
        per channel with a rate each.

        Parameters
        ----------
        data : numpy.ndarray or sequence of numpy.ndarray
            2-D (n_channels, n_samples) when ``sfreq`` is one number; else one 1-D array per channel.
        sfreq : float or sequence of float
            Sampling rate(s) in Hz.
        ch_names : sequence of str
            One distinct label per channel.
        units : str or sequence of str
            Unit of the values, for all channels or per channel: "uV", "mV", "V" (any spelling an
            EDF header may use); a channel of another unit can be held but not staged.
        start : datetime.datetime, optional
            Clock time of the first sample.
        name : str
            Names the recording in messages and outputs.
        annotations : sequence of (onset_s, duration_s or None, text), optional
            Events, onsets in seconds from the first sample (e.g. "Lights off").

        Examples
        --------
        >>> import numpy as np
        >>> rec = MemoryRecording.from_arrays(np.zeros((2, 3000)), 100.0, ["C4", "M1"], units="mV")
        >>> rec.channel_names, rec.duration, rec.read_samples(rec.signal("C4"), 0, 2)
        (['C4', 'M1'], 30.0, array([0., 0.]))
        """
        if isinstance(ch_names, str) or not all(isinstance(c, str) and c.strip() for c in ch_names):
            raise DataError(name, f"ch_names must be a list of non-empty labels, not {ch_names!r}")
        ch_names = list(ch_names)
        if isinstance(sfreq, (str, bytes)) or np.ndim(sfreq) == 0:
            rate = _rate(name, sfreq)
            array = np.asarray(data)
            if array.dtype.kind not in "iuf":
                raise DataError(name, f"data holds {array.dtype} values, not numbers")
            if array.ndim != 2:
                raise DataError(name, f"data must be 2-D (channels, samples), not of shape {array.shape}")
            columns, rates = list(array), [rate] * len(array)
        else:
            if not (isinstance(data, (list, tuple)) or isinstance(data, np.ndarray) and data.ndim == 2):
                raise DataError(name, "with one rate per channel, data must be one 1-D array per channel")
            columns, rates = list(data), [_rate(name, f) for f in sfreq]
            if len(rates) != len(columns):
                raise DataError(name, f"{len(rates)} sampling rates for {len(columns)} channels")
        if len(ch_names) != len(columns):
            raise DataError(name, f"{len(ch_names)} channel names for {len(columns)} channels of data")
        if not columns:
            raise DataError(name, "holds no channels")
        repeated = sorted({c for c in ch_names if ch_names.count(c) > 1})
        if repeated:
            raise DataError(name, f"channel names must be distinct: {', '.join(map(repr, repeated))} repeated")
        unit_list = [units] * len(columns) if isinstance(units, str) else list(units)
        if len(unit_list) != len(columns) or not all(isinstance(u, str) for u in unit_list):
            raise DataError(name, f"units must be one string, or one per channel ({len(columns)}), not {units!r}")
        if start is not None and not isinstance(start, dt.datetime):
            raise DataError(name, f"start must be a datetime.datetime or None, not {start!r}")
        columns = [_channel(name, label, x) for label, x in zip(ch_names, columns)]
        durations = [Fraction(len(x)) / r for x, r in zip(columns, rates)]
        for label, d, r in zip(ch_names, durations, rates):
            if max(durations) - d > 1 / r:
                raise DataError(name, f"channel {label!r} lasts {float(d):g} s, another {float(max(durations)):g} s: "
                                      "give channels that cover the same time")
        signals = [_header(i, label, unit, len(x), r)
                   for i, (label, unit, x, r) in enumerate(zip(ch_names, unit_list, columns, rates))]
        events = [Annotation(float(o), float(d) if d else None, str(t)) for o, d, t in (annotations or [])]
        return cls(name, signals, columns, start, events)

    @classmethod
    def from_mne(cls, raw: Any, *, name: str | None = None) -> MemoryRecording:
        """A recording from an ``mne.io.BaseRaw`` (loaded whole if it is not preloaded).

        Voltage channels (MNE stores volts) are read in µV; channels of other units are
        kept but cannot be staged. The start is ``meas_date`` (its time zone dropped:
        EDF clock times are local) plus the Raw's first sample time; annotations are
        taken with onsets from the first sample. Nothing is resampled here: MNE gives
        every channel one rate (its EDF reader upsamples slower channels to the fastest
        one, so the minimum-rate rule sees MNE's rate; stage the file itself to check
        the recorded rates).

        Examples
        --------
        >>> import mne, numpy as np
        >>> raw = mne.io.RawArray(np.full((1, 3000), 2e-5), mne.create_info(["C4"], 100.0, "eeg"), verbose="error")
        >>> rec = MemoryRecording.from_mne(raw)
        >>> float(rec.read_samples(rec.signal("C4"), 0, 1)[0])
        20.0
        """
        try:
            import mne
        except ImportError:
            raise IsatSleepNetError("MemoryRecording.from_mne needs MNE-Python (pip install mne)") from None
        if not isinstance(raw, mne.io.BaseRaw):
            raise IsatSleepNetError(f"from_mne expects an mne.io.Raw, not {type(raw).__name__}")
        files = [f for f in (raw.filenames or ()) if f]
        name = name or (Path(files[0]).name if files else "recording")
        import warnings

        with warnings.catch_warnings():  # MNE's note on edge artefacts of its own resampling of mixed-rate EDFs
            warnings.simplefilter("ignore", RuntimeWarning)
            data = raw.get_data()
        units = []
        for c_idx, ch in enumerate(raw.info["chs"]):
            if int(ch["unit"]) == _FIFF_UNIT_V:
                if int(ch["unit_mul"]):
                    data[c_idx] *= 10.0 ** int(ch["unit_mul"])
                units.append("V")
            else:
                units.append(getattr(ch["unit"], "_name", f"FIFF unit {int(ch['unit'])}"))
        first = float(raw.first_time)
        meas = raw.info["meas_date"]
        start = None if meas is None else meas.replace(tzinfo=None) + dt.timedelta(seconds=first)
        events = [(float(a["onset"]) - first, float(a["duration"]), str(a["description"])) for a in raw.annotations]
        return cls.from_arrays(data, float(raw.info["sfreq"]), list(raw.ch_names), units=units, start=start,
                               name=name, annotations=events)

    @property
    def path(self) -> Path:
        """The recording's name as a path, for messages (``DataError``) and outputs."""
        return Path(self.name)

    @property
    def channel_names(self) -> list[str]:
        return [s.label for s in self.signals]

    @property
    def notes(self) -> list[str]:
        """Nothing: arrays in memory are taken as they are (an EDF's reader may have notes on the file)."""
        return []

    @property
    def duration(self) -> float:
        """Seconds covered by every channel."""
        return float(min(Fraction(len(x)) / s.rate for x, s in zip(self.data, self.signals)))

    def duplicate_labels(self) -> dict[str, list[int]]:
        """Always empty: repeated names are refused when the recording is made."""
        return {}

    def signal(self, label: str) -> SignalHeader:
        """The channel labelled ``label``."""
        for s in self.signals:
            if s.label == label:
                return s
        raise DataError(self.path, f"no channel {label!r}")

    def microvolts_per_unit(self, signal: SignalHeader, *, assume_unit: str | None = None) -> float:
        """µV per unit of ``signal``'s values; a unit that is not a voltage is a DataError."""
        try:
            return microvolt_factor(signal.physical_dimension, assume=assume_unit)
        except KeyError:
            dim = signal.physical_dimension.strip() or "(blank)"
            raise DataError(self.path, f"channel {signal.label!r} has unit {dim!r}, not a voltage") from None

    def n_samples(self, signal: SignalHeader) -> int:
        return len(self.data[signal.index])

    def read_samples(self, signal: SignalHeader, first: int, stop: int, *, assume_unit: str | None = None) -> np.ndarray:
        """Samples ``first <= j < stop`` of ``signal`` in µV, float64."""
        factor = self.microvolts_per_unit(signal, assume_unit=assume_unit)
        x = self.data[signal.index][max(first, 0): max(stop, 0)]
        return x.astype(np.float64) * factor

    def read_microvolts(
        self, signal: SignalHeader, start_s: float = 0.0, stop_s: float | None = None, *, assume_unit: str | None = None
    ) -> np.ndarray:
        """Samples of ``signal`` from the first at or after ``start_s`` to the last before ``stop_s``, in µV."""
        first = math.ceil(Fraction(repr(float(start_s))) * signal.rate)
        stop = self.n_samples(signal) if stop_s is None else math.ceil(Fraction(repr(float(stop_s))) * signal.rate)
        return self.read_samples(signal, first, stop, assume_unit=assume_unit)
