"""The Python API answers a wrong argument with one line, never a TypeError from deep inside."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import isatsleepnet as isn
from isatsleepnet.api.views import stage_codes_of
from isatsleepnet.errors import IsatSleepNetError

NAMES = ["EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal"]


def _arrays(scale: float = 1.0) -> tuple[np.ndarray, float, list[str]]:
    return np.random.default_rng(0).normal(0, 30, (3, 100 * 300)) * scale, 100.0, NAMES


@pytest.mark.parametrize("call, message", [
    (lambda: isn.load_model(123), "load_model takes the path of a model file (.pt or .onnx), not int"),
    (lambda: isn.load_model(None), "load_model takes the path of a model file (.pt or .onnx), not NoneType"),
    (lambda: isn.read_hypnogram(5), "read_hypnogram takes the path of a hypnogram file, not int"),
    (lambda: isn.synthetic_night(hours="8"), "hours= must be a number of hours in (0, 48], not '8'"),
    (lambda: isn.synthetic_night(hours=0), "hours= must be a number of hours in (0, 48], not 0"),
])
def test_wrong_types_are_one_line(call, message):
    with pytest.raises(IsatSleepNetError) as info:
        call()
    assert str(info.value) == message


def test_engine_and_threads_are_checked(files):
    with pytest.raises(IsatSleepNetError, match="engine= takes an isatsleepnet.engine.Engine, not dict"):
        isn.load_model(files[2], engine={"device": "cpu"})
    with pytest.raises(IsatSleepNetError, match="threads= must be a whole number, not '2'"):
        isn.load_model(files[2], threads="2")


@pytest.mark.parametrize("name", [5, "", "a/b", "../escaped", ".", ".."])
def test_a_name_must_be_a_plain_file_name(model, name):
    with pytest.raises(IsatSleepNetError, match="name="):
        model.stage(_arrays(), name=name)


def test_volts_in_a_tuple_are_refused_not_staged_as_flat_microvolts(model):
    with pytest.raises(IsatSleepNetError, match=r"data look like volts \(largest \|value\| .*\): a tuple holds µV"):
        model.stage(_arrays(1e-6))
    assert len(model.stage(_arrays())) == 10  # the same data in µV


def test_references_from_pandas_and_float_codes_are_read():
    series = pd.Series(["W", "N1", None, "REM"])
    assert stage_codes_of(series).tolist() == [0, 1, -1, 4]
    assert stage_codes_of(pd.Series([0.0, 3.0, np.nan])).tolist() == [0, 3, -1]
    with pytest.raises(IsatSleepNetError, match="epoch 0: a stage label is a name or a code 0..4, not float"):
        stage_codes_of([0.5])


@pytest.mark.parametrize("value", [0, -30, float("nan"), float("inf"), "30", True])
def test_an_epoch_length_is_a_finite_number_above_zero(files, value):
    with pytest.raises(isn.SettingError) as info:
        isn.read_hypnogram(files[1], epoch_seconds=value)
    assert str(info.value) == f"epoch_seconds= must be a finite number of seconds above 0, not {value!r}"


def test_numpy_numbers_are_numbers(files):
    hypnogram = isn.read_hypnogram(files[1], epoch_seconds=np.float32(30))
    assert hypnogram.codes.tolist() == isn.read_hypnogram(files[1]).codes.tolist()
    night = isn.synthetic_night(hours=np.int64(1), seed=np.int64(1))
    assert len(night.stages) == 120 and night.stages.tolist() == isn.synthetic_night(hours=1, seed=1).stages.tolist()
    with pytest.raises(isn.SettingError, match=r"^seed= must be a whole number of at least 0, not np.int64\(-1\)$"):
        isn.synthetic_night(hours=1, seed=np.int64(-1))
    with pytest.raises(isn.SettingError, match="^psg_start= must be a datetime.datetime, not str$"):
        isn.read_hypnogram(files[1], psg_start="2024-01-01")


def test_a_synthetic_night_in_a_file_is_one_line(tmp_path):
    (tmp_path / "afile").write_text("")
    with pytest.raises(isn.SettingError) as info:
        isn.synthetic_night(tmp_path / "afile", hours=0.1)
    assert str(info.value) == f"folder= {tmp_path / 'afile'} is a file, not a folder"
    with pytest.raises(isn.SettingError, match=r"afile is a file, not a folder$"):
        isn.synthetic_night(tmp_path / "afile" / "night", hours=0.1)


def test_a_sampling_rate_as_text_is_refused_as_prepare_refuses_it(model):
    data, _, names = _arrays()
    with pytest.raises(IsatSleepNetError, match=r"^recording: sampling rate must be a number of Hz, not '100'$"):
        model.stage((data, "100", names))


def test_a_fold_count_as_text_is_one_line(tmp_path):
    with pytest.raises(isn.SettingError, match=r"^n_folds= must be a whole number of at least 2, not '3'$"):
        isn.cross_validate(tmp_path / "prep", tmp_path / "cv", protocol="kfold", n_folds="3")
