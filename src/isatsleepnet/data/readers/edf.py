"""Open EDF/EDF+/BDF recordings lazily and read channels in microvolts.

edfio reads only the requested slice of a channel, which keeps preparing a
22-hour night cheap. Units come from each channel's physical-dimension header
field, never from amplitudes; a header that lies about the file size, or an
empty or unreadable file, becomes a :class:`~isatsleepnet.errors.DataError`.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import edfio
import numpy as np

from isatsleepnet.errors import DataError

_TO_MICROVOLT: dict[str, float] = {
    "uv": 1.0, "µv": 1.0, "μv": 1.0, "microv": 1.0, "microvolt": 1.0, "microvolts": 1.0,
    "mv": 1e3, "millivolt": 1e3, "millivolts": 1e3,
    "v": 1e6, "volt": 1e6, "volts": 1e6,
    "nv": 1e-3,
}


def microvolt_factor(dimension: str, *, assume: str | None = None) -> float:
    """Factor turning values in ``dimension`` into µV; KeyError if it is not a voltage."""
    key = dimension.strip().lower().replace(" ", "")
    if not key and assume:
        key = assume.strip().lower()
    return _TO_MICROVOLT[key]


def _check_file_size(path: Path) -> bool:
    """Compare the size the header announces with the file's, before edfio pads or truncates.

    Returns whether the file is a BDF (24-bit samples) rather than an EDF.
    """
    size = path.stat().st_size
    if size == 0:
        raise DataError(path, "empty file")
    with path.open("rb") as f:
        head = f.read(256)
        if len(head) < 256:
            raise DataError(path, f"not an EDF/BDF file: only {len(head)} bytes")
        is_bdf = head[:1] == b"\xff"
        try:
            n_records = int(head[236:244].decode("ascii").strip())
            record_seconds = float(head[244:252].decode("ascii").strip())
            n_signals = int(head[252:256].decode("ascii").strip())
        except (UnicodeDecodeError, ValueError):
            raise DataError(path, "not an EDF/BDF file: unreadable header") from None
        if n_signals <= 0:
            raise DataError(path, "the header declares no signals")
        if not record_seconds > 0:  # also catches nan
            raise DataError(path, f"the header's data-record duration is {record_seconds:g} s (must be positive)")
        signal_header = f.read(256 * n_signals)
    if len(signal_header) < 256 * n_signals:
        raise DataError(path, "truncated: the file ends inside its header")
    offset = n_signals * 216
    try:
        samples = [
            int(signal_header[offset + 8 * i : offset + 8 * (i + 1)].decode("ascii").strip())
            for i in range(n_signals)
        ]
    except (UnicodeDecodeError, ValueError):
        raise DataError(path, "not an EDF/BDF file: unreadable signal header") from None
    if n_records == 0:
        raise DataError(path, "the file holds no data records")
    if n_records < 0:
        return is_bdf  # -1: length unknown (recording not closed); edfio derives it from the size
    expected = 256 * (n_signals + 1) + n_records * sum(samples) * (3 if is_bdf else 2)
    if size < expected:
        record_bytes = sum(samples) * (3 if is_bdf else 2)
        present = (size - 256 * (n_signals + 1)) // max(record_bytes, 1)
        raise DataError(
            path, f"truncated: the header announces {n_records} data records, the file holds {present}"
        )
    return is_bdf


@dataclass
class EdfRecording:
    """An opened EDF/BDF file whose signal data is read on demand."""

    path: Path
    edf: edfio.Edf

    @classmethod
    def open(cls, path: str | Path) -> EdfRecording:
        path = Path(path)
        if not path.is_file():
            raise DataError(path, "file not found")
        is_bdf = _check_file_size(path)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                # BDF (24-bit, BioSemi) is told by its header's first byte, not by the file name
                edf = edfio.read_bdf(path) if is_bdf else edfio.read_edf(path, lazy_load_data=True)
        except Exception as exc:  # edfio raises ValueError and friends on malformed headers
            raise DataError(path, f"not a readable EDF/BDF file ({exc})") from None
        return cls(path, edf)

    @property
    def channel_names(self) -> list[str]:
        return [s.label for s in self.edf.signals]

    @property
    def start(self) -> dt.datetime | None:
        try:
            return self.edf.startdatetime
        except Exception:  # anonymised or malformed dates
            return None

    @property
    def duration(self) -> float:
        return float(self.edf.duration)

    def find_channel(self, role: str, candidates: Sequence[str]) -> edfio.EdfSignal:
        """The first channel whose label equals one of ``candidates`` (exact, case-sensitive)."""
        by_label = {s.label: s for s in self.edf.signals}
        for name in candidates:
            if name in by_label:
                return by_label[name]
        wanted = " or ".join(repr(c) for c in candidates)
        present = ", ".join(repr(c) for c in self.channel_names) or "none"
        raise DataError(self.path, f"missing {role} channel {wanted}; channels present: {present}")

    def read_microvolts(
        self,
        signal: edfio.EdfSignal,
        start_s: float = 0.0,
        stop_s: float | None = None,
        *,
        assume_unit: str | None = None,
    ) -> np.ndarray:
        """Samples of ``signal`` between two times, in µV as float64."""
        if signal.physical_min == signal.physical_max or signal.digital_min == signal.digital_max:
            raise DataError(self.path, f"channel {signal.label!r} has no usable calibration: physical "
                                       f"{signal.physical_min:g}..{signal.physical_max:g}, digital "
                                       f"{signal.digital_min:g}..{signal.digital_max:g} in the header")
        try:
            factor = microvolt_factor(signal.physical_dimension, assume=assume_unit)
        except KeyError:
            dim = signal.physical_dimension.strip() or "(blank)"
            hint = "; pass --assume-unit if the header leaves it blank" if dim == "(blank)" else ""
            raise DataError(
                self.path, f"channel {signal.label!r} has physical dimension {dim!r}, not a voltage{hint}"
            ) from None
        stop_s = self.duration if stop_s is None else min(stop_s, self.duration)
        fs = signal.sampling_frequency
        # Snap to the sample grid so that slices of channels with equal rates line up.
        start_s = np.floor(start_s * fs) / fs
        stop_s = np.floor(stop_s * fs) / fs
        try:
            data = signal.get_data_slice(start_s, stop_s)
        except Exception as exc:
            raise DataError(self.path, f"cannot read channel {signal.label!r} ({exc})") from None
        return np.asarray(data, dtype=np.float64) * factor
