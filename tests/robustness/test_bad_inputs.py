"""Bad EDF headers and channels: `prepare` and `stage` refuse each with one line, and do the rest.

The same files go through both commands, which share the header checks and the
channel vocabulary: a header that is non-finite or absurd, two channels with
one label, a channel too slow for the working rate, several roles missing. The
good recordings of the same run (Latin-1 ``µV``, ``C4`` for ``EEG C4``, a flat
channel) are prepared and staged, with notes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from isatsleepnet.data.store import PreparedDataset
from tests.edf_bytes import patch_main_field, patch_signal_field
from tests.inference import trained_model
from tests.robustness import (
    CHANNELS,
    assert_no_debris,
    assert_one_error,
    error_lines,
    night,
    prepare_args,
    run_cli,
)

# name -> (how the file is spoilt, the problem its one line must state)
BAD: dict[str, tuple] = {
    "nan_max": (lambda p: patch_signal_field(p, 0, "physical_max", "nan"),
                r"channel 'EEG Fpz-Cz' has a non-finite calibration"),
    "inf_min": (lambda p: patch_signal_field(p, 2, "physical_min", "-inf"),
                r"channel 'EOG horizontal' has a non-finite calibration"),
    "digital_upside_down": (lambda p: (patch_signal_field(p, 1, "digital_min", "32767"),
                                       patch_signal_field(p, 1, "digital_max", "-32768")),
                            r"channel 'EEG Pz-Oz' has its digital minimum above its maximum"),
    "absurd_range": (lambda p: patch_signal_field(p, 0, "physical_max", "1e300"),
                     r"channel 'EEG Fpz-Cz' has an absurd physical range"),
    "record_1e20": (lambda p: patch_main_field(p, "record_duration", "1e20"),
                    r"data records of 1e\+20 s \(.* days: absurd\)"),
    "record_nan": (lambda p: patch_main_field(p, "record_duration", "nan"),
                   r"data-record duration is nan \(must be a positive number of seconds\)"),
    "duplicate_label": (lambda p: patch_signal_field(p, 3, "label", "EEG Fpz-Cz"),
                        r"2 channels are labelled 'EEG Fpz-Cz' \(signals 1, 4 of the file\): ambiguous"),
    "fewer_records_announced": (lambda p: patch_main_field(p, "n_records", "2"),
                                r"the header announces 2 data records but the file holds 6 \(a header not updated"),
    "header_bytes": (lambda p: patch_main_field(p, "header_bytes", "9999"),
                     r"the header says it is 9999 bytes long, but its 4 signal\(s\) make it 1280"),
    "absurd_amplitude": (lambda p: (patch_signal_field(p, 0, "physical_min", "-1e9"),
                                    patch_signal_field(p, 0, "physical_max", "1e9")),
                         r"beyond ±10 V"),
}


def _bad_files(write_edf, folder: Path) -> dict[str, Path]:  # noqa: ANN001
    files = {}
    for i, (name, (spoil, _)) in enumerate(BAD.items()):
        # a fourth channel, a 1-Hz EMG, is what the duplicate label hides behind
        path = night(write_edf, folder, name, labels=(*CHANNELS, "EMG"), rates={"EMG": 1.0}, seed=i)
        spoil(path)
        files[name] = path
    slow = night(write_edf, folder, "slow_eeg", rates={"EEG Fpz-Cz": 1.0}, seed=20)
    missing = night(write_edf, folder, "two_missing", labels=("EEG Fpz-Cz", "ECG"), seed=21)
    return {**files, "slow_eeg": slow, "two_missing": missing}


def _good_files(write_edf, folder: Path) -> dict[str, Path]:  # noqa: ANN001
    good = night(write_edf, folder, "good", seed=30)
    latin1 = night(write_edf, folder, "latin1_microvolt", seed=31)
    for i in range(3):
        patch_signal_field(latin1, i, "physical_dimension", b"\xb5V")  # µV as most recorders write it
    flat = folder / "flat.edf"
    x = np.random.default_rng(32).normal(0, 20, 6 * 3000)
    write_edf(flat, [("EEG Fpz-Cz", x, 100.0, "uV"), ("EEG Pz-Oz", x, 100.0, "uV"),
                     ("EOG horizontal", np.r_[x[:3000], np.zeros(5 * 3000)], 100.0, "uV")])
    (folder / "flat.csv").write_text((folder / "good.csv").read_text())
    return {"good": good, "latin1_microvolt": latin1, "flat": flat}


def test_prepare_refuses_each_bad_header_in_one_line_and_prepares_the_rest(write_edf, tmp_path, capsys):
    raw = tmp_path / "raw"
    bad, good = _bad_files(write_edf, raw), _good_files(write_edf, raw)
    out = tmp_path / "prepared"
    code, stdout, err = run_cli(prepare_args(raw, out), capsys)
    assert code == 1
    for name, (_, problem) in BAD.items():
        assert_one_error(err, f"{name}.edf:", problem)
    assert_one_error(err, "slow_eeg.edf:", r"channel 'EEG Fpz-Cz' \(eeg\) is sampled at 1 Hz; prepare "
                                           r"\(--sampling-rate\) works at 100 Hz and needs at least 60 Hz")
    assert_one_error(err, "two_missing.edf:", r"missing eeg2 channel 'EEG Pz-Oz' and eog channel 'EOG horizontal'; "
                                              r"channels present: 'EEG Fpz-Cz', 'ECG'")
    assert len(error_lines(err)) == len(bad)
    data = PreparedDataset(out)
    assert sorted(data.names) == sorted(good)
    for rec in data:
        assert np.isfinite(rec.epochs).all()
        assert 5 < float(np.asarray(rec.epochs[0, 0]).std()) < 40  # µV, whatever the unit's spelling
    assert "note: flat: eog: channel 'EOG horizontal' is flat in 5 of 6 epochs" in stdout
    assert data["flat"].meta["notes"] == ["eog: channel 'EOG horizontal' is flat in 5 of 6 epochs"]
    assert_no_debris(out)


def test_stage_refuses_the_same_files_in_one_line_and_stages_the_rest(write_edf, tmp_path, tmp_path_factory, capsys):
    model, _ = trained_model(tmp_path_factory.getbasetemp())
    raw = tmp_path / "raw"
    bad, good = _bad_files(write_edf, raw), _good_files(write_edf, raw)
    out = tmp_path / "staged"
    code, stdout, err = run_cli(["stage", raw, "--model", model, "--out", out, "--threads", "1", "--no-plots",
                                 "--no-report", "--quiet"], capsys)
    assert code == 1
    for name, (_, problem) in BAD.items():
        assert_one_error(err, f"{name}.edf:", problem)
    assert_one_error(err, "slow_eeg.edf:", r"sampled at 1 Hz; the model works at 100 Hz and needs at least 60 Hz")
    assert_one_error(err, "two_missing.edf:", r"missing eeg2 channel 'EEG Pz-Oz' \(the model was trained on it\) and "
                                              r"eog channel 'EOG horizontal' \(the model was trained on it\)")
    assert len(error_lines(err)) == len(bad)
    staged = sorted(p.name.removesuffix(".sleep_stats.json") for p in out.glob("*.sleep_stats.json"))
    assert staged == sorted(good)
    for name in bad:
        assert not list(out.glob(f"{name}.*")), name  # nothing half-written for a refused recording
    assert "note: flat.edf: eog: channel 'EOG horizontal' is flat in 5 of 6 epochs" in err
    assert_no_debris(out)


@pytest.mark.parametrize("label, given", [("EEG C4", "C4"), ("C4", "EEG C4"), ("EEG Fpz-Cz", "Fpz-Cz")])
def test_one_label_rule_for_prepare_and_stage(write_edf, tmp_path, capsys, label, given):
    raw = tmp_path / "raw"
    night(write_edf, raw, "n", labels=(label, "EOG horizontal"))
    out = tmp_path / "prepared"
    code, stdout, err = run_cli(["prepare", "--dataset", "edf", "--data-dir", raw, "--out", out, "--eeg", given,
                                 "--eeg2", "none", "--eog", "EOG horizontal", "--quiet"], capsys)
    assert code == 0, err
    assert PreparedDataset(out)["n"].channels == [label, "EOG horizontal"]
    assert f"note: n: eeg: using channel {label!r} as an alias" in stdout
