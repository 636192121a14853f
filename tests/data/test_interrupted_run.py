"""A run killed in the middle of writing a recording resumes cleanly."""

import numpy as np
import pytest

from isatsleepnet.data import store
from isatsleepnet.data.prepare import prepare_dataset
from isatsleepnet.data.prepare_config import PrepareConfig
from isatsleepnet.data.store import PreparedDataset
from tests.conftest import rk_night


def test_interrupt_while_writing_then_resume(tmp_path, sleep_edf_night, monkeypatch):
    for i, code in enumerate(("SC4001", "SC4011", "SC4021", "SC4031")):
        sleep_edf_night(tmp_path / "raw", code, rk_night(3, 3), seed=i)
    out, config = tmp_path / "out", PrepareConfig(dataset="sleep-edf")
    real_save, calls = np.save, {"n": 0}

    def save_then_die(path, arr, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:  # second recording, after its epochs.npy: a half-written store
            raise KeyboardInterrupt
        return real_save(path, arr, *args, **kwargs)

    monkeypatch.setattr(store.np, "save", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        prepare_dataset(tmp_path / "raw", out, config, progress=False)
    monkeypatch.setattr(store.np, "save", real_save)
    assert sorted(p.name for p in (out / "recordings").iterdir()) == ["SC4001E0"]
    assert [r["recording"] for r in PreparedDataset(out).manifest] == ["SC4001E0"]

    statuses = {r.recording: r.status for r in prepare_dataset(tmp_path / "raw", out, config, progress=False)}
    assert statuses == {"SC4001E0": "skipped", "SC4011E0": "prepared", "SC4021E0": "prepared", "SC4031E0": "prepared"}
    assert len(PreparedDataset(out)) == 4
