"""Open EDF/EDF+/BDF recordings lazily and read channels in microvolts.

The header is parsed and checked first (:mod:`.edf_header`); samples are then
read by index straight from a memory map of the data records, so preparing or
staging a 22-hour night reads only the stretch and the channels it needs, for
BDF too. Units come from each channel's physical-dimension header field, never
from amplitudes. edfio parses the EDF+ annotations and the start time.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from isatsleepnet.data.readers.edf_header import EdfHeader, SignalHeader, read_header
from isatsleepnet.errors import DataError, SettingError

_TO_MICROVOLT: dict[str, float] = {
    "uv": 1.0, "µv": 1.0, "μv": 1.0, "microv": 1.0, "microvolt": 1.0, "microvolts": 1.0,
    "mv": 1e3, "millivolt": 1e3, "millivolts": 1e3,
    "v": 1e6, "volt": 1e6, "volts": 1e6,
    "nv": 1e-3,
}


ASSUMABLE_UNITS = ("uV", "mV", "V")
"""The units ``assume_unit`` may name for a channel whose header leaves the physical dimension blank."""


def check_assumed_unit(unit: str | None) -> None:
    """Refuse an ``assume_unit`` that is not one of :data:`ASSUMABLE_UNITS` (None: nothing assumed).

    Examples
    --------
    >>> check_assumed_unit("kV")
    Traceback (most recent call last):
    ...
    isatsleepnet.errors.SettingError: assume_unit= must be uV, mV or V, not 'kV'
    """
    if unit is not None and unit not in ASSUMABLE_UNITS:
        raise SettingError("assume_unit", f"must be uV, mV or V, not {unit!r}")


def microvolt_factor(dimension: str, *, assume: str | None = None) -> float:
    """Factor turning values in ``dimension`` into µV; KeyError if it is not a voltage."""
    key = dimension.strip().lower().replace(" ", "")
    if not key and assume:
        key = assume.strip().lower()
    return _TO_MICROVOLT[key]


@dataclass(frozen=True)
class Annotation:
    """One EDF+ annotation: onset and duration in seconds from the recording start."""

    onset: float
    duration: float | None
    text: str


@dataclass
class EdfRecording:
    """An opened EDF/BDF file whose signal data is read on demand."""

    path: Path
    header: EdfHeader
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def open(cls, path: str | Path) -> EdfRecording:
        """Parse and check the header; a bad file is a one-line DataError naming it."""
        path = Path(path)
        return cls(path, read_header(path))

    @property
    def is_bdf(self) -> bool:
        return self.header.is_bdf

    @property
    def signals(self) -> list[SignalHeader]:
        """The data signals (the EDF+/BDF+ annotation signal left out), in file order."""
        return self.header.data_signals

    @property
    def channel_names(self) -> list[str]:
        return [s.label for s in self.signals]

    @property
    def notes(self) -> list[str]:
        """What reading the file changed and a user should know (a partial last record dropped)."""
        return list(self.header.notes)

    @property
    def duration(self) -> float:
        """Seconds of data stored (for an EDF+D, gaps not counted)."""
        return float(self.header.duration)

    @cached_property
    def _edfio(self):  # noqa: ANN202 - an edfio.Edf/Bdf, used for start time and annotations only
        import edfio

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if self.is_bdf:  # edfio reads a BDF whole: give it the header and the first record only
                    with self.path.open("rb") as f:
                        head = f.read(self.header.header_bytes + 3 * self.header.record_samples)
                    return edfio.read_bdf(head, header_encoding="latin-1")
                return edfio.read_edf(self.path, lazy_load_data=True, header_encoding="latin-1")
        except Exception as exc:  # noqa: BLE001 - edfio raises ValueError and friends on odd headers
            raise DataError(self.path, f"not a readable EDF/BDF file ({str(exc)[:120]})") from None

    @property
    def start(self) -> dt.datetime | None:
        try:
            start = self._edfio.startdatetime
        except Exception:  # noqa: BLE001 - anonymised or malformed dates
            return None
        return start - dt.timedelta(seconds=self._data_lead_s) if self._data_lead_s else start

    @cached_property
    def _data_lead_s(self) -> float:
        """How far edfio's start lies after the header's in an EDF+D: edfio adds the first data record's time
        stamp to the header's start time (right for the sub-second start of an EDF+C), but in an EDF+D that
        stamp is where the data begin, counted from the header's start, as every epoch onset here is: the
        recording starts at the header's time, and clock times are that start plus the onsets."""
        from isatsleepnet.data.readers.edf_segments import is_discontinuous, record_onsets

        if not is_discontinuous(self.path):
            return 0.0
        try:
            onsets, _ = record_onsets(self.path)
        except DataError:
            return 0.0  # staging says what is wrong with the time stamps; the header's start is still the start
        return float(onsets[0]) if len(onsets) else 0.0

    @cached_property
    def annotations(self) -> list[Annotation]:
        """The EDF+/BDF+ annotations (none for plain EDF); a BDF+ is read whole for them."""
        if not any(s.is_annotation for s in self.header.signals):
            return []
        import edfio

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                source = edfio.read_bdf(self.path, header_encoding="latin-1") if self.is_bdf else self._edfio
                items = list(source.annotations)
        except DataError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise DataError(self.path, f"unreadable EDF+ annotations ({str(exc)[:120]})") from None
        return [Annotation(float(a.onset), float(a.duration) if a.duration else None, a.text) for a in items]

    def duplicate_labels(self) -> dict[str, list[int]]:
        """Labels carried by more than one data signal, with their 1-based positions in the file."""
        positions: dict[str, list[int]] = {}
        for s in self.signals:
            positions.setdefault(s.label, []).append(s.index + 1)
        return {label: where for label, where in positions.items() if len(where) > 1}

    def signal(self, label: str) -> SignalHeader:
        """The one data signal labelled ``label``; a duplicated label is an error naming every position."""
        hits = [s for s in self.signals if s.label == label]
        if len(hits) > 1:
            where = ", ".join(str(s.index + 1) for s in hits)
            raise DataError(self.path, f"{len(hits)} channels are labelled {label!r} (signals {where} of the file): "
                                       "ambiguous; relabel them")
        if not hits:
            raise DataError(self.path, f"no channel {label!r}")
        return hits[0]

    def find_channel(self, role: str, candidates: Sequence[str]) -> SignalHeader:
        """The first channel whose label equals one of ``candidates`` (exact, case-sensitive)."""
        labels = set(self.channel_names)
        for name in candidates:
            if name in labels:
                return self.signal(name)
        wanted = " or ".join(repr(c) for c in candidates)
        present = ", ".join(repr(c) for c in self.channel_names) or "none"
        raise DataError(self.path, f"missing {role} channel {wanted}; channels present: {present}")

    def microvolts_per_unit(self, signal: SignalHeader, *, assume_unit: str | None = None) -> float:
        """Check that ``signal`` can be read in µV (calibration and unit); its µV per physical unit."""
        problem = signal.calibration_problem(is_bdf=self.is_bdf)
        if problem:
            raise DataError(self.path, f"channel {signal.label!r} {problem}")
        try:
            return microvolt_factor(signal.physical_dimension, assume=assume_unit)
        except KeyError:
            dim = signal.physical_dimension.strip() or "(blank)"
            hint = "; pass {assume_unit} if the header leaves it blank" if dim == "(blank)" else ""
            raise DataError(
                self.path, f"channel {signal.label!r} has physical dimension {dim!r}, not a voltage{hint}"
            ) from None

    def n_samples(self, signal: SignalHeader) -> int:
        return self.header.n_records * signal.samples_per_record

    @cached_property
    def _records(self) -> np.memmap:
        h = self.header
        dtype = np.uint8 if h.is_bdf else np.dtype("<i2")
        width = h.record_samples * (3 if h.is_bdf else 1)
        return np.memmap(self.path, dtype=dtype, mode="r", offset=h.header_bytes, shape=(h.n_records, width))

    def release(self) -> None:
        """Unmap the file's data records (the next read maps them again).

        Why: the pages of a memory map that were read count in the process's resident memory
        until it is unmapped; a long-lived reader (the review server) reading window after
        window of a 22-h night lets them go after each read instead of holding the whole file.
        """
        self.__dict__.pop("_records", None)

    def read_digital(self, signal: SignalHeader, first: int, stop: int, dtype: type = np.int32) -> np.ndarray:
        """Stored integers of samples ``first <= j < stop`` of ``signal`` (``dtype``: int32, or float64 for
        :meth:`read_samples`, converted straight from the records without an integer copy in between)."""
        spr = signal.samples_per_record
        first, stop = max(first, 0), min(stop, self.n_samples(signal))
        if stop <= first:
            return np.empty(0, dtype=dtype)
        r0, r1 = first // spr, -(-stop // spr)
        if self.is_bdf:
            raw = self._records[r0:r1, 3 * signal.offset: 3 * (signal.offset + spr)]
            b = raw.reshape(-1, 3).astype(np.int32)
            values = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
            values[values >= 1 << 23] -= 1 << 24
            values = values.astype(dtype, copy=False)
        else:
            stored = self._records[r0:r1, signal.offset: signal.offset + spr]  # int16 view, one row per record
            values = np.empty(stored.shape, dtype=dtype)
            values[...] = stored
            values = values.reshape(-1)
        return values[first - r0 * spr: stop - r0 * spr]

    def read_samples(self, signal: SignalHeader, first: int, stop: int, *, assume_unit: str | None = None) -> np.ndarray:
        """Samples ``first <= j < stop`` of ``signal`` in µV, float64 (checked calibration and unit)."""
        factor = self.microvolts_per_unit(signal, assume_unit=assume_unit)
        gain = (signal.physical_max - signal.physical_min) / (signal.digital_max - signal.digital_min)
        offset = signal.physical_max / gain - signal.digital_max  # as edfio calibrates
        try:
            samples = self.read_digital(signal, first, stop, np.float64)
        except (OSError, ValueError) as exc:
            raise DataError(self.path, f"cannot read channel {signal.label!r} ({exc})") from None
        samples += offset  # in place: a 22-h channel is 64 MB of float64 a copy (and fresh memory is slow)
        samples *= gain * factor
        return samples

    def read_microvolts(
        self,
        signal: SignalHeader,
        start_s: float = 0.0,
        stop_s: float | None = None,
        *,
        assume_unit: str | None = None,
    ) -> np.ndarray:
        """Samples of ``signal`` from the first at or after ``start_s`` to the last before ``stop_s``, in µV."""
        rate = signal.rate
        first = int(np.ceil(Fraction(repr(float(start_s))) * rate))
        stop = self.n_samples(signal) if stop_s is None else int(np.ceil(Fraction(repr(float(stop_s))) * rate))
        return self.read_samples(signal, first, stop, assume_unit=assume_unit)
