"""The `reviewed` dataset finds the PSG its sidecar names, from the sidecar's folder, and checks its SHA1; two copies
of one night are refused before any work, and any reviewed part of a night is prepared (no coverage rule)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import numpy as np

from isatsleepnet.data.datasets import find_recordings
from isatsleepnet.data.datasets_reviewed import find_reviewed
from isatsleepnet.data.hashing import sha1_of
from isatsleepnet.data.prepare import prepare_dataset
from isatsleepnet.data.prepare_config import PrepareConfig
from isatsleepnet.data.store import PreparedDataset
from isatsleepnet.errors import IsatSleepNetError


def reviewed_night(folder: Path, name: str = "night", *, recording: str | None = None, sha1: str | None = "own",
                   psg: bytes = b"the staged PSG") -> Path:
    """NAME.reviewed.csv and NAME.hypnogram.json in ``folder``, the PSG ``NAME.edf`` beside them."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.edf").write_bytes(psg)
    table = folder / f"{name}.reviewed.csv"
    table.write_text("epoch,onset_s,model_stage,confidence,stage,reviewed,reviewer\n0,0.0,W,0.9,W,1,ana\n")
    sidecar = {"Recording": recording or f"{name}.edf",
               "RecordingSHA1": sha1_of(folder / f"{name}.edf") if sha1 == "own" else sha1}
    (folder / f"{name}.hypnogram.json").write_text(json.dumps(sidecar))
    return table


def config(pattern: str | None = None) -> PrepareConfig:
    return PrepareConfig(dataset="reviewed", eeg=["C4-M1"], subject_pattern=pattern)


def test_a_relative_recording_is_read_from_the_sidecars_folder(tmp_path, monkeypatch):
    reviewed_night(tmp_path / "staged")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "night.edf").write_bytes(b"another night")
    monkeypatch.chdir(elsewhere)
    sources, errors = find_reviewed(tmp_path / "staged", config())
    assert errors == [] and [s.psg for s in sources] == [(tmp_path / "staged" / "night.edf").resolve()]


def test_an_absolute_recording_is_taken_as_it_is(tmp_path):
    reviewed_night(tmp_path / "raw", "psg")
    reviewed_night(tmp_path / "staged", recording=str(tmp_path / "raw" / "psg.edf"),
                   sha1=sha1_of(tmp_path / "raw" / "psg.edf"))
    sources, errors = find_reviewed(tmp_path / "staged", config())
    assert errors == [] and (tmp_path / "raw" / "psg.edf").resolve() in [s.psg for s in sources]


def test_a_psg_that_is_not_the_one_staged_is_refused(tmp_path, monkeypatch):
    table = reviewed_night(tmp_path / "staged", sha1="0" * 40)
    reviewed_night(tmp_path / "staged", "other")
    sources, errors = find_reviewed(tmp_path / "staged", config())
    assert [s.recording for s in sources] == ["other"]
    (error,) = errors
    assert error.path == table
    assert str(error) == (f"night.reviewed.csv: its recording {(tmp_path / 'staged' / 'night.edf').resolve()} is not the one "
                          f"staged (SHA1 {sha1_of(tmp_path / 'staged' / 'night.edf')}; night.hypnogram.json "
                          f"records {'0' * 40})")


def test_a_moved_psg_is_not_replaced_by_another_of_the_same_name(tmp_path, monkeypatch):
    reviewed_night(tmp_path / "staged")
    (tmp_path / "staged" / "night.edf").unlink()
    monkeypatch.chdir(tmp_path)
    Path("night.edf").write_bytes(b"another night")
    _, (error,) = find_reviewed(tmp_path / "staged", config())
    assert "is not the one staged" in str(error)
    Path("night.edf").write_bytes(b"the staged PSG")  # the same file, where `stage` ran: found
    sources, errors = find_reviewed(tmp_path / "staged", config())
    assert errors == [] and [s.psg for s in sources] == [(tmp_path / "night.edf").resolve()]


def test_a_sidecar_without_sha1_still_finds_its_psg(tmp_path):
    reviewed_night(tmp_path / "staged", sha1=None)
    sources, errors = find_reviewed(tmp_path / "staged", config())
    assert errors == [] and len(sources) == 1


def test_subject_pattern_night_that_is_not_a_number_is_one_line(tmp_path):
    reviewed_night(tmp_path / "staged", "P01_Nx")
    reviewed_night(tmp_path / "staged", "P01_N2")
    sources, (error,) = find_reviewed(tmp_path / "staged", config(r"(?P<subject>P\d+)_N(?P<night>.)"))
    assert [(s.subject, s.night) for s in sources] == [("P01", 2)]
    assert error.render(lambda s: "--" + s.replace("_", "-")) == (
        "P01_Nx.reviewed.csv: --subject-pattern's night group matched 'x', not a number")


def test_two_reviewed_copies_of_one_night_are_refused_before_any_work(tmp_path):
    """Before: both named one PSG, so they passed as one file; the first was prepared, the second failed with
    FileExistsError, and a rerun skipped both: the second reviewer's stages never reached training."""
    reviewed_night(tmp_path / "raw", "psg")
    for reviewer in ("t1", "t2"):
        reviewed_night(tmp_path / "both" / reviewer, recording=str(tmp_path / "raw" / "psg.edf"),
                       sha1=sha1_of(tmp_path / "raw" / "psg.edf"))
        (tmp_path / "both" / reviewer / "night.edf").unlink()
    first, second = (tmp_path / "both" / r / "night.reviewed.csv" for r in ("t1", "t2"))
    with pytest.raises(IsatSleepNetError, match=re.escape(
            f"{first} and {second} are two copies of one night (both of {(tmp_path / 'raw' / 'psg.edf').resolve()}) "
            "and would both be prepared as recording 'night'")):
        find_recordings(tmp_path / "both", config())
    with pytest.raises(IsatSleepNetError, match="two copies of one night"):
        prepare_dataset(tmp_path / "both", tmp_path / "out", config(), progress=False)
    assert not (tmp_path / "out").exists()


def test_a_copy_whose_psg_is_gone_still_counts_as_a_night_of_that_name(tmp_path):
    reviewed_night(tmp_path / "both" / "t1")
    reviewed_night(tmp_path / "both" / "t2")
    (tmp_path / "both" / "t2" / "night.edf").unlink()
    with pytest.raises(IsatSleepNetError, match="would both be prepared as recording 'night'"):
        find_recordings(tmp_path / "both", config())


def _staged_psg(write_edf, folder: Path, n_epochs: int, rows: range, reviewed: set[int]) -> Path:
    """A real PSG of ``n_epochs`` and a review of the staged ``rows`` (epoch numbers), ``reviewed`` of them checked."""
    folder.mkdir(parents=True, exist_ok=True)
    psg = write_edf(folder / "night.edf", [("C4-M1", np.random.default_rng(0).normal(0, 20, 3000 * n_epochs), 100.0,
                                            "uV")])
    lines = [f"{k},{30 * k},N2,0.9,N2,{int(k in reviewed)},{'ana' if k in reviewed else ''}" for k in rows]
    table = folder / "night.reviewed.csv"
    table.write_text("epoch,onset_s,model_stage,confidence,stage,reviewed,reviewer\n" + "\n".join(lines) + "\n")
    (folder / "night.hypnogram.json").write_text(json.dumps({"Recording": "night.edf", "RecordingSHA1": sha1_of(psg)}))
    return table


def test_a_review_of_a_window_of_the_night_is_prepared_as_a_whole_night_s_is(tmp_path, write_edf):
    """Before: a night staged with --start/--end (5 of 20 epochs) failed the 50 % coverage rule meant for a
    hypnogram of another recording, while a full-night staging with one epoch reviewed passed."""
    _staged_psg(write_edf, tmp_path / "window", 20, range(0, 5), {1, 2})
    _staged_psg(write_edf, tmp_path / "whole", 20, range(0, 20), {7})
    for name, kept in (("window", 2), ("whole", 1)):
        results = prepare_dataset(tmp_path / name, tmp_path / f"out_{name}", config(), progress=False)
        assert [r.status for r in results] == ["prepared"], results[0].error
        assert PreparedDataset(tmp_path / f"out_{name}")["night"].epochs.shape[0] == kept


def test_a_night_opened_in_review_but_not_reviewed_says_so(tmp_path, write_edf, capsys):
    """Before: 'hypnogram does not cover the PSG (0 to 600 s)'."""
    _staged_psg(write_edf, tmp_path / "staged", 20, range(0, 20), set())
    (result,) = prepare_dataset(tmp_path / "staged", tmp_path / "out", config(), progress=False)
    assert result.status == "failed"
    assert result.error == ("night.reviewed.csv: no epoch of its 20 has been reviewed (only reviewed epochs are "
                            "prepared): score some in `isatsleepnet review` first")


def test_other_layouts_keep_the_coverage_rule_and_say_what_it_is(tmp_path, write_edf):
    folder = tmp_path / "raw"
    folder.mkdir()
    write_edf(folder / "night.edf", [("C4-M1", np.random.default_rng(0).normal(0, 20, 3000 * 20), 100.0, "uV")])
    (folder / "night.csv").write_text("onset,stage\n" + "".join(f"{30 * k},N2\n" for k in range(5)))
    (result,) = prepare_dataset(folder, tmp_path / "out", PrepareConfig(dataset="edf", eeg=["C4-M1"]), progress=False)
    assert result.error == ("night.csv: hypnogram covers only 25 % of the PSG's 20 epochs (ends at 150 s, the PSG at "
                            "600 s): at least 50 % is required, as a hypnogram covering less may be another "
                            "recording's")


def test_a_night_reviewed_further_after_prepare_is_prepared_again(tmp_path, write_edf, capsys):
    """Before: a rerun kept the recording by its name ("skipped") and the epochs scored since never reached training."""
    table = _staged_psg(write_edf, tmp_path / "staged", 20, range(0, 20), {1, 2})
    out = tmp_path / "out"
    assert [r.status for r in prepare_dataset(tmp_path / "staged", out, config(), progress=False)] == ["prepared"]
    assert [r.status for r in prepare_dataset(tmp_path / "staged", out, config(), progress=False)] == ["skipped"]
    capsys.readouterr()
    _staged_psg(write_edf, tmp_path / "staged", 20, range(0, 20), {1, 2, 3, 4})  # the reviewer scored two more
    assert [r.status for r in prepare_dataset(tmp_path / "staged", out, config(), progress=False)] == ["prepared"]
    assert f"note: night: {table.name} changed since it was prepared: its stored epochs are dropped and it is prepared again" in \
        capsys.readouterr().err
    assert PreparedDataset(out)["night"].epochs.shape[0] == 4


def test_one_recording_reviewed_under_two_names_is_refused_before_any_work(tmp_path):
    """Before: a PSG copied under another name and staged twice was prepared as two recordings, one night's signals
    with W in one and REM in the other, which subject-wise folds could put in training and validation alike."""
    first = reviewed_night(tmp_path / "all" / "a", "night")
    second = reviewed_night(tmp_path / "all" / "b", "night_b")  # the same bytes: the same recording
    with pytest.raises(IsatSleepNetError, match=re.escape(
            f"{first} and {second} are reviews of one recording (SHA1 {sha1_of(first.with_suffix('').with_suffix('.edf'))[:12]}…) "
            "under two names")):
        prepare_dataset(tmp_path / "all", tmp_path / "out", config(), progress=False)
    assert not (tmp_path / "out").exists()
