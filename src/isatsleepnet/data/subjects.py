"""Choosing subjects of a prepared dataset: one parser, one check, one way to their recordings.

Every command that takes subjects (`train`, `evaluate`, `train-gan`, `augment`)
goes through these functions, so that ``--subjects "SC400, SC401,"`` means the
same everywhere and an unknown subject is always the same one-line error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from isatsleepnet.errors import IsatSleepNetError

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


def check_subjects(dataset: PreparedDataset, subjects: Sequence[str]) -> list[str]:
    """``subjects`` as a list, each checked to be in ``dataset`` (one line naming the unknown ones)."""
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
