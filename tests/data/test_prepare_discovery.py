"""What `prepare` finds is checked before any work: names, patterns, empty folders, misleading words."""

import re
import shutil

import numpy as np
import pytest

from isatsleepnet.data.prepare import prepare_dataset, summary_table
from isatsleepnet.data.prepare_config import PrepareConfig
from isatsleepnet.errors import DataError, IsatSleepNetError, SettingError
from tests.conftest import rk_night


def _edf_night(write_edf, path, n_epochs=10):
    path.parent.mkdir(parents=True, exist_ok=True)
    write_edf(path, [("C4-M1", np.random.default_rng(0).normal(0, 20, 100 * 30 * n_epochs), 100.0, "uV")])
    path.with_suffix(".csv").write_text("stage\n" + "W\n" * n_epochs)


def test_two_psgs_with_one_name_in_two_folders_are_refused_before_any_work(tmp_path, write_edf):
    """Before: one was prepared, the other failed with FileExistsError, and a rerun skipped both."""
    for folder in ("a", "b"):
        _edf_night(write_edf, tmp_path / "raw" / folder / "night.edf")
    config = PrepareConfig(dataset="edf", eeg=["C4-M1"], trim=False)
    with pytest.raises(IsatSleepNetError, match=re.escape(
            f"{tmp_path / 'raw' / 'a' / 'night.edf'} and {tmp_path / 'raw' / 'b' / 'night.edf'} would both be "
            "prepared as recording 'night'")):
        prepare_dataset(tmp_path / "raw", tmp_path / "out", config, progress=False)
    assert not (tmp_path / "out").exists()


def test_two_copies_of_a_sleep_edf_night_are_refused_too(tmp_path, sleep_edf_night):
    sleep_edf_night(tmp_path / "raw" / "a", "SC4001", rk_night(3, 3))
    shutil.copytree(tmp_path / "raw" / "a", tmp_path / "raw" / "b")
    (tmp_path / "raw" / "b" / "SC4001EC-Hypnogram.edf").unlink()  # unpaired, it would still share the name
    with pytest.raises(IsatSleepNetError, match="would both be prepared as recording 'SC4001E0'"):
        prepare_dataset(tmp_path / "raw", tmp_path / "out", PrepareConfig(dataset="sleep-edf"), progress=False)


def test_a_night_group_that_is_not_a_number_is_one_line(tmp_path, write_edf):
    """Before: "unexpected ValueError: invalid literal for int()"."""
    for name in ("P01_N1", "P02_Na"):
        _edf_night(write_edf, tmp_path / "raw" / f"{name}.edf")
    config = PrepareConfig(dataset="edf", eeg=["C4-M1"], subject_pattern=r"(?P<subject>P\d+)_N(?P<night>\w)")
    with pytest.raises(DataError) as info:
        prepare_dataset(tmp_path / "raw", tmp_path / "out", config, progress=False)
    assert info.value.render(lambda s: "--" + s.replace("_", "-")) == \
        "P02_Na.edf: --subject-pattern's night group matched 'a', not a number"


@pytest.mark.parametrize(("dataset", "pattern", "words"), [
    ("edf", r"(?P<Subject>P\d+)_N\d", "subject_pattern= has no (?P<subject>...) group (its groups: Subject;"),
    ("edf", r"P\d+", "subject_pattern= has no (?P<subject>...) group"),
    ("sleep-edf-20", r"(?P<subject>SC\d+)", "subject_pattern= does not apply to dataset 'sleep-edf-20'"),
    ("shhs", r"(?P<subject>\d+)", "subject_pattern= does not apply to dataset 'shhs'"),
])
def test_a_subject_pattern_without_subject_or_for_a_dataset_that_ignores_it_is_refused(dataset, pattern, words):
    with pytest.raises(SettingError) as info:
        PrepareConfig(dataset=dataset, eeg=["C4-M1"], subject_pattern=pattern)
    assert str(info.value).startswith(words)


@pytest.mark.parametrize("dataset", ["edf", "reviewed", "npz"])
def test_the_datasets_that_read_a_subject_pattern_take_it(dataset):
    assert PrepareConfig(dataset=dataset, eeg=["C4-M1"], subject_pattern=r"(?P<subject>P\d+)").subject_pattern


def test_an_empty_npz_folder_is_refused(tmp_path):
    """Before: success with an empty manifest."""
    (tmp_path / "empty").mkdir()
    with pytest.raises(IsatSleepNetError, match="empty: no recordings of dataset 'npz' found"):
        prepare_dataset(tmp_path / "empty", tmp_path / "out", PrepareConfig(dataset="npz"), progress=False)
    assert not (tmp_path / "out").exists()


def test_sleep_edf_20_with_only_other_subjects_says_so_and_which_dataset_reads_them(tmp_path, sleep_edf_night):
    sleep_edf_night(tmp_path / "raw", "SC4251", rk_night(3, 3))
    with pytest.raises(IsatSleepNetError) as info:
        prepare_dataset(tmp_path / "raw", tmp_path / "out", PrepareConfig(dataset="sleep-edf-20"), progress=False)
    assert str(info.value).endswith("no Sleep-EDF PSG files (SC4ssNE0-PSG.edf) found of subjects 0-19, only 1 of "
                                    "other subjects (such as SC4251E0-PSG.edf): prepare it with dataset= sleep-edf-78")


def test_an_epoch_length_the_hypnogram_was_not_scored_in_names_the_setting(tmp_path, sleep_edf_night):
    """Before: the 30-s hypnogram was blamed ("... such as 20-s R&K epochs, cannot be converted")."""
    sleep_edf_night(tmp_path / "raw", "SC4001", rk_night(3, 3))
    (result,) = prepare_dataset(tmp_path / "raw", tmp_path / "out", PrepareConfig(dataset="sleep-edf", epoch_seconds=20),
                                progress=False)
    assert result.error == ("SC4001EC-Hypnogram.edf: its stages are scored in 30-s epochs, not in the 20-s epochs of "
                            "{epoch_seconds}: prepare it with {epoch_seconds} 30")


def test_a_psg_failing_when_found_is_named_as_its_recording(tmp_path, sleep_edf_night):
    sleep_edf_night(tmp_path / "raw", "SC4001", rk_night(3, 3))
    psg, hypnogram = sleep_edf_night(tmp_path / "raw", "SC4011", rk_night(3, 3))
    hypnogram.unlink()
    results = prepare_dataset(tmp_path / "raw", tmp_path / "out", PrepareConfig(dataset="sleep-edf"), progress=False)
    assert sorted((r.recording, r.status) for r in results) == [("SC4001E0", "prepared"), ("SC4011E0", "failed")]
    assert "SC4011E0-PSG " not in summary_table(results)
