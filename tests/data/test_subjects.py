"""Subjects from Python read as --subjects reads them: a string is one subject (or a comma-separated list)."""

from __future__ import annotations

import numpy as np
import pytest

from isatsleepnet.augment.balance import augment_dataset
from isatsleepnet.data.store import write_manifest, write_recording
from isatsleepnet.data.subjects import check_subjects, subject_names
from isatsleepnet.errors import SettingError


def test_a_string_is_one_subject_or_a_comma_separated_list():
    assert subject_names("SC400") == ["SC400"]
    assert subject_names(" SC400, SC401,") == ["SC400", "SC401"]
    assert subject_names(["SC400"]) == ["SC400"] and subject_names(None) is None
    with pytest.raises(SettingError, match=r"^subjects= must be a subject or a list of subjects \('SC400'\), not 400$"):
        subject_names(400)


def test_check_and_augment_take_one_subject_as_a_string(tmp_path):
    for name, subject in (("a", "s1"), ("b", "s2")):
        write_recording(tmp_path / "data", name, np.zeros((5, 1, 30), np.float32), np.arange(5), np.arange(5) * 30.0,
                        {"subject": subject, "night": 1, "sampling_rate": 1.0, "channels": ["x"], "dataset": "t"})
    write_manifest(tmp_path / "data")
    from isatsleepnet.data.store import PreparedDataset

    data = PreparedDataset(tmp_path / "data")
    assert check_subjects(data, "s1") == ["s1"]
    summaries = augment_dataset(data, tmp_path / "out", subjects="s2", mode="transforms", progress=False)
    assert {s.recording for s in summaries} >= {"b"}
