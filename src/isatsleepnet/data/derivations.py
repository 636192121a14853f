"""Derivations ``A-B``: a role computed from two referential channels when no channel carries it.

Why: many labs record every electrode against a common reference ("EEG C4-REF",
"M1") and form the montage later, so a file may hold no channel called "C4-M1".
A name with a dash is always matched whole first (labels such as "EEG Fpz-Cz"
contain one, :mod:`isatsleepnet.data.channels`); only then is it split at each
dash in turn and its halves looked up as electrodes. Spellings of one electrode
are made equal: case, spaces, an ``EEG ``/``EOG `` prefix and a ``-REF``/``
REF`` suffix are ignored, and M1/A1 (the left mastoid), M2/A2 (the right) are
one electrode.

Both halves are read in µV with their own calibration and resampled by the
project's one resampler (:func:`isatsleepnet.data.signal.resample_span`) to the
*working* rate, on the same exact time grid, and then subtracted. Resampling is
linear, so this is the derivation at the working rate; each half keeps its own
exact rate (no intermediate common rate, no second filtering pass).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from isatsleepnet.errors import DataError

if TYPE_CHECKING:
    from isatsleepnet.data.readers.edf_header import SignalHeader
    from isatsleepnet.data.readers.recording import Recording

_REF_SUFFIX = re.compile(r"[\s_-]+ref$")
_TYPED_ELECTRODE = re.compile(r"(?:eeg|eog)([a-z]{1,3}(?:\d{1,2}|z)?)")
_SAME_ELECTRODE = {"a1": "m1", "a2": "m2"}  # ear lobe / mastoid references, as labs use them interchangeably


def electrode_key(label: str) -> str:
    """One electrode's spellings made equal: 'EEG C4-REF', 'C4' -> 'c4'; 'A1', 'M1' -> 'm1'.

    Examples
    --------
    >>> electrode_key("EEG C4-REF"), electrode_key("EOG E1"), electrode_key("A2"), electrode_key("C3 REF")
    ('c4', 'e1', 'm2', 'c3')
    """
    key = _REF_SUFFIX.sub("", label.strip().casefold())
    key = re.sub(r"[\s_]+", "", key)
    typed = _TYPED_ELECTRODE.fullmatch(key)
    if typed:
        key = typed.group(1)
    return _SAME_ELECTRODE.get(key, key)


def splits(name: str) -> list[tuple[str, str]]:
    """Every way to read ``name`` as ``A-B``, split at each dash from the left; halves never empty.

    Examples
    --------
    >>> splits("EOG E1-M2")
    [('EOG E1', 'M2')]
    >>> splits("EEG C4-REF-M1")
    [('EEG C4', 'REF-M1'), ('EEG C4-REF', 'M1')]
    """
    out = []
    for at in (m.start() for m in re.finditer("-", name)):
        a, b = name[:at].strip(), name[at + 1:].strip()
        if a and b:
            out.append((a, b))
    return out


def derivation_keys(name: str) -> set[tuple[str, str]]:
    """The electrode pairs ``name`` can stand for: 'EEG C4-A1' and 'C4-M1' share ('c4', 'm1').

    Examples
    --------
    >>> derivation_keys("EEG C4-A1") == derivation_keys("C4-M1") == {("c4", "m1")}
    True
    """
    return {(electrode_key(a), electrode_key(b)) for a, b in splits(name)}


def _unique(psg: Recording, role: str, what: str, hits: list[SignalHeader]) -> SignalHeader | None:
    if len(hits) > 1:
        found = ", ".join(f"{s.label!r} (signal {s.index + 1})" for s in hits)
        raise DataError(psg.path, f"{role} channel {what} is ambiguous: {found} all match; name one with {{{role}}}")
    return psg.signal(hits[0].label) if hits else None


def same_electrodes(psg: Recording, role: str, name: str) -> SignalHeader | None:
    """The one channel recorded as ``name`` under another spelling of its electrodes ('C4-A1' for
    'C4-M1', 'EEG C4-REF' for 'C4'), or None."""
    key, pairs = electrode_key(name), derivation_keys(name)
    hits = [s for s in psg.signals if electrode_key(s.label) == key or pairs & derivation_keys(s.label)]
    return _unique(psg, role, repr(name), hits)


def find_electrode(psg: Recording, role: str, name: str) -> tuple[SignalHeader, str] | None:
    """One half of a derivation: the channel labelled ``name`` ("exact"), else the one channel of
    the same electrode ("alias"), else None."""
    if name in psg.channel_names:
        return psg.signal(name), "exact"
    hit = _unique(psg, role, repr(name), [s for s in psg.signals if electrode_key(s.label) == electrode_key(name)])
    return (hit, "alias") if hit is not None else None


def find_derivation(psg: Recording, role: str, name: str) -> tuple[tuple[SignalHeader, SignalHeader] | None, str]:
    """The channels A and B of ``name`` read as ``A-B`` (the first split whose halves are both
    found), or None and why, naming the half that is missing: "no channel 'E1'; 'M2' found as 'A2'"."""
    best: tuple[int, str] = (0, "")  # halves found by the best split so far, and what it says
    for a, b in splits(name):
        halves = [(text, find_electrode(psg, role, text)) for text in (a, b)]
        hit_a, hit_b = halves[0][1], halves[1][1]
        if hit_a is not None and hit_b is not None and hit_a[0].index != hit_b[0].index:
            return (hit_a[0], hit_b[0]), ""
        if hit_a is not None and hit_b is not None:
            reason = f"{a!r} and {b!r} are one channel, {hit_a[0].label!r}"
        else:
            reason = "; ".join(
                f"no channel {text!r}" if hit is None else
                f"{text!r} found" if hit[1] == "exact" else f"{text!r} found as {hit[0].label!r}"
                for text, hit in halves
            )
        n_found = sum(hit is not None for _, hit in halves)
        if n_found > best[0]:
            best = (n_found, reason)
    return None, best[1]


def difference(parts: Sequence[np.ndarray]) -> np.ndarray:
    """A role's samples from what was read for it: the one channel, or A minus B (their common length).

    Examples
    --------
    >>> difference([np.array([5.0, 7.0, 9.0]), np.array([1.0, 2.0])])
    array([4., 5.])
    """
    if len(parts) == 1:
        return parts[0]
    a, b = parts
    n = min(len(a), len(b))
    return a[:n] - b[:n]
