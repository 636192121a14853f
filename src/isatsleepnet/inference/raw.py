"""Read a raw recording (EDF/EDF+/BDF) into the epochs a model expects.

Labs spell the same derivation differently ("EEG Fpz-Cz" and "Fpz-Cz"; SHHS's
"EEG(sec)", "EEG2", "EEG 2"), so each model role is resolved by its exact label
first and then through an alias table compared on a normalised key, never by
substring ("EEG" must not pick "EEG(sec)"). Channels are converted to µV from
their header and resampled to the model's rate. A channel sampled too slowly
for the band the model was trained on is refused instead of being upsampled
into an empty spectrum (rule: :data:`MIN_RATE_FRACTION`).
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
from isatsleepnet.data.readers.edf import EdfRecording
from isatsleepnet.data.readers.edf_segments import Segment, contiguous_segments, is_discontinuous, record_onsets
from isatsleepnet.errors import DataError, IsatSleepNetError

# Lowest channel rate accepted, as a fraction of the model's rate, per kind of role.
# Upsampling cannot create content above a channel's Nyquist frequency, so an EEG
# channel must carry at least 0.3 x the model rate (30 Hz for a 100-Hz model: delta
# to beta, the band of AASM's 0.3-35 Hz EEG filter), i.e. be sampled at 0.6 x; an EOG
# channel 0.25 x (25 Hz: eye movements lie below ~10 Hz, and SHHS records EOG at
# 50 Hz). Faster channels are always accepted (anti-aliased downsampling).
MIN_RATE_FRACTION: dict[str, float] = {"eeg": 0.6, "eog": 0.5}

# Spellings of one derivation, compared through `label_key`. The first group member is
# the canonical name; groups never overlap.
ALIAS_GROUPS: tuple[tuple[str, ...], ...] = (
    ("EEG Fpz-Cz", "Fpz-Cz"),
    ("EEG Pz-Oz", "Pz-Oz"),
    ("EOG horizontal", "EOG horiz", "HEOG"),
    ("EEG", "EEG1", "EEG 1", "EEG C4-A1", "C4-A1"),
    ("EEG(sec)", "EEG2", "EEG 2", "EEG sec", "EEG C3-A2", "C3-A2"),
    ("EOG(L)", "EOG L", "EOGL", "LOC"),
    ("EOG(R)", "EOG R", "EOGR", "ROC"),
)

_SPACES = re.compile(r"[\s_]+")
_TYPE_PREFIX = re.compile(r"^(eeg|eog)(?=[a-z0-9]+-[a-z0-9]+$)")


def label_key(label: str) -> str:
    """Case, spaces and a type prefix before a derivation ignored: 'EEG Fpz-Cz' -> 'fpz-cz'."""
    key = _SPACES.sub("", label.strip().casefold())
    return _TYPE_PREFIX.sub("", key)


_GROUP_OF: dict[str, tuple[str, ...]] = {label_key(n): g for g in ALIAS_GROUPS for n in g}


def alias_keys(names: Sequence[str]) -> list[str]:
    """Keys accepted for a role, in order of preference: the names given, then their aliases."""
    keys: list[str] = []
    for name in names:
        for candidate in (name, *_GROUP_OF.get(label_key(name), ())):
            key = label_key(candidate)
            if key not in keys:
                keys.append(key)
    return keys


def role_kind(role: str) -> str:
    return "eog" if role.startswith("eog") else "eeg"


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


@dataclass(frozen=True)
class ChannelChoice:
    """The recording channel used for one model role."""

    role: str
    label: str
    rate: float  # the channel's own sampling rate, Hz
    unit: str
    matched: str  # "exact" or "alias"


_LIGHTS = re.compile(r"^\s*lights?[\s_-]*(off|out|on)\b", re.IGNORECASE)


def lights_marker(text: str) -> str | None:
    """"off" for a lights-off annotation ("Lights off", "LIGHTS OUT", "lights_off"), "on" for lights-on."""
    match = _LIGHTS.match(text or "")
    if not match:
        return None
    return "on" if match.group(1).lower() == "on" else "off"


@dataclass
class RawRecording:
    """An opened recording whose channels are resolved for a model; data read on demand."""

    psg: EdfRecording
    inputs: ModelInputs
    choices: list[ChannelChoice]
    assume_unit: str | None = None
    notes: list[str] = field(default_factory=list)
    segments: list[Segment] | None = None  # EDF+D: gap-free runs of data records; None: continuous

    @classmethod
    def open(
        cls,
        path: str | Path,
        inputs: ModelInputs,
        *,
        overrides: Mapping[str, Sequence[str]] | None = None,
        assume_unit: str | None = None,
    ) -> RawRecording:
        """Open ``path`` and pick a channel per role; errors name the file and what is missing."""
        psg = EdfRecording.open(path)
        overrides = dict(overrides or {})
        unknown = sorted(set(overrides) - set(inputs.roles))
        if unknown:
            raise IsatSleepNetError(
                f"the model has no {', '.join(unknown)} input (its roles: {', '.join(inputs.roles)})"
            )
        choices = [
            resolve_channel(psg, role, list(overrides.get(role) or [trained]), trained=trained)
            for role, trained in zip(inputs.roles, inputs.channels)
        ]
        recording = cls(psg, inputs, choices, assume_unit)
        if is_discontinuous(psg.path):
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
        recording._check_rates()
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
        markers = [(lights_marker(a.text), float(a.onset)) for a in getattr(self.psg.edf, "annotations", ()) or ()]
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

    def _check_rates(self) -> None:
        fs = self.inputs.sampling_rate
        for c in self.choices:
            kind = role_kind(c.role)
            minimum = MIN_RATE_FRACTION[kind] * fs
            if c.rate < minimum - 1e-9:
                raise DataError(
                    self.path,
                    f"channel {c.label!r} ({c.role}) is sampled at {c.rate:g} Hz; the model works at "
                    f"{fs:g} Hz and needs at least {minimum:g} Hz for {kind.upper()} "
                    f"(content up to {minimum / 2:g} Hz)",
                )
            if c.rate != fs:
                self.notes.append(f"{c.role}: {c.label!r} resampled from {c.rate:g} to {fs:g} Hz")

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
        out = np.empty((len(index), len(self.choices), self.inputs.n_samples), dtype=np.float32)
        # runs of consecutive epochs inside one segment, each read in one piece
        breaks = np.flatnonzero((np.diff(index) != 1) | (np.diff(which) != 0)) + 1
        for run in np.split(np.arange(len(index)), breaks) if len(index) else []:
            out[run] = self._read_run(int(index[run[0]]), len(run), segments[int(which[run[0]])])
        self._note_flat(out)
        return out

    def _read_run(self, first: int, n: int, seg: Segment) -> np.ndarray:
        """``n`` consecutive epochs from ``first``, all inside ``seg``, as (n, channels, samples)."""
        epoch_s, fs, n_samples = self.inputs.epoch_seconds, self.inputs.sampling_rate, self.inputs.n_samples
        out = np.empty((n, len(self.choices), n_samples), dtype=np.float32)
        by_label = {s.label: s for s in self.psg.edf.signals}
        start = first * epoch_s - seg.real_start  # seconds into the segment
        # margins come from whole epochs only (a final partial epoch is never read)
        usable_stop = min(seg.real_stop, self.n_epochs * epoch_s) - seg.real_start
        room_before, room_after = start, usable_stop - (start + n * epoch_s)
        for c_idx, choice in enumerate(self.choices):
            signal = by_label[choice.label]
            # up to one epoch of margin inside the segment, so resampling edges settle
            pad_before = 0.0 if choice.rate == fs else max(0.0, min(room_before, epoch_s))
            pad_after = 0.0 if choice.rate == fs else max(0.0, min(room_after, epoch_s))
            t0 = seg.stored_start + start - pad_before
            t1 = seg.stored_start + start + n * epoch_s + pad_after
            x = self.psg.read_microvolts(signal, t0, t1, assume_unit=self.assume_unit)
            x = resample(x, choice.rate, fs)
            begin = int(round(pad_before * fs))
            segment = x[begin : begin + n * n_samples]
            if len(segment) < n * n_samples:
                raise DataError(self.path, f"channel {choice.label!r} ends before the recording does")
            out[:, c_idx] = segment.reshape(n, n_samples)
        return out

    def _note_flat(self, epochs: np.ndarray) -> None:
        """Flag channels that are flat (disconnected electrode?) in some epochs; staging goes on."""
        flat = epochs.std(axis=-1) < 1e-3  # µV
        for c_idx, choice in enumerate(self.choices):
            n_flat = int(flat[:, c_idx].sum())
            if n_flat:
                self.notes.append(
                    f"{choice.role}: channel {choice.label!r} is flat in {n_flat} of {len(epochs)} epochs"
                )


def resolve_channel(psg: EdfRecording, role: str, names: Sequence[str], *, trained: str | None = None) -> ChannelChoice:
    """The channel for ``role``: the first of ``names`` (in order of preference) found by exact label or alias.

    Each name is looked up exactly, then by alias (``Fpz-Cz`` = ``EEG Fpz-Cz``), before
    the next name is tried; an alias that matches two channels is ambiguous.
    """
    by_label = {s.label: s for s in psg.edf.signals}
    signal, matched = None, "exact"
    for name in names:
        if name in by_label:
            signal, matched = by_label[name], "exact"
            break
        for key in alias_keys([name]):
            hits = [s for s in psg.edf.signals if label_key(s.label) == key]
            if len(hits) > 1:
                found = ", ".join(repr(s.label) for s in hits)
                raise DataError(psg.path, f"{role} channel is ambiguous: {found} all match; name one with --{role}")
            if hits:
                signal, matched = hits[0], "alias"
                break
        if signal is not None:
            break
    if signal is None and not psg.channel_names:
        raise DataError(psg.path, "holds no signals, only annotations (a hypnogram?)")
    if signal is None:
        wanted = " or ".join(repr(n) for n in names)
        present = ", ".join(repr(c) for c in psg.channel_names) or "none"
        origin = " (the model was trained on it)" if trained and list(names) == [trained] else ""
        raise DataError(
            psg.path,
            f"missing {role} channel {wanted}{origin}; channels present: {present}; choose one with --{role}",
        )
    return ChannelChoice(role, signal.label, float(signal.sampling_frequency), signal.physical_dimension.strip(), matched)


def resample(x: np.ndarray, fs_in: float, fs_out: float) -> np.ndarray:
    """Anti-aliased resampling; rates without a small rational ratio are interpolated after a low-pass."""
    if abs(fs_in - fs_out) < 1e-9:
        return x
    ratio = fs_out / fs_in
    if abs(float(Fraction(ratio).limit_denominator(1000)) - ratio) <= 1e-9 * ratio:
        return sig.resample(x, fs_in, fs_out)
    if fs_out < fs_in:
        from scipy import signal as sps  # imported on first use (~0.4 s)

        sos = sps.butter(8, 0.45 * fs_out, btype="lowpass", fs=fs_in, output="sos")
        x = sps.sosfiltfilt(sos, x)
    n_out = int(np.floor(len(x) * ratio + 1e-9))
    return np.interp(np.arange(n_out) / fs_out, np.arange(len(x)) / fs_in, x)
