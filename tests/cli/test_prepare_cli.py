import json

import pytest

from isatsleepnet.cli.main import main
from tests.conftest import rk_night


def test_prepare_reports_failures_and_exit_code(tmp_path, sleep_edf_night, capsys):
    sleep_edf_night(tmp_path / "raw", "SC4001", rk_night(3, 3))
    psg, _ = sleep_edf_night(tmp_path / "raw", "SC4011", rk_night(3, 3))
    psg.write_bytes(psg.read_bytes()[:300])
    code = main(["prepare", "--dataset", "sleep-edf", "--data-dir", str(tmp_path / "raw"), "--out", str(tmp_path / "out"), "--quiet"])
    captured = capsys.readouterr()
    assert code == 1
    assert "error: SC4011E0-PSG.edf: truncated: the file ends inside its header" in captured.err
    assert "Traceback" not in captured.err
    assert "1 new, 0 skipped, 1 failed" in captured.out
    assert (tmp_path / "out" / "manifest.csv").read_text().count("\n") == 2


def test_prepare_config_file_and_flags(tmp_path, sleep_edf_night, capsys):
    sleep_edf_night(tmp_path / "raw", "SC4001", rk_night(3, 3))
    cfg = tmp_path / "prep.toml"
    cfg.write_text('[prepare]\nsampling_rate = 50.0\nbandpass = [0.3, 20.0]\ntrim_minutes = 1.0\n')
    code = main(["prepare", "--dataset", "sleep-edf", "--data-dir", str(tmp_path / "raw"), "--out", str(tmp_path / "out"),
                 "--config", str(cfg), "--eog", "none", "--quiet"])
    assert code == 0
    saved = json.loads((tmp_path / "out" / "prepare_config.json").read_text())
    assert saved["sampling_rate"] == 50.0 and saved["bandpass"] == [0.3, 20.0] and saved["eog"] == ["none"]
    meta = json.loads((tmp_path / "out" / "recordings" / "SC4001E0" / "meta.json").read_text())
    assert meta["n_samples"] == 1500 and meta["channels"] == ["EEG Fpz-Cz", "EEG Pz-Oz"]


def test_unknown_config_key_is_a_clear_error(tmp_path, capsys):
    cfg = tmp_path / "bad.json"
    cfg.write_text('{"sampling_rat": 50}')
    code = main(["prepare", "--dataset", "sleep-edf", "--data-dir", str(tmp_path), "--out", str(tmp_path / "o"), "--config", str(cfg)])
    assert code == 2
    assert "unknown option(s) sampling_rat" in capsys.readouterr().err


def test_debug_shows_the_traceback(tmp_path, sleep_edf_night):
    psg, _ = sleep_edf_night(tmp_path / "raw", "SC4001", rk_night(3, 3))
    psg.write_bytes(b"")
    from isatsleepnet.errors import DataError

    with pytest.raises(DataError, match="empty file"):
        main(["--debug", "prepare", "--dataset", "sleep-edf", "--data-dir", str(tmp_path / "raw"), "--out", str(tmp_path / "o"), "--quiet"])


def test_export_npz_cli(tmp_path, sleep_edf_night, capsys):
    sleep_edf_night(tmp_path / "raw", "SC4001", rk_night(3, 3))
    assert main(["prepare", "--dataset", "sleep-edf", "--data-dir", str(tmp_path / "raw"), "--out", str(tmp_path / "p"), "--quiet"]) == 0
    assert main(["export-npz", "--data", str(tmp_path / "p"), "--out", str(tmp_path / "n"), "--channels", "EEG Fpz-Cz"]) == 0
    assert (tmp_path / "n" / "SC4001E0.npz").is_file()
    assert "wrote 1 npz file(s)" in capsys.readouterr().out
