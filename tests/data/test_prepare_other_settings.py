"""A prepared dataset never mixes recordings of two settings: prepare_config.json says them all.

Before: ``--overwrite`` with new settings on fewer files kept the other recordings of the old
settings in the manifest, and a recording failing in such a run kept its old store, which later
runs counted as "skipped" forever.
"""

import json
import shutil

from isatsleepnet.data import prepare as prepare_module
from isatsleepnet.data.prepare import prepare_dataset
from isatsleepnet.data.prepare_config import PrepareConfig
from isatsleepnet.data.store import PreparedDataset
from tests.conftest import rk_night

CODES = ("SC4001", "SC4011", "SC4021")


def _raw(tmp_path, sleep_edf_night):
    for i, code in enumerate(CODES):
        sleep_edf_night(tmp_path / "raw", code, rk_night(3, 3), seed=i)
    return tmp_path / "raw"


def _rates(out):
    """Per recording of the manifest, the rate its own meta.json says; and the rate prepare_config.json says."""
    data = PreparedDataset(out)
    saved = json.loads((out / "prepare_config.json").read_text())["sampling_rate"]
    return {name: data[name].sampling_rate for name in data.names}, saved


def test_overwrite_with_new_settings_on_fewer_files_removes_the_others(tmp_path, sleep_edf_night, capsys):
    raw = _raw(tmp_path, sleep_edf_night)
    out = tmp_path / "out"
    prepare_dataset(raw, out, PrepareConfig(dataset="sleep-edf"), progress=False)
    half = tmp_path / "half"
    half.mkdir()
    for path in raw.glob("SC4001*"):
        shutil.copy(path, half / path.name)
    capsys.readouterr()
    results = prepare_dataset(half, out, PrepareConfig(dataset="sleep-edf", sampling_rate=50), overwrite=True,
                              progress=False)
    assert [(r.recording, r.status) for r in results] == [("SC4001E0", "prepared")]
    assert _rates(out) == ({"SC4001E0": 50.0}, 50.0)
    assert sorted(p.name for p in (out / "recordings").iterdir()) == ["SC4001E0"]
    err = capsys.readouterr().err
    for name in ("SC4011E0", "SC4021E0"):
        assert f"note: {name}: removed from {out}: prepared with other settings" in err


def test_a_recording_failing_under_new_settings_keeps_no_store_of_the_old(tmp_path, sleep_edf_night):
    raw = _raw(tmp_path, sleep_edf_night)
    out, new = tmp_path / "out", PrepareConfig(dataset="sleep-edf", sampling_rate=50)
    prepare_dataset(raw, out, PrepareConfig(dataset="sleep-edf"), progress=False)
    psg = raw / "SC4011E0-PSG.edf"
    good = psg.read_bytes()
    psg.write_bytes(good[:300])
    statuses = {r.recording: r.status for r in prepare_dataset(raw, out, new, overwrite=True, progress=False)}
    assert statuses == {"SC4001E0": "prepared", "SC4011E0": "failed", "SC4021E0": "prepared"}
    assert _rates(out) == ({"SC4001E0": 50.0, "SC4021E0": 50.0}, 50.0)
    # a plain rerun tries it again (it was "skipped" with its old settings), and prepares it once it is fixed
    statuses = {r.recording: r.status for r in prepare_dataset(raw, out, new, progress=False)}
    assert statuses["SC4011E0"] == "failed"
    psg.write_bytes(good)
    statuses = {r.recording: r.status for r in prepare_dataset(raw, out, new, progress=False)}
    assert statuses == {"SC4001E0": "skipped", "SC4011E0": "prepared", "SC4021E0": "skipped"}
    assert _rates(out) == ({"SC4001E0": 50.0, "SC4011E0": 50.0, "SC4021E0": 50.0}, 50.0)


def test_an_overwrite_killed_after_its_settings_were_saved_ends_as_an_uninterrupted_one(
        tmp_path, sleep_edf_night, monkeypatch):
    raw = _raw(tmp_path, sleep_edf_night)
    new = PrepareConfig(dataset="sleep-edf", sampling_rate=50)
    prepare_dataset(raw, tmp_path / "whole", new, progress=False)
    out = tmp_path / "out"
    prepare_dataset(raw, out, PrepareConfig(dataset="sleep-edf"), progress=False)
    # killed with the new settings saved and old stores still there (as an older version left them)
    monkeypatch.setattr(prepare_module, "_remove_other_settings", lambda *args: None, raising=False)
    monkeypatch.setattr(prepare_module, "_prepare", lambda *args: (_ for _ in ()).throw(KeyboardInterrupt))
    try:
        prepare_dataset(raw, out, new, overwrite=True, progress=False, debug=True)
    except KeyboardInterrupt:
        pass
    monkeypatch.undo()
    statuses = {r.recording: r.status for r in prepare_dataset(raw, out, new, progress=False)}
    assert statuses == dict.fromkeys(("SC4001E0", "SC4011E0", "SC4021E0"), "prepared")
    assert (out / "manifest.csv").read_text() == (tmp_path / "whole" / "manifest.csv").read_text()


def test_every_reader_stores_the_fingerprint_of_its_settings(tmp_path, sleep_edf_night, monkeypatch):
    """The npz reader (and a dataset's own) say nothing of settings: the run adds them, so a rerun can compare."""
    raw = _raw(tmp_path, sleep_edf_night)
    real = prepare_module.read_recording

    def without_fingerprint(source, config):
        epochs, labels, onsets, meta = real(source, config)
        return epochs, labels, onsets, {k: v for k, v in meta.items() if k != "config_fingerprint"}

    monkeypatch.setattr(prepare_module, "read_recording", without_fingerprint)
    config = PrepareConfig(dataset="sleep-edf")
    prepare_dataset(raw, tmp_path / "out", config, progress=False)
    assert PreparedDataset(tmp_path / "out")["SC4001E0"].meta["config_fingerprint"] == config.fingerprint()
