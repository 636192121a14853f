"""Choosing subjects of a prepared dataset: one parser, one check, one way to their recordings.

Every command that takes subjects (`train`, `evaluate`, `train-gan`, `augment`)
goes through these functions, so that ``--subjects "SC400, SC401,"`` means the
same everywhere and an unknown subject is always the same one-line error. From
Python, ``subjects="SC400"`` is one subject (and ``"SC400,SC401"`` two), as on the
command line (:func:`subject_names`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from isatsleepnet.errors import DataError, IsatSleepNetError, SettingError

if TYPE_CHECKING:
    from isatsleepnet.data.store import PreparedDataset, PreparedRecording


def subject_list(text: str) -> list[str]:
    """Subjects from a comma-separated list; blanks and empty items are dropped.

    Examples
    --------
    >>> subject_list(" SC400, SC401,")
    ['SC400', 'SC401']
    """
    return [item.strip() for item in text.split(",") if item.strip()]


def subject_names(subjects: str | Iterable[str] | None, setting: str = "subjects") -> list[str] | None:
    """Subjects a Python caller gave, as a list: one string is one subject or a comma-separated list,
    as ``--subjects`` reads it (:func:`subject_list`), never its characters; None stays None.

    Examples
    --------
    >>> subject_names("SC400"), subject_names("SC400, SC401"), subject_names(("SC400",)), subject_names(None)
    (['SC400'], ['SC400', 'SC401'], ['SC400'], None)
    >>> subject_names([400], "train_subjects")
    Traceback (most recent call last):
    ...
    isatsleepnet.errors.SettingError: train_subjects= must be a subject or a list of subjects ('SC400'), not [400]
    """
    if subjects is None:
        return None
    if isinstance(subjects, str):
        return subject_list(subjects)
    items = list(subjects) if isinstance(subjects, Iterable) and not isinstance(subjects, (bytes, Mapping)) else None
    if items is None or not all(isinstance(item, str) for item in items):
        raise SettingError(setting, f"must be a subject or a list of subjects ('SC400'), not {subjects!r}")
    return items


def check_subjects(dataset: PreparedDataset, subjects: str | Sequence[str], setting: str = "subjects") -> list[str]:
    """``subjects`` as a list (:func:`subject_names`), each checked to be in ``dataset`` (one line naming
    the unknown ones)."""
    subjects = subject_names(subjects, setting) or []
    known = dataset.subjects()
    unknown = sorted(set(subjects) - set(known))
    if unknown:
        shown = ", ".join(known[:10]) + (" …" if len(known) > 10 else "")
        raise IsatSleepNetError(f"subject(s) {', '.join(unknown[:5])} not in {dataset.root} (it has {shown})")
    return list(subjects)


def recordings_of(dataset: PreparedDataset, subjects: Sequence[str]) -> list[PreparedRecording]:
    """The recordings of ``subjects``, in the dataset's manifest order."""
    wanted = set(subjects)
    return [dataset[row["recording"]] for row in dataset.manifest if row["subject"] in wanted]


def pattern_subject(path: Path, name: str, pattern: str | re.Pattern[str] | None) -> tuple[str, int] | None:
    r"""The subject and night that ``subject_pattern`` finds in a recording's ``name`` (its ``subject`` group, its
    ``night`` group or night 1); None without a pattern. One line naming ``path`` when it does not match or its
    night is no number: every layout that reads a pattern reads it here.

    Examples
    --------
    >>> pattern_subject(Path("P01_N2.edf"), "P01_N2", r"(?P<subject>P\d+)_N(?P<night>\w)")
    ('P01', 2)
    >>> pattern_subject(Path("P02_Na.edf"), "P02_Na", r"(?P<subject>P\d+)_N(?P<night>\w)")
    Traceback (most recent call last):
    ...
    isatsleepnet.errors.DataError: P02_Na.edf: subject_pattern='s night group matched 'a', not a number
    """
    if pattern is None:
        return None
    match = re.search(pattern, name)
    if match is None:
        raise DataError(path, "{subject_pattern} does not match its name")
    night = match.groupdict().get("night")
    if night and not night.isdecimal():
        raise DataError(path, f"{{subject_pattern}}'s night group matched {night!r}, not a number")
    return match["subject"] or match.group(0), int(night) if night else 1
