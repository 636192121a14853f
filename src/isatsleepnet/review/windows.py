"""A window of signals for the review page: read on demand, display-filtered, packed as binary.

Why on demand: a 22-hour night of 8 channels at 256 Hz is 160 M samples; the review
server reads only the window shown (and the page prefetches its neighbours), through
the recording's lazy reader. The display filter runs on the window plus a margin on
each side, so that its edges show no filter transient; the recording is never changed.

Windows are in real time from the recording's start: the server reads an EDF+D through
:func:`~isatsleepnet.data.readers.real_time.in_real_time`, whose gaps are NaN. The filter runs
on each recorded stretch on its own, so that a gap stays a gap (NaN, which the page draws as a
break in the trace) and does not spread over the window.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from isatsleepnet.data.readers.recording import Recording
from isatsleepnet.errors import SettingError

WINDOW_SECONDS = (30, 60, 120, 300)
"""The windows the page offers: 30 s (one epoch, the default), 1, 2 and 5 minutes."""
MARGIN_SECONDS = 5.0
"""Signal read on each side of the window for the display filter, then dropped."""
FILTER_MIN_SAMPLES = 3 * 13
"""Fewer samples than this are shown unfiltered: filtfilt pads each end with a few samples it must have."""


@dataclass(frozen=True)
class DisplayFilter:
    """What the page shows of a channel: a high-pass, a low-pass and a notch in Hz (None: off)."""

    high_pass: float | None = None
    low_pass: float | None = None
    notch: float | None = None

    def __post_init__(self) -> None:
        for name in ("high_pass", "low_pass", "notch"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise SettingError(name, f"must be a frequency above 0 Hz or None, not {value!r}")
        if self.high_pass and self.low_pass and self.high_pass >= self.low_pass:
            raise SettingError("high_pass", f"{self.high_pass:g} Hz must lie below the low-pass {self.low_pass:g} Hz")


DEFAULT_FILTERS: dict[str, DisplayFilter] = {
    "eeg": DisplayFilter(0.3, 35.0),
    "eog": DisplayFilter(0.3, 35.0),
    "emg": DisplayFilter(10.0, 100.0),
    "ecg": DisplayFilter(0.3, 70.0),
    "other": DisplayFilter(),
}
"""AASM's recommended display filters per channel type (the scoring manual's routine settings)."""


def channel_type(label: str) -> str:
    """``eeg``, ``eog``, ``emg``, ``ecg`` or ``other``, read from a channel's label.

    Examples
    --------
    >>> [channel_type(x) for x in ("EEG Fpz-Cz", "EOG horizontal", "EMG submental", "ECG", "C4-M1", "Resp")]
    ['eeg', 'eog', 'emg', 'ecg', 'eeg', 'other']
    """
    key = label.strip().lower()
    for kind in ("eog", "emg", "ecg", "eeg"):
        if kind in key:
            return kind
    if key.startswith(("e1", "e2", "loc", "roc")):
        return "eog"
    if key.startswith(("chin",)):
        return "emg"
    if key[:2].rstrip("0123456789z") in ("f", "c", "o", "p", "t", "fp", "a", "m") and any(c.isdigit() for c in key):
        return "eeg"
    return "other"


def filtered(samples: np.ndarray, rate: float, display: DisplayFilter) -> np.ndarray:
    """``samples`` through ``display``'s filters (zero-phase); cut-offs at or above Nyquist are skipped."""
    from scipy import signal

    nyquist = rate / 2
    out = samples
    if display.high_pass and display.high_pass < nyquist:
        out = signal.sosfiltfilt(signal.butter(2, display.high_pass, "highpass", fs=rate, output="sos"), out)
    if display.low_pass and display.low_pass < nyquist:
        out = signal.sosfiltfilt(signal.butter(4, display.low_pass, "lowpass", fs=rate, output="sos"), out)
    if display.notch and display.notch < nyquist:
        b, a = signal.iirnotch(display.notch, 30.0, fs=rate)
        out = signal.filtfilt(b, a, out)
    return out


def filtered_around_gaps(samples: np.ndarray, rate: float, display: DisplayFilter) -> np.ndarray:
    """``samples`` through :func:`filtered`, each run of finite samples on its own; NaN (a gap) stays NaN.

    Why run by run: a filter fed one NaN returns NaN from there on, and a zero-phase one on both
    sides, so a window touching a gap would show nothing at all. A run too short to filter
    (:data:`FILTER_MIN_SAMPLES`) is shown as recorded.

    Examples
    --------
    >>> x = np.r_[np.ones(100), np.nan, np.nan, np.ones(100)]
    >>> y = filtered_around_gaps(x, 100.0, DisplayFilter(low_pass=10.0))
    >>> bool(np.isnan(y[100:102]).all()), bool(np.allclose(y[:100], 1)), bool(np.allclose(y[102:], 1))
    (True, True, True)
    """
    finite = np.isfinite(samples)
    if finite.all():
        return filtered(samples, rate, display) if len(samples) > FILTER_MIN_SAMPLES else samples
    out = np.array(samples, dtype=np.float64)
    edges = np.flatnonzero(np.diff(np.r_[0, finite.astype(np.int8), 0]))  # starts and stops of the runs
    for lo, hi in zip(edges[::2], edges[1::2]):
        if hi - lo > FILTER_MIN_SAMPLES:
            out[lo:hi] = filtered(samples[lo:hi], rate, display)
    return out


@dataclass(frozen=True)
class Trace:
    """One channel of a window: its samples in µV from ``start_s`` on, at ``rate`` Hz (NaN: not recorded)."""

    label: str
    rate: float
    start_s: float
    samples: np.ndarray


def read_window(recording: Recording, labels: Sequence[str], start_s: float, seconds: float,
                filters: dict[str, DisplayFilter] | None = None) -> list[Trace]:
    """The channels ``labels`` of ``recording`` from ``start_s`` for ``seconds``, display-filtered.

    ``filters`` maps a channel label or a channel type (``eeg``...) to its filter;
    :data:`DEFAULT_FILTERS` otherwise. Only the window and its margins are read. Sample ``j``
    of ``recording`` is taken to lie at ``j / rate`` s from its start: give an EDF+D through
    :func:`~isatsleepnet.data.readers.real_time.in_real_time` (as the server does); what it did
    not record is NaN, left out of the filter (:func:`filtered_around_gaps`).

    Examples
    --------
    >>> from isatsleepnet.data.readers.memory import MemoryRecording
    >>> night = MemoryRecording.from_arrays(np.random.default_rng(0).normal(size=(2, 60_000)), 100.0, ["C4", "EMG"])
    >>> [(t.label, t.samples.shape) for t in read_window(night, ["EMG", "C4"], 30.0, 30.0)]
    [('EMG', (3000,)), ('C4', (3000,))]
    """
    if not (math.isfinite(start_s) and start_s >= 0):
        raise SettingError("start", f"must be a time in the recording, in seconds from its start, not {start_s!r}")
    if seconds not in WINDOW_SECONDS:
        raise SettingError("seconds", f"must be one of {', '.join(map(str, WINDOW_SECONDS))}, not {seconds!r}")
    filters = filters or {}
    traces = []
    for label in labels:
        headers = channel_headers(recording, label)  # one channel, or the two of a derivation A-B
        rate = float(headers[0].rate)
        total = min(recording.n_samples(h) for h in headers)
        first, stop = round(start_s * rate), min(total, round((start_s + seconds) * rate))
        first = min(first, stop)
        margin = round(MARGIN_SECONDS * rate)
        lo, hi = max(0, first - margin), min(total, stop + margin)
        parts = [recording.read_samples(h, lo, hi) if hi > lo else np.zeros(0) for h in headers]
        raw = parts[0] if len(parts) == 1 else parts[0] - parts[1]
        kind = channel_type(headers[0].label)  # a derivation is of its first channel's type
        display = filters.get(label) or filters.get(kind) or DEFAULT_FILTERS[kind]
        shown = filtered_around_gaps(raw, rate, display)
        traces.append(Trace(label, rate, first / rate, np.asarray(shown[first - lo: stop - lo], dtype=np.float32)))
    let_go(recording)
    return traces


def let_go(recording: Recording) -> None:
    """Unmap what a file reader mapped (:meth:`EdfRecording.release`), so a long review holds no whole night."""
    release = getattr(recording, "release", None)
    if callable(release):
        release()


def channel_headers(recording: Recording, label: str) -> list[Any]:
    """The channel ``label`` of ``recording``, or the channels A and B of a derivation ``A-B`` (as `stage`
    forms them, :mod:`isatsleepnet.data.derivations`); a one-line error when neither is there.

    Examples
    --------
    >>> from isatsleepnet.data.readers.memory import MemoryRecording
    >>> night = MemoryRecording.from_arrays(np.zeros((2, 3000)), 100.0, ["EEG C4-REF", "A1"])
    >>> [h.label for h in channel_headers(night, "C4-M1")]
    ['EEG C4-REF', 'A1']
    """
    from isatsleepnet.data.derivations import find_derivation

    if label in recording.channel_names:
        return [recording.signal(label)]
    role = "eog" if channel_type(label) == "eog" else "eeg"
    pair, why = find_derivation(recording, role, label)
    if pair is None:
        raise SettingError("channels", f"name {label!r}, neither a channel of the recording nor a derivation A-B of "
                                       f"two of them ({why or 'not of the form A-B'})")
    if pair[0].rate != pair[1].rate:
        raise SettingError("channels", f"name {label!r}: {pair[0].label!r} and {pair[1].label!r} are sampled at "
                                       "different rates; show them one by one")
    return list(pair)


def pack(traces: Sequence[Trace]) -> bytes:
    """The traces as one binary message: a 4-byte little-endian length, a JSON header, float32 samples.

    The header lists each trace's ``label``, ``rate``, ``start`` and sample count ``n``,
    padded with spaces so that the samples start on a 4-byte boundary (a ``Float32Array``
    views them in place). A sample not recorded (a gap of an EDF+D) is NaN.

    Examples
    --------
    >>> message = pack([Trace("C4", 100.0, 30.0, np.ones(3, dtype=np.float32))])
    >>> size = struct.unpack("<I", message[:4])[0]
    >>> json.loads(message[4:4 + size]), np.frombuffer(message[4 + size:], "<f4").tolist()
    ([{'label': 'C4', 'rate': 100.0, 'start': 30.0, 'n': 3}], [1.0, 1.0, 1.0])
    """
    header = json.dumps([{"label": t.label, "rate": t.rate, "start": t.start_s, "n": int(len(t.samples))}
                         for t in traces]).encode()
    header += b" " * (-(4 + len(header)) % 4)
    body = b"".join(np.ascontiguousarray(t.samples, dtype="<f4").tobytes() for t in traces)
    return struct.pack("<I", len(header)) + header + body
