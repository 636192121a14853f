"""Acceptance tests of `isatsleepnet stage` with a tiny model trained on synthetic nights."""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np
import pytest

from isatsleepnet import STAGES
from isatsleepnet.errors import IsatSleepNetError
from isatsleepnet.inference.sleep_stats import sleep_statistics
from isatsleepnet.inference.options import StageOptions
from isatsleepnet.inference.stage import stage_recording
from tests.inference import write_night

# the files staging writes by default, from the output table (tests/inference/test_output_formats.py pins the table)
OUTPUT_SUFFIXES = tuple(f.suffix for f in StageOptions().formats())


def stage_cli(argv: list[str]) -> int:
    from isatsleepnet.cli.stage import add_parser

    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    args = parser.parse_args(["stage", *argv])
    return args.run(args)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def check_rows(rows: list[dict[str, str]], n_epochs: int) -> np.ndarray:
    """One row per whole epoch, probabilities summing to 1, stage = most likely; returns the stage codes."""
    assert len(rows) == n_epochs
    p = np.array([[float(r[f"p_{s}"]) for s in STAGES] for r in rows])
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-5)
    stages = np.array([STAGES.index(r["stage"]) for r in rows])
    np.testing.assert_array_equal(stages, p.argmax(axis=1))
    conf = np.array([float(r["confidence"]) for r in rows])
    assert ((conf >= 0) & (conf <= 1)).all()
    np.testing.assert_array_equal(np.array([int(r["review"]) for r in rows]), (conf < 0.6).astype(int))
    return stages


def test_stage_a_synthetic_night_writes_every_output(synthetic_raw, model, predictor, tmp_path):
    import mne

    psg = sorted(synthetic_raw.glob("*-PSG.edf"))[0]
    hypnogram = sorted(synthetic_raw.glob(psg.name[:6] + "*-Hypnogram.edf"))[0]
    result = stage_recording(psg, predictor, tmp_path / "out", StageOptions(), hypnogram=hypnogram)
    name = psg.stem
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(name + s for s in OUTPUT_SUFFIXES)
    rows = read_csv(tmp_path / "out" / f"{name}.hypnogram.csv")
    n_whole = result.summary["recording"]["whole_epochs"]
    stages = check_rows(rows, n_whole)
    assert [float(r["onset_s"]) for r in rows[:3]] == [0.0, 30.0, 60.0]
    assert {r["expert"] for r in rows} <= {*STAGES, "?", ""}

    summary = json.loads((tmp_path / "out" / f"{name}.sleep_stats.json").read_text())
    assert summary["statistics"] == sleep_statistics(stages, 30.0)
    agreement = summary["expert"]["agreement"]
    assert agreement["n_epochs"] == summary["expert"]["scored_epochs"] > 0
    assert 0.0 <= agreement["accuracy"] <= 1.0
    assert summary["review"]["flagged_epochs"] == sum(int(r["review"]) for r in rows)

    annotations = mne.read_annotations(tmp_path / "out" / f"{name}.annotations.edf")
    staged = [d for d in annotations.description if d.startswith("Sleep stage")]
    assert set(staged) <= {"Sleep stage W", "Sleep stage N1", "Sleep stage N2", "Sleep stage N3", "Sleep stage R"}
    is_stage = np.array([d.startswith("Sleep stage") for d in annotations.description])
    assert annotations.duration[is_stage].sum() == pytest.approx(30.0 * n_whole)

    for figure in ("hypnogram", "hypnodensity"):
        assert (tmp_path / "out" / f"{name}.{figure}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = (tmp_path / "out" / f"{name}.report.html").read_text()
    assert html.count("data:image/png;base64,") == 2 and "src=\"http" not in html
    assert "Sleep efficiency" in html and "Cohen" in html


def test_sc4001_whole_night_and_trimmed(sleep_edf_dir, model, predictor, tmp_path, capsys):
    psg, hypnogram = sleep_edf_dir / "SC4001E0-PSG.edf", sleep_edf_dir / "SC4001EC-Hypnogram.edf"
    result = stage_recording(psg, predictor, tmp_path / "whole", StageOptions(plots=False, report=False))
    assert result.n_epochs == 2650
    check_rows(read_csv(tmp_path / "whole" / "SC4001E0-PSG.hypnogram.csv"), 2650)
    # 22 h of day and night: the statistics say which window they cover, and how to narrow it
    assert result.summary["recording"]["window_note"].startswith(
        "the sleep statistics cover the whole recording, 22.1 h from 1989-04-24 16:13:00 to 1989-04-25 14:18:00")

    code = stage_cli([str(psg), "--model", str(model), "--out", str(tmp_path / "trim"), "--hypnogram", str(hypnogram),
                      "--trim", "--threads", "1", "--quiet"])
    assert code == 0
    rows = read_csv(tmp_path / "trim" / "SC4001E0-PSG.hypnogram.csv")
    check_rows(rows, 841)
    assert rows[0]["epoch"] == "961" and rows[0]["onset_s"] == "28830"
    expert = [r["expert"] for r in rows]
    assert {s: expert.count(s) for s in STAGES} == {"W": 188, "N1": 58, "N2": 250, "N3": 220, "REM": 125}
    summary = json.loads((tmp_path / "trim" / "SC4001E0-PSG.sleep_stats.json").read_text())
    assert summary["expert"]["agreement"]["n_epochs"] == 841
    assert summary["recording"]["window_note"] is None  # --trim: the night
    assert summary["expert"]["statistics"]["total_sleep_time_min"] == (841 - 188) / 2
    assert "SC4001E0-PSG  staged     841" in capsys.readouterr().out


def test_final_partial_epoch_is_ignored_and_reported(write_edf, predictor, tmp_path):
    psg = write_night(write_edf, tmp_path / "short.edf", 6, extra_seconds=12)
    result = stage_recording(psg, predictor, tmp_path / "out", StageOptions(plots=False))
    assert result.n_epochs == 6
    check_rows(read_csv(tmp_path / "out" / "short.hypnogram.csv"), 6)
    summary = result.summary
    assert summary["recording"]["ignored_tail_s"] == 12
    assert any("last 12 s" in n for n in summary["notes"])
    assert "last 12 s" in (tmp_path / "out" / "short.report.html").read_text()


def test_a_recording_s_epochs_show_their_own_progress(write_edf, predictor, tmp_path, capsys):
    """Before: the only bar counted recordings, so one long night showed 0/1 until it was done."""
    psg = write_night(write_edf, tmp_path / "long.edf", 40)
    stage_recording(psg, predictor, tmp_path / "out", StageOptions(plots=False, report=False), progress=True)
    err = capsys.readouterr().err
    assert "long: " in err and "/40 [" in err and "ep/s" in err, err
    stage_recording(psg, predictor, tmp_path / "out", StageOptions(plots=False, report=False))  # the default: none
    assert "/40 [" not in capsys.readouterr().err
    counted: list[int] = []  # what the bar counts: every epoch once, batch by batch
    predictor.probabilities(np.zeros((23, len(predictor.inputs.roles), predictor.inputs.n_samples), np.float32), 8,
                            progress=counted.append)
    assert counted == [8, 8, 7]


def test_a_model_without_a_training_profile_says_its_input_was_not_checked(write_edf, predictor, tmp_path):
    """Before: such a model staged 30-mV noise with no word, where one with a profile warned."""
    import copy

    from isatsleepnet.inference.predictor import Predictor

    psg = write_night(write_edf, tmp_path / "n.edf", 3)
    note = "the model carries no description of its training data's signals"
    kept = stage_recording(psg, predictor, tmp_path / "a", StageOptions(plots=False, report=False))
    assert predictor.meta["training"]["input_profile"] and not any(note in n for n in kept.summary["notes"])
    meta = copy.deepcopy(predictor.meta)
    del meta["training"]["input_profile"]
    bare = Predictor(predictor.backend, predictor.source, meta, predictor._logits)
    result = stage_recording(psg, bare, tmp_path / "b", StageOptions(plots=False, report=False))
    assert any(n.startswith(note) for n in result.summary["notes"])


def test_aliases_overrides_rates_and_units(write_edf, predictor, tmp_path):
    # other spellings of the model's channels, at 200 Hz, stored in mV
    aliased = write_night(write_edf, tmp_path / "alias.edf", 4, fs=200.0, units="mV",
                          labels=["Fpz-Cz", "Pz-Oz", "HEOG"])
    result = stage_recording(aliased, predictor, tmp_path / "out", StageOptions(plots=False, report=False))
    channels = result.summary["recording"]["channels"]
    assert [(c["label"], c["matched"], c["rate"]) for c in channels] == [
        ("Fpz-Cz", "alias", 200.0), ("Pz-Oz", "alias", 200.0), ("HEOG", "alias", 200.0)]
    assert any("resampled from 200 to 100 Hz" in n for n in result.summary["notes"])

    other = write_night(write_edf, tmp_path / "other.edf", 4, labels=["C4-M1", "C3-M2", "E1-M2"])
    options = StageOptions(channels={"eeg": ["C4-M1"], "eeg2": ["C3-M2"], "eog": ["E1-M2"]}, plots=False, report=False)
    result = stage_recording(other, predictor, tmp_path / "out", options)
    assert [c["label"] for c in result.summary["recording"]["channels"]] == ["C4-M1", "C3-M2", "E1-M2"]


def test_start_and_end_window(write_edf, predictor, tmp_path):
    psg = write_night(write_edf, tmp_path / "w.edf", 10)
    options = StageOptions(start_s=45.0, end_s=200.0, plots=False, report=False)
    stage_recording(psg, predictor, tmp_path / "out", options)
    rows = read_csv(tmp_path / "out" / "w.hypnogram.csv")
    assert [r["epoch"] for r in rows] == ["2", "3", "4", "5"]  # 60-90 ... 150-180; 180-210 overruns --end


def test_bad_inputs_fail_one_line_each_and_the_others_go_on(write_edf, model, tmp_path, capsys):
    raw = tmp_path / "raw"
    raw.mkdir()
    write_night(write_edf, raw / "a_good.edf", 3)
    (raw / "b_empty.edf").write_bytes(b"")
    truncated = write_night(write_edf, raw / "c_truncated.edf", 3)
    truncated.write_bytes(truncated.read_bytes()[:-5000])
    (raw / "d_corrupt.edf").write_bytes(b"this is not an EDF header" * 20)
    write_night(write_edf, raw / "e_missing.edf", 3, labels=["EEG Fpz-Cz", "EEG Pz-Oz", "EMG submental"])
    write_edf(raw / "f_slow.edf", [("EEG Fpz-Cz", np.zeros(90 * 40), 40.0, "uV"),
                                   ("EEG Pz-Oz", np.ones(90 * 100), 100.0, "uV"),
                                   ("EOG horizontal", np.ones(90 * 100), 100.0, "uV")])
    write_night(write_edf, raw / "g_short.edf", 0, extra_seconds=20)
    write_night(write_edf, raw / "h_good.edf", 2)

    code = stage_cli([str(raw), str(tmp_path / "nowhere.edf"), "--model", str(model), "--out", str(tmp_path / "out"),
                      "--threads", "1", "--no-plots", "--quiet"])
    captured = capsys.readouterr()
    assert code == 1
    errors = [line for line in captured.err.splitlines() if line.startswith("error: ")]
    expected = [
        "error: nowhere.edf: file not found",
        "error: b_empty.edf: empty file",
        "error: c_truncated.edf: truncated: the header announces",
        "error: d_corrupt.edf: not an EDF/BDF file",
        "error: e_missing.edf: missing eog channel 'EOG horizontal' (the model was trained on it); channels present: "
        "'EEG Fpz-Cz', 'EEG Pz-Oz', 'EMG submental'",
        "error: f_slow.edf: channel 'EEG Fpz-Cz' (eeg) is sampled at 40 Hz; the model works at 100 Hz and needs at "
        "least 60 Hz for EEG",
        "error: g_short.edf: shorter than one 30-s epoch (20 s)",
    ]
    assert len(errors) == len(expected)
    for line, start in zip(errors, expected):
        assert line.startswith(start), line
    assert "Traceback" not in captured.err
    assert "2 staged, 7 failed" in captured.out
    produced = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert produced == sorted([f"{n}{s}" for n in ("a_good", "h_good") for s in OUTPUT_SUFFIXES
                               if not s.endswith(".png")] + ["model.sha1", ".isatsleepnet-stagings.json"])
    assert sorted(json.loads((tmp_path / "out" / ".isatsleepnet-stagings.json").read_text())) == ["a_good", "h_good"]


def test_hypnogram_errors_name_the_hypnogram(write_edf, model, tmp_path, capsys):
    psg = write_night(write_edf, tmp_path / "n.edf", 4)
    bad = tmp_path / "n_stages.csv"
    bad.write_text("stage\nW\nN1\nX\nN2\n")
    code = stage_cli([str(psg), "--hypnogram", str(bad), "--model", str(model), "--out", str(tmp_path / "out"),
                      "--threads", "1", "--quiet"])
    err = capsys.readouterr().err
    assert code == 1
    assert "error: n_stages.csv: unknown stage label 'X' on line 4" in err
    assert not (tmp_path / "out" / "n.hypnogram.csv").exists()

    from isatsleepnet.cli.flags import message

    with pytest.raises(IsatSleepNetError) as info:
        stage_cli([str(psg), "--hypnogram", str(bad), "--hypnogram", str(bad), "--model", str(model),
                   "--out", str(tmp_path / "out")])
    assert message(info.value).startswith("2 --hypnogram file")  # the command line spells the setting as its flag
    with pytest.raises(IsatSleepNetError) as info:
        stage_cli([str(psg), "--trim", "--model", str(model), "--out", str(tmp_path / "out")])
    assert message(info.value).startswith("--trim keeps the wake around the expert's sleep: it needs --hypnogram")


def test_model_and_option_mismatches_are_clear(write_edf, model, tmp_path):
    psg = write_night(write_edf, tmp_path / "n.edf", 2)
    with pytest.raises(IsatSleepNetError, match=r"the model has no eog2 input \(its roles: eeg, eeg2, eog\)"):
        stage_cli([str(psg), "--channel", "eog2=E2", "--model", str(model), "--out", str(tmp_path / "o")])
    with pytest.raises(IsatSleepNetError, match="model file not found"):
        stage_cli([str(psg), "--model", str(tmp_path / "none.pt"), "--out", str(tmp_path / "o")])
    not_a_model = tmp_path / "junk.pt"
    not_a_model.write_bytes(b"junk")
    with pytest.raises(IsatSleepNetError, match=r"junk\.pt: not a readable model file \([^\n]*\)$"):
        stage_cli([str(psg), "--model", str(not_a_model), "--out", str(tmp_path / "o")])
    import torch

    pickled_module = tmp_path / "module.pt"
    torch.save(torch.nn.Linear(2, 2), pickled_module)
    with pytest.raises(IsatSleepNetError, match=r"module\.pt: not a readable model file \(it holds Python objects"):
        stage_cli([str(psg), "--model", str(pickled_module), "--out", str(tmp_path / "o")])
    with pytest.raises(IsatSleepNetError, match=r"n\.edf: not a readable model file \(not a PyTorch file\)$"):
        stage_cli([str(psg), "--model", str(psg), "--out", str(tmp_path / "o")])


def test_training_and_staging_share_one_normalisation():
    """The predictor and training's dataset both call data.normalize.normalize_epochs: no second copy to drift."""
    import inspect

    from isatsleepnet.inference import predictor
    from isatsleepnet.training import data

    assert predictor.normalize_epochs is data.normalize_epochs
    assert "def normalize_epoch" not in inspect.getsource(data) + inspect.getsource(predictor)


def test_a_folder_with_hypnograms_found_beside_each_recording(synthetic_raw, model, tmp_path, capsys):
    code = stage_cli([str(synthetic_raw), "--hypnogram", "auto", "--model", str(model), "--out", str(tmp_path / "out"),
                      "--threads", "1", "--no-plots", "--no-report", "--annotations", "tsv", "--quiet"])
    assert code == 0
    psgs = sorted(synthetic_raw.glob("*-PSG.edf"))
    assert f"{len(psgs)} staged, 0 failed" in capsys.readouterr().out
    for psg in psgs:
        summary = json.loads((tmp_path / "out" / f"{psg.stem}.sleep_stats.json").read_text())
        assert summary["expert"]["file"].endswith("-Hypnogram.edf")
        assert (tmp_path / "out" / f"{psg.stem}.annotations.tsv").is_file()
        assert not (tmp_path / "out" / f"{psg.stem}.annotations.edf").exists()


def test_help_documents_every_option():
    from isatsleepnet.cli import export, stage

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    stage.add_parser(sub)
    export.add_parser(sub)
    for name in ("stage", "export"):
        action = next(a for a in parser._subparsers._group_actions if isinstance(a, argparse._SubParsersAction))
        sub_parser = action.choices[name]
        assert sub_parser.description and sub_parser.epilog
        assert all(a.help for a in sub_parser._actions)


def test_a_bdf_recording_stages_like_the_same_edf(write_edf, predictor, tmp_path):
    import edfio

    from tests.inference import SLEEP_EDF_NAMES

    edf = write_night(write_edf, tmp_path / "night.edf", 5)
    signals = [edfio.BdfSignal(s.data, s.sampling_frequency, label=s.label, physical_dimension="uV",
                               physical_range=(-200.0, 200.0))
               for s in edfio.read_edf(edf).signals]
    assert [s.label for s in signals] == list(SLEEP_EDF_NAMES)
    bdf = tmp_path / "night.bdf"
    edfio.Bdf(signals, data_record_duration=30.0).write(bdf)
    from_edf = stage_recording(edf, predictor, tmp_path / "edf", StageOptions(plots=False, report=False))
    from_bdf = stage_recording(bdf, predictor, tmp_path / "bdf", StageOptions(plots=False, report=False))
    assert from_bdf.n_epochs == from_edf.n_epochs == 5
    p_edf = np.array([[float(r[f"p_{s}"]) for s in STAGES] for r in read_csv(tmp_path / "edf" / "night.hypnogram.csv")])
    p_bdf = np.array([[float(r[f"p_{s}"]) for s in STAGES] for r in read_csv(tmp_path / "bdf" / "night.hypnogram.csv")])
    np.testing.assert_allclose(p_bdf, p_edf, atol=1e-3)  # same samples up to the two formats' quantisation


def test_importing_the_staging_module_does_not_import_scipy() -> None:
    # scipy.signal takes ~0.4 s to import and a recording at the model's rate does not need it
    import subprocess
    import sys

    code = "import sys, isatsleepnet.inference.stage; print(sorted(m for m in sys.modules if m.startswith('scipy')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_lights_off_to_lights_on_sets_the_window_and_time_in_bed(write_edf, predictor, tmp_path):
    markers = [(10.0, 0.0, "Recording start"), (95.0, 0.0, "LIGHTS OUT"), (150.0, 0.0, "Lights on (test)"),
               (260.0, 0.0, "lights_on")]
    psg = write_night(write_edf, tmp_path / "l.edf", 10, annotations=markers)
    result = stage_recording(psg, predictor, tmp_path / "out", StageOptions(lights=True, plots=False, report=False))
    rows = read_csv(tmp_path / "out" / "l.hypnogram.csv")
    assert [r["epoch"] for r in rows] == ["4", "5", "6", "7"]  # 120 s (first whole epoch after 95 s) to 240 s (last on)
    assert result.summary["statistics"]["time_in_bed_min"] == 2.0
    assert any("lights off (95 s)" in note and "lights on (260 s)" in note for note in result.summary["notes"])
    # one marker: that end of the recording
    psg = write_night(write_edf, tmp_path / "off.edf", 10, annotations=[(60.0, 0.0, "Lights off")])
    stage_recording(psg, predictor, tmp_path / "out", StageOptions(lights=True, plots=False, report=False))
    rows = read_csv(tmp_path / "out" / "off.hypnogram.csv")
    assert rows[0]["epoch"] == "2" and rows[-1]["epoch"] == "9"


def test_lights_without_markers_or_with_start_is_a_clear_error(write_edf, predictor, tmp_path):
    from isatsleepnet.errors import DataError

    psg = write_night(write_edf, tmp_path / "n.edf", 4)
    with pytest.raises(DataError, match=r"n\.edf.*no 'Lights off' / 'Lights on' annotation"):
        stage_recording(psg, predictor, tmp_path / "out", StageOptions(lights=True, plots=False, report=False))
    assert not list((tmp_path / "out").glob("n.*"))
    with pytest.raises(IsatSleepNetError, match="lights= and start_s=/end_s= choose the span"):
        StageOptions(lights=True, start_s=30.0)


@pytest.mark.parametrize("text, kind", [("Lights off", "off"), ("LIGHTS OUT", "off"), ("lights_off", "off"),
                                        ("Light on", "on"), ("Lights-On", "on"), ("lights", None),
                                        ("Sleep stage W", None), ("Lights offset", None), ("", None)])
def test_lights_marker_spellings(text, kind):
    from isatsleepnet.inference.raw import lights_marker

    assert lights_marker(text) == kind


def test_a_rerun_removes_outputs_the_new_options_do_not_write(write_edf, predictor, tmp_path):
    psg = write_night(write_edf, tmp_path / "r.edf", 4)
    out = tmp_path / "out"
    stage_recording(psg, predictor, out, StageOptions(annotations="both"))
    assert (out / "r.annotations.tsv").is_file() and (out / "r.hypnogram.png").is_file()
    (out / "other.hypnogram.png").write_bytes(b"another recording's figure")
    stage_recording(psg, predictor, out, StageOptions(annotations="edf", plots=False, report=False))
    names = sorted(f.name for f in out.iterdir())
    assert names == ["other.hypnogram.png", "r.annotations.edf", "r.hypnogram.csv", "r.hypnogram.json",
                     "r.sleep_stats.json"]


def test_a_window_the_expert_does_not_score_still_writes_the_report(write_edf, predictor, tmp_path):
    psg = write_night(write_edf, tmp_path / "u.edf", 6)
    hyp = tmp_path / "u_stages.csv"
    hyp.write_text("stage\n?\n?\n?\nN2\nN2\nW\n")
    result = stage_recording(psg, predictor, tmp_path / "out", StageOptions(end_s=90.0, plots=False),
                             hypnogram=hyp)
    assert result.summary["expert"]["agreement"] is None
    assert "nothing to compare" in (tmp_path / "out" / "u.report.html").read_text()


def test_an_unusable_out_folder_or_device_is_one_line_before_the_model_loads(write_edf, tmp_path, capsys):
    from isatsleepnet.engine import Engine

    psg = write_night(write_edf, tmp_path / "o.edf", 2)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    missing_model = tmp_path / "no-model.pt"  # never opened: the folder is checked first
    with pytest.raises(IsatSleepNetError, match=r"file/sub: cannot create the output folder"):
        stage_cli([str(psg), "--model", str(missing_model), "--out", str(blocker / "sub")])
    with pytest.raises(IsatSleepNetError, match="^device= must be auto, cpu, cuda, cuda:N or mps, not 'bogus'"):
        stage_cli([str(psg), "--model", str(missing_model), "--out", str(tmp_path / "o2"), "--device", "bogus"])
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(IsatSleepNetError, match="sees no CUDA GPU"):
            Engine(device="cuda").torch_device()


def test_lights_on_before_lights_off_is_ignored_and_bad_numbers_are_refused(write_edf, predictor, tmp_path):
    markers = [(40.0, 0.0, "Lights on"), (100.0, 0.0, "Lights off")]
    psg = write_night(write_edf, tmp_path / "b.edf", 6, annotations=markers)
    stage_recording(psg, predictor, tmp_path / "out", StageOptions(lights=True, plots=False, report=False))
    assert [r["epoch"] for r in read_csv(tmp_path / "out" / "b.hypnogram.csv")] == ["4", "5"]
    for bad in ({"start_s": float("nan")}, {"end_s": float("inf")}):
        with pytest.raises(IsatSleepNetError, match="must be a number of seconds"):
            StageOptions(**bad)


def test_one_channel_feeding_two_roles_is_noted_on_the_terminal(write_edf, model, tmp_path, capsys):
    psg = write_night(write_edf, tmp_path / "d.edf", 2)
    code = stage_cli([str(psg), "--model", str(model), "--out", str(tmp_path / "out"), "--threads", "1", "--quiet",
                      "--no-plots", "--no-report", "--eeg2", "EEG Fpz-Cz"])
    assert code == 0
    assert "note: d.edf: channel 'EEG Fpz-Cz' feeds eeg and eeg2" in capsys.readouterr().err


def test_two_recordings_with_one_name_say_which_file_came_first(write_edf, model, tmp_path, capsys):
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    first = write_night(write_edf, tmp_path / "a" / "same.edf", 2)
    second = write_night(write_edf, tmp_path / "b" / "same.edf", 2, seed=1)
    code = stage_cli([str(first), str(second), "--model", str(model), "--out", str(tmp_path / "out"),
                      "--threads", "1", "--quiet", "--no-plots"])
    assert code == 1
    assert f"would replace those of {first} (same name 'same')" in capsys.readouterr().err


def test_another_recording_of_a_reviewed_name_is_refused_and_the_same_one_restages(write_edf, model, tmp_path,
                                                                                    capsys):
    """Before: staging b/night.edf into a folder holding the review of a/night.edf kept that review, which then
    replayed over b's night (and fine-tuning would have paired a's corrections with b's signals)."""
    from isatsleepnet.review.session import Review

    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    first = write_night(write_edf, tmp_path / "a" / "night.edf", 2)
    second = write_night(write_edf, tmp_path / "b" / "night.edf", 2, seed=1)
    out = tmp_path / "out"
    flags = ["--model", str(model), "--out", str(out), "--threads", "1", "--quiet", "--no-plots"]
    assert stage_cli([str(first), *flags]) == 0
    with Review.open(out, reviewer="ana") as review:
        review.set_stage(1, "N3", version=0)
    reviewed = (out / "night.reviewed.csv").read_bytes()
    capsys.readouterr()
    assert stage_cli([str(second), *flags]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: night.edf: {out / 'night.review.jsonl'} is a review of another recording named "
                          "'night' (SHA1 ") and "stage it into another --out" in err and "\n" not in err, err
    assert (out / "night.reviewed.csv").read_bytes() == reviewed  # nothing of a's staging was replaced
    assert json.loads((out / "night.hypnogram.json").read_text())["RecordingAbsolute"] == str(first)
    assert stage_cli([str(first), *flags]) == 0  # the reviewed recording itself stages again
    with Review.open(out, reviewer="ana") as review:
        assert review.version == 1 and review.state.reviewed[1] == "ana"


def test_a_run_that_stages_nothing_leaves_no_out_folder(model, tmp_path, capsys):
    """Before: a missing or unreadable recording, or a model that did not load, left an empty --out folder."""
    bad = tmp_path / "text.edf"
    bad.write_text("not an EDF")
    out = tmp_path / "out"
    flags = ["--out", str(out), "--threads", "1", "--quiet", "--no-plots"]
    assert stage_cli([str(bad), "--model", str(model), *flags]) == 1
    assert not out.exists() and "outputs:" not in capsys.readouterr().out
    (tmp_path / "empty.onnx").write_bytes(b"")
    with pytest.raises(IsatSleepNetError, match="empty.onnx: an empty file, not an ONNX model"):
        stage_cli([str(bad), "--model", str(tmp_path / "empty.onnx"), *flags])
    assert not out.exists()
    out.mkdir()  # a folder that was there before stays
    assert stage_cli([str(bad), "--model", str(model), *flags]) == 1 and out.is_dir()


def test_a_stopped_run_continues_where_it_stopped_and_ends_as_an_uninterrupted_one(write_edf, model, predictor,
                                                                                    tmp_path, capsys, monkeypatch):
    """Before: Ctrl+C said "run the same command again to continue", and the rerun staged every recording again."""
    import isatsleepnet.inference.stage as stage_module

    (tmp_path / "in").mkdir()
    for k in range(3):
        write_night(write_edf, tmp_path / "in" / f"n{k}.edf", 2, seed=k)
    flags = ["--model", str(model), "--threads", "1", "--quiet", "--no-plots", "--no-report"]
    assert stage_cli([str(tmp_path / "in"), "--out", str(tmp_path / "whole"), *flags]) == 0
    real = stage_module.stage_recording
    staged: list[str] = []

    def stopped_at_the_second(path, *args, **kwargs):
        if Path(path).name == "n1.edf" and not staged.count("n1.edf"):
            staged.append("n1.edf")
            raise KeyboardInterrupt
        staged.append(Path(path).name)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(stage_module, "stage_recording", stopped_at_the_second)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        stage_cli([str(tmp_path / "in"), "--out", str(out), *flags])
    assert staged == ["n0.edf", "n1.edf"] and (out / "n0.hypnogram.csv").is_file()
    capsys.readouterr()
    assert stage_cli([str(tmp_path / "in"), "--out", str(out), *flags]) == 0
    assert staged == ["n0.edf", "n1.edf", "n1.edf", "n2.edf"]  # n0 kept, not staged again
    captured = capsys.readouterr()
    assert "note: n0.edf: staged already by this model with these options: kept" in captured.err
    assert "3 staged, 0 failed" in captured.out  # the table lists the kept one as staged
    for name in sorted(p.name for p in (tmp_path / "whole").iterdir() if not p.name.startswith(".")):
        whole, resumed = (tmp_path / "whole" / name).read_bytes(), (out / name).read_bytes()
        if name.endswith(".hypnogram.json"):  # names the output folder's recording path only
            whole, resumed = json.loads(whole), json.loads(resumed)
        assert whole == resumed, name
    (out / "n2.annotations.edf").unlink()  # a file deleted since: that recording is staged again
    assert stage_cli([str(tmp_path / "in"), "--out", str(out), *flags]) == 0
    assert staged == ["n0.edf", "n1.edf", "n1.edf", "n2.edf", "n2.edf"] and (out / "n2.annotations.edf").is_file()
    assert stage_cli([str(tmp_path / "in"), "--out", str(out), *flags, "--min-confidence", "0.5"]) == 0
    assert staged[5:] == ["n0.edf", "n1.edf", "n2.edf"]  # other options: another staging, all of it
    from isatsleepnet.inference.out_folder import staging_key

    hypnogram = tmp_path / "in" / "h.csv"
    hypnogram.write_text("stage\nW\n")
    key = staging_key("0" * 40, hypnogram, predictor, StageOptions())
    assert key == staging_key("0" * 40, hypnogram, predictor, StageOptions(auto_hypnogram=True))
    assert key == staging_key("0" * 40, hypnogram, predictor, StageOptions(hypnograms=[hypnogram] * 2))
    assert key != staging_key("0" * 40, None, predictor, StageOptions())  # its own hypnogram counts
    assert key != staging_key("1" * 40, hypnogram, predictor, StageOptions())


def test_the_report_window_carries_dates_since_nights_cross_midnight():
    from isatsleepnet.inference.html_report import clock

    assert clock(10 * 3600, "2026-01-01T20:00:00", with_date=True) == "2026-01-02 06:00:00"
    assert clock(10 * 3600, "2026-01-01T20:00:00") == "06:00:00"
    assert clock(3725, None, with_date=True) == "+1:02:05"  # no start date in the file: time from the start


def test_a_discontinuous_edf_plus_d_stages_around_its_gaps(write_edf, predictor, tmp_path):
    from tests.inference import make_discontinuous

    psg = write_night(write_edf, tmp_path / "gap.edf", 10, annotations=[(0.0, 0.0, "start")])
    make_discontinuous(psg, 4, 45.0)  # 0-120 s, then a 45-s gap, then 165-345 s
    result = stage_recording(psg, predictor, tmp_path / "out", StageOptions())
    rows = read_csv(tmp_path / "out" / "gap.hypnogram.csv")
    assert [r["epoch"] for r in rows] == ["0", "1", "2", "3", "6", "7", "8", "9", "10"]
    check_rows(rows, 9)
    summary = result.summary
    assert summary["recording"]["staged_epochs"] == 9 and result.n_epochs == 9
    stats = summary["statistics"]
    assert stats["time_in_bed_min"] == 5.5 and stats["unscored_min"] == 1.0  # epochs 4 and 5 have no data
    assert any("EDF+D" in note for note in summary["notes"])
    for suffix in OUTPUT_SUFFIXES:
        assert (tmp_path / "out" / f"gap{suffix}").is_file()
    import mne

    annotations = mne.read_annotations(tmp_path / "out" / "gap.annotations.edf")
    covered = sum(d for d, text in zip(annotations.duration, annotations.description) if text.startswith("Sleep stage"))
    assert covered == 9 * 30.0  # stage annotations cover the staged epochs only, not the gap


def test_time_without_data_before_an_edf_plus_d_starts_is_not_time_in_bed(write_edf, predictor, tmp_path):
    from tests.inference import make_discontinuous

    psg = write_night(write_edf, tmp_path / "late.edf", 4, annotations=[(0.0, 0.0, "start")])
    make_discontinuous(psg, 0, 3600.0)  # the data begin an hour after the recording start
    hyp = tmp_path / "late_stages.csv"
    hyp.write_text("stage\n" + "N2\n" * 124)  # the expert scored the whole span, the dead hour included
    result = stage_recording(psg, predictor, tmp_path / "out", StageOptions(plots=False), hypnogram=hyp)
    rows = read_csv(tmp_path / "out" / "late.hypnogram.csv")
    assert [r["epoch"] for r in rows] == ["120", "121", "122", "123"]
    stats, expert = result.summary["statistics"], result.summary["expert"]["statistics"]
    assert stats["time_in_bed_min"] == 2.0 and stats["unscored_min"] == 0.0
    assert expert["time_in_bed_min"] == 2.0 and expert["total_sleep_time_min"] == 2.0  # the same epochs
    assert any("data start 3600 s after the recording start" in n for n in result.summary["notes"])


def test_the_clock_of_an_edf_plus_d_counts_from_the_header_s_start(write_edf, predictor, tmp_path):
    """Before: edfio's start (the header's plus the first record's time stamp, an hour here) plus each onset
    (already counted from the header's start): every clock time an hour late."""
    import datetime as dt
    import json

    import edfio

    from tests.inference import make_discontinuous

    psg = write_night(write_edf, tmp_path / "late.edf", 4, annotations=[(0.0, 0.0, "start")])
    edf = edfio.read_edf(psg)
    edf.startdate, edf.starttime = dt.date(2020, 1, 1), dt.time(23, 0, 0)
    edf.write(psg)
    make_discontinuous(psg, 0, 3600.0)  # the data begin at midnight
    stage_recording(psg, predictor, tmp_path / "out", StageOptions(plots=False))
    rows = read_csv(tmp_path / "out" / "late.hypnogram.csv")
    assert [(r["epoch"], r["clock_time"]) for r in rows[:2]] == [("120", "00:00:00"), ("121", "00:00:30")]
    sidecar = json.loads((tmp_path / "out" / "late.hypnogram.json").read_text())
    assert sidecar["RecordingStart"] == "2020-01-01T23:00:00"


def test_reading_an_epoch_inside_a_gap_is_an_error(write_edf, tmp_path):
    from isatsleepnet.errors import DataError
    from isatsleepnet.inference.raw import RawRecording
    from tests.inference import make_discontinuous
    from tests.inference.test_raw import INPUTS

    psg = write_night(write_edf, tmp_path / "g.edf", 6, annotations=[(0.0, 0.0, "start")])
    make_discontinuous(psg, 3, 60.0)
    rec = RawRecording.open(psg, INPUTS)
    assert rec.available(0, rec.n_epochs).tolist() == [0, 1, 2, 5, 6, 7]
    with pytest.raises(DataError, match=r"g\.edf: epoch 3 is not wholly recorded"):
        rec.read(0, rec.n_epochs)


def test_stage_codes_decide_an_integer_expert_hypnogram(write_edf, model, tmp_path, capsys):
    from isatsleepnet.cli.main import main

    psg = write_night(write_edf, tmp_path / "n.edf", 4)
    expert = tmp_path / "n_expert.csv"
    expert.write_text("0\n2\n4\n4\n")
    argv = ["stage", str(psg), "--hypnogram", str(expert), "--model", str(model), "--threads", "1", "--no-plots",
            "--no-report", "--quiet"]
    assert main(argv + ["--out", str(tmp_path / "auto")]) == 1
    err = capsys.readouterr().err
    assert [line for line in err.splitlines() if line.startswith("error: ")] == [
        "error: n_expert.csv: integer stage codes 0-4 without a 5: AASM (4 = REM, YASA / DeepSleepNet) or R&K "
        "(4 = stage 4 = N3, 5 = REM)? say which with --stage-codes aasm or --stage-codes rk"
    ]
    assert "Traceback" not in err and not (tmp_path / "auto" / "n.hypnogram.csv").exists()
    for coding, stage in (("aasm", "REM"), ("rk", "N3")):
        assert main(argv + ["--out", str(tmp_path / coding), "--stage-codes", coding]) == 0
        assert [r["expert"] for r in read_csv(tmp_path / coding / "n.hypnogram.csv")] == ["W", "N2", stage, stage]
    with pytest.raises(IsatSleepNetError, match="stage_codes= must be one of aasm, rk"):
        StageOptions(stage_codes="yasa")


def test_the_sidecar_names_the_recording_from_the_folder_it_lies_in(write_edf, predictor, tmp_path, monkeypatch):
    """Before: "Recording" was "raw/n.edf", from the folder `stage` ran in, so `review` and `prepare --dataset
    reviewed` failed from any other. It is written from OUT (not from the temporary folder the files are written in
    before they are moved there), and absolute."""
    (tmp_path / "raw").mkdir()
    write_night(write_edf, tmp_path / "raw" / "n.edf", 3)
    monkeypatch.chdir(tmp_path)
    stage_recording(Path("raw/n.edf"), predictor, Path("staged"), StageOptions(plots=False, report=False))
    meta = json.loads((tmp_path / "staged" / "n.hypnogram.json").read_text())
    assert meta["Recording"] == "../raw/n.edf"
    assert meta["RecordingAbsolute"] == str(tmp_path / "raw" / "n.edf")


def test_a_hypnogram_file_that_is_not_there_is_its_own_error_before_staging(write_edf, model, tmp_path):
    """Before: 'n.edf: No such file or directory (nope.csv)', under the recording's name, once staging had begun."""
    from isatsleepnet.cli.flags import message
    from isatsleepnet.errors import DataError

    psg = write_night(write_edf, tmp_path / "n.edf", 2)
    for given, problem in (("nope.csv", "file not found"), (str(tmp_path), "is a folder, not a hypnogram file")):
        with pytest.raises(DataError) as info:
            stage_cli([str(psg), "--hypnogram", given, "--model", str(model), "--out", str(tmp_path / "out")])
        assert message(info.value) == f"{Path(given).name}: {problem}"
    assert not (tmp_path / "out").exists()
    with pytest.raises(DataError, match=r"^nope\.csv: file not found$"):
        StageOptions(hypnograms=[Path("nope.csv")])
