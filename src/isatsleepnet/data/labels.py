"""Stage vocabularies of the supported hypnogram formats, mapped to AASM codes.

Every reader turns its own spelling of a stage into one of the integer codes below.
R&K stages 3 and 4 both become N3; movement and unscored epochs become
:data:`DROP` so that they are removed from the prepared data, as in every peer.

Bare integer stages are ambiguous: AASM files (YASA, DeepSleepNet) number REM 4,
R&K files (SHHS) number stage 4 (= N3) 4 and REM 5. :func:`integer_coding` decides
the coding once per file from the codes it holds, or refuses to guess.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from isatsleepnet import STAGES
from isatsleepnet.errors import IsatSleepNetError

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

AASM_CODES: dict[int, int] = {-2: DROP, -1: DROP, 0: W, 1: N1, 2: N2, 3: N3, 4: REM}
"""Integer stages of YASA and DeepSleepNet-style files (4 = REM; YASA's -1 artefact, -2 unscored)."""

STAGE_CODINGS = ("aasm", "rk")
"""Codings of bare integer stages, as named by ``--stage-codes``."""
CODING_TABLES: dict[str, dict[int, int]] = {"aasm": AASM_CODES, "rk": SHHS_CODES}
_CODING_NAMES = {"aasm": "AASM", "rk": "R&K"}
_CODING_SUMMARY = {
    "aasm": "0-4, 4 = REM, -1 artefact, -2 unscored",
    "rk": "0-5, 4 = stage 4 = N3, 5 = REM, 6 movement, 9 unscored",
}
_RK_ONLY = frozenset({5, 6, 9})
_ANY_CODING = frozenset(AASM_CODES) | frozenset(SHHS_CODES)
# a whole number, short enough to be a stage code ("4.0" as pandas writes it included)
_INTEGER = re.compile(r"[+-]?\d{1,4}(?:\.0+)?")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?")

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


class IntegerCode(Exception):
    """A bare integer stage (one that some coding knows): its stage depends on its whole file's coding."""

    def __init__(self, code: int) -> None:
        super().__init__(str(code))
        self.code = code


class CodingError(IsatSleepNetError, ValueError):
    """The integer stages of one file fit no coding, or not the one chosen; the message is the problem.

    Its message names the setting ``{stage_codes}`` where choosing a coding would help; a reader that
    wraps it in a file's error keeps the placeholder with :func:`isatsleepnet.errors.template_of`.
    """


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


def map_text(label: str, coding: str | None = None) -> int:
    """Map one free-text or integer stage label (CSV/TSV hypnograms, generic EDF+).

    An integer label needs its file's ``coding`` (from :func:`integer_coding`);
    without one it raises :class:`IntegerCode` so that the reader can decide it
    over the whole file. Integers that no coding knows raise :class:`UnknownLabel`.
    """
    key = label.strip().lower()
    if key in _TEXT_LABELS:
        return _TEXT_LABELS[key]
    if _INTEGER.fullmatch(key):
        code = int(float(key))
        if code not in _ANY_CODING:
            raise UnknownLabel(label.strip())
        if coding is None:
            raise IntegerCode(code)
        table = CODING_TABLES[check_stage_codes(coding)]
        if code not in table:
            raise UnknownLabel(label.strip())
        return table[code]
    raise UnknownLabel(label.strip())


def is_label_or_number(text: str) -> bool:
    """Whether ``text`` is a stage label or a number: what tells a data row from a header row."""
    key = text.strip().lower()
    return key in _TEXT_LABELS or _NUMBER.fullmatch(key) is not None


def check_stage_codes(stage_codes: str | None) -> str | None:
    """``stage_codes`` itself when it names a coding (or is None); a one-line error otherwise."""
    if stage_codes is not None and stage_codes not in STAGE_CODINGS:
        raise IsatSleepNetError(f"stage codes must be one of {', '.join(STAGE_CODINGS)} (got {stage_codes!r})")
    return stage_codes


def integer_coding(found: Sequence[tuple[int, str]], stage_codes: str | None = None) -> tuple[str, str | None]:
    """The coding of one file's integer stages, and a note on how it was decided.

    Decided per file, never per line, since a single 4 means REM in one coding and
    N3 in the other: any 5, 6 or 9 makes the file R&K, any negative code AASM; codes
    0-3 alone read the same in both; a 4 without a deciding code is refused.
    ``stage_codes`` (the user's choice) overrides detection, but then every code
    must exist in it.

    Parameters
    ----------
    found
        Each integer code of the file with where it is (``"on line 7"``,
        ``"at 3600 s"``), in file order.
    stage_codes
        ``"aasm"``, ``"rk"`` or None to decide from the codes.

    Returns
    -------
    tuple
        The coding (``"aasm"`` or ``"rk"``; ``"rk"`` when both read the codes
        alike) and a note for the user, None when there is nothing to say.

    Raises
    ------
    CodingError
        The codes mix both codings, hold a 4 that nothing decides, or hold a
        code that the chosen coding lacks.
    """
    if check_stage_codes(stage_codes) is not None:
        table = CODING_TABLES[stage_codes]
        for code, where in found:
            if code not in table:
                raise CodingError(
                    f"stage code {code} {where} does not exist in the {_CODING_NAMES[stage_codes]} coding chosen "
                    f"with {{stage_codes}} {stage_codes} ({_CODING_SUMMARY[stage_codes]})"
                )
        return stage_codes, None
    rk = next(((c, w) for c, w in found if c in _RK_ONLY), None)
    aasm = next(((c, w) for c, w in found if c < 0), None)
    if rk and aasm:
        raise CodingError(
            f"integer stage codes mix R&K's {rk[0]} ({rk[1]}) and AASM's {aasm[0]} ({aasm[1]}): "
            "no coding holds both"
        )
    if rk:
        return "rk", f"integer stage codes read as R&K (4 = N3, 5 = REM), as code {rk[0]} {rk[1]} shows"
    if aasm:
        return "aasm", f"integer stage codes read as AASM (4 = REM), as code {aasm[0]} {aasm[1]} shows"
    if any(c == 4 for c, _ in found):
        raise CodingError(
            "integer stage codes 0-4 without a 5: AASM (4 = REM, YASA / DeepSleepNet) or "
            "R&K (4 = stage 4 = N3, 5 = REM)? say which with {stage_codes} aasm or {stage_codes} rk"
        )
    return "rk", None  # 0-3 only: W, N1, N2, N3 in both codings


def stage_counts(labels) -> dict[str, int]:
    """Epoch count per stage name, zeros included."""
    import numpy as np

    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=len(STAGES))
    return {name: int(counts[i]) for i, name in enumerate(STAGES)}
