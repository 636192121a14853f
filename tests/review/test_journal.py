"""The journal: whole lines on disk, a cut last line recovered, a changed journal refused."""

from __future__ import annotations

import pytest

from isatsleepnet.errors import DataError
from isatsleepnet.review.journal import Edit, Journal


def edit(version: int, epoch: int = 0, old: str = "W", new: str = "N1", action: str = "set") -> Edit:
    return Edit(version, "2026-12-06T02:00:00Z", action, epoch, old, new, "ana")


def test_edits_survive_reopening_in_order(tmp_path):
    path = tmp_path / "n.review.jsonl"
    journal = Journal.open(path)
    assert journal.edits == [] and not path.exists()
    journal.append(edit(1))
    journal.append(edit(2, 3, "N2", "N3"))
    again = Journal.open(path)
    assert again.edits == [edit(1), edit(2, 3, "N2", "N3")] and again.recovered_bytes == 0
    assert path.read_text().count("\n") == 2


@pytest.mark.parametrize("cut", [1, 10, 40])
def test_a_line_cut_by_a_kill_is_dropped_and_the_next_edit_starts_whole(tmp_path, cut):
    path = tmp_path / "n.review.jsonl"
    journal = Journal.open(path)
    journal.append(edit(1))
    whole = path.read_bytes()
    path.write_bytes(whole + (edit(2).to_line() + "\n").encode()[:cut])
    again = Journal.open(path)
    assert again.edits == [edit(1)] and again.recovered_bytes == cut
    assert path.read_bytes() == whole
    again.append(edit(2))
    assert Journal.open(path).edits == [edit(1), edit(2)]


@pytest.mark.parametrize(("text", "words"), [
    ('{"version": 1}\n', "line 1 is not an edit of a review"),
    ("not json\n", "line 1 is not an edit of a review"),
    ('{"version": 1, "time": "t", "action": "set", "epoch": 0, "old": "W", "new": "N5", "reviewer": "a"}\n',
     "new must be one of W, N1, N2, N3, REM"),
    (edit(2).to_line() + "\n", "line 1 has version 2, expected 1"),
])
def test_a_changed_journal_is_refused_in_one_line(tmp_path, text, words):
    path = tmp_path / "n.review.jsonl"
    path.write_text(text)
    with pytest.raises(DataError, match=words) as caught:
        Journal.open(path)
    assert "\n" not in str(caught.value) and path.read_text() == text  # nothing dropped


def test_an_edit_out_of_order_is_not_appended(tmp_path):
    journal = Journal.open(tmp_path / "n.review.jsonl")
    with pytest.raises(ValueError, match="does not follow"):
        journal.append(edit(2))
    with pytest.raises(ValueError, match="action must be one of"):
        edit(1, action="delete")


def test_a_whole_last_line_without_its_newline_is_kept(tmp_path):
    """Before: an editor that strips the final newline lost the last edit ("cut by a kill ... dropped")."""
    path = tmp_path / "n.review.jsonl"
    journal = Journal.open(path)
    journal.append(edit(1))
    journal.append(edit(2, 3, "N2", "N3"))
    path.write_bytes(path.read_bytes().rstrip(b"\n"))
    again = Journal.open(path)
    assert again.edits == [edit(1), edit(2, 3, "N2", "N3")] and again.recovered_bytes == 0
    assert path.read_bytes().endswith(b"}\n")  # the line ended, so the next edit starts one of its own
    again.append(edit(3, 4, "N2", "W"))
    assert Journal.open(path).edits == [edit(1), edit(2, 3, "N2", "N3"), edit(3, 4, "N2", "W")]


def test_a_whole_last_line_out_of_order_is_refused_not_dropped(tmp_path):
    path = tmp_path / "n.review.jsonl"
    text = edit(1).to_line() + "\n" + edit(3).to_line()
    path.write_text(text)
    with pytest.raises(DataError, match="line 2 has version 3, expected 2"):
        Journal.open(path)
    assert path.read_text() == text
