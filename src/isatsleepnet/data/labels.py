"""Stage vocabularies of the supported hypnogram formats, mapped to AASM codes.

Every reader turns its own spelling of a stage into one of the integer codes below.
R&K stages 3 and 4 both become N3; movement and unscored epochs become
:data:`DROP` so that they are removed from the prepared data, as in every peer.
"""

from __future__ import annotations

import re

from isatsleepnet import STAGES

W, N1, N2, N3, REM = range(5)
DROP = -1
"""Epochs scored as movement or left unscored: not sleep stages, removed when preparing."""
UNLABELLED = -2
"""Epochs no hypnogram entry covers."""

SLEEP_EDF_LABELS: dict[str, int] = {
    "Sleep stage W": W,
    "Sleep stage 1": N1,
    "Sleep stage 2": N2,
    "Sleep stage 3": N3,
    "Sleep stage 4": N3,
    "Sleep stage R": REM,
    "Movement time": DROP,
    "Sleep stage ?": DROP,
}

SHHS_CODES: dict[int, int] = {0: W, 1: N1, 2: N2, 3: N3, 4: N3, 5: REM, 6: DROP, 9: DROP}
"""Integer stages of NSRR and Profusion XML (R&K numbering, 5 = REM, 6 = movement, 9 = unscored)."""

# Free-text spellings accepted in CSV/TSV hypnograms and generic EDF+ annotations.
_TEXT_LABELS: dict[str, int] = {
    "w": W, "wake": W, "awake": W, "sleep stage w": W, "stage w": W,
    "n1": N1, "s1": N1, "stage 1": N1, "sleep stage 1": N1, "sleep stage n1": N1,
    "n2": N2, "s2": N2, "stage 2": N2, "sleep stage 2": N2, "sleep stage n2": N2,
    "n3": N3, "s3": N3, "s4": N3, "n4": N3, "stage 3": N3, "stage 4": N3,
    "sleep stage 3": N3, "sleep stage 4": N3, "sleep stage n3": N3, "sws": N3,
    "r": REM, "rem": REM, "stage r": REM, "sleep stage r": REM, "sleep stage rem": REM,
    "?": DROP, "unscored": DROP, "uns": DROP, "unknown": DROP, "sleep stage ?": DROP,
    "mt": DROP, "movement": DROP, "movement time": DROP, "artifact": DROP, "artefact": DROP,
}
_STAGE_WORD = re.compile(r"^\s*(?:sleep\s+)?stage\b", re.IGNORECASE)


class UnknownLabel(ValueError):
    """A hypnogram entry whose stage cannot be mapped."""


def map_sleep_edf(text: str) -> int | None:
    """Map a Sleep-EDF annotation; None for annotations that are not stages (e.g. lights)."""
    text = text.strip()
    if text in SLEEP_EDF_LABELS:
        return SLEEP_EDF_LABELS[text]
    if _STAGE_WORD.match(text):
        raise UnknownLabel(text)
    return None


def map_shhs(code: int) -> int:
    if code not in SHHS_CODES:
        raise UnknownLabel(str(code))
    return SHHS_CODES[code]


def map_text(label: str) -> int:
    """Map one free-text or integer stage label (CSV/TSV hypnograms, generic EDF+)."""
    key = label.strip().lower()
    if key in _TEXT_LABELS:
        return _TEXT_LABELS[key]
    if re.fullmatch(r"[+-]?\d+", key):
        return map_shhs(int(key))
    raise UnknownLabel(label.strip())


def stage_counts(labels) -> dict[str, int]:
    """Epoch count per stage name, zeros included."""
    import numpy as np

    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=len(STAGES))
    return {name: int(counts[i]) for i, name in enumerate(STAGES)}
