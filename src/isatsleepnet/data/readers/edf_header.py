"""The EDF/EDF+/BDF header, parsed and checked before any sample is read.

Why our own parser: the header's record duration is a decimal string and a
channel's rate is samples per record / that duration, an exact fraction the
resampler needs (edfio gives a float); every calibration field must be checked
for non-finite and absurd values (edfio accepts ``nan`` and then every sample
is NaN); and BioSemi BDF files are memory-mapped lazily here, while edfio
reads a BDF whole (GBs for a 24-h night). edfio still parses the EDF+
annotations and the recording's start (see :mod:`isatsleepnet.data.readers.edf`).

Header text is Latin-1 (``0xB5`` is the µ of ``µV``), as written by most
recorders. Layout (EDF spec, BDF identical but for 3-byte samples): a 256-byte
main header, then per field an array over the signals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from isatsleepnet.errors import DataError

MAX_RECORDING_SECONDS = 31 * 24 * 3600
"""A header announcing a longer recording is refused as absurd (a corrupt record count or duration)."""
MAX_SAMPLING_RATE = 1_000_000
"""Hz; a faster channel means a corrupt record duration or sample count."""
MAX_PHYSICAL_MAGNITUDE = 1e12
"""Physical limits beyond this (in any unit) are refused as absurd."""
DIGITAL_LIMITS = {False: (-32768, 32767), True: (-(2**23), 2**23 - 1)}  # EDF (16-bit), BDF (24-bit)
ANNOTATION_LABELS = ("EDF Annotations", "BDF Annotations")
_SIGNAL_FIELDS = (("label", 16), ("transducer", 80), ("physical_dimension", 8), ("physical_min", 8),
                  ("physical_max", 8), ("digital_min", 8), ("digital_max", 8), ("prefiltering", 80),
                  ("samples_per_record", 8), ("reserved", 32))


@dataclass(frozen=True)
class SignalHeader:
    """One signal of the file, as its header describes it.

    ``index`` is its 0-based position among all signals of the file;
    ``offset`` the number of samples before it inside a data record.
    """

    index: int
    label: str
    transducer: str
    physical_dimension: str
    physical_min: float
    physical_max: float
    digital_min: float
    digital_max: float
    prefiltering: str
    samples_per_record: int
    offset: int
    rate: Fraction

    @property
    def sampling_frequency(self) -> float:
        return float(self.rate)

    @property
    def is_annotation(self) -> bool:
        return self.label in ANNOTATION_LABELS

    def calibration_problem(self, *, is_bdf: bool) -> str | None:
        """Why this signal's samples cannot be turned into physical values, or None."""
        p = (self.physical_min, self.physical_max)
        d = (self.digital_min, self.digital_max)
        limits = DIGITAL_LIMITS[is_bdf]
        ranges = f"physical {p[0]:g}..{p[1]:g}, digital {d[0]:g}..{d[1]:g} in the header"
        if not all(math.isfinite(v) for v in (*p, *d)):
            return f"has a non-finite calibration ({ranges})"
        if max(abs(p[0]), abs(p[1])) > MAX_PHYSICAL_MAGNITUDE:
            return f"has an absurd physical range ({ranges})"
        if p[0] == p[1] or d[0] == d[1]:
            return f"has no usable calibration: {ranges}"
        if d[0] > d[1]:
            return f"has its digital minimum above its maximum ({ranges})"
        if d[0] < limits[0] or d[1] > limits[1] or d[0] != int(d[0]) or d[1] != int(d[1]):
            return (f"has digital limits outside the {'24' if is_bdf else '16'}-bit range of a "
                    f"{'BDF' if is_bdf else 'EDF'} file ({ranges})")
        return None


@dataclass(frozen=True)
class EdfHeader:
    """The parsed main header and signal headers of one file."""

    path: Path
    is_bdf: bool
    patient: str
    recording: str
    startdate: str
    starttime: str
    reserved: str
    n_records: int
    record_duration: Fraction
    signals: tuple[SignalHeader, ...]
    notes: tuple[str, ...] = ()  # what a user should know about how the file was read (a dropped partial record)

    @property
    def header_bytes(self) -> int:
        return 256 * (len(self.signals) + 1)

    @property
    def record_samples(self) -> int:
        return sum(s.samples_per_record for s in self.signals)

    @property
    def sample_bytes(self) -> int:
        return 3 if self.is_bdf else 2

    @property
    def duration(self) -> Fraction:
        return self.n_records * self.record_duration

    @property
    def is_discontinuous(self) -> bool:
        return self.reserved.strip().upper().endswith("+D")

    @property
    def data_signals(self) -> list[SignalHeader]:
        return [s for s in self.signals if not s.is_annotation]


def _text(raw: bytes) -> str:
    return raw.decode("latin-1").strip()


def _number(path: Path, raw: bytes, what: str) -> float:
    text = _text(raw)
    try:
        return float(text)
    except ValueError:
        raise DataError(path, f"not an EDF/BDF file: unreadable {what} {text[:20]!r} in the header") from None


def read_header(path: str | Path) -> EdfHeader:
    """Parse and check the header of ``path``; every problem is a one-line DataError naming the file.

    Examples
    --------
    >>> import edfio, numpy as np, tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> s = edfio.EdfSignal(np.zeros(3001), 3001 / 30, label="EEG", physical_range=(-1, 1))
    >>> edfio.Edf([s], data_record_duration=30).write(folder / "x.edf")
    >>> read_header(folder / "x.edf").signals[0].rate
    Fraction(3001, 30)
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "file not found")
    size = path.stat().st_size
    if size == 0:
        raise DataError(path, "empty file")
    with path.open("rb") as f:
        head = f.read(256)
        if len(head) < 256:
            raise DataError(path, f"not an EDF/BDF file: only {len(head)} bytes")
        is_bdf = head[:1] == b"\xff"
        try:
            n_records = int(_text(head[236:244]))
            n_signals = int(_text(head[252:256]))
        except ValueError:
            raise DataError(path, "not an EDF/BDF file: unreadable header") from None
        duration_text = _text(head[244:252])
        try:
            record_duration = Fraction(duration_text)
        except (ValueError, ZeroDivisionError):
            if duration_text.lower() in ("nan", "inf", "+inf", "-inf", "infinity"):
                raise DataError(path, f"the header's data-record duration is {duration_text} (must be a "
                                      "positive number of seconds)") from None
            raise DataError(path, "not an EDF/BDF file: unreadable header") from None
        if n_signals <= 0:
            raise DataError(path, "the header declares no signals")
        declared = _text(head[184:192])
        if declared.isdigit() and int(declared) != 256 * (n_signals + 1):
            raise DataError(path, f"the header says it is {int(declared)} bytes long, but its {n_signals} signal(s) "
                                  f"make it {256 * (n_signals + 1)}: a corrupt header")
        if n_signals > 10_000:
            raise DataError(path, f"the header declares {n_signals} signals (absurd: a corrupt header?)")
        if record_duration == 0 and _text(head[192:236]).startswith("EDF+"):
            # EDF+ files of annotations alone (Sleep-EDF's hypnograms) declare records of 0 s
            raise DataError(path, "an EDF+ file of annotations only (data records of 0 s, as a hypnogram is), "
                                  "not a recording of signals")
        if not record_duration > 0:
            raise DataError(path, f"the header's data-record duration is {float(record_duration):g} s (must be positive)")
        raw = f.read(256 * n_signals)
    if len(raw) < 256 * n_signals:
        raise DataError(path, "truncated: the file ends inside its header")
    fields: dict[str, list[bytes]] = {}
    at = 0
    for name, width in _SIGNAL_FIELDS:
        fields[name] = [raw[at + width * i: at + width * (i + 1)] for i in range(n_signals)]
        at += width * n_signals
    try:
        samples = [int(_text(b)) for b in fields["samples_per_record"]]
    except ValueError:
        raise DataError(path, "not an EDF/BDF file: unreadable signal header") from None
    if any(n < 0 for n in samples) or sum(samples) == 0:
        raise DataError(path, f"the header declares {samples[:8]} samples per data record (must be positive)")
    signals, offset = [], 0
    for i in range(n_signals):
        label = _text(fields["label"][i])
        signals.append(SignalHeader(
            index=i, label=label, transducer=_text(fields["transducer"][i]),
            physical_dimension=_text(fields["physical_dimension"][i]),
            physical_min=_number(path, fields["physical_min"][i], "physical minimum"),
            physical_max=_number(path, fields["physical_max"][i], "physical maximum"),
            digital_min=_number(path, fields["digital_min"][i], "digital minimum"),
            digital_max=_number(path, fields["digital_max"][i], "digital maximum"),
            prefiltering=_text(fields["prefiltering"][i]), samples_per_record=samples[i], offset=offset,
            rate=Fraction(samples[i]) / record_duration,
        ))
        offset += samples[i]
    fastest = max((s for s in signals if not s.is_annotation), key=lambda s: s.rate, default=None)
    if fastest is not None and fastest.rate > MAX_SAMPLING_RATE:
        raise DataError(path, f"channel {fastest.label!r} would be sampled at {float(fastest.rate):.3g} Hz "
                              f"({fastest.samples_per_record} samples per {float(record_duration):g}-s record: absurd)")
    header = EdfHeader(path, is_bdf, _text(head[8:88]), _text(head[88:168]), _text(head[168:176]),
                       _text(head[176:184]), _text(head[192:236]), n_records, record_duration, tuple(signals))
    return _check_size(header, size)


def _odd_rate(rate: Fraction) -> bool:
    """A rate within 1 % of a whole number of Hz but not on it (2999 samples per 30 s: 99.967 Hz).

    Recorders sample at whole rates; such a rate is nearly always a misstated
    samples-per-record field.
    """
    nearest = round(rate)
    return nearest >= 1 and rate != nearest and abs(rate - nearest) < nearest / 100


def _check_size(header: EdfHeader, size: int) -> EdfHeader:
    """Compare the header with the file's size: the data must be exactly the announced records.

    Why exact: a samples-per-record field off by one (2999 declared, 3000 stored)
    still leaves about the announced number of whole records, and reading them
    would shift every channel by a sample per record: plausible numbers, garbage
    signals. With a record count of -1 (a recorder that never closed the file and
    may have stopped inside a record) the whole records are counted and a
    trailing partial one is dropped, with a note, unless a signal's rate is just
    off a whole one (:func:`_odd_rate`): then the size check that catches a
    misstated samples-per-record field is missing, and the file is refused.
    """
    path = header.path
    record_bytes = header.record_samples * header.sample_bytes
    data_bytes = max(size - header.header_bytes, 0)
    present, leftover = divmod(data_bytes, record_bytes)
    if header.n_records == 0:
        raise DataError(path, "the file holds no data records")
    if header.n_records < 0:
        if present <= 0:
            raise DataError(path, "the file holds no data records")
        notes = header.notes
        odd = [sig for sig in header.data_signals if _odd_rate(sig.rate)] if leftover else []
        if odd:  # nothing checks the samples per record then; an off-by-one is the likelier story
            sig = odd[0]
            raise DataError(path, f"the header's record count is -1 and signal {sig.label!r} declares "
                                  f"{sig.samples_per_record} samples per {float(header.record_duration):g}-s record "
                                  f"({float(sig.rate):.6g} Hz, just off a whole rate), with {leftover} bytes left "
                                  "over after the whole records: a samples-per-record field likely misstates the "
                                  "file; correct it, or the record count (bytes 236-244)")
        if leftover:
            notes += (f"the header's record count is -1 (the recording was not closed): {present} whole data "
                      f"records read, a last partial record of {leftover} of {record_bytes} bytes dropped",)
        header = EdfHeader(**{**header.__dict__, "n_records": int(present), "notes": notes})
    elif present < header.n_records:
        raise DataError(path, f"truncated: the header announces {header.n_records} data records, the file holds "
                              f"{present}")
    elif present > header.n_records:  # which is right is unknowable: reading either could silently drop hours
        raise DataError(path, f"the header announces {header.n_records} data records but the file holds {present} "
                              "(a header not updated when the recording ended?); correct its record count (bytes "
                              "236-244)")
    elif leftover:
        raise DataError(path, f"{data_bytes} bytes of data, but the header's {header.n_records} data records "
                              f"of {record_bytes} bytes make {header.n_records * record_bytes}: a samples-per-record "
                              "or record-count field of the header misstates the file")
    if header.duration > MAX_RECORDING_SECONDS:
        raise DataError(path, f"the header announces {header.n_records} data records of "
                              f"{float(header.record_duration):g} s ({float(header.duration) / 86400:.3g} days: absurd)")
    return header
