"""The three baselines (TinySleepNet, U-Time, AttnSleep) through the same commands as ISATSleepNet.

Each, at a tiny size: train (one EEG channel, as published, or the project's
three), stage on torch and on its ONNX export (the same stages), fine-tune from
it, read its model card, and cross-validate on the folds of another run.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from isatsleepnet.cli.main import main
from isatsleepnet.model.file import load_model_file
from isatsleepnet.training.config import for_architecture

TINY = {  # architecture -> --model-option values that keep the test fast
    "tinysleepnet": {"filters": 8, "lstm_hidden": 8, "sequence_length": 4},
    "utime": {"filters": [4, 4, 8, 8], "bottom_filters": 8, "sequence_length": 3},
    "attnsleep": {"filters": 8, "cnn_channels": 16, "afr_channels": 10, "d_ff": 16},
}
FREEZE = {"tinysleepnet": "extractors", "utime": "encoder", "attnsleep": "extractors"}
QUICK = ("--epochs", "1", "--max-train-batches", "3", "--quiet")


def _options(name: str) -> list[str]:
    return [a for key, value in TINY[name].items() for a in ("--model-option", f"{key}={json.dumps(value)}")]


def _stages(path: Path) -> list[str]:
    with path.open() as f:
        return [row["stage"] for row in csv.DictReader(f)]


@pytest.fixture(params=sorted(TINY))
def baseline(request) -> str:
    return request.param


def test_a_baseline_trains_stages_exports_and_fine_tunes(baseline, synthetic_prepared, tmp_path, capsys):
    from isatsleepnet.model.architectures import get_architecture

    settings = set(get_architecture(baseline).settings())
    missing = set(TINY[baseline]) - settings
    assert not missing, f"TINY names settings {baseline} does not have: {missing}"
    out = tmp_path / "run"
    rc = main(["train", "--data", str(synthetic_prepared), "--out", str(out), "--architecture", baseline,
               "--channels", "EEG Fpz-Cz", *_options(baseline), "--batch-size", "4", *QUICK])
    assert rc == 0, capsys.readouterr().err
    model = load_model_file(out / "model.pt")
    assert model.architecture == baseline and model.channels == ["EEG Fpz-Cz"] and model.roles == ["eeg"]
    saved = json.loads((out / "config.json").read_text())
    assert saved["learning_rate"] == for_architecture(baseline).learning_rate  # its paper's, not ISATSleepNet's

    psg = sorted((synthetic_prepared.parent / "raw").glob("*-PSG.edf"))[0]
    staged = tmp_path / "staged"
    rc = main(["stage", str(psg), "--model", str(out / "model.pt"), "--out", str(staged), "--no-plots",
               "--no-report", "--quiet"])
    assert rc == 0, capsys.readouterr().err
    torch_stages = _stages(staged / (psg.stem + ".hypnogram.csv"))
    assert len(torch_stages) > 100

    pytest.importorskip("onnxruntime")
    onnx_path = tmp_path / "m.onnx"
    assert main(["export", "--model", str(out / "model.pt"), "--onnx", str(onnx_path)]) == 0, capsys.readouterr().err
    staged_onnx = tmp_path / "staged_onnx"
    rc = main(["stage", str(psg), "--model", str(onnx_path), "--out", str(staged_onnx), "--no-plots",
               "--no-report", "--quiet"])
    assert rc == 0, capsys.readouterr().err
    onnx_stages = _stages(staged_onnx / (psg.stem + ".hypnogram.csv"))
    assert sum(a == b for a, b in zip(torch_stages, onnx_stages)) >= 0.99 * len(torch_stages)
    # its int8 form (a sequence network's windows calibrated as staging sends them)
    int8_path = tmp_path / "m-int8.onnx"
    assert main(["export", "--model", str(out / "model.pt"), "--onnx", str(int8_path), "--int8",
                 "--calibration-epochs", "64"]) == 0, capsys.readouterr().err
    rc = main(["stage", str(psg), "--model", str(int8_path), "--out", str(tmp_path / "staged_int8"), "--no-plots",
               "--no-report", "--quiet"])
    assert rc == 0, capsys.readouterr().err
    int8_stages = _stages(tmp_path / "staged_int8" / (psg.stem + ".hypnogram.csv"))
    assert sum(a == b for a, b in zip(onnx_stages, int8_stages)) >= 0.9 * len(onnx_stages)

    capsys.readouterr()
    assert main(["model-info", str(onnx_path), "--json"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert card["architecture"]["registered_as"] == baseline

    tuned = tmp_path / "tuned"
    rc = main(["train", "--data", str(synthetic_prepared), "--out", str(tuned), "--architecture", baseline,
               "--channels", "EEG Fpz-Cz", *_options(baseline), "--batch-size", "4", "--init", str(out / "model.pt"),
               "--freeze", FREEZE[baseline], *QUICK])
    assert rc == 0, capsys.readouterr().err
    assert load_model_file(tuned / "model.pt").training["parent"]["sha256"] == model.header["sha256"]


def test_a_sequence_baseline_trains_augmented_and_balanced(synthetic_prepared, tmp_path, capsys):
    out = tmp_path / "augmented"
    rc = main(["train", "--data", str(synthetic_prepared), "--out", str(out), "--architecture", "tinysleepnet",
               "--channels", "EEG Fpz-Cz", *_options("tinysleepnet"), "--batch-size", "4", "--augment", "transforms",
               "--balanced", *QUICK])
    assert rc == 0, capsys.readouterr().err
    model = load_model_file(out / "model.pt")
    assert model.architecture == "tinysleepnet" and model.training["augment"] == "transforms"
    assert json.loads((out / "config.json").read_text())["balanced_sampling"] is True


def test_a_baseline_cross_validates_on_the_folds_of_another_run(synthetic_prepared, tmp_path, capsys):
    first = tmp_path / "tinysleepnet"
    common = ["--data", str(synthetic_prepared), "--protocol", "kfold", "--channels", "EEG Fpz-Cz", "--batch-size",
              "4", *QUICK]
    rc = main(["cv", "--out", str(first), "--folds", "2", "--architecture", "tinysleepnet",
               *_options("tinysleepnet"), *common])
    assert rc == 0, capsys.readouterr().err
    second = tmp_path / "attnsleep"
    rc = main(["cv", "--out", str(second), "--folds-file", str(first / "folds.json"), "--architecture", "attnsleep",
               *_options("attnsleep"), *common])
    assert rc == 0, capsys.readouterr().err
    folds = [json.loads((run / "folds.json").read_text()) for run in (first, second)]
    assert [f["test"] for f in folds[0]["folds"]] == [f["test"] for f in folds[1]["folds"]]
    metrics = json.loads((second / "metrics.json").read_text())
    assert metrics["pooled"]["n_epochs"] == json.loads((first / "metrics.json").read_text())["pooled"]["n_epochs"]
    assert load_model_file(second / "fold_00" / "model.pt").architecture == "attnsleep"

    # `evaluate` of a fold's model on that fold's test subjects gives the cv's own figures for the fold
    for run in (first, second):
        fold = json.loads((run / "folds.json").read_text())["folds"][0]
        out = tmp_path / f"evaluate-{run.name}"
        rc = main(["evaluate", "--model", str(run / "fold_00" / "model.pt"), "--data", str(synthetic_prepared),
                   "--subjects", ",".join(fold["test"]), "--out", str(out), "--quiet"])
        assert rc == 0, capsys.readouterr().err
        evaluated = json.loads((out / "metrics.json").read_text())
        in_cv = next(f for f in json.loads((run / "metrics.json").read_text())["folds"] if f["fold"] == 0)
        assert evaluated["pooled"]["n_epochs"] == in_cv["n_epochs"]
        assert abs(evaluated["pooled"]["accuracy"] - in_cv["accuracy"]) < 1e-9

    # the Python API stages with a sequence-to-sequence baseline as with ISATSleepNet
    import isatsleepnet as isn

    psg = sorted((synthetic_prepared.parent / "raw").glob("*-PSG.edf"))[0]
    night = isn.load_model(first / "fold_00" / "model.pt").stage(psg)
    assert len(night.stages) > 100 and set(night.stages) <= {"W", "N1", "N2", "N3", "REM"}
    assert night.probabilities.shape == (len(night.stages), 5)
