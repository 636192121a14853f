"""One night's review: edits on disk before they return, reviewed files that read back as hypnograms."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from isatsleepnet.data.readers.hypnogram import read_hypnogram
from isatsleepnet.errors import DataError, IsatSleepNetError, SettingError
from isatsleepnet.review.session import Review
from isatsleepnet.review.staged import read_staged
from isatsleepnet.review.state import StaleVersion
from tests.review.conftest import MODEL_STAGES, START, write_staged

ROOT = Path(__file__).resolve().parents[2]


def test_the_staged_night_reads_back(staged):
    night = read_staged(staged.parent)  # the folder names its one staged recording
    assert night.name == "night" and night.stages == MODEL_STAGES and night.epoch_seconds == 30.0
    assert night.flagged.tolist() == [i in (2, 10) for i in range(len(MODEL_STAGES))]
    assert night.start == START and night.probabilities.shape == (12, 5) and night.expert is None


def test_edits_give_reviewed_files_that_read_back_as_hypnograms(staged):
    before = [p.name for p in staged.parent.iterdir()]
    review = Review.open(staged, reviewer="ana")
    review.set_stage(2, "W", version=0)
    review.set_stage(10, "N1", version=1)  # accepted
    review.set_stage(4, "N3", version=2)
    final = ["W", "W", "W", "N2", "N3", "N3", "N3", "N2", "REM", "REM", "N1", "W"]
    table = (staged.parent / "night.reviewed.csv").read_text().splitlines()
    assert table[0] == "epoch,onset_s,model_stage,confidence,stage,reviewed,reviewer"
    assert table[3].split(",")[2:] == ["N1", table[3].split(",")[3], "W", "1", "ana"]
    assert table[1].endswith(",W,0,")
    for suffix in (".reviewed.csv", ".reviewed.edf"):
        hypnogram = read_hypnogram(staged.parent / f"night{suffix}", psg_start=START)
        stages = [s for onset, duration, code in zip(hypnogram.onsets, hypnogram.durations, hypnogram.codes)
                  for s in [("W", "N1", "N2", "N3", "REM")[code]] * round(duration / 30)]
        assert stages == final, suffix
    tsv = (staged.parent / "night.reviewed.tsv").read_text().splitlines()
    assert tsv[0] == "onset\tduration\ttrial_type" and tsv[1] == "0\t90\tSleep stage W"
    assert review.progress() == {"flagged": 2, "flagged_reviewed": 2, "reviewed": 3, "changed": 2, "epochs": 12}
    agreement = review.agreement()
    assert agreement["epochs"] == 3 and agreement["accuracy"] == pytest.approx(1 / 3)
    assert agreement["per_stage"] == {"W": 0.0, "N1": 1.0, "N3": 0.0}
    review.close()
    # every file the review left is an output: `stage` on the folder does not read night.reviewed.edf as a PSG
    from isatsleepnet.inference.output_formats import is_output_file
    from isatsleepnet.inference.stage import expand_inputs

    left = {p.name for p in staged.parent.iterdir()} - set(before)
    assert "night.reviewed.edf" in left and all(is_output_file(name) for name in left), left
    (staged.parent / "night.edf").write_bytes(b"")
    assert expand_inputs([staged.parent]) == ([staged.parent / "night.edf"], [])


def test_reopening_continues_with_the_same_stages_and_history(staged):
    with Review.open(staged, reviewer="ana") as review:
        review.set_stage(0, "N1", version=0)
        review.set_stage(1, "N1", version=1)
        review.undo(version=2)
        with pytest.raises(IsatSleepNetError, match="night: its review is open elsewhere"):
            Review.open(staged, reviewer="bo")  # one review per night: two cannot write one journal
    with Review.open(staged, reviewer="bo") as again:
        assert again.version == 3 and again.state.stages[:2] == ["N1", "W"] and again.state.can_redo
        again.redo(version=3)
        assert again.state.stages[:2] == ["N1", "N1"] and again.state.reviewed[:2] == ["ana", "ana"]
        with pytest.raises(StaleVersion):
            again.set_stage(5, "W", version=3)  # a tab still at version 3 is told to reload
        assert again.version == 4


def test_the_staged_files_are_never_modified(staged):
    before = {p.name: p.read_bytes() for p in staged.parent.iterdir()}
    review = Review.open(staged, reviewer="ana")
    review.set_stage(3, "N1", version=0)
    assert {name: (staged.parent / name).read_bytes() for name in before} == before


def test_agreement_with_a_second_scorer(tmp_path):
    expert = ["W", "W", "N2", "N2", "N2", "N3", "N3", "N2", "REM", "REM", "?", ""]
    review = Review.open(write_staged(tmp_path / "s", expert=expert), reviewer="ana")
    assert review.agreement()["accuracy"] is None
    second = review.agreement_with_expert()
    assert second["epochs"] == 10 and second["accuracy"] == pytest.approx(9 / 10)
    review.set_stage(2, "N2", version=0)
    assert review.agreement_with_expert()["accuracy"] == 1.0


@pytest.mark.parametrize(("setup", "words"), [
    (lambda folder: None, "holds no staged recordings"),
    (lambda folder: write_staged(folder, name="a") and write_staged(folder, name="b"), "holds 2 staged recordings"),
    (lambda folder: write_staged(folder).with_name("night.hypnogram.json").unlink(), "missing: the staged CSV"),
    (lambda folder: write_staged(folder).write_text("epoch,stage\n0,W\n"), "lacks the column\\(s\\) onset_s"),
])
def test_what_cannot_be_reviewed_is_one_line(tmp_path, setup, words):
    folder = tmp_path / "s"
    folder.mkdir()
    setup(folder)
    with pytest.raises(DataError, match=words):
        Review.open(folder, reviewer="ana")
    with pytest.raises(SettingError, match="reviewer= must name who reviews"):
        Review.open(folder, reviewer=" ")


def test_a_staged_file_that_is_not_there_says_so(tmp_path):
    """Before: `review nope.csv` said the file "is not what `isatsleepnet stage` writes"."""
    for missing in (tmp_path / "nope.csv", tmp_path / "night.hypnogram.csv", tmp_path / "folder"):
        with pytest.raises(DataError, match=r"^(nope.csv|night.hypnogram.csv|folder): no such file or folder \(the "
                                            r"NAME.hypnogram.csv `stage` wrote, or its folder\)$"):
            Review.open(missing, reviewer="ana")


@pytest.mark.parametrize("output", ["night.reviewed.csv", "night.reviewed.tsv", "night.reviewed.edf"])
def test_a_folder_where_a_reviewed_file_goes_is_named(staged, output):
    """Before: "Is a directory (.../.tmp-night.reviewed.csv.q2n9hg6w)", the temporary file, not the output."""
    (staged.parent / output).mkdir()
    with pytest.raises(DataError, match=rf"^{output}: is a folder, and the review writes") as caught:
        Review.open(staged, reviewer="ana")
    assert ".tmp" not in str(caught.value) and "\n" not in str(caught.value)
    (staged.parent / output).rmdir()
    with Review.open(staged, reviewer="ana"):  # the night was let go
        assert (staged.parent / output).is_file()


KILLED_SESSION = """
import sys
from isatsleepnet.review.session import Review
review = Review.open(sys.argv[1], reviewer="ana")
stages = ["N1", "N2", "N3", "REM", "W"]
for i in range(10_000):
    edit = review.set_stage(i % 12, stages[i % 5], version=review.version)
    print(edit.version, flush=True)  # acknowledged: its line is on disk
"""


def test_kill_9_mid_session_loses_no_acknowledged_edit(staged):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    process = subprocess.Popen([sys.executable, "-c", KILLED_SESSION, str(staged)], stdout=subprocess.PIPE,
                               text=True, env=env)
    acknowledged = 0
    deadline = time.monotonic() + 60
    while acknowledged < 25 and time.monotonic() < deadline:
        acknowledged = int(process.stdout.readline() or acknowledged)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert acknowledged >= 25
    review = Review.open(staged, reviewer="bo")
    assert review.version >= acknowledged
    stages = ["N1", "N2", "N3", "REM", "W"]
    expected = list(MODEL_STAGES)
    for i in range(review.version):
        expected[i % 12] = stages[i % 5]
    assert review.state.stages == expected
    reviewed = [line.split(",")[4] for line in (staged.parent / "night.reviewed.csv").read_text().splitlines()[1:]]
    assert reviewed == expected  # the files caught up with the journal on reopening
    assert np.all([r in ("ana", "") for r in review.state.reviewed])


def test_a_journal_of_another_staging_is_refused_and_lets_the_night_go(tmp_path):
    staged = write_staged(tmp_path / "s")
    with Review.open(staged, reviewer="ana") as review:
        review.set_stage(4, "N1", version=0)
    write_staged(tmp_path / "s", ["W"] * 12)  # staged again, by another model: epoch 4 is W now
    with pytest.raises(DataError, match=r"^night.review.jsonl: does not replay over night.hypnogram.csv: edit 1 "
                                        r"changes epoch 4 from N2, but it is W"):
        Review.open(staged, reviewer="ana")
    (tmp_path / "s" / "night.review.jsonl").unlink()
    with Review.open(staged, reviewer="ana") as review:  # the refused open held nothing
        assert review.version == 0


def test_edits_follow_their_epoch_when_the_night_is_staged_again_with_another_window(tmp_path):
    """Before: edits were replayed by row, so a night staged again from --start 90 moved each one 3 epochs on,
    and NAME.reviewed.csv numbered its rows from 0 where NAME.hypnogram.csv numbers epochs from the recording's
    start."""
    staged = write_staged(tmp_path / "s")  # (rows 2 and 10 are N1 in any staging here: not edited)
    with Review.open(staged, reviewer="ana") as review:
        review.set_stage(5, "REM", version=0)  # the epoch at 150 s
    write_staged(tmp_path / "s", MODEL_STAGES[1:] + ["W"], first=1)  # the same night from 30 s
    with Review.open(staged, reviewer="ana") as review:
        assert review.state.stages[4] == "REM" and review.state.reviewed[4] == "ana"
        assert [s for i, s in enumerate(review.state.reviewed) if i != 4] == [""] * 11
        review.set_stage(0, "N1", version=1)  # the epoch at 30 s, numbered 1
    rows = (tmp_path / "s" / "night.reviewed.csv").read_text().splitlines()[1:]
    assert [r.split(",")[0] for r in rows] == [str(k) for k in range(1, 13)]  # the staged CSV's numbers
    assert rows[4].split(",")[:2] == ["5", "150"] and rows[4].split(",")[4:6] == ["REM", "1"]
    journal = [json.loads(line) for line in (tmp_path / "s" / "night.review.jsonl").read_text().splitlines()]
    assert [(e["epoch"], e["onset_s"]) for e in journal] == [(5, 150.0), (0, 30.0)]
    write_staged(tmp_path / "s", MODEL_STAGES, first=6)  # a window from 180 s
    with pytest.raises(DataError, match=r"^night.review.jsonl: does not replay over night.hypnogram.csv: edit 1 is "
                                        r"of the epoch at 150 s, which this staging does not hold"):
        Review.open(staged, reviewer="ana")


def test_a_review_of_another_recording_is_refused(tmp_path):
    a, b = tmp_path / "a.edf", tmp_path / "b.edf"
    a.write_bytes(b"night a"), b.write_bytes(b"night b")
    staged = write_staged(tmp_path / "s", recording=a)
    with Review.open(staged, reviewer="ana") as review:
        review.set_stage(4, "N1", version=0)
    write_staged(tmp_path / "s", recording=b)  # the same stages, from another file
    with pytest.raises(DataError, match=r"^night.review.jsonl: does not replay over night.hypnogram.csv: edit 1 was "
                                        r"made on another recording \(SHA1 [0-9a-f]{40}; the one staged now: "):
        Review.open(staged, reviewer="ana")


def test_a_journal_written_before_edits_named_their_onset_replays_by_row(staged):
    line = {"version": 1, "time": "2026-12-06T02:00:00Z", "action": "set", "epoch": 4, "old": "N2", "new": "N1",
            "reviewer": "ana"}
    (staged.parent / "night.review.jsonl").write_text(json.dumps(line) + "\n")
    with Review.open(staged, reviewer="bo") as review:
        assert review.state.stages[4] == "N1" and review.state.reviewed[4] == "ana"


def test_a_second_scorers_hypnogram_is_compared_with(staged, tmp_path):
    scorer = tmp_path / "scorer2.csv"
    stages = ["W", "W", "N1", "N2", "N2", "N3", "N3", "N2", "REM", "REM"]  # the first 10 of the 12 epochs
    scorer.write_text("onset,stage\n" + "".join(f"{30 * i},{s}\n" for i, s in enumerate(stages)))
    with Review.open(staged, reviewer="ana", second_scorer=scorer) as review:
        assert review.night.expert == ["W", "W", "N1", "N2", "N2", "N3", "N3", "N2", "REM", "REM", "", ""]
        assert review.agreement_with_expert() == {"epochs": 10, "accuracy": 1.0, "kappa": 1.0,
                                                  "per_stage": {"W": 1.0, "N1": 1.0, "N2": 1.0, "N3": 1.0,
                                                                "REM": 1.0}}
    with pytest.raises(DataError, match="no such hypnogram file"):
        Review.open(staged, reviewer="ana", second_scorer=tmp_path / "none.csv")
    with Review.open(staged, reviewer="ana") as review:  # the refused open held nothing
        assert review.night.expert is None


def test_a_second_scorers_bare_codes_are_read_in_the_coding_named(staged, tmp_path):
    scorer = tmp_path / "scorer2.csv"
    scorer.write_text("onset,stage\n0,0\n30,4\n")  # 4: REM in AASM codes, stage 4 (N3) in R&K's
    with Review.open(staged, reviewer="ana", second_scorer=scorer, stage_codes="rk") as review:
        assert review.night.expert[:2] == ["W", "N3"]
    with Review.open(staged, reviewer="ana", second_scorer=scorer, stage_codes="aasm") as review:
        assert review.night.expert[:2] == ["W", "REM"]
