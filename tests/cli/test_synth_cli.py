"""`isatsleepnet synth` writes files, summarises them, and reports bad arguments in one line."""

from __future__ import annotations

import edfio
import pytest

from isatsleepnet.cli.main import main


def test_synth_writes_a_sleep_edf_cohort(tmp_path, capsys):
    out = tmp_path / "cohort"
    assert main(["synth", "--out", str(out), "--n-subjects", "2", "--hours", "1", "--seed", "3"]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["SC4001E0-PSG.edf", "SC4001EC-Hypnogram.edf", "SC4011E0-PSG.edf", "SC4011EH-Hypnogram.edf"]
    assert edfio.read_edf(out / "SC4001E0-PSG.edf").duration == 3600
    stdout = capsys.readouterr().out
    assert "wrote 2 sleep-edf recordings (4 files)" in stdout
    assert "epochs per stage: W " in stdout and "REM " in stdout and "movement " in stdout
    assert "synthetic TEST data" in stdout


def test_synth_shhs_with_profusion(tmp_path, capsys):
    assert main(["synth", "--layout", "shhs", "--out", str(tmp_path), "--n-subjects", "1", "--n-nights", "2",
                 "--hours", "0.5", "--profusion"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "shhs1-200001-nsrr.xml", "shhs1-200001-profusion.xml", "shhs1-200001.edf",
        "shhs2-200001-nsrr.xml", "shhs2-200001-profusion.xml", "shhs2-200001.edf"]
    assert "(6 files)" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["--n-subjects", "0"], "--n-subjects must be at least 1"),
    (["--subjects", "0"], "--n-subjects must be at least 1"),  # the old spelling, with a note
    (["--hours", "0.001"], "--hours 0.001 is shorter than one 30-s epoch"),
    (["--hours", "nan"], "--hours must be a finite number of hours, not nan"),  # before: "shorter than one epoch"
    (["--hours", "inf"], "--hours must be a finite number of hours, not inf"),
    (["--profusion"], "--profusion only applies to the shhs layout"),
])
def test_bad_arguments_are_one_line_errors(tmp_path, capsys, argv, message):
    assert main(["synth", "--out", str(tmp_path / "x"), *argv]) == 2
    err = capsys.readouterr().err.splitlines()[-1]  # (after the note of an old spelling)
    assert err.startswith("isatsleepnet synth: error: ") and message in err and "Traceback" not in err


def test_help_warns_that_the_data_is_synthetic(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["synth", "--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "SYNTHETIC TEST DATA" in text and "never report" in text
    for option in ("--layout", "--out", "--n-subjects", "--n-nights", "--hours", "--seed", "--profusion"):
        assert option in text
    assert "--subjects" not in text and "--nights" not in text  # the old spellings are taken, not shown


def test_out_is_required(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["synth"])
    assert exit_info.value.code == 2
    assert "--out" in capsys.readouterr().err


def test_the_old_spellings_of_the_counts_are_taken_with_a_note(tmp_path, capsys):
    """`--subjects`/`--nights` name subjects and nights elsewhere: synth's counts are --n-subjects/--n-nights."""
    assert main(["synth", "--out", str(tmp_path), "--subjects", "1", "--nights", "2", "--hours", "0.1"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir())[:2] == ["SC4001E0-PSG.edf", "SC4001EC-Hypnogram.edf"]
    assert len(list(tmp_path.glob("*-PSG.edf"))) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == ["note: --subjects is spelled --n-subjects now (a count; --subjects names subjects in download, "
                   "evaluate, augment and train-gan)",
                   "note: --nights is spelled --n-nights now (a count; --nights names nights in download)"]
