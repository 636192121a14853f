"""The Python API's entry points: `import isatsleepnet`, load_model, StagingModel.stage and its sources."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import isatsleepnet as isn
from isatsleepnet import STAGES
from isatsleepnet.errors import IsatSleepNetError
from isatsleepnet.inference.out_folder import KEYS_FILE
from tests.api.conftest import read_csv, stage_cli

SLEEP = ["EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal"]


def one_line_error(call, *args, **kwargs) -> str:
    with pytest.raises(IsatSleepNetError) as info:
        call(*args, **kwargs)
    message = str(info.value)
    assert message and "\n" not in message
    return message


# --------------------------------------------------------------------------- the package
def test_importing_the_package_imports_neither_torch_nor_matplotlib():
    code = ("import isatsleepnet, sys; assert 'torch' not in sys.modules and 'matplotlib' not in sys.modules, "
            "sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'matplotlib'))")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_reading_a_hypnogram_from_the_top_level_imports_no_torch(files):
    code = (f"import isatsleepnet as isn, sys; h = isn.read_hypnogram({str(files[1])!r}); "
            "assert len(h.codes) and 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(("name", "module", "attribute"), [
    ("load_model", "isatsleepnet.api.model", "load_model"),
    ("StagingModel", "isatsleepnet.api.model", "StagingModel"),
    ("Night", "isatsleepnet.api.night", "Night"),
    ("read_hypnogram", "isatsleepnet.api.data", "read_hypnogram"),
    ("synthetic_night", "isatsleepnet.api.data", "synthetic_night"),
    ("prepare", "isatsleepnet.api.data", "prepare"),
    ("PreparedDataset", "isatsleepnet.data.store", "PreparedDataset"),
    ("train", "isatsleepnet.training.train", "train"),
    ("cross_validate", "isatsleepnet.training.cv", "cross_validate"),
])
def test_top_level_names_resolve_to_the_library(name, module, attribute):
    assert getattr(isn, name) is getattr(importlib.import_module(module), attribute)
    assert name in isn.__all__ and name in dir(isn)


def test_an_unknown_top_level_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'stage_night'"):
        isn.stage_night  # noqa: B018
    assert set(isn.__all__) == {"STAGES", "__version__", *isn._LAZY}
    for name in isn.__all__:
        getattr(isn, name)


# --------------------------------------------------------------------------- the model
def test_the_model_says_what_it_needs(model, files):
    assert model.roles == ("eeg", "eeg2", "eog")
    assert model.channels == {"eeg": "EEG Fpz-Cz", "eeg2": "EEG Pz-Oz", "eog": "EOG horizontal"}
    assert (model.sampling_rate, model.epoch_seconds, model.backend) == (100.0, 30.0, "torch")
    info = model.describe()
    assert info["file"] == str(files[2]) and info["roles"] == list(model.roles)
    assert "StagingModel model.pt (torch)" in repr(model)


def test_loading_a_missing_or_unknown_model_is_one_line(tmp_path, files):
    assert "not found" in one_line_error(isn.load_model, tmp_path / "nothing.pt")
    assert "backend" in one_line_error(isn.load_model, files[2], backend="tensorflow")
    assert "device= must be" in one_line_error(isn.load_model, files[2], device="gpu")
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    one_line_error(isn.load_model, tmp_path / "junk.pt")


# --------------------------------------------------------------------------- the same as the command line
def test_staging_a_file_gives_the_command_lines_stages_and_probabilities(night, cli_out):
    rows = read_csv(cli_out / "SC4001E0-PSG.hypnogram.csv")
    df = night.to_dataframe()
    assert list(df.columns) == list(rows[0])  # the CSV's columns, in its order
    assert len(rows) == len(df) == len(night) == 120
    assert [r["stage"] for r in rows] == list(night.stages) == list(df["stage"])
    assert len(set(night.stages)) >= 3  # the tiny model's stages vary: the comparison means something
    p_cli = np.array([[float(r[f"p_{s}"]) for s in STAGES] for r in rows])
    np.testing.assert_allclose(night.probabilities, p_cli, atol=5.1e-7)  # the CSV rounds to 6 decimals
    np.testing.assert_allclose(night.confidence, [float(r["confidence"]) for r in rows], atol=5.1e-5)
    assert list(night.flagged) == [r["review"] == "1" for r in rows]
    assert [int(r["epoch"]) for r in rows] == list(night.epochs)
    assert [float(r["onset_s"]) for r in rows] == list(night.onsets)
    assert [r["expert"] for r in rows] == list(df["expert"])
    assert [r["clock_time"] for r in rows] == list(df["clock_time"])


def test_write_produces_the_files_of_the_command_line(night, cli_out, tmp_path):
    written = night.write(tmp_path / "api")
    names = sorted(p.name for p in (tmp_path / "api").iterdir())
    # the command line's own bookkeeping of its runs (what lets a stopped run continue) is not an output
    assert names == sorted(p.name for p in cli_out.iterdir() if p.name != KEYS_FILE)
    assert sorted(p.name for p in written) == sorted(set(names) - {"model.sha1"})
    for name in names:
        ours, theirs = (tmp_path / "api" / name), (cli_out / name)
        if name.endswith(".hypnogram.json"):  # the recording's path is relative to the folder each lies in
            ours_json, theirs_json = json.loads(ours.read_text()), json.loads(theirs.read_text())
            assert (ours.parent / ours_json.pop("Recording")).resolve() == \
                   (theirs.parent / theirs_json.pop("Recording")).resolve()
            assert ours_json == theirs_json
            continue
        assert ours.read_bytes() == theirs.read_bytes(), name


def test_role_keywords_take_a_label_alternatives_or_a_list(model, night, files):
    by_keywords = model.stage(files[0], eeg="EEG Fpz-Cz", eeg2="no such channel, EEG Pz-Oz",
                              eog=["EOG left", "EOG horizontal"])
    np.testing.assert_array_equal(by_keywords.probabilities, night.probabilities)
    swapped = model.stage(files[0], eeg="EEG Pz-Oz", eeg2="EEG Fpz-Cz")
    assert [c["label"] for c in swapped.summary["recording"]["channels"]] == ["EEG Pz-Oz", "EEG Fpz-Cz",
                                                                           "EOG horizontal"]


def test_role_keywords_the_model_lacks_or_of_the_wrong_type_are_one_line(model, files):
    message = one_line_error(model.stage, files[0], emg="EMG submental")
    assert message == "the model has no emg input (its roles: eeg, eeg2, eog)"
    assert "eeg= takes a channel label" in one_line_error(model.stage, files[0], eeg=3)
    assert "names no channel" in one_line_error(model.stage, files[0], eog=" , ")
    missing = one_line_error(model.stage, files[0], eeg="EEG C4")
    assert missing.startswith("SC4001E0-PSG.edf: missing eeg channel") and "EEG C4" in missing
    assert "choose with eeg=" in missing and "--" not in missing  # the keyword, not the command line's flag


@pytest.mark.parametrize(("source", "expected"), [
    (42, "not int"),
    ([np.zeros((3, 3000)), 100.0, ["a", "b", "c"]], "not list"),
    ((np.zeros((3, 3000)), 100.0), "not 2 items"),
    ((np.zeros((9000, 3)), 100.0, SLEEP), "channels x samples"),
    ((np.full((3, 3000), "x"), 100.0, SLEEP), "not numbers"),
    ((np.zeros((3, 3000)), -5.0, SLEEP), "sampling rate"),
    ((np.zeros((3, 3000)), 100.0, ["EEG Fpz-Cz", "EEG Fpz-Cz", "EOG horizontal"]), "distinct"),
    ((np.full((3, 3000), np.nan), 100.0, SLEEP), "non-finite"),
    ((np.zeros((3, 3000)), 100.0, ["C3", "C4", "EOG"]), "missing eeg channel"),
    ((np.zeros((3, 20 * 100)), 100.0, SLEEP), "shorter than one 30-s epoch"),
])
def test_bad_sources_are_one_line(model, source, expected):
    assert expected in one_line_error(model.stage, source)


def test_a_missing_file_or_a_folder_is_one_line(model, tmp_path):
    assert "file not found" in one_line_error(model.stage, tmp_path / "night.edf")
    assert "a folder" in one_line_error(model.stage, tmp_path)
    (tmp_path / "bad.edf").write_bytes(b"0" * 300)
    assert one_line_error(model.stage, tmp_path / "bad.edf").startswith("bad.edf:")


@pytest.mark.parametrize(("options", "expected"), [
    ({"min_confidence": 2.0}, "min_confidence= must lie in [0, 1]"),
    ({"batch_size": "64"}, "batch_size= takes a number"),
    ({"start": 600.0, "end": 300.0}, "end= must come after start="),
    ({"start": 4000.0}, "leaves no whole epoch"),
    ({"hypnogram": 5}, "hypnogram= takes a file"),
])
def test_bad_options_are_one_line(model, files, options, expected):
    assert expected in one_line_error(model.stage, files[0], **options)


# --------------------------------------------------------------------------- other sources
def test_arrays_stage_like_the_file_they_come_from(model, night):
    arrays = isn.synthetic_night(hours=1.0, seed=0)  # the session's night, as arrays read from its EDF
    data, sfreq, names = arrays.source
    from_arrays = model.stage((data, sfreq, names))
    assert from_arrays.name == "recording" and from_arrays.start is None and len(from_arrays) == len(night)
    assert list(from_arrays.stages) == list(night.stages)
    # the same µV numbers: the EDF's physical values as edfio computes them and as the reader does
    np.testing.assert_allclose(from_arrays.probabilities, night.probabilities, atol=1e-5)
    assert list(arrays.stages[:3]) == list(night.expert[:3])
    named = model.stage((data[[2, 0, 1]], sfreq, [names[2], names[0], names[1]]), name="mine")
    assert named.name == "mine"
    np.testing.assert_allclose(named.probabilities, from_arrays.probabilities, atol=1e-6)


def test_an_absurd_sample_leaves_its_epoch_unstaged_without_a_numpy_warning(model):
    """Before: numpy's "overflow encountered in square" (the flat-channel check) came with the staging."""
    import warnings

    data, sfreq, names = isn.synthetic_night(hours=0.25, seed=0).source
    data = np.array(data, dtype=np.float64)
    data[0, 5] = 1e30
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        night = model.stage((data, sfreq, names))
    assert not night.staged[0] and night.staged[1:].all()


def test_an_mne_raw_stages_like_its_file(model, night, files):
    mne = pytest.importorskip("mne")
    raw = mne.io.read_raw_edf(files[0], preload=True, verbose="error")
    from_raw = model.stage(raw, hypnogram=files[1])
    assert from_raw.name == night.name == "SC4001E0-PSG"
    assert from_raw.start == night.start
    assert list(from_raw.stages) == list(night.stages)
    # MNE holds volts (float64): back in µV the samples differ from the reader's by rounding only
    np.testing.assert_allclose(from_raw.probabilities, night.probabilities, atol=1e-6)
    np.testing.assert_allclose(from_raw.confidence, night.confidence, atol=1e-6)
    assert from_raw.agreement() == night.agreement()
    assert from_raw.summary["recording"]["file"] == "SC4001E0-PSG"


def test_a_memory_recording_with_its_own_units_and_start(model, night):
    import datetime as dt

    from isatsleepnet.data.readers.memory import MemoryRecording

    arrays = isn.synthetic_night(hours=1.0, seed=0)
    start = dt.datetime(2024, 5, 1, 23, 0, 0)
    recording = MemoryRecording.from_arrays(arrays.data / 1000.0, arrays.sfreq, list(arrays.ch_names), units="mV",
                                            start=start, name="in-mV")
    staged = model.stage(recording)
    assert (staged.name, staged.start) == ("in-mV", start)
    np.testing.assert_allclose(staged.probabilities, night.probabilities, atol=1e-5)


def test_start_and_end_stage_a_window_on_the_recordings_grid(model, files):
    window = model.stage(files[0], start=290.0, end=1500.0)
    assert (len(window), int(window.epochs[0]), float(window.onsets[0])) == (40, 10, 300.0)
    assert window.sleep_statistics()["time_in_bed_min"] == 20.0


def test_an_edf_without_the_models_channels_names_what_is_missing(model, write_edf, tmp_path):
    rng = np.random.default_rng(0)
    path = write_edf(tmp_path / "other.edf", [(label, rng.normal(0, 20, 9000), 100.0, "uV")
                                            for label in ("C4-M1", "C3-M2", "E1-M2")])
    assert "missing eeg channel" in one_line_error(model.stage, path)
    staged = model.stage(path, eeg="C4-M1", eeg2="C3-M2", eog="E1-M2")
    assert len(staged) == 3 and staged.staged.all()


def test_cli_and_api_refuse_the_same_unknown_role(files, tmp_path, capsys):
    assert stage_cli(files[0], "--model", files[2], "--out", tmp_path, "--channel", "emg=EMG submental") == 2
    assert "the model has no emg input (its roles: eeg, eeg2, eog)" in capsys.readouterr().err


def test_a_path_given_as_text_or_path_stages_alike(model, files):
    assert model.stage(str(files[0])).stages.tolist() == model.stage(Path(files[0])).stages.tolist()
