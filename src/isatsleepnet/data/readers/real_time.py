"""A recording on its real time axis: an EDF+D's segments where they were recorded, NaN in its gaps.

Why: an EDF+D stores its data records back to back, each stamped with its own start
time, so sample ``j`` of the file is not at time ``j / rate`` once a gap (or a late
first record) has passed. Staging maps real to stored time itself
(:class:`~isatsleepnet.inference.raw.RawRecording`); a reader that indexes samples by
time, as the review page's windows and spectrogram do, would show the signals of
another time. :class:`RealTimeRecording` offers the same :class:`Recording` members
with sample ``j`` at ``j / rate`` seconds from the recording's (header) start:
each segment's stored samples where it lies, NaN where nothing was recorded.
A segment whose start falls between two samples of that grid is placed at the
nearest one (at most half a sample off; staging resamples exactly).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from isatsleepnet.data.readers.edf_segments import Segment, contiguous_segments, is_discontinuous, record_onsets
from isatsleepnet.data.readers.recording import Recording
from isatsleepnet.data.signal import exact

if TYPE_CHECKING:
    from isatsleepnet.data.readers.edf import Annotation
    from isatsleepnet.data.readers.edf_header import SignalHeader


@dataclass(frozen=True)
class RealTimeRecording:
    """``psg`` read in real time: ``segments`` say where its stored data lie (see the module's docstring).

    Examples
    --------
    >>> from isatsleepnet.data.readers.memory import MemoryRecording
    >>> psg = MemoryRecording.from_arrays(np.arange(6.0)[None], 1.0, ["C4"])  # 6 s stored at 1 Hz
    >>> night = RealTimeRecording(psg, (Segment(0.0, 0.0, 3.0), Segment(5.0, 3.0, 3.0)))  # a 2-s gap at 3 s
    >>> night.duration, night.read_samples(night.signal("C4"), 0, 8).tolist()
    (8.0, [0.0, 1.0, 2.0, nan, nan, 3.0, 4.0, 5.0])
    """

    psg: Recording
    segments: Sequence[Segment]

    @property
    def path(self) -> Path:
        return self.psg.path

    @property
    def signals(self) -> list[SignalHeader]:
        return self.psg.signals

    @property
    def channel_names(self) -> list[str]:
        return self.psg.channel_names

    @property
    def notes(self) -> list[str]:
        return self.psg.notes

    @property
    def duration(self) -> float:
        """Seconds from the recording's start to the end of its data, gaps included."""
        return self.segments[-1].real_stop if self.segments else 0.0

    @property
    def start(self) -> dt.datetime | None:
        return self.psg.start

    @property
    def annotations(self) -> list[Annotation]:
        """The file's annotations: EDF+ onsets already count from the recording's start, in real time."""
        return self.psg.annotations

    def signal(self, label: str) -> SignalHeader:
        return self.psg.signal(label)

    def microvolts_per_unit(self, signal: SignalHeader, *, assume_unit: str | None = None) -> float:
        return self.psg.microvolts_per_unit(signal, assume_unit=assume_unit)

    def n_samples(self, signal: SignalHeader) -> int:
        """Samples of ``signal`` on the real time grid, from the recording's start to the end of its data."""
        return round(exact(self.duration) * signal.rate)

    def read_samples(self, signal: SignalHeader, first: int, stop: int, *,
                     assume_unit: str | None = None) -> np.ndarray:
        """Samples ``first <= j < stop`` of the real time grid in µV; NaN where nothing was recorded."""
        first, stop = max(first, 0), min(stop, self.n_samples(signal))
        out = np.full(max(stop - first, 0), np.nan)
        stored_total = self.psg.n_samples(signal)
        for seg in self.segments:
            at = round(exact(seg.real_start) * signal.rate)  # where the segment's first sample lies in real time
            base = round(exact(seg.stored_start) * signal.rate)  # ... and in the file
            length = min(round(exact(seg.duration) * signal.rate), stored_total - base)
            lo, hi = max(first, at), min(stop, at + length)
            if hi > lo:
                out[lo - first: hi - first] = self.psg.read_samples(signal, base + lo - at, base + hi - at,
                                                                    assume_unit=assume_unit)
        return out

    def release(self) -> None:
        """Let the file's memory map go, as the reader it wraps does (see ``EdfRecording.release``)."""
        release = getattr(self.psg, "release", None)
        if callable(release):
            release()


def in_real_time(recording: Recording) -> Recording:
    """``recording`` read in real time: a :class:`RealTimeRecording` for an EDF+D (or BDF+D) whose data
    do not run from its start without a gap, ``recording`` itself otherwise (its samples already are).

    A file whose records carry no time stamps, or go back in time, is a one-line ``DataError``.

    Examples
    --------
    >>> from isatsleepnet.data.readers.memory import MemoryRecording
    >>> psg = MemoryRecording.from_arrays(np.zeros((1, 300)), 100.0, ["C4"])
    >>> in_real_time(psg) is psg
    True
    """
    from isatsleepnet.data.readers.edf import EdfRecording

    if not isinstance(recording, EdfRecording) or not is_discontinuous(recording.path):
        return recording
    onsets, record_s = record_onsets(recording.path)
    segments = contiguous_segments(onsets, record_s, path=recording.path)
    if len(segments) == 1 and segments[0].real_start == 0:
        return recording
    return RealTimeRecording(recording, tuple(segments))
