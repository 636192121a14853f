"""The channel vocabulary shared by `prepare` and `stage`: aliases, roles, kinds, the minimum rate.

Labs spell one derivation differently ("EEG Fpz-Cz" and "Fpz-Cz", "EEG C4" and
"C4"; SHHS's "EEG(sec)", "EEG2", "EEG 2"), so each role is resolved by its
exact label first and then through an alias table compared on a normalised
key, never by substring ("EEG" must not pick "EEG(sec)"). A channel sampled
too slowly for the band a model works in is refused instead of being
upsampled into an empty spectrum (:data:`MIN_RATE_FRACTION`). A name ``A-B``
that no channel carries is formed from two referential channels
(:mod:`isatsleepnet.data.derivations`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from isatsleepnet.data.derivations import find_derivation, same_electrodes
from isatsleepnet.data.readers.edf_header import SignalHeader
from isatsleepnet.errors import DataError

if TYPE_CHECKING:
    from isatsleepnet.data.readers.recording import Recording

# Lowest channel rate accepted, as a fraction of the working rate, per kind of role.
# Upsampling cannot create content above a channel's Nyquist frequency, so an EEG
# channel must carry at least 0.3 x the working rate (30 Hz at 100 Hz: delta to beta,
# the band of AASM's 0.3-35 Hz EEG filter), i.e. be sampled at 0.6 x; an EOG channel
# 0.25 x (25 Hz: eye movements lie below ~10 Hz, and SHHS records EOG at 50 Hz).
# Faster channels are always accepted (anti-aliased downsampling).
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
_ELECTRODE = r"[a-z]{1,3}(?:\d{1,2}|z)"
# a type prefix before a derivation ("EEG Fpz-Cz") or a 10-20 electrode name ("EEG C4")
_TYPE_PREFIX = re.compile(rf"^(?:eeg|eog)(?=(?:[a-z0-9]+-[a-z0-9]+|{_ELECTRODE})$)")
_REFERENCES = {"m1", "m2", "a1", "a2", "ref", "avg", "ave", "car", "mastoids", "ears"}
_NAMED_KINDS = {
    "horizontal": "bipolar", "eoghorizontal": "bipolar", "eoghoriz": "bipolar", "heog": "bipolar",
    "eeg": "referential", "eeg1": "referential", "eeg(sec)": "referential", "eeg2": "referential",
    "eegsec": "referential", "eog(l)": "referential", "eog(r)": "referential", "eogl": "referential",
    "eogr": "referential", "loc": "referential", "roc": "referential", "eog1": "referential", "eog2": "referential",
}


def label_key(label: str) -> str:
    """Case, spaces and a type prefix before a derivation or electrode ignored: 'EEG Fpz-Cz' -> 'fpz-cz'.

    Examples
    --------
    >>> label_key("EEG Fpz-Cz"), label_key("EEG C4"), label_key("EEG 2")
    ('fpz-cz', 'c4', 'eeg2')
    """
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
    """'eog' for EOG roles (eog, eog2), 'eeg' for the others."""
    return "eog" if role.startswith("eog") else "eeg"


def channel_kind(label: str) -> str | None:
    """'bipolar' (two scalp or eye electrodes), 'referential' (one electrode, or against a mastoid,
    ear or common reference) or None when the label does not tell.

    Examples
    --------
    >>> channel_kind("EEG Fpz-Cz"), channel_kind("EEG C4"), channel_kind("C4-M1"), channel_kind("EMG chin")
    ('bipolar', 'referential', 'referential', None)
    """
    key = label_key(label)
    if key in _NAMED_KINDS:
        return _NAMED_KINDS[key]
    parts = key.split("-")
    if len(parts) == 2 and all(parts):
        return "referential" if parts[1] in _REFERENCES or parts[0] in _REFERENCES else "bipolar"
    if re.fullmatch(_ELECTRODE, key) or re.fullmatch(r"e\d", key):
        return "referential"
    return None


_NOT_EEG = (
    ("EMG", ("emg", "chin", "submental", "leg", "tibialis")),
    ("ECG", ("ecg", "ekg", "heart")),
    ("a respiratory or other non-EEG", ("resp", "thor", "abdo", "airflow", "flow", "pleth", "spo2", "sao2",
                                               "pulse", "snore", "position", "temp", "light", "marker", "event")),
)


def channel_modality(label: str) -> str | None:
    """What a label says the channel records: 'EEG', 'EOG', 'EMG', 'ECG', another signal, or None.

    Examples
    --------
    >>> channel_modality("EEG Fpz-Cz"), channel_modality("E1-M2"), channel_modality("EMG Chin"), channel_modality("Sound")
    ('EEG', 'EOG', 'EMG', None)
    """
    text = label.strip().casefold()
    for modality, words in _NOT_EEG:
        if any(word in text for word in words):
            return modality
    key = _SPACES.sub("", text)
    first = key.removeprefix("eog").removeprefix("eeg").split("-")[0]
    if key.startswith(("eog", "heog", "veog")) or "horizontal" in key or first in ("e1", "e2", "loc", "roc"):
        return "EOG"
    if key.startswith("eeg") or re.fullmatch(_ELECTRODE, first):
        return "EEG"
    return None


def minimum_rate(role: str, working_rate: float) -> float:
    """The lowest channel rate (Hz) accepted for ``role`` when working at ``working_rate``."""
    return MIN_RATE_FRACTION[role_kind(role)] * working_rate


@dataclass(frozen=True)
class ChannelChoice:
    """What feeds one role: one recording channel, or a derivation ``A-B`` of two (``derived_from``)."""

    role: str
    label: str  # the channel's label; for a derivation, its name as asked for ("C4-M1")
    rate: float  # the channel's own sampling rate, Hz; for a derivation, that of its slower half
    unit: str  # the header's physical dimension; "uV" for a derivation (its halves are read in µV)
    matched: str  # "exact", "alias" or "derived"
    derived_from: tuple[str, str] | None = None  # labels of the channels A and B of a derivation


Sources = tuple[SignalHeader, ...]  # the channel of a role, or the channels A and B of its derivation


def _match(psg: Recording, role: str, names: Sequence[str]) -> tuple[tuple[Sources, str, str] | None, list[str]]:
    """The first of ``names`` found whole (exact label, else alias, else the same electrodes under
    another spelling), else formed as a derivation A-B, before the next name is tried.

    Returns (channels, how matched, label) or None, and per name why it was not found ("" if no reason).
    """
    reasons = []
    for name in names:
        if name in psg.channel_names:
            return ((psg.signal(name),), "exact", name), reasons
        for key in alias_keys([name]):
            hits = [s for s in psg.signals if label_key(s.label) == key]
            if len(hits) > 1:
                found = ", ".join(f"{s.label!r} (signal {s.index + 1})" for s in hits)
                raise DataError(psg.path, f"{role} channel is ambiguous: {found} all match; name one with {{{role}}}")
            if hits:
                return ((psg.signal(hits[0].label),), "alias", hits[0].label), reasons
        same = same_electrodes(psg, role, name)
        if same is not None:
            return ((same,), "alias", same.label), reasons
        pair, reason = find_derivation(psg, role, name)
        if pair is not None:
            return (pair, "derived", name), reasons
        reasons.append(reason)
    return None, reasons


def _named(names: Sequence[str], reasons: Sequence[str]) -> str:
    return " or ".join(f"{n!r} ({r})" if r else repr(n) for n, r in zip(names, reasons))


def resolve_channels(
    psg: Recording,
    wanted: Mapping[str, Sequence[str]],
    *,
    working_rate: float,
    assume_unit: str | None = None,
    trained: Mapping[str, str] | None = None,
    working: str = "the model",
) -> list[tuple[ChannelChoice, Sources]]:
    """One channel, or a derivation of two, per role of ``wanted`` (role -> names in order of preference), checked.

    Every missing role is named in one error together with every channel the
    file holds (for a derivation, which half is missing); each channel used
    must have a usable calibration, a voltage unit and at least
    :func:`minimum_rate` for its role; ``working`` names what works at
    ``working_rate`` in that message.

    Examples
    --------
    >>> from isatsleepnet.data.readers.memory import MemoryRecording
    >>> import numpy as np
    >>> psg = MemoryRecording.from_arrays(np.zeros((2, 3000)), 100.0, ["EEG C4-REF", "A1"])
    >>> choice, sources = resolve_channels(psg, {"eeg": ["C4-M1"]}, working_rate=100.0)[0]
    >>> choice.label, choice.matched, choice.derived_from
    ('C4-M1', 'derived', ('EEG C4-REF', 'A1'))
    """
    found, missing = [], []
    for role, names in wanted.items():
        hit, reasons = _match(psg, role, names)
        if hit is None:
            missing.append((role, names, reasons))
        else:
            found.append((role, *hit))
    if missing and not psg.channel_names:
        raise DataError(psg.path, "holds no signals, only annotations (a hypnogram?)")
    if missing:
        parts = []
        for role, names, reasons in missing:
            origin = " (the model was trained on it)" if trained and list(names) == [trained.get(role)] else ""
            parts.append(f"{role} channel {_named(names, reasons)}{origin}")
        present = ", ".join(repr(c) for c in psg.channel_names)
        flags = "/".join(f"{{{role}}}" for role, _, _ in missing)  # the role's setting, in the template
        listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
        raise DataError(psg.path, f"missing {listed}; channels present: {present}; choose with {flags}")
    chosen = []
    for role, signals, matched, label in found:
        for signal in signals:
            psg.microvolts_per_unit(signal, assume_unit=assume_unit)
            low = minimum_rate(role, working_rate)
            if signal.sampling_frequency < low - 1e-9:
                kind = role_kind(role)
                what = f"{role}, half of {label!r}" if len(signals) == 2 else role
                raise DataError(psg.path, f"channel {signal.label!r} ({what}) is sampled at "
                                          f"{signal.sampling_frequency:g} Hz; {working} works at {working_rate:g} Hz "
                                          f"and needs at least {low:g} Hz for {kind.upper()} (content up to "
                                          f"{low / 2:g} Hz)")
        if len(signals) == 2:
            choice = ChannelChoice(role, label, min(s.sampling_frequency for s in signals), "uV", matched,
                                   (signals[0].label, signals[1].label))
        else:
            signal = signals[0]
            choice = ChannelChoice(role, signal.label, signal.sampling_frequency, signal.physical_dimension, matched)
        chosen.append((choice, signals))
    return chosen


def stand_in_warnings(choices: Sequence[ChannelChoice], trained: Mapping[str, str]) -> list[str]:
    """Warnings where a channel of another modality (EMG for EEG) or kind (referential for bipolar) than
    the role, or than the one a model was trained on (``trained``: role -> label), is used."""
    warnings = []
    for c in choices:
        modality, wanted = channel_modality(c.label), role_kind(c.role).upper()
        if modality is not None and modality != wanted:
            what = f"an {modality} channel" if modality in ("EEG", "EOG", "EMG", "ECG") else f"{modality} channel"
            warnings.append(f"{c.role}: {c.label!r} looks like {what}, not an {wanted} channel: the {c.role} input "
                            f"takes {wanted}, so what is learnt or staged from it is unreliable")
            continue
        original = trained.get(c.role)
        if original is None:
            continue
        used, expected = channel_kind(c.label), channel_kind(original)
        if used and expected and used != expected:
            warnings.append(f"{c.role}: {c.label!r} ({used}) stands in for {original!r} ({expected}), the kind of "
                            "channel the model was trained on: its stages may be unreliable")
    return warnings


FLAT_MICROVOLTS = 1.0
"""An epoch whose standard deviation is below this (µV) is flat or near-flat: an electrode off, shorted
or bridged, or a channel not recorded. Sleep EEG and EOG stay well above it: the quietest 30-s epoch of
SC4001 (2650 epochs, unfiltered) has 4.1 µV on Pz-Oz, 7.2 µV on Fpz-Cz and 7.5 µV on the EOG."""


def flat_epochs(x: np.ndarray) -> np.ndarray:
    """Whether each epoch (a row of the last axis, in µV) is flat: std below :data:`FLAT_MICROVOLTS`.

    An absurd sample (1e30 µV) overflows the square into an infinite std: not flat, and no numpy
    warning beside the staging's own word on such epochs (left unstaged).

    Examples
    --------
    >>> flat_epochs(np.array([[0.0, 0.1, 0.0], [0.0, 1e30, 0.0]], dtype=np.float32)).tolist()
    [True, False]
    """
    with np.errstate(over="ignore", invalid="ignore"):
        return np.asarray(x).std(axis=-1) < FLAT_MICROVOLTS


def flat_halves(parts: Sequence[np.ndarray], n_samples: int, n_epochs: int, skip: int = 0) -> np.ndarray:
    """Per epoch, whether each half of a derivation is flat *before* the subtraction: (n_epochs, 2) bool.

    Why before: ``A - B`` with a flat ``B`` is ``A`` alone, a signal that looks
    alive, so the check of the role's epochs cannot see it. ``parts`` are what was
    read for the role (one channel: all False); the epochs are the ``n_epochs``
    runs of ``n_samples`` after ``skip`` epochs of margin.

    Examples
    --------
    >>> a, b = np.random.default_rng(0).normal(0, 20, 600), np.r_[np.zeros(300), np.ones(300)]
    >>> flat_halves([a, b], 300, 2).tolist()
    [[False, True], [False, True]]
    """
    out = np.zeros((n_epochs, 2), dtype=bool)
    if len(parts) != 2:
        return out
    for half, part in enumerate(parts):
        span = np.asarray(part[skip * n_samples: (skip + n_epochs) * n_samples])
        n = len(span) // n_samples  # a half that ends early is refused by its reader, not here
        out[:n, half] = flat_epochs(span[: n * n_samples].reshape(n, n_samples))
    return out


def flat_channel_findings(
    epochs: np.ndarray, choices: Sequence[ChannelChoice], halves: np.ndarray | None = None
) -> tuple[list[str], list[str]]:
    """Notes and staging warnings, one each per channel flat in some epochs; work goes on.

    A role's channel is checked in ``epochs`` (n, channels, samples); each half
    of a derivation in ``halves`` (n, channels, 2, from :func:`flat_halves`),
    with the same threshold and the same words. `prepare` shows the notes,
    `stage` the notes and the warnings.

    Examples
    --------
    >>> c = ChannelChoice("eeg", "Fpz-Cz", 100.0, "uV", "derived", ("Fpz", "Cz"))
    >>> halves = np.array([[[False, True]], [[False, False]]])
    >>> notes, warnings = flat_channel_findings(np.ones((2, 1, 30)) * np.arange(30), [c], halves)
    >>> notes
    ["eeg: channel 'Cz' (half of the derivation 'Fpz-Cz') is flat in 1 of 2 epochs"]
    """
    flat = flat_epochs(epochs)
    notes, warnings = [], []
    for c_idx, choice in enumerate(choices):
        n_flat = int(flat[:, c_idx].sum())
        if n_flat:
            notes.append(f"{choice.role}: channel {choice.label!r} is flat in {n_flat} of {len(epochs)} epochs")
            warnings.append(f"{choice.role}: channel {choice.label!r} is flat in {n_flat} of {len(epochs)} epochs "
                            "(an electrode off?): the stages of those epochs may be unreliable")
        if halves is None or choice.derived_from is None:
            continue
        for half, (label, other) in enumerate((choice.derived_from, choice.derived_from[::-1])):
            n_flat = int(halves[:, c_idx, half].sum())
            if n_flat:
                notes.append(f"{choice.role}: channel {label!r} (half of the derivation {choice.label!r}) is flat in "
                             f"{n_flat} of {len(epochs)} epochs")
                warnings.append(f"{choice.role}: channel {label!r} is flat in {n_flat} of {len(epochs)} epochs "
                                f"(an electrode off?), so the derivation {choice.label!r} carries {other!r} alone "
                                "there: the stages of those epochs may be unreliable")
    return notes, warnings


def flat_channel_notes(
    epochs: np.ndarray, choices: Sequence[ChannelChoice], halves: np.ndarray | None = None
) -> list[str]:
    """The notes of :func:`flat_channel_findings` (a note per flat channel or derivation half)."""
    return flat_channel_findings(epochs, choices, halves)[0]
