"""The review's state: stages set, accepted, undone and redone, replayed to the same state."""

from __future__ import annotations

import pytest

from isatsleepnet.errors import IsatSleepNetError, SettingError
from isatsleepnet.review.state import ReviewState, StaleVersion


def test_undo_and_redo_step_the_whole_history_and_replay_gives_the_same_state():
    state = ReviewState.replay(["W", "N2", "N2", "REM"], [])
    edits = [state.set_stage(1, "N1", reviewer="ana", version=0),
             state.set_stage(2, "N2", reviewer="ana", version=1),  # accepted as it is
             state.set_stage(1, "W", reviewer="bo", version=2)]
    assert state.stages == ["W", "W", "N2", "REM"] and state.reviewed == ["", "bo", "ana", ""]
    edits.append(state.undo(reviewer="bo", version=3))
    assert state.stages[1] == "N1" and state.reviewed[1] == "ana"
    edits.append(state.undo(reviewer="bo", version=4))
    assert state.reviewed[2] == "" and state.can_redo
    edits.append(state.redo(reviewer="bo", version=5))
    assert state.reviewed[2] == "ana" and state.version == 6
    replayed = ReviewState.replay(["W", "N2", "N2", "REM"], edits)
    assert (replayed.stages, replayed.reviewed, replayed.version) == (state.stages, state.reviewed, 6)
    assert replayed.can_undo and replayed.can_redo
    replayed.set_stage(0, "N1", reviewer="ana", version=6)  # a new edit drops what could be redone
    assert not replayed.can_redo


def test_a_stale_version_and_bad_edits_are_refused():
    state = ReviewState.replay(["W", "N2"], [])
    state.set_stage(0, "N1", reviewer="ana", version=0)
    with pytest.raises(StaleVersion, match="at version 1, the edit was made at version 0: reload"):
        state.set_stage(1, "N3", reviewer="bo", version=0)
    with pytest.raises(SettingError, match="epoch= must be an epoch of this night, 0 to 1, not 2"):
        state.set_stage(2, "N3", reviewer="ana", version=1)
    with pytest.raises(SettingError, match="stage= must be one of W, N1, N2, N3, REM, not 'R'"):
        state.set_stage(1, "R", reviewer="ana", version=1)
    with pytest.raises(IsatSleepNetError, match="nothing to redo"):
        state.redo(reviewer="ana", version=1)
    state.undo(reviewer="ana", version=1)
    with pytest.raises(IsatSleepNetError, match="nothing to undo"):
        state.undo(reviewer="ana", version=2)


def test_a_journal_of_another_staging_does_not_replay():
    state = ReviewState.replay(["W", "N2"], [])
    edit = state.set_stage(1, "N1", reviewer="ana", version=0)
    with pytest.raises(IsatSleepNetError, match="changes epoch 1 from N2, but it is N3"):
        ReviewState.replay(["W", "N3"], [edit])
