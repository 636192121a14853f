"""Read a raw recording (EDF/EDF+/BDF, or one in memory) into the epochs a model expects.

Each model role is resolved through the project's channel vocabulary
(:mod:`isatsleepnet.data.channels`: exact label, then aliases; the minimum
rate; units from the header), the same rules `prepare` applies. Channels are
converted to µV and resampled to the model's rate by the project's one
resampler (:func:`isatsleepnet.data.signal.resample_span`), on an exact time
grid: epoch ``k`` holds the samples of ``k·30 s`` to ``(k+1)·30 s`` whatever
the recording's rate. A role may be a derivation ``A-B`` of two channels
(:mod:`isatsleepnet.data.derivations`): each half is resampled onto that grid
and then subtracted.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from isatsleepnet.data import signal as sig
from isatsleepnet.data.channels import (
    ChannelChoice,
    Sources,
    flat_channel_findings,
    flat_halves,
    resolve_channels,
    role_kind,
    stand_in_warnings,
)
from isatsleepnet.data.derivations import difference
from isatsleepnet.data.readers.edf import EdfRecording
from isatsleepnet.data.readers.edf_header import SignalHeader
from isatsleepnet.data.readers.formats import open_recording
from isatsleepnet.data.readers.edf_segments import (
    Segment,
    contiguous_segments,
    is_discontinuous,
    record_onsets,
)
from isatsleepnet.data.readers.recording import Recording
from isatsleepnet.errors import DataError, IsatSleepNetError


@dataclass(frozen=True)
class ModelInputs:
    """What a model needs from a recording: one channel per role, at one rate, in epochs."""

    roles: tuple[str, ...]
    channels: tuple[str, ...]  # label of each role in the training data
    sampling_rate: float
    epoch_seconds: float

    def __post_init__(self) -> None:
        if len(self.roles) != len(self.channels) or not self.roles:
            raise IsatSleepNetError("model file: roles and channels do not match")

    @property
    def n_samples(self) -> int:
        return int(round(self.epoch_seconds * self.sampling_rate))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ModelInputs:
        """From a ModelFile's fields (or the same keys stored in an ONNX file)."""
        return cls(tuple(d["roles"]), tuple(d["channels"]), float(d["sampling_rate"]), float(d["epoch_seconds"]))


_STAND_INS = {"eeg": "C4-M1", "eeg2": "C3-M2", "eog": "E1-M2", "eog2": "E2-M1"}


def check_overrides(inputs: ModelInputs, overrides: Mapping[str, Sequence[str]] | None) -> None:
    """Refuse channels given for roles the model lacks, and roles the model needs left out ("none", "").

    Examples
    --------
    >>> check_overrides(ModelInputs(("eeg", "eeg2"), ("EEG Fpz-Cz", "EEG Pz-Oz"), 100.0, 30.0), {"eeg2": ["none"]})
    Traceback (most recent call last):
    ...
    isatsleepnet.errors.IsatSleepNetError: the model needs its eeg2 input (it was trained on channel 'EEG Pz-Oz'): ...
    """
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(inputs.roles))
    if unknown:
        raise IsatSleepNetError(f"the model has no {', '.join(unknown)} input (its roles: {', '.join(inputs.roles)})")
    trained = dict(zip(inputs.roles, inputs.channels))
    for role, names in overrides.items():
        if isinstance(names, str):
            raise IsatSleepNetError(f"channels for {role} must be a list of names, not the string {names!r}")
        if not any(not n.strip() or n.strip().lower() == "none" for n in names):
            continue
        kind = role_kind(role)
        others = [r for r in inputs.roles if r != role and role_kind(r) == kind]
        same = f", or the same channel as {{{others[0]}}}" if others else ""
        example = f" such as {_STAND_INS[role]}" if role in _STAND_INS else ""
        raise IsatSleepNetError(f"the model needs its {role} input (it was trained on channel {trained[role]!r}): it "
                                f"cannot be left out; give another {kind.upper()} channel or a derivation{example}"
                                f"{same}")


_LIGHTS = re.compile(r"^\s*lights?[\s_-]*(off|out|on)\b", re.IGNORECASE)


def lights_marker(text: str) -> str | None:
    """"off" for a lights-off annotation ("Lights off", "LIGHTS OUT", "lights_off"), "on" for lights-on."""
    match = _LIGHTS.match(text or "")
    if not match:
        return None
    return "on" if match.group(1).lower() == "on" else "off"


READ_EPOCHS = 256
"""Epochs of one channel read at a time: a 22-h night at 100 Hz is 64 MB of float64 per channel read whole,
and this machine pays ~6.5 µs for each fresh 4-KB page a process touches (SC4001, 3 channels: the read took
0.08-0.09 s in pieces against 0.10-0.11 s whole, and when the kernel had no huge page at hand 0.22-0.27 s
against 0.29-0.34 s; Zen 4, 2026-12-07)."""


@dataclass
class RawRecording:
    """An opened recording whose channels are resolved for a model; data read on demand."""

    psg: Recording
    inputs: ModelInputs
    choices: list[ChannelChoice]
    assume_unit: str | None = None
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # what makes the stages doubtful, shown prominently
    segments: list[Segment] | None = None  # EDF+D: gap-free runs of data records; None: continuous
    signals: list[Sources] = field(default_factory=list)  # per choice: its channel, or the two of its derivation

    @classmethod
    def open(
        cls,
        source: str | Path | Recording | Any,
        inputs: ModelInputs,
        *,
        overrides: Mapping[str, Sequence[str]] | None = None,
        assume_unit: str | None = None,
    ) -> RawRecording:
        """Open ``source`` (a file's path, read by its format in
        :data:`~isatsleepnet.data.readers.formats.SIGNAL_FORMATS`; an opened :class:`Recording`; an MNE
        ``Raw``) and pick a channel or a derivation per role; errors name the file and what is missing.

        ``overrides`` (role -> names, alternatives in order) replace the channels the model was
        trained on; a name may be a derivation such as ``"C4-M1"``.

        Examples
        --------
        >>> import numpy as np
        >>> from isatsleepnet.data.readers.memory import MemoryRecording
        >>> psg = MemoryRecording.from_arrays(np.zeros((2, 6000)), 100.0, ["EEG C4-REF", "A1"])
        >>> rec = RawRecording.open(psg, ModelInputs(("eeg",), ("C4-M1",), 100.0, 30.0))
        >>> rec.choices[0].derived_from, rec.read().shape
        (('EEG C4-REF', 'A1'), (2, 1, 3000))
        """
        check_overrides(inputs, overrides)
        psg = open_recording(source)
        overrides = dict(overrides or {})
        trained = dict(zip(inputs.roles, inputs.channels))
        wanted = {role: list(overrides.get(role) or [trained[role]]) for role in inputs.roles}
        resolved = resolve_channels(psg, wanted, working_rate=inputs.sampling_rate, assume_unit=assume_unit,
                                    trained=trained)
        choices = [choice for choice, _ in resolved]
        recording = cls(psg, inputs, choices, assume_unit, signals=[headers for _, headers in resolved])
        recording.notes.extend(psg.notes)  # how the file was read (a partial last record dropped)
        recording.warnings.extend(stand_in_warnings(choices, trained))
        if isinstance(psg, EdfRecording) and is_discontinuous(psg.path):
            onsets, record_s = record_onsets(psg.path)
            recording.segments = contiguous_segments(onsets, record_s, path=psg.path)
            gaps = len(recording.segments) - 1
            lead = recording.segments[0].real_start
            if gaps or lead > 0:
                missing = recording.duration - lead - sum(seg.duration for seg in recording.segments)
                parts = [f"data start {lead:g} s after the recording start"] if lead > 0 else []
                if gaps:
                    parts.append(f"{gaps} gap(s), {missing:g} s without data between them")
                recording.notes.append(f"discontinuous recording (EDF+D): {'; '.join(parts)}; epochs not wholly "
                                       "recorded are not staged")
        for c, headers in resolved:
            if c.derived_from is not None:
                halves = " minus ".join(f"{h.label!r} ({h.sampling_frequency:g} Hz)" for h in headers)
                recording.notes.append(f"{c.role}: {c.label!r} derived as {halves}, each at "
                                       f"{inputs.sampling_rate:g} Hz")
            elif c.rate != inputs.sampling_rate:
                recording.notes.append(f"{c.role}: {c.label!r} resampled from {c.rate:g} to {inputs.sampling_rate:g} Hz")
        for c in choices:
            if c.matched == "alias":
                recording.notes.append(f"{c.role}: using channel {c.label!r} as an alias")
        by_label: dict[str, list[str]] = {}
        for c in choices:
            by_label.setdefault(c.label, []).append(c.role)
        for label, roles in by_label.items():
            if len(roles) > 1:  # legal (a lab with one EEG channel), but rarely what was meant
                recording.notes.append(f"channel {label!r} feeds {' and '.join(roles)}: the model was trained "
                                       "on different channels for these inputs")
        if recording.ignored_seconds > 0:
            recording.notes.append(
                f"the last {recording.ignored_seconds:g} s are shorter than an epoch and were not staged"
            )
        return recording

    def lights(self) -> tuple[float | None, float | None]:
        """Onsets (s from the start) of the first "Lights off" and the last "Lights on" after it.

        Read from the recording's EDF+ annotations; spellings such as "LIGHTS OFF",
        "Lights out", "lights_off" match. None where a marker is missing.
        """
        markers = [(lights_marker(a.text), a.onset) for a in self.psg.annotations]
        offs = sorted(onset for kind, onset in markers if kind == "off")
        off = offs[0] if offs else None
        ons = [onset for kind, onset in markers if kind == "on" and (off is None or onset > off)]
        return off, (max(ons) if ons else None)

    @property
    def path(self) -> Path:
        return self.psg.path

    @property
    def start(self) -> dt.datetime | None:
        return self.psg.start

    @property
    def duration(self) -> float:
        """Seconds from the recording start to the end of its data (gaps of an EDF+D included)."""
        if self.segments:
            return self.segments[-1].real_stop
        return self.psg.duration

    def available(self, first: int, stop: int) -> np.ndarray:
        """The epochs of ``first``..``stop`` that are wholly recorded (all of them unless EDF+D has gaps)."""
        index = np.arange(first, stop)
        return index[self._segment_of(index)[1]]

    def _all_segments(self) -> list[Segment]:
        return self.segments or [Segment(0.0, 0.0, self.psg.duration)]

    def _segment_of(self, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per epoch: the segment its start falls in (-1: before all), and whether it lies wholly inside it."""
        segments, epoch_s = self._all_segments(), self.inputs.epoch_seconds
        starts = np.array([seg.real_start for seg in segments])
        stops = np.array([seg.real_stop for seg in segments])
        which = np.searchsorted(starts, index * epoch_s + 1e-6, side="right") - 1
        inside = (which >= 0) & ((index + 1) * epoch_s <= stops[np.maximum(which, 0)] + 1e-6)
        return which, inside

    @property
    def n_epochs(self) -> int:
        """Whole epochs in the recording (a final partial epoch is not one)."""
        return int(self.duration // self.inputs.epoch_seconds + 1e-9)

    @property
    def ignored_seconds(self) -> float:
        return round(self.duration - self.n_epochs * self.inputs.epoch_seconds, 6)

    def read(self, first: int = 0, stop: int | None = None, *, index: np.ndarray | None = None) -> np.ndarray:
        """Epochs in µV, float32 (n, channels, samples): ``first`` to ``stop`` (exclusive), or ``index``.

        ``index`` (increasing epoch numbers, e.g. ``available()``'s) may skip the
        gaps of an EDF+D recording; each gap-free run is read in one piece. An epoch
        that is not wholly recorded is an error.
        """
        if index is None:
            stop = self.n_epochs if stop is None else min(stop, self.n_epochs)
            if not 0 <= first < stop:
                raise DataError(self.path, f"no whole epoch to stage between epochs {first} and {stop}")
            index = np.arange(first, stop)
        index = np.asarray(index, dtype=np.int64)
        segments = self._all_segments()
        which, inside = self._segment_of(index)
        if not inside.all():
            raise DataError(self.path, f"epoch {int(index[~inside][0])} is not wholly recorded (a gap of the EDF+D)")
        # runs of consecutive epochs inside one segment, each read in one piece
        breaks = np.flatnonzero((np.diff(index) != 1) | (np.diff(which) != 0)) + 1
        if len(index) and not len(breaks):  # one run (a continuous recording): its own arrays, no copy
            out, halves = self._read_run(int(index[0]), len(index), segments[int(which[0])])
        else:
            out = np.empty((len(index), len(self.choices), self.inputs.n_samples), dtype=np.float32)
            halves = np.zeros((len(index), len(self.choices), 2), dtype=bool)
            for run in np.split(np.arange(len(index)), breaks) if len(index) else []:
                out[run], halves[run] = self._read_run(int(index[run[0]]), len(run), segments[int(which[run[0]])])
        self._note_flat(out, halves)
        return out

    def _read_run(self, first: int, n: int, seg: Segment) -> tuple[np.ndarray, np.ndarray]:
        """``n`` consecutive epochs from ``first``, all inside ``seg``, as (n, channels, samples), and
        per epoch and channel whether each half of a derivation is flat (n, channels, 2).

        Output sample ``i`` of epoch ``k`` is the channel at real time ``k·E + i/fs``
        exactly (the segment's own samples start at its real start).
        """
        n_samples, epoch_s = self.inputs.n_samples, sig.exact(self.inputs.epoch_seconds)
        out = np.empty((n, len(self.choices), n_samples), dtype=np.float32)
        halves = np.zeros((n, len(self.choices), 2), dtype=bool)
        for c_idx, (choice, headers) in enumerate(zip(self.choices, self.signals)):
            for a in range(0, n, READ_EPOCHS):  # piece by piece: the same few MB reused, not a whole night's
                m = min(READ_EPOCHS, n - a)
                parts = [self._span(signal, seg, (first + a) * epoch_s, m * n_samples) for signal in headers]
                halves[a : a + m, c_idx] = flat_halves(parts, n_samples, m)
                x = difference(parts)
                if len(x) < m * n_samples:
                    raise DataError(self.path, f"channel {choice.label!r} ends before the recording does")
                out[a : a + m, c_idx] = x.reshape(m, n_samples)
        return out, halves

    def _span(self, signal: SignalHeader, seg: Segment, start: Fraction, n_out: int) -> np.ndarray:
        """``n_out`` samples of one channel at the model's rate from real time ``start``, inside ``seg``."""
        fs = sig.exact_rate(self.inputs.sampling_rate)
        if self.segments is None:  # continuous: the channel's samples from the recording start
            base, n_in = 0, self.psg.n_samples(signal)
        else:  # EDF+D: the segment's data records
            assert isinstance(self.psg, EdfRecording)  # only an EDF+D has segments
            record_s = self.psg.header.record_duration
            spr = signal.samples_per_record
            base = round(sig.exact(seg.stored_start) / record_s) * spr
            n_in = round(sig.exact(seg.duration) / record_s) * spr

        def read(a: int, b: int) -> np.ndarray:
            return self.psg.read_samples(signal, base + a, base + b, assume_unit=self.assume_unit)

        return sig.resample_span(read, n_in, signal.rate, fs, start, n_out, t0=sig.exact(seg.real_start))

    def _note_flat(self, epochs: np.ndarray, halves: np.ndarray) -> None:
        """Flag channels, and halves of derivations, that are flat (disconnected electrode?) in some epochs:
        a note and a warning each (once, however often the recording is read); staging goes on."""
        notes, warnings = flat_channel_findings(epochs, self.choices, halves)
        self.notes.extend(n for n in notes if n not in self.notes)
        self.warnings.extend(w for w in warnings if w not in self.warnings)
