import csv

import numpy as np
import pytest

from isatsleepnet.data.store import PreparedDataset, manifest_rows, write_manifest, write_recording
from isatsleepnet.errors import IsatSleepNetError


def _write(root, name, n=5, subject="s1", night=1):
    rng = np.random.default_rng(len(name))
    epochs = rng.normal(size=(n, 2, 300)).astype(np.float32)
    labels = np.arange(n) % 5
    write_recording(root, name, epochs, labels, np.arange(n) * 30.0,
                    {"subject": subject, "night": night, "sampling_rate": 10.0, "channels": ["a", "b"], "dataset": "t"})
    return epochs, labels


def test_round_trip_is_memory_mapped(tmp_path):
    epochs, labels = _write(tmp_path, "r1")
    write_manifest(tmp_path)
    ds = PreparedDataset(tmp_path)
    rec = ds["r1"]
    assert isinstance(rec.epochs, np.memmap)
    np.testing.assert_array_equal(rec.epochs, epochs)
    np.testing.assert_array_equal(rec.labels, labels)
    assert rec.subject == "s1" and rec.night == 1 and rec.sampling_rate == 10.0 and rec.channels == ["a", "b"]
    assert rec.meta["stage_counts"] == {"W": 1, "N1": 1, "N2": 1, "N3": 1, "REM": 1}


def test_manifest_columns_and_rows(tmp_path):
    _write(tmp_path, "b", n=7, subject="s2", night=2)
    _write(tmp_path, "a", n=3)
    write_manifest(tmp_path)
    with (tmp_path / "manifest.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["recording"] for r in rows] == ["a", "b"]
    assert {"recording", "subject", "night", "n_epochs", "W", "N1", "N2", "N3", "REM"} <= set(rows[0])
    assert rows[1]["n_epochs"] == "7" and rows[1]["W"] == "2" and rows[1]["night"] == "2"
    assert PreparedDataset(tmp_path).subjects() == ["s1", "s2"]


def test_reading_one_recording_does_not_touch_the_others(tmp_path):
    _write(tmp_path, "good")
    _write(tmp_path, "other")
    write_manifest(tmp_path)
    (tmp_path / "recordings" / "other" / "epochs.npy").write_bytes(b"corrupt")
    rec = PreparedDataset(tmp_path)["good"]
    assert rec.epochs.shape == (5, 2, 300)


def test_existing_recording_needs_overwrite(tmp_path):
    _write(tmp_path, "r")
    with pytest.raises(FileExistsError):
        _write(tmp_path, "r")
    assert not [p for p in (tmp_path / "recordings").iterdir() if p.name.startswith(".tmp-")]


def test_incomplete_folders_are_not_recordings(tmp_path):
    _write(tmp_path, "r")
    (tmp_path / "recordings" / "half").mkdir()
    assert [r["recording"] for r in manifest_rows(tmp_path)] == ["r"]
    with pytest.raises(IsatSleepNetError, match=r"half: a damaged prepared recording \(epochs.npy, labels.npy, onsets.npy, meta.json missing\)"):
        PreparedDataset(tmp_path)["half"]


def test_not_a_dataset(tmp_path):
    with pytest.raises(IsatSleepNetError, match="not a prepared dataset"):
        PreparedDataset(tmp_path)


def test_bad_labels_are_refused(tmp_path):
    with pytest.raises(ValueError):
        write_recording(tmp_path, "x", np.zeros((2, 1, 3)), np.array([0, 7]), np.zeros(2), {})


def test_written_files_are_readable_by_others(tmp_path):
    import os
    import stat

    _write(tmp_path, "r")
    write_manifest(tmp_path)
    mask = os.umask(0)
    os.umask(mask)
    for path in (tmp_path / "manifest.csv", tmp_path / "recordings" / "r", tmp_path / "recordings" / "r" / "meta.json"):
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & stat.S_IRGRP or mask & stat.S_IRGRP, f"{path} is {oct(mode)}"


@pytest.mark.parametrize("damage", ["truncate epochs", "remove labels", "garbage meta"])
def test_a_damaged_recording_is_named_and_prepared_again(tmp_path, sleep_edf_night, damage, capsys):
    from isatsleepnet.cli.main import main
    from tests.conftest import rk_night

    raw = tmp_path / "raw"
    sleep_edf_night(raw, "SC4001", rk_night(5, 5))
    sleep_edf_night(raw, "SC4011", rk_night(6, 6), seed=1)
    out = tmp_path / "out"
    argv = ["prepare", "--dataset", "sleep-edf", "--data-dir", str(raw), "--out", str(out), "--quiet"]
    assert main(argv) == 0
    good = PreparedDataset(out)["SC4001E0"].epochs.copy()
    folder = out / "recordings" / "SC4001E0"
    if damage == "truncate epochs":
        data = (folder / "epochs.npy").read_bytes()
        (folder / "epochs.npy").write_bytes(data[: len(data) // 2])
        problem = r"epochs\.npy is damaged \(\d+ bytes where its header announces \d+\)"
    elif damage == "remove labels":
        (folder / "labels.npy").unlink()
        problem = r"labels\.npy missing"
    else:
        (folder / "meta.json").write_text("{garbage")
        problem = r"meta\.json is unreadable"
    capsys.readouterr()
    with pytest.raises(IsatSleepNetError, match=rf"SC4001E0: a damaged prepared recording \({problem}\); prepare it again"):
        PreparedDataset(out)["SC4001E0"]
    assert main(argv) == 0  # the rerun redoes the damaged recording, skips the intact one
    out_text = capsys.readouterr().out
    assert "SC4001E0   prepared" in out_text and "SC4011E0   skipped" in out_text
    np.testing.assert_array_equal(PreparedDataset(out)["SC4001E0"].epochs, good)


def test_a_dataset_shows_what_it_holds_and_is_indexed_by_name_or_position(tmp_path):
    _write(tmp_path, "b", subject="s2")
    _write(tmp_path, "a")
    write_manifest(tmp_path)
    data = PreparedDataset(tmp_path)
    assert repr(data) == f"<PreparedDataset {tmp_path}: 2 recordings, 2 subjects>"
    assert [data[0].name, data[np.int64(1)].name] == data.names == ["a", "b"] and data[-1].name == "b"
    with pytest.raises(IsatSleepNetError, match=r": no recording at index 2 \(it has 2; their names: \.names\)$"):
        data[2]
    with pytest.raises(IsatSleepNetError, match=r"^a prepared recording is indexed by its name \(see \.names\) or"):
        data[1.0]
