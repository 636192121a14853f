"""`stage` with derivations: what was used for each role is recorded in every output."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from isatsleepnet.errors import IsatSleepNetError
from isatsleepnet.inference.options import StageOptions
from isatsleepnet.inference.predictor import load_predictor
from isatsleepnet.inference.stage import stage_recording
from tests.inference import trained_model


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return trained_model(tmp_path_factory.getbasetemp())[0]


@pytest.fixture(scope="module")
def predictor(model):
    import torch

    threads = torch.get_num_threads()
    yield load_predictor(model, threads=1)
    torch.set_num_threads(threads)


def _referential_night(write_edf, path, n_epochs: int = 4):
    rng = np.random.default_rng(5)
    n = n_epochs * 3000
    labels = ["EEG C4-REF", "EEG C3-REF", "A1", "A2", "EOG E1-REF", "EMG chin"]
    return write_edf(path, [(label, rng.normal(0, 20, n), 100.0, "uV") for label in labels])


def test_staging_records_each_derivation(write_edf, predictor, tmp_path):
    psg = _referential_night(write_edf, tmp_path / "ref.edf")
    options = StageOptions(channels={"eeg": ["C4-M1"], "eeg2": ["C3-M2"], "eog": ["EOG E1-M2", "EOG horizontal"]},
                           plots=False)
    result = stage_recording(psg, predictor, tmp_path / "out", options)
    channels = result.summary["recording"]["channels"]
    assert [(c["role"], c["label"], c["matched"], c["derived_from"]) for c in channels] == [
        ("eeg", "C4-M1", "derived", ("EEG C4-REF", "A1")),
        ("eeg2", "C3-M2", "derived", ("EEG C3-REF", "A2")),
        ("eog", "EOG E1-M2", "derived", ("EOG E1-REF", "A2")),
    ]
    on_disk = json.loads((tmp_path / "out" / "ref.sleep_stats.json").read_text())["recording"]["channels"]
    assert [c["derived_from"] for c in on_disk] == [["EEG C4-REF", "A1"], ["EEG C3-REF", "A2"], ["EOG E1-REF", "A2"]]
    sidecar = json.loads((tmp_path / "out" / "ref.hypnogram.json").read_text())  # the CSV's own description
    assert sidecar["Channels"] == on_disk and sidecar["EpochLength"] == 30.0
    from isatsleepnet.data.hashing import sha1_of

    assert sidecar["RecordingSHA1"] == sha1_of(psg)  # what `review` checks the recording against
    header = (tmp_path / "out" / "ref.hypnogram.csv").read_text().splitlines()[0].split(",")
    assert [k for k in sidecar if k[0].islower()] == header and sidecar["onset_s"]["Units"] == "s"
    assert any("'C4-M1' derived as 'EEG C4-REF' (100 Hz) minus 'A1'" in n for n in result.summary["notes"])
    html = (tmp_path / "out" / "ref.report.html").read_text()
    assert "eeg: C4-M1 (derived as EEG C4-REF − A1, 100 Hz)" in html
    assert "eog: EOG E1-M2 (derived as EOG E1-REF − A2, 100 Hz)" in html


def test_a_single_channel_records_no_derivation(write_edf, predictor, tmp_path):
    psg = _referential_night(write_edf, tmp_path / "one.edf", 2)
    options = StageOptions(channels={"eeg": ["C4"], "eeg2": ["C3"], "eog": ["EOG E1"]}, plots=False, report=False)
    channels = stage_recording(psg, predictor, tmp_path / "out", options).summary["recording"]["channels"]
    assert [(c["label"], c["matched"], c["derived_from"]) for c in channels] == [
        ("EEG C4-REF", "alias", None), ("EEG C3-REF", "alias", None), ("EOG E1-REF", "alias", None)]


def test_stage_refuses_to_drop_an_input_before_reading_any_recording(write_edf, model, tmp_path, capsys):
    from isatsleepnet.cli.main import main

    psg = _referential_night(write_edf, tmp_path / "ref.edf", 1)
    code = main(["stage", str(psg), "--model", str(model), "--out", str(tmp_path / "out"), "--eeg2", "none"])
    err = capsys.readouterr().err
    assert code != 0
    assert ("the model needs its eeg2 input (it was trained on channel 'EEG Pz-Oz'): it cannot be left out; give "
            "another EEG channel or a derivation such as C3-M2, or the same channel as --eeg") in err
    assert "Traceback" not in err and not (tmp_path / "out" / "ref.sleep_stats.json").exists()
    with pytest.raises(IsatSleepNetError, match="needs its eog input"):
        from isatsleepnet.cli.stage import add_parser

        parser = argparse.ArgumentParser()
        add_parser(parser.add_subparsers())
        args = parser.parse_args(["stage", str(psg), "--model", str(model), "--out", str(tmp_path / "o2"),
                                  "--eog", ""])
        args.run(args)
