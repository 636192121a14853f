"""A staged night's recording is found from any folder: moved with its staged folder, or the staged folder
copied alone; older sidecars (a path from the folder `stage` ran in) still work from there."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from isatsleepnet.data.hashing import sha1_of
from isatsleepnet.data.staged_sidecar import SidecarRecording, recording_entries
from isatsleepnet.errors import DataError


def lab(root: Path, monkeypatch) -> Path:
    """``root/raw/night.edf`` staged from ``root`` (the recording named ``raw/night.edf``) into ``root/staged``."""
    (root / "raw").mkdir(parents=True)
    (root / "staged").mkdir()
    (root / "raw" / "night.edf").write_bytes(b"the staged PSG")
    monkeypatch.chdir(root)
    sidecar = root / "staged" / "night.hypnogram.json"
    sidecar.write_text(json.dumps(recording_entries("raw/night.edf", root / "staged", sha1_of(Path("raw/night.edf")))))
    return sidecar


def locate(sidecar: Path) -> Path:
    meta = json.loads(sidecar.read_text())
    return SidecarRecording.of(sidecar, meta).locate(sidecar.with_name("night.hypnogram.csv"))


def test_the_recording_is_written_from_the_sidecars_folder_and_absolute(tmp_path, monkeypatch):
    """Before: "Recording" was the path as `stage` was given it, from the folder it ran in ("raw/night.edf")."""
    meta = json.loads(lab(tmp_path, monkeypatch).read_text())
    assert meta == {"Recording": "../raw/night.edf", "RecordingAbsolute": str(tmp_path / "raw" / "night.edf"),
                    "RecordingSHA1": sha1_of(tmp_path / "raw" / "night.edf")}


def test_a_symlinked_recording_moved_with_its_study_is_found_by_its_link(tmp_path, monkeypatch):
    """Before: "Recording" named the link's target (../../store/x.edf), which does not move with the study."""
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "x.edf").write_bytes(b"the staged PSG")
    study = tmp_path / "a" / "study"
    (study / "raw").mkdir(parents=True)
    (study / "staged").mkdir()
    (study / "raw" / "night.edf").symlink_to(tmp_path / "store" / "x.edf")
    monkeypatch.chdir(study)
    entries = recording_entries("raw/night.edf", study / "staged", sha1_of(Path("raw/night.edf")))
    assert entries["Recording"] == "../raw/night.edf"
    (study / "staged" / "night.hypnogram.json").write_text(json.dumps(entries))
    (tmp_path / "b" / "c").mkdir(parents=True)
    shutil.move(str(study), str(tmp_path / "b" / "c" / "study"))  # one folder deeper: a target path would miss
    monkeypatch.chdir(tmp_path)
    moved = tmp_path / "b" / "c" / "study"
    assert locate(moved / "staged" / "night.hypnogram.json").resolve() == (tmp_path / "store" / "x.edf").resolve()


def test_found_from_any_folder(tmp_path, monkeypatch):
    sidecar = lab(tmp_path, monkeypatch)
    for folder in (tmp_path / "staged", tmp_path / "raw", Path("/")):
        monkeypatch.chdir(folder)
        assert locate(sidecar) == (tmp_path / "raw" / "night.edf").resolve()


def test_a_staged_folder_moved_together_with_the_recordings_is_found_by_the_relative_path(tmp_path, monkeypatch):
    lab(tmp_path / "study", monkeypatch)
    monkeypatch.chdir(tmp_path)
    shutil.move(tmp_path / "study", tmp_path / "archive")  # the absolute path now leads nowhere
    assert locate(tmp_path / "archive" / "staged" / "night.hypnogram.json") == \
        (tmp_path / "archive" / "raw" / "night.edf").resolve()


def test_a_staged_folder_copied_alone_is_found_by_the_absolute_path(tmp_path, monkeypatch):
    sidecar = lab(tmp_path / "study", monkeypatch)
    (tmp_path / "laptop" / "deep").mkdir(parents=True)
    copy = shutil.copytree(sidecar.parent, tmp_path / "laptop" / "deep" / "staged") / sidecar.name
    (tmp_path / "laptop" / "deep" / "raw").mkdir()
    (tmp_path / "laptop" / "deep" / "raw" / "night.edf").write_bytes(b"another night")  # where the relative path leads
    assert locate(copy) == (tmp_path / "study" / "raw" / "night.edf").resolve()


def test_a_file_on_a_path_with_another_sha1_is_not_taken(tmp_path, monkeypatch):
    sidecar = lab(tmp_path, monkeypatch)
    (tmp_path / "raw" / "night.edf").write_bytes(b"changed since")
    with pytest.raises(DataError, match=r"^night\.hypnogram\.csv: its recording .*night\.edf is not the one staged "
                                        r"\(SHA1 [0-9a-f]{40}; night\.hypnogram\.json records [0-9a-f]{40}\)$"):
        locate(sidecar)


def test_an_older_sidecar_is_read_from_the_folder_stage_ran_in_and_says_where_it_looked(tmp_path, monkeypatch):
    lab(tmp_path, monkeypatch)
    sidecar = tmp_path / "staged" / "night.hypnogram.json"
    old = {"Recording": "raw/night.edf", "RecordingSHA1": sha1_of(tmp_path / "raw" / "night.edf")}
    sidecar.write_text(json.dumps(old))  # as `stage` wrote it before: from the folder it ran in
    assert locate(sidecar) == (tmp_path / "raw" / "night.edf").resolve()
    monkeypatch.chdir(tmp_path / "staged")
    with pytest.raises(DataError) as info:
        locate(sidecar)
    assert str(info.value) == (
        f"night.hypnogram.csv: its recording raw/night.edf is not there (looked for "
        f"{(tmp_path / 'staged' / 'raw' / 'night.edf').resolve()}); an older sidecar (without RecordingAbsolute) "
        "names it from the folder `stage` ran in: run from that folder, or stage it again")


def test_without_a_sha1_only_the_sidecars_own_folder_is_trusted(tmp_path, monkeypatch):
    lab(tmp_path, monkeypatch)
    sidecar = tmp_path / "staged" / "night.hypnogram.json"
    sidecar.write_text(json.dumps({"Recording": "raw/night.edf"}))  # no SHA1: nothing to tell another file by
    with pytest.raises(DataError, match="is not there"):
        locate(sidecar)


def test_a_sidecar_that_names_no_file_or_a_bad_value_is_one_line(tmp_path):
    sidecar = tmp_path / "night.hypnogram.json"
    with pytest.raises(DataError, match="names no recording file"):
        SidecarRecording.of(sidecar, {"Recording": None}).locate(sidecar)
    with pytest.raises(DataError, match=r"^night\.hypnogram\.json: Recording is 5, not a path or a checksum$"):
        SidecarRecording.of(sidecar, {"Recording": 5})
    with pytest.raises(DataError, match=r"^n\.csv: RecordingSHA1 in night\.hypnogram\.json is \[1\], not a path"):
        SidecarRecording.of(sidecar, {"Recording": "n.edf", "RecordingSHA1": [1]}, owner=tmp_path / "n.csv")
