"""A review of one staged night: edits journaled to disk, the reviewed hypnogram rewritten after each.

Files beside the staged ones (the recording and `stage`'s files are never modified):

- ``NAME.review.jsonl``: the journal (:mod:`isatsleepnet.review.journal`), the one record;
- ``NAME.reviewed.csv``: per epoch the model's stage and confidence, the final stage,
  whether it was reviewed and by whom (``read_hypnogram`` reads its ``stage`` column);
- ``NAME.reviewed.tsv`` and ``NAME.reviewed.edf``: the final stages as annotations
  (onset, duration, ``Sleep stage ...``), as `stage` writes its own.

Each reviewed file is written to a temporary name and renamed, after the journal line
is on disk: a kill between the two leaves files one edit behind, which reopening the
review rewrites from the journal.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import os
from pathlib import Path
from typing import Any

import numpy as np

from isatsleepnet.atomic import atomic_write_text
from isatsleepnet.data.labels import STAGES
from isatsleepnet.errors import DataError, IsatSleepNetError, SettingError
from isatsleepnet.evaluation.metrics import confusion_matrix_of, confusion_metrics
from isatsleepnet.review.journal import Edit, Journal
from isatsleepnet.review.staged import StagedNight, read_staged, with_second_scorer
from isatsleepnet.review.state import ReviewState

REVIEWED_COLUMNS = ("epoch", "onset_s", "model_stage", "confidence", "stage", "reviewed", "reviewer")



def epoch_numbers(night: StagedNight) -> list[int]:
    """Each row's epoch number as NAME.hypnogram.csv gives it (from the recording's start, whatever window was
    staged): what the reviewer reads, on the page and in NAME.reviewed.csv. Edits name rows; people name these.
    A night made without the CSV's ``epoch`` column: the rows."""
    found = night.epoch_numbers if night.epoch_numbers is not None else range(len(night.onsets_s))
    return [int(number) for number in found]


def check_reviewer(reviewer: object) -> str:
    """The reviewer's name as every edit records it; one line when it names nobody.

    Examples
    --------
    >>> check_reviewer(" ana ")
    'ana'
    """
    if not isinstance(reviewer, str) or not reviewer.strip():
        raise SettingError("reviewer", f"must name who reviews, not {reviewer!r}")
    return reviewer.strip()

class Review:
    """The review of one staged night; open it with :meth:`open`.

    Every edit (:meth:`set_stage`, :meth:`undo`, :meth:`redo`) names the version it
    changes and returns once its journal line is on disk; the reviewed files follow.

    Examples
    --------
    >>> review = Review.open("staged/SC4001E0-PSG.hypnogram.csv", reviewer="ana")  # doctest: +SKIP
    >>> review.set_stage(412, "N1", version=review.version)  # doctest: +SKIP
    >>> review.agreement()["accuracy"]  # doctest: +SKIP
    """

    def __init__(self, night: StagedNight, journal: Journal, reviewer: str, lock: int | None = None) -> None:
        self._lock: int | None = None
        self.night = night
        self.journal = journal
        self.reviewer = reviewer
        self.state = ReviewState.replay(night.stages, _on_rows(night, journal.edits))
        self._lock = lock  # held by this object from here: close() or __del__ releases it

    @classmethod
    def open(cls, staged: str | Path, *, reviewer: str, second_scorer: str | Path | None = None,
             stage_codes: str | None = None) -> Review:
        """Open the review of ``staged`` (NAME.hypnogram.csv, or its folder), continuing its journal.

        ``second_scorer``: another scorer's hypnogram of the night, compared with (in place of
        the reference `stage --hypnogram` kept in the staged CSV, if any); ``stage_codes``: the
        coding of its bare integer stages (as ``read_hypnogram``'s).
        The review holds its night until :meth:`close` (or the end of a ``with`` block, or
        the process): a second review of the same night, in this process or another,
        is refused, so that two cannot write one journal.
        """
        reviewer = check_reviewer(reviewer)
        night = read_staged(staged)
        if second_scorer is not None:
            night = with_second_scorer(night, second_scorer, stage_codes=stage_codes)
        lock = _hold(night.folder / (night.name + ".review.lock"), night.name)
        try:
            journal = Journal.open(night.folder / (night.name + ".review.jsonl"))
            review = cls(night, journal, reviewer.strip(), lock)
        except IsatSleepNetError as exc:
            os.close(lock)
            if isinstance(exc, DataError):
                raise
            raise DataError(night.folder / (night.name + ".review.jsonl"),
                            f"does not replay over {night.csv.name}: {exc}") from None
        except BaseException:
            os.close(lock)
            raise
        try:
            review.write_reviewed()  # the files follow the journal, also after a kill between the two
        except BaseException:
            review.close()
            raise
        return review

    def close(self) -> None:
        """Let the night go: another review may open it."""
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def __del__(self) -> None:  # a review dropped without close() lets its night go too
        self.close()

    def __enter__(self) -> Review:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ edits
    @property
    def version(self) -> int:
        """Edits made so far; each edit names the version it changes."""
        return self.state.version

    def set_stage(self, epoch: int, stage: str, *, version: int) -> Edit:
        """Give ``epoch`` the stage ``stage`` (its own stage: accept it as it is)."""
        return self._keep(self.state.set_stage(epoch, stage, reviewer=self.reviewer, version=version))

    def undo(self, *, version: int) -> Edit:
        """Take back the last edit."""
        return self._keep(self.state.undo(reviewer=self.reviewer, version=version))

    def redo(self, *, version: int) -> Edit:
        """Make again the last edit taken back."""
        return self._keep(self.state.redo(reviewer=self.reviewer, version=version))

    def _keep(self, edit: Edit) -> Edit:
        """Journal ``edit`` (a row of the state) bound to its epoch's onset and the recording, then write."""
        self.journal.append(dataclasses.replace(edit, onset_s=float(self.night.onsets_s[edit.epoch]),
                                                recording_sha1=self.night.recording_sha1))
        self.write_reviewed()
        return edit

    # ------------------------------------------------------------------ what it gives
    def path(self, suffix: str) -> Path:
        """The review's file with ``suffix``: one of
        :data:`~isatsleepnet.inference.output_formats.REVIEW_SUFFIXES` (the lock file is empty: the
        kernel holds the lock)."""
        return self.night.folder / (self.night.name + suffix)

    def write_reviewed(self) -> list[Path]:
        """Write NAME.reviewed.csv, .tsv and .edf from the current state (each atomically).

        A file that cannot be written is one line naming it, not the temporary file it is
        written through (a folder in its place is said to be one).
        """
        from isatsleepnet.inference.exports import (
            ANNOTATION_TEXT,
            stage_runs,
            write_annotations_edf,
            write_annotations_tsv,
        )

        night, state = self.night, self.state
        paths = [self.path(s) for s in (".reviewed.csv", ".reviewed.tsv", ".reviewed.edf")]
        csv_path, tsv_path, edf_path = paths
        for path in paths:  # checked first: the rename onto a folder would name only the temporary file
            if path.is_dir():
                raise DataError(path, "is a folder, and the review writes its reviewed hypnogram to this name: move "
                                      "the folder away, then review again")
        events = stage_runs(night.onsets_s, [ANNOTATION_TEXT[s] for s in state.stages], night.epoch_seconds)
        writes = [(csv_path, lambda: atomic_write_text(csv_path, self._reviewed_table())),
                  (tsv_path, lambda: write_annotations_tsv(tsv_path, events)),
                  (edf_path, lambda: write_annotations_edf(edf_path, events, start=night.start))]
        for path, write in writes:
            try:
                write()
            except OSError as exc:
                raise DataError(path, f"cannot be written ({exc.strerror or exc})") from None
        return paths

    def _reviewed_table(self) -> str:
        """NAME.reviewed.csv's text: one row per epoch, numbered as NAME.hypnogram.csv numbers it."""
        night, state = self.night, self.state
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(REVIEWED_COLUMNS)
        for i, (number, onset) in enumerate(zip(epoch_numbers(night), night.onsets_s)):
            writer.writerow([number, f"{onset:g}", state.model[i], f"{night.confidence[i]:.4f}", state.stages[i],
                             int(bool(state.reviewed[i])), state.reviewed[i]])
        return buf.getvalue()

    def progress(self) -> dict[str, int]:
        """Flagged epochs reviewed so far, of all flagged; epochs reviewed and changed in all."""
        reviewed = np.array([bool(r) for r in self.state.reviewed])
        changed = np.array([a != b for a, b in zip(self.state.model, self.state.stages)])
        flagged = self.night.flagged
        return {"flagged": int(flagged.sum()), "flagged_reviewed": int((reviewed & flagged).sum()),
                "reviewed": int(reviewed.sum()), "changed": int(changed.sum()), "epochs": len(reviewed)}

    def agreement(self) -> dict[str, Any]:
        """Agreement of the model with the reviewer on the reviewed epochs (None before any is reviewed).

        ``accuracy`` and Cohen's ``kappa`` over the reviewed epochs, and per stage the
        share of the reviewer's epochs of that stage the model staged alike.
        """
        mask = [bool(r) for r in self.state.reviewed]
        return _agreement([m for m, k in zip(self.state.model, mask) if k],
                          [s for s, k in zip(self.state.stages, mask) if k])

    def agreement_with_expert(self) -> dict[str, Any] | None:
        """Agreement of the final stages with the second scorer's, where both scored (None without one)."""
        if self.night.expert is None:
            return None
        pairs = [(s, e) for s, e in zip(self.state.stages, self.night.expert) if e in STAGES]
        return _agreement([e for _, e in pairs], [s for s, _ in pairs])


def _on_rows(night: StagedNight, edits: list[Edit]) -> list[Edit]:
    """The journal's ``edits`` on the rows of ``night``, each found by its epoch's onset (lines written before
    2026-12-08 name the row only); an edit made on another recording, or on an epoch this staging does not hold,
    is refused: the night was staged again under the review."""
    rows = {round(float(onset), 3): row for row, onset in enumerate(night.onsets_s)}
    again = "move the review's files (NAME.review*) away to review this staging"
    placed = []
    for edit in edits:
        if edit.recording_sha1 and night.recording_sha1 and edit.recording_sha1 != night.recording_sha1:
            raise IsatSleepNetError(f"edit {edit.version} was made on another recording (SHA1 {edit.recording_sha1}; "
                                    f"the one staged now: {night.recording_sha1}); {again}")
        if edit.onset_s is None:
            placed.append(edit)
            continue
        row = rows.get(round(float(edit.onset_s), 3))
        if row is None:
            raise IsatSleepNetError(f"edit {edit.version} is of the epoch at {edit.onset_s:g} s, which this staging "
                                    f"does not hold (staged again over another window of the recording?); {again}")
        placed.append(dataclasses.replace(edit, epoch=row))
    return placed


def _hold(path: Path, name: str) -> int:
    """An open descriptor of ``path`` with an exclusive ``flock`` (released by the kernel when the process ends)."""
    import fcntl

    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise IsatSleepNetError(f"{name}: its review is open elsewhere (another isatsleepnet review, or another "
                                "Review in this program); close that one first") from None
    return fd


def _agreement(reference: list[str], final: list[str]) -> dict[str, Any]:
    """accuracy, kappa (None where undefined) and per-stage agreement of two stage lists."""
    n = len(final)
    if n == 0:
        return {"epochs": 0, "accuracy": None, "kappa": None, "per_stage": {}}
    same = [a == b for a, b in zip(reference, final)]
    kappa = None
    if len(set(reference) | set(final)) > 1:
        code = {stage: k for k, stage in enumerate(STAGES)}
        cm = confusion_matrix_of(np.array([code.get(s, -1) for s in final]),
                                 np.array([code.get(s, -1) for s in reference]))  # others left out
        kappa = float(confusion_metrics(cm)["kappa"])  # more than one stage: chance agreement below 1
    per_stage = {s: float(np.mean([ok for ok, f in zip(same, final) if f == s])) for s in STAGES if s in final}
    return {"epochs": n, "accuracy": float(np.mean(same)), "kappa": kappa, "per_stage": per_stage}
