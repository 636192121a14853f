"""The contiguous segments of a discontinuous EDF+D / BDF+D recording.

In EDF+D the data records are stored back to back but each one carries its own
start time: the first time-stamped annotation list (TAL) of the annotation
signal in every record, ``+<onset>\\x14\\x14\\x00``. edfio reads such files as if
the records were contiguous; this module reads those onsets (straight from the
file, the header tells where each record's annotation bytes lie) and groups
records that follow one another without a gap into segments, so that a reader
can map real time (from the recording start) to stored time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from isatsleepnet.errors import DataError

_ONSET = re.compile(rb"^([+-]\d+(?:\.\d*)?)(?:\x15[\d.]*)?\x14")  # +onset[\x15duration]\x14


@dataclass(frozen=True)
class Segment:
    """A run of data records without a gap: where it lies in real and in stored time (seconds)."""

    real_start: float
    stored_start: float
    duration: float

    @property
    def real_stop(self) -> float:
        return self.real_start + self.duration


def is_discontinuous(path: str | Path) -> bool:
    """Whether the header's reserved field says EDF+D (or BDF+D)."""
    with Path(path).open("rb") as f:
        head = f.read(236)
    return head[192:236].decode("ascii", "replace").strip().upper().endswith("+D")


def record_onsets(path: str | Path) -> tuple[np.ndarray, float]:
    """Each data record's onset (s from the recording start) and the record duration."""
    path = Path(path)
    with path.open("rb") as f:
        head = f.read(256)
        is_bdf = head[:1] == b"\xff"
        n_records = int(head[236:244].decode("ascii").strip())
        record_s = float(head[244:252].decode("ascii").strip())
        n_signals = int(head[252:256].decode("ascii").strip())
        signal_header = f.read(256 * n_signals)
    labels = [signal_header[16 * i: 16 * (i + 1)].decode("ascii", "replace").strip() for i in range(n_signals)]
    offset = 216 * n_signals
    samples = [int(signal_header[offset + 8 * i: offset + 8 * (i + 1)].decode("ascii").strip())
               for i in range(n_signals)]
    wanted = "BDF Annotations" if is_bdf else "EDF Annotations"
    if wanted not in labels:
        raise DataError(path, f"EDF+D without an '{wanted}' signal: the data records carry no start times")
    width = 3 if is_bdf else 2
    index = labels.index(wanted)
    start = sum(samples[:index]) * width
    length = samples[index] * width
    record_bytes = sum(samples) * width
    if n_records < 0:  # -1: the recorder never wrote the count; the file size tells it
        n_records = (path.stat().st_size - 256 * (n_signals + 1)) // record_bytes
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=256 * (n_signals + 1),
                     shape=(n_records, record_bytes))
    onsets = np.empty(n_records)
    for k in range(n_records):
        match = _ONSET.match(bytes(data[k, start: start + length]))
        if match is None:
            raise DataError(path, f"data record {k} has no time stamp in its annotation signal (EDF+D)")
        onsets[k] = float(match.group(1))
    return onsets, record_s


def contiguous_segments(onsets: np.ndarray, record_s: float, *, path: str | Path = "") -> list[Segment]:
    """Group records into gap-free segments; records that go back in time are an error."""
    segments: list[Segment] = []
    first = 0
    for k in range(1, len(onsets) + 1):
        if k < len(onsets):
            step = onsets[k] - onsets[k - 1]
            if step < record_s - 1e-6:
                raise DataError(Path(path), f"data record {k} starts at {onsets[k]:g} s, before the previous "
                                            "one ends (EDF+D records must go forward in time)")
            if abs(step - record_s) <= 1e-6:
                continue
        segments.append(Segment(float(onsets[first]), first * record_s, (k - first) * record_s))
        first = k
    return segments
