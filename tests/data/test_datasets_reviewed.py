"""The `reviewed` dataset finds the PSG its sidecar names, from the sidecar's folder, and checks its SHA1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from isatsleepnet.data.datasets_reviewed import find_reviewed
from isatsleepnet.data.hashing import sha1_of
from isatsleepnet.data.prepare_config import PrepareConfig


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
    assert errors == [] and [s.psg for s in sources] == [tmp_path / "staged" / "night.edf"]


def test_an_absolute_recording_is_taken_as_it_is(tmp_path):
    reviewed_night(tmp_path / "raw", "psg")
    reviewed_night(tmp_path / "staged", recording=str(tmp_path / "raw" / "psg.edf"),
                   sha1=sha1_of(tmp_path / "raw" / "psg.edf"))
    sources, errors = find_reviewed(tmp_path / "staged", config())
    assert errors == [] and tmp_path / "raw" / "psg.edf" in [s.psg for s in sources]


def test_a_psg_that_is_not_the_one_staged_is_refused(tmp_path, monkeypatch):
    table = reviewed_night(tmp_path / "staged", sha1="0" * 40)
    reviewed_night(tmp_path / "staged", "other")
    sources, errors = find_reviewed(tmp_path / "staged", config())
    assert [s.recording for s in sources] == ["other"]
    (error,) = errors
    assert error.path == table
    assert str(error) == (f"night.reviewed.csv: its recording {tmp_path / 'staged' / 'night.edf'} is not the one "
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
    assert errors == [] and [s.psg for s in sources] == [Path("night.edf")]


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
