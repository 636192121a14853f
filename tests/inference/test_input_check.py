"""A model says what it knows: synthetic training data and foreign inputs, at staging and evaluation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from isatsleepnet.data.input_profile import FEATURES, InputProfile, epoch_features
from isatsleepnet.model.file import load_model_file
from isatsleepnet.inference.input_check import recording_warnings
from isatsleepnet.inference.options import StageOptions
from isatsleepnet.inference.predictor import load_predictor
from isatsleepnet.inference.stage import stage_recording, stage_recordings
from tests.inference import SLEEP_EDF_NAMES, trained_model

SYNTHETIC_WARNING = ("this model was trained on synthetic recordings (3 of 3): "
                     "its stages of a real recording are not sleep staging")


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return trained_model(tmp_path_factory.getbasetemp())[0]


@pytest.fixture(scope="module")
def predictor(model, one_torch_thread):
    return load_predictor(model, threads=1)


@pytest.fixture(scope="module")
def new_subject(tmp_path_factory) -> Path:
    """A night of a fourth subject of the model's cohort (same generator and seed), seen by no one."""
    from isatsleepnet.data.synthetic import SynthConfig, synthesize

    recs = synthesize(tmp_path_factory.mktemp("new-subject"), SynthConfig(layout="sleep-edf", subjects=4, hours=1.0,
                                                                            seed=11), progress=False)
    for path in recs[3].psg.parent.glob("SC40[0-2]*"):
        path.unlink()  # the model's own three subjects
    return recs[3].psg


def test_the_model_file_records_its_synthetic_training_data_and_an_input_profile(model):
    from isatsleepnet.inference.onnx_backend import model_metadata

    model_file = load_model_file(model)
    training = model_file.training
    assert (training["synthetic_recordings"], training["real_recordings"]) == (3, 0)  # 2 train + 1 validation
    profile = InputProfile.from_dict(training["input_profile"])
    assert profile.channels == tuple(model_file.channels) == tuple(SLEEP_EDF_NAMES)
    assert profile.n_recordings == 3 and profile.n_epochs > 100 and profile.features == FEATURES  # training + validation
    onnx_training = model_metadata(model_file)["training"]  # what an exported .onnx carries
    assert {k: onnx_training[k] for k in ("synthetic_recordings", "real_recordings")} == {
        "synthetic_recordings": 3, "real_recordings": 0}
    assert onnx_training["input_profile"] == json.loads(json.dumps(training["input_profile"]))


def test_a_synthetic_night_like_the_training_ones_warns_only_about_synthetic_training(predictor, new_subject, tmp_path):
    result = stage_recording(new_subject, predictor, tmp_path, StageOptions(plots=False))
    assert result.summary["warnings"] == [SYNTHETIC_WARNING]
    assert result.summary["model"]["training"]["synthetic_recordings"] == 3
    html = (tmp_path / f"{new_subject.stem}.report.html").read_text()
    box = html.index("<div class='warnings'")
    assert box < html.index("<h2>Sleep statistics") and SYNTHETIC_WARNING in html[box:]
    assert "Training data: 0 real and 3 synthetic recording(s)" in html


def test_the_real_sc4001_warns_both_ways(predictor, sleep_edf_dir, tmp_path, capsys):
    psg = sleep_edf_dir / "SC4001E0-PSG.edf"
    result, = stage_recordings([psg], predictor, tmp_path, StageOptions(plots=False), progress=False)
    assert result.status == "staged", result.error
    warnings = result.summary["warnings"]
    assert warnings[0] == SYNTHETIC_WARNING
    assert warnings[1].startswith("the recording is unlike the model's training data")
    assert any("% of epochs have" in w and "outside the range of the training data" in w for w in warnings[2:])
    err = capsys.readouterr().err
    assert f"warning: {psg.name}: {SYNTHETIC_WARNING}" in err
    assert f"warning: {psg.name}: the recording is unlike" in err
    html = (tmp_path / "SC4001E0-PSG.report.html").read_text()
    assert all(w.replace("'", "&#x27;") in html for w in warnings)
    assert json.loads((tmp_path / "SC4001E0-PSG.sleep_stats.json").read_text())["warnings"] == warnings


def test_warnings_come_only_from_what_the_model_file_records():
    rng = np.random.default_rng(0)
    profile = InputProfile.from_features(epoch_features(rng.normal(0, 20, (200, 1, 3000)), 100.0), ["EEG"], 100.0, 1)
    stored = json.loads(json.dumps(profile.to_dict()))
    like, loud = rng.normal(0, 20, (30, 1, 3000)), rng.normal(0, 200, (30, 1, 3000))
    assert recording_warnings({}, loud, 100.0) == []  # a model saved before provenance: nothing said
    assert recording_warnings({"training": {"synthetic_recordings": 0, "real_recordings": 4,
                                            "input_profile": stored}}, like, 100.0) == []
    out = recording_warnings({"training": {"input_profile": stored}}, loud, 100.0)
    assert out[0].startswith("the recording is unlike the model's training data (6 of 6 channel features")
    assert "EEG: 100 % of epochs have an amplitude (standard deviation) outside the range of the training data" in out
    with_nan = np.concatenate([like, np.full((60, 1, 3000), np.nan)])  # staging skips them; so does the check
    assert recording_warnings({"training": {"input_profile": stored}}, with_nan, 100.0) == []


def test_evaluate_puts_the_synthetic_training_warning_first(model, new_subject, tmp_path, capsys):
    from isatsleepnet.cli.main import main
    from isatsleepnet.data.prepare import prepare_dataset
    from isatsleepnet.data.prepare_config import PrepareConfig

    results = prepare_dataset(new_subject.parent, tmp_path / "prepared", PrepareConfig(dataset="sleep-edf"),
                              progress=False)
    assert [r.status for r in results] == ["prepared"]
    code = main(["evaluate", "--model", str(model), "--data", str(tmp_path / "prepared"), "--out",
                 str(tmp_path / "eval"), "--device", "cpu", "--quiet"])
    assert code == 0
    assert f"warning: {model}: {SYNTHETIC_WARNING}" in capsys.readouterr().err
    report = (tmp_path / "eval" / "report.md").read_text().splitlines()
    assert report[2] == f"> **Warning:** {SYNTHETIC_WARNING}"
    assert json.loads((tmp_path / "eval" / "metrics.json").read_text())["warnings"] == [SYNTHETIC_WARNING]
