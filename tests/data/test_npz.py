import json

import numpy as np
import pytest

from isatsleepnet.data.npz import export_npz
from isatsleepnet.data.prepare import prepare_dataset
from isatsleepnet.data.prepare_config import PrepareConfig
from isatsleepnet.data.store import PreparedDataset
from isatsleepnet.errors import IsatSleepNetError
from tests.conftest import rk_night


@pytest.fixture
def prepared(tmp_path, sleep_edf_night):
    for code in ("SC4001", "SC4012"):
        sleep_edf_night(tmp_path / "raw", code, rk_night(4, 4))
    prepare_dataset(tmp_path / "raw", tmp_path / "prep", PrepareConfig(dataset="sleep-edf"), progress=False)
    return tmp_path / "prep"


def test_export_layout(prepared, tmp_path):
    export_npz(prepared, tmp_path / "npz", progress=False)
    with np.load(tmp_path / "npz" / "SC4001E0.npz") as f:
        assert f["x"].shape == (21, 3000, 3) and f["x"].dtype == np.float32
        assert f["y"].shape == (21,) and float(f["fs"]) == 100.0
        assert list(f["ch_label"]) == ["EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal"]


def test_single_channel_export_like_deepsleepnet(prepared, tmp_path):
    export_npz(prepared, tmp_path / "npz", channels=["EEG Fpz-Cz"], progress=False)
    with np.load(tmp_path / "npz" / "SC4012E0.npz") as f:
        assert f["x"].shape == (21, 3000, 1) and str(f["ch_label"]) == "EEG Fpz-Cz"


def test_export_unknown_channel(prepared, tmp_path):
    with pytest.raises(IsatSleepNetError, match="no channel 'C3'"):
        export_npz(prepared, tmp_path / "npz", channels=["C3"], progress=False)


def test_round_trip(prepared, tmp_path):
    export_npz(prepared, tmp_path / "npz", progress=False)
    results = prepare_dataset(tmp_path / "npz", tmp_path / "back", PrepareConfig(dataset="npz"), progress=False)
    assert {r.status for r in results} == {"prepared"}
    for name in ("SC4001E0", "SC4012E0"):
        a, b = PreparedDataset(prepared)[name], PreparedDataset(tmp_path / "back")[name]
        np.testing.assert_array_equal(a.epochs, b.epochs)
        np.testing.assert_array_equal(a.labels, b.labels)
        assert a.channels == b.channels and a.subject == b.subject and a.night == b.night
        # the movement epoch dropped at prepare is a gap in both, not renumbered away
        assert np.diff(a.onsets).max() == 60.0
        np.testing.assert_array_equal(a.onsets, b.onsets)
        assert b.meta["roles"] == a.meta["roles"] == ["eeg", "eeg2", "eog"]
        assert b.meta["trimmed"] == a.meta["trimmed"] is not None
        assert b.meta["notes"] == []


def test_import_deepsleepnet_single_channel_and_bad_files(tmp_path):
    src = tmp_path / "npz"
    src.mkdir()
    rng = np.random.default_rng(0)
    np.savez(src / "a.npz", x=rng.normal(size=(6, 3000, 1)).astype(np.float32), y=np.array([0, 1, 2, 3, 4, 0]),
             fs=100.0, ch_label="EEG Fpz-Cz")
    np.savez(src / "b.npz", x=rng.normal(size=(4, 3000)), y=np.array([0, 1, 2, 9]), fs=100.0)
    np.savez(src / "c.npz", x=rng.normal(size=(4, 3000)), y=np.array([0, 1, 2]), fs=100.0)
    (src / "d.npz").write_bytes(b"not a zip")
    results = {r.recording: r for r in prepare_dataset(src, tmp_path / "out", PrepareConfig(dataset="npz"), progress=False)}
    assert results["a"].status == "prepared"
    assert PreparedDataset(tmp_path / "out")["a"].epochs.shape == (6, 1, 3000)
    assert results["b"].error == "b.npz: unknown stage label(s) [9] in y (expected 0..4)"
    assert results["c"].error == "c.npz: x has shape (4, 3000) but y has 3 labels"
    assert results["d"].error == "d.npz: not an npz file (not a zip archive)"


def test_unusable_npz_values_are_one_line_each(tmp_path, capsys):
    from isatsleepnet.cli.main import main

    folder = tmp_path / "npz"
    folder.mkdir()
    x = np.random.default_rng(0).normal(0, 20, (4, 3000)).astype(np.float32)
    y = np.array([0, 1, 2, 4])
    one_nan = x.copy()
    one_nan[2, 5] = np.nan
    cases = {
        "nan_x": dict(x=one_nan, y=y, fs=100.0),
        "huge_x": dict(x=x * 1e36, y=y, fs=100.0),
        "nan_fs": dict(x=x, y=y, fs=np.nan),
        "nan_y": dict(x=x, y=np.array([0, np.nan, 2, 4]), fs=100.0),
        "good": dict(x=x, y=y, fs=100.0),
    }
    for name, arrays in cases.items():
        np.savez(folder / f"{name}.npz", **arrays)
    code = main(["prepare", "--dataset", "npz", "--data-dir", str(folder), "--out", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err and "Warning" not in err
    lines = sorted(line for line in err.splitlines() if line)
    assert lines == [
        "error: huge_x.npz: 4 of 4 epochs hold non-finite samples or samples beyond ±10 V (first: epoch 0 at 0 s): a "
        "wrong unit, gain or calibration?",
        "error: nan_fs.npz: fs is nan Hz (must be a positive number)",
        "error: nan_x.npz: 1 of 4 epochs hold non-finite samples or samples beyond ±10 V (first: epoch 2 at 60 s): a "
        "wrong unit, gain or calibration?",
        "error: nan_y.npz: y holds values that are not whole stage codes (NaN or fractions)",
    ]
    assert PreparedDataset(tmp_path / "out").names == ["good"]


def test_a_file_without_onsets_is_consecutive_with_a_note(tmp_path):
    src = tmp_path / "npz"
    src.mkdir()
    np.savez(src / "a.npz", x=np.zeros((3, 3000, 1), np.float32), y=np.array([0, 1, 2]), fs=100.0)
    (result,) = prepare_dataset(src, tmp_path / "out", PrepareConfig(dataset="npz"), progress=False)
    assert result.notes == ["no onsets array: its epochs are taken as consecutive from 0 s"]
    assert list(PreparedDataset(tmp_path / "out")["a"].onsets) == [0.0, 30.0, 60.0]


@pytest.mark.parametrize(("onsets", "problem"), [
    ([0.0, 30.0], "onsets (float64, shape (2,)) must be 3 numbers, one per epoch"),
    ([0.0, 30.0, np.nan], "onsets hold negative or non-finite values (seconds from the recording's start)"),
    ([0.0, 60.0, 70.0], "onsets are not increasing by at least 30 s (epoch 2 at 70 s)"),
])
def test_bad_onsets_are_one_line(tmp_path, onsets, problem):
    src = tmp_path / "npz"
    src.mkdir()
    np.savez(src / "a.npz", x=np.zeros((3, 3000, 1), np.float32), y=np.array([0, 1, 2]), fs=100.0,
             onsets=np.array(onsets))
    (result,) = prepare_dataset(src, tmp_path / "out", PrepareConfig(dataset="npz"), progress=False)
    assert result.error == f"a.npz: {problem}"


def test_subject_pattern_groups_the_nights_of_one_person(prepared, tmp_path):
    export_npz(prepared, tmp_path / "npz", progress=False)
    src = tmp_path / "in"
    src.mkdir()
    for old, new in (("SC4001E0", "P01_N1"), ("SC4012E0", "P01_N2")):
        (src / f"{new}.npz").write_bytes((tmp_path / "npz" / f"{old}.npz").read_bytes())
    config = PrepareConfig(dataset="npz", subject_pattern=r"(?P<subject>P\d+)_N(?P<night>\d)")
    prepare_dataset(src, tmp_path / "out", config, progress=False)
    data = PreparedDataset(tmp_path / "out")
    assert data.subjects() == ["P01"]
    assert [(data[n].subject, data[n].night) for n in ("P01_N1", "P01_N2")] == [("P01", 1), ("P01", 2)]


def test_subject_pattern_refusals_are_one_line(tmp_path):
    src = tmp_path / "npz"
    src.mkdir()
    for name in ("P01_Nx", "other"):
        np.savez(src / f"{name}.npz", x=np.zeros((3, 3000, 1), np.float32), y=np.array([0, 1, 2]), fs=100.0)
    config = PrepareConfig(dataset="npz", subject_pattern=r"(?P<subject>P\d+)_N(?P<night>.)")
    results = {r.recording: r.error for r in prepare_dataset(src, tmp_path / "out", config, progress=False)}
    assert results == {"P01_Nx": "P01_Nx.npz: {subject_pattern}'s night group matched 'x', not a number",
                       "other": "other.npz: {subject_pattern} does not match its name"}


def test_a_recording_without_the_channel_leaves_nothing_written(prepared, tmp_path):
    import shutil

    from isatsleepnet.data.store import RECORDINGS

    meta_path = prepared / RECORDINGS / "SC4012E0" / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["channels"] = ["EEG Cz", *meta["channels"][1:]]
    meta_path.write_text(json.dumps(meta))
    shutil.rmtree(tmp_path / "npz", ignore_errors=True)
    with pytest.raises(IsatSleepNetError, match="SC4012E0: no channel 'EEG Fpz-Cz'"):
        export_npz(prepared, tmp_path / "npz", channels=["EEG Fpz-Cz"], progress=False)
    assert not (tmp_path / "npz").exists()

