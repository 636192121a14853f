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


def test_prepare_edf_with_integer_stages_needs_stage_codes_when_ambiguous(tmp_path, write_edf, capsys):
    import numpy as np

    from isatsleepnet.data.store import PreparedDataset

    raw = tmp_path / "raw"
    raw.mkdir()
    eeg = np.random.default_rng(0).normal(0, 20, 100 * 300)
    write_edf(raw / "night01.edf", [("C4-M1", eeg, 100.0, "uV")])
    (raw / "night01.csv").write_text("stage\n" + "\n".join("0 1 2 3 4 4 2 0 0 0".split()) + "\n")
    # the same codes as EDF+ annotations inside a second PSG: the same rule, and not "no hypnogram found"
    write_edf(raw / "night02.edf", [("C4-M1", eeg, 100.0, "uV")],
              annotations=[(30.0 * k, 30.0, c) for k, c in enumerate("0 1 2 3 4 4 2 0 0 0".split())])
    argv = ["prepare", "--dataset", "edf", "--data-dir", str(raw), "--eeg", "C4-M1", "--no-trim", "--quiet"]

    assert main(argv + ["--out", str(tmp_path / "auto")]) == 1
    err = capsys.readouterr().err
    assert [line for line in err.splitlines() if line.startswith("error: ")] == [
        f"error: {name}: integer stage codes 0-4 without a 5: AASM (4 = REM, YASA / DeepSleepNet) or R&K (4 = stage 4 "
        "= N3, 5 = REM)? say which with --stage-codes aasm or --stage-codes rk" for name in ("night01.csv", "night02.edf")
    ]
    assert "Traceback" not in err

    for coding, counts in (("aasm", {"W": 4, "N1": 1, "N2": 2, "N3": 1, "REM": 2}),
                           ("rk", {"W": 4, "N1": 1, "N2": 2, "N3": 3, "REM": 0})):
        assert main(argv + ["--out", str(tmp_path / coding), "--stage-codes", coding]) == 0
        data = PreparedDataset(tmp_path / coding)
        assert [data[n].meta["stage_counts"] for n in ("night01", "night02")] == [counts, counts]
        assert json.loads((tmp_path / coding / "prepare_config.json").read_text())["stage_codes"] == coding
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(argv + ["--out", str(tmp_path / "bad"), "--stage-codes", "yasa"])
    assert "invalid choice: 'yasa'" in capsys.readouterr().err
    cfg = tmp_path / "prep.json"
    cfg.write_text('{"stage_codes": "yasa"}')
    assert main(argv + ["--out", str(tmp_path / "bad"), "--config", str(cfg)]) == 2
    assert "prep.json: stage_codes must be one of aasm, rk (got 'yasa')" in capsys.readouterr().err


@pytest.mark.parametrize(("flags", "words"), [
    (["--trim-minutes", "-1"], "--trim-minutes must be a number of at least 0, got -1.0"),
    (["--sampling-rate", "nan"], "--sampling-rate must be a number above 0, got nan"),
    (["--sampling-rate", "0"], "--sampling-rate must be a number above 0, got 0.0"),
    (["--epoch-seconds", "0"], "--epoch-seconds must be a number above 0, got 0.0"),
    (["--epoch-seconds", "0.333"], "--epoch-seconds x --sampling-rate must be a whole number of samples"),
    (["--bandpass", "5,1"], "--bandpass must be LOW,HIGH with LOW below HIGH, got 5,1"),
    (["--bandpass", "0.3,60"], "--bandpass 0.3-60 Hz must lie below Nyquist (50 Hz at 100 Hz)"),
    (["--notch", "0"], "--notch must be a number above 0, got 0.0"),
    (["--notch", "50"], "--notch 50 Hz must lie below Nyquist (50 Hz at 100 Hz): the signals are filtered at that "
                         "rate, which holds nothing at 50 Hz to remove; a notch is for --sampling-rate above 100"),
    (["--eeg", "none", "--eeg2", "none", "--eog", "none"],
     "--eeg and --eeg2 and --eog are all 'none': at least one channel must be kept"),
    (["--subject-pattern", "("], "--subject-pattern is not a regular expression (missing ), unterminated subpattern"),
    (["--config", "UNIT"], "unit.json: assume_unit must be uV, mV or V, not 'kV'"),  # the file's key, naming the file
    (["--jobs", "0"], "--jobs must be a whole number of at least 1, got 0"),
    (["--jobs", "-1"], "--jobs must be a whole number of at least 1, got -1"),
])
def test_a_bad_setting_is_one_line_naming_its_flag_before_any_work(flags, words, tmp_path, sleep_edf_night, capsys):
    sleep_edf_night(tmp_path / "raw", "SC4001", rk_night(3, 3))
    if flags == ["--config", "UNIT"]:  # no flag takes another unit: a config file can
        (tmp_path / "unit.json").write_text('{"assume_unit": "kV"}')
        flags = ["--config", str(tmp_path / "unit.json")]
    code = main(["prepare", "--dataset", "sleep-edf", "--data-dir", str(tmp_path / "raw"),
                 "--out", str(tmp_path / "out"), "--quiet", *flags])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("isatsleepnet prepare: error: ") and words in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_a_config_files_strings_read_as_the_flags_and_a_bad_value_names_the_file(tmp_path, sleep_edf_night, capsys):
    """Before: eeg = "Fpz-Cz" looked for channels 'F', 'p', 'z'...; bandpass = "0.3,35" was an unexpected ValueError."""
    sleep_edf_night(tmp_path / "raw", "SC4001", rk_night(3, 3))
    cfg = tmp_path / "prep.toml"
    cfg.write_text('[prepare]\neeg = "Fpz-Cz, C4"\neog = "none"\n')
    argv = ["prepare", "--dataset", "sleep-edf", "--data-dir", str(tmp_path / "raw"), "--config", str(cfg), "--quiet"]
    assert main([*argv, "--out", str(tmp_path / "out")]) == 0
    saved = json.loads((tmp_path / "out" / "prepare_config.json").read_text())
    assert saved["eeg"] == ["Fpz-Cz", "C4"] and saved["eog"] == ["none"]
    cfg.write_text('[prepare]\nbandpass = "0.3,35"\n')
    assert main([*argv, "--out", str(tmp_path / "out2")]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == ("isatsleepnet prepare: error: prep.toml: bandpass must be two "
                                                        "frequencies [LOW, HIGH] in Hz, not '0.3,35'")
    assert not (tmp_path / "out2").exists()


def test_a_psg_start_that_cannot_be_read_is_noted_not_passed_over(tmp_path, sleep_edf_night, capsys):
    """Before: with the PSG's date unreadable, the hypnogram's own start was ignored without a word."""
    psg, _ = sleep_edf_night(tmp_path / "raw", "SC4001", rk_night(3, 3))
    data = bytearray(psg.read_bytes())
    data[168:176] = b"99.99.99"  # the header's start date
    psg.write_bytes(bytes(data))
    assert main(["prepare", "--dataset", "sleep-edf", "--data-dir", str(tmp_path / "raw"), "--out",
                 str(tmp_path / "out"), "--quiet"]) == 0
    out = capsys.readouterr()
    assert "SC4001E0: the PSG's start date or time is unreadable, so the hypnogram could not be placed by clock " \
           "time" in out.out + out.err
