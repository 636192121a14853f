"""Where a review stands: each epoch's final stage, which epochs were reviewed, and the undo history.

The state is never stored; it is what replaying the journal over the model's stages
gives (:meth:`ReviewState.replay`), so the journal is the one record of the review.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from isatsleepnet.data.labels import STAGES
from isatsleepnet.errors import IsatSleepNetError, SettingError
from isatsleepnet.review.journal import Edit


class StaleVersion(IsatSleepNetError):
    """An edit made against another version of the review than the current one (a stale tab)."""

    def __init__(self, expected: int, current: int) -> None:
        self.expected = expected
        self.current = current
        super().__init__(f"the review is at version {current}, the edit was made at version {expected}: "
                         "reload to see the other edits first")


@dataclass
class ReviewState:
    """The model's stages with a review's edits applied.

    Attributes
    ----------
    model : list of str
        The model's stage of each epoch (W, N1, N2, N3, REM).
    stages : list of str
        The final stage of each epoch: the model's, or the reviewer's where changed.
    reviewed : list of str
        Who last set each epoch (empty: not reviewed). Setting an epoch to the stage it
        already has accepts it: reviewed, unchanged.
    version : int
        Edits applied so far (0: none).

    Examples
    --------
    >>> state = ReviewState.replay(["W", "N2", "N2"], [])
    >>> edit = state.set_stage(1, "N1", reviewer="ana", version=0)
    >>> state.stages, state.version
    (['W', 'N1', 'N2'], 1)
    >>> _ = state.undo(reviewer="ana", version=1)
    >>> state.stages, state.reviewed
    (['W', 'N2', 'N2'], ['', '', ''])
    >>> _ = state.redo(reviewer="ana", version=2)
    >>> state.stages
    ['W', 'N1', 'N2']
    """

    model: list[str]
    stages: list[str] = field(default_factory=list)
    reviewed: list[str] = field(default_factory=list)
    version: int = 0
    _done: list[tuple[Edit, str]] = field(default_factory=list, repr=False)  # (edit, who had set it before)
    _undone: list[tuple[Edit, str]] = field(default_factory=list, repr=False)

    @classmethod
    def replay(cls, model: Sequence[str], edits: Iterable[Edit]) -> ReviewState:
        """The state after ``edits`` (a journal's, in order) over the model's stages ``model``."""
        unknown = sorted({s for s in model if s not in STAGES})
        if unknown:
            raise IsatSleepNetError(f"the model's stages hold {', '.join(unknown)}, not stages of {', '.join(STAGES)}")
        state = cls(list(model), list(model), [""] * len(model))
        for edit in edits:
            state._apply(edit)
        return state

    # ------------------------------------------------------------------ the three edits
    def set_stage(self, epoch: int, stage: str, *, reviewer: str, version: int) -> Edit:
        """Give ``epoch`` the stage ``stage`` (its current stage: accept it); the journal's next line."""
        self._check(version)
        if isinstance(epoch, bool) or not isinstance(epoch, int) or not 0 <= epoch < len(self.stages):
            raise SettingError("epoch", f"must be an epoch of this night, 0 to {len(self.stages) - 1}, not {epoch!r}")
        if stage not in STAGES:
            raise SettingError("stage", f"must be one of {', '.join(STAGES)}, not {stage!r}")
        return self._apply(self._edit("set", epoch, self.stages[epoch], stage, reviewer))

    def undo(self, *, reviewer: str, version: int) -> Edit:
        """Take back the last edit not yet taken back; the journal's next line."""
        self._check(version)
        if not self._done:
            raise IsatSleepNetError("nothing to undo")
        last = self._done[-1][0]
        return self._apply(self._edit("undo", last.epoch, last.new, last.old, reviewer))

    def redo(self, *, reviewer: str, version: int) -> Edit:
        """Make again the last edit taken back (none since made anew); the journal's next line."""
        self._check(version)
        if not self._undone:
            raise IsatSleepNetError("nothing to redo")
        last = self._undone[-1][0]
        return self._apply(self._edit("redo", last.epoch, last.old, last.new, reviewer))

    @property
    def can_undo(self) -> bool:
        return bool(self._done)

    @property
    def can_redo(self) -> bool:
        return bool(self._undone)

    # ------------------------------------------------------------------ replay
    def _apply(self, edit: Edit) -> Edit:
        """Apply ``edit`` (checked against the state it claims to change) and return it."""
        if edit.version != self.version + 1:
            raise IsatSleepNetError(f"edit {edit.version} does not follow version {self.version}")
        if not 0 <= edit.epoch < len(self.stages):
            raise IsatSleepNetError(f"edit {edit.version} names epoch {edit.epoch}; the night has {len(self.stages)}")
        if self.stages[edit.epoch] != edit.old:
            raise IsatSleepNetError(f"edit {edit.version} changes epoch {edit.epoch} from {edit.old}, but it is "
                                    f"{self.stages[edit.epoch]}: the journal is not of this staging")
        if edit.action == "set":
            self._done.append((edit, self.reviewed[edit.epoch]))
            self._undone.clear()
            self.reviewed[edit.epoch] = edit.reviewer
        elif edit.action == "undo":
            if not self._done or self._done[-1][0].epoch != edit.epoch:
                raise IsatSleepNetError(f"edit {edit.version} undoes nothing the review did")
            done, before = self._done.pop()
            self._undone.append((done, self.reviewed[edit.epoch]))
            self.reviewed[edit.epoch] = before
        else:
            if not self._undone or self._undone[-1][0].epoch != edit.epoch:
                raise IsatSleepNetError(f"edit {edit.version} redoes nothing the review undid")
            undone, _ = self._undone.pop()
            self._done.append((undone, self.reviewed[edit.epoch]))
            self.reviewed[edit.epoch] = undone.reviewer
        self.stages[edit.epoch] = edit.new
        self.version = edit.version
        return edit

    def _check(self, version: int) -> None:
        if version != self.version:
            raise StaleVersion(version, self.version)

    def _edit(self, action: str, epoch: int, old: str, new: str, reviewer: str) -> Edit:
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
        return Edit(self.version + 1, now, action, epoch, old, new, reviewer)
