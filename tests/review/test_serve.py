"""`review` opens the recording a staged night names from any folder, as `prepare --dataset reviewed` does."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from isatsleepnet.data.hashing import sha1_of
from isatsleepnet.errors import DataError
from isatsleepnet.review.serve import open_nights
from tests.review.conftest import write_staged


def staged_from_the_labs_folder(root: Path, write_edf, monkeypatch) -> Path:
    """``root/raw/night.edf`` staged from ``root`` as `stage raw/night.edf --out staged` does: a relative path."""
    (root / "raw").mkdir(parents=True)
    t = np.arange(12 * 30 * 100) / 100
    write_edf(root / "raw" / "night.edf", [("EEG Fpz-Cz", 30 * np.sin(2 * np.pi * 8 * t), 100.0, "uV")])
    monkeypatch.chdir(root)
    return write_staged(Path("staged"), recording=Path("raw/night.edf"))


def test_a_night_staged_from_another_folder_opens_from_its_own(tmp_path, write_edf, monkeypatch):
    """Before: the sidecar said "raw/night.edf" (from where `stage` ran) and `cd staged && review .` said
    "its recording raw/night.edf is not there"."""
    staged_from_the_labs_folder(tmp_path, write_edf, monkeypatch)
    monkeypatch.chdir(tmp_path / "staged")
    ((review, recording),) = open_nights(".", reviewer="ana")
    try:
        assert Path(recording.path) == (tmp_path / "raw" / "night.edf").resolve()
    finally:
        review.close()


def test_a_recording_changed_since_staging_is_refused_as_prepare_refuses_it(tmp_path, write_edf, monkeypatch):
    staged = staged_from_the_labs_folder(tmp_path, write_edf, monkeypatch)
    edf = tmp_path / "raw" / "night.edf"
    recorded = sha1_of(edf)
    edf.write_bytes(edf.read_bytes()[:-2] + b"\x00\x01")
    with pytest.raises(DataError) as info:
        open_nights(staged, reviewer="ana")
    assert str(info.value) == (f"night.hypnogram.csv: its recording {edf.resolve()} is not the one staged (SHA1 "
                               f"{sha1_of(edf)}; night.hypnogram.json records {recorded})")
    assert not (tmp_path / "staged" / "night.review.jsonl").exists()


def test_an_older_sidecar_says_where_it_looked(tmp_path, write_edf, monkeypatch):
    staged = staged_from_the_labs_folder(tmp_path, write_edf, monkeypatch)
    sidecar = staged.with_name("night.hypnogram.json")
    meta = json.loads(sidecar.read_text())
    sidecar.write_text(json.dumps({**meta, "Recording": "raw/night.edf", "RecordingAbsolute": None}))
    ((review, _),) = open_nights(staged, reviewer="ana")  # from the folder `stage` ran in: found
    review.close()
    monkeypatch.chdir(tmp_path / "staged")
    with pytest.raises(DataError, match=r"its recording raw/night\.edf is not there \(looked for .*staged/raw/night\.edf\)"
                                        r"; an older sidecar"):
        open_nights(".", reviewer="ana")
