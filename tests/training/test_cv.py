import json

import lightning as L
import numpy as np
import pytest

from isatsleepnet.data.store import PreparedDataset
from isatsleepnet.errors import IsatSleepNetError
from isatsleepnet.engine import Engine
from isatsleepnet.inference.evaluate import evaluate_model
from isatsleepnet.model.file import load_model_file
from isatsleepnet.training.cv import cross_validate
from isatsleepnet.training.fit import train_split
from isatsleepnet.training.folds import Fold
from tests.training.conftest import tiny_config


@pytest.fixture(scope="module")
def cv_run(synthetic_prepared, tmp_path_factory):
    run = tmp_path_factory.mktemp("run") / "cv"
    metrics = cross_validate(synthetic_prepared, run, protocol="kfold", n_folds=3, config=tiny_config(), progress=False)
    return run, metrics


def test_cv_writes_every_output(cv_run, synthetic_prepared):
    run, metrics = cv_run
    folds = json.loads((run / "folds.json").read_text())["folds"]
    assert len(folds) == 3
    tested = sorted(s for f in folds for s in f["test"])
    assert tested == PreparedDataset(synthetic_prepared).subjects()
    for f in folds:
        assert not (set(f["train"]) | set(f["validation"])) & set(f["test"])
        assert not set(f["train"]) & set(f["validation"]) and f["validation"]
    total = sum(r.n_epochs for r in PreparedDataset(synthetic_prepared))
    assert metrics["pooled"]["n_epochs"] == total
    assert metrics["n_folds_evaluated"] == 3 and len(metrics["folds"]) == 3
    for key in ("accuracy", "kappa", "macro_f1", "macro_gmean", "per_class_f1", "confusion_matrix"):
        assert key in metrics["pooled"]
    assert set(metrics["fold_mean_std"]["accuracy"]) == {"mean", "std"}
    assert metrics["folds"][0]["test_subjects"] == folds[0]["test"]
    saved = json.loads((run / "metrics.json").read_text())
    assert saved["pooled"] == metrics["pooled"]
    report = (run / "report.md").read_text()
    assert "| Acc | κ | MF1 | MGm | W | N1 | N2 | N3 | REM |" in report
    # the cohort is synth's: the report says so before anything else
    assert "this model was trained on synthetic recordings (4 of 4): its stages of a real recording are not sleep " \
           "staging" in report.splitlines()[2]
    assert "![learning curves](figures/learning_curves_fold_02.png)" in report
    assert report.count("](figures/hypnograms/") == 6
    figures = run / "figures"
    assert (figures / "confusion_matrix.png").stat().st_size > 1000
    assert sorted(p.name for p in figures.glob("learning_curves_fold_*.png")) == [f"learning_curves_fold_0{i}.png" for i in range(3)]
    assert len(list((figures / "hypnograms").glob("*.png"))) == 6
    config = json.loads((run / "config.json").read_text())
    assert config["protocol"] == "kfold" and config["train"]["max_epochs"] == 2


def test_model_file_carries_what_is_needed(cv_run, synthetic_prepared):
    run, _ = cv_run
    model_file = load_model_file(run / "fold_00" / "model.pt")
    assert model_file.channels == ["EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal"]
    assert model_file.roles == ["eeg", "eeg2", "eog"]
    assert model_file.sampling_rate == 100.0 and model_file.epoch_seconds == 30.0
    assert model_file.normalize == "epoch-zscore" and model_file.stages == ["W", "N1", "N2", "N3", "REM"]
    folds = json.loads((run / "folds.json").read_text())["folds"]
    assert model_file.training["train_subjects"] == folds[0]["train"]
    assert model_file.training["data"] == str(synthetic_prepared.resolve())
    assert model_file.training["selected_by"] == "validation macro-F1"
    model = model_file.build()
    assert not model.training
    # its metrics: validation at the selected epoch, and the fold's test metrics once predicted
    assert model_file.metrics["validation"]["epoch"] == model_file.training["selected_epoch"]
    assert 0.0 <= model_file.metrics["validation"]["macro_f1"] <= 1.0
    fold_metrics = json.loads((run / "metrics.json").read_text())["folds"][0]
    assert model_file.metrics["test"]["subjects"] == folds[0]["test"]
    assert model_file.metrics["test"]["accuracy"] == pytest.approx(fold_metrics["accuracy"])
    seen = [r for r in PreparedDataset(synthetic_prepared) if r.subject in folds[0]["train"] + folds[0]["validation"]]
    assert model_file.training["seen_sources"] == sorted(r.meta["source_sha1"] for r in seen)


def test_every_fold_has_a_model_card_with_its_test_metrics(cv_run):
    run, _ = cv_run
    folds = json.loads((run / "folds.json").read_text())["folds"]
    for fold in folds:
        folder = run / f"fold_{fold['index']:02d}"
        test = load_model_file(folder / "model.pt").metrics["test"]
        card = (folder / "MODEL_CARD.md").read_text()
        assert card.startswith(f"# Model card: {folder / 'model.pt'}")
        assert f"## Test metrics\n\n- accuracy: {100 * test['accuracy']:.1f} %" in card
        assert f"- subjects ({len(fold['test'])}): {', '.join(fold['test'])}" in card
        assert "- split: protocol kfold, fold " + str(fold["index"]) in card


def test_rerun_skips_finished_folds_and_refuses_other_settings(cv_run, synthetic_prepared):
    run, metrics = cv_run
    stamp = (run / "fold_01" / "model.pt").stat().st_mtime_ns
    # plain strings as paths (the Python API's usual form)
    again = cross_validate(str(synthetic_prepared), str(run), protocol="kfold", n_folds=3, config=tiny_config(),
                           progress=False)
    assert again["pooled"] == metrics["pooled"]
    assert (run / "fold_01" / "model.pt").stat().st_mtime_ns == stamp
    with pytest.raises(IsatSleepNetError, match="other settings.*max_epochs"):
        cross_validate(synthetic_prepared, run, protocol="kfold", n_folds=3, config=tiny_config(max_epochs=3), progress=False)
    # how a machine trains (threads, workers, devices) may differ between the machines of one run
    elsewhere = cross_validate(synthetic_prepared, run, protocol="kfold", n_folds=3,
                               config=tiny_config(), engine=Engine(threads=2, workers=1, devices="1"), progress=False)
    assert elsewhere["pooled"] == metrics["pooled"]


def test_reopening_a_run_with_another_folds_file_is_refused(cv_run, synthetic_prepared, tmp_path):
    run, _ = cv_run
    folds = json.loads((run / "folds.json").read_text())
    first, second = folds["folds"][0], folds["folds"][1]
    for role in ("train", "validation", "test"):  # valid folds, in another order
        first[role], second[role] = second[role], first[role]
    other = tmp_path / "other_folds.json"
    other.write_text(json.dumps(folds))
    with pytest.raises(IsatSleepNetError, match="other folds than"):
        cross_validate(synthetic_prepared, run, protocol="kfold", config=tiny_config(), folds_file=other,
                       progress=False)


def test_single_fold_with_a_folds_file(cv_run, synthetic_prepared, tmp_path):
    run, _ = cv_run
    metrics = cross_validate(synthetic_prepared, tmp_path / "one", protocol="kfold", config=tiny_config(max_epochs=1),
                             folds_file=run / "folds.json", only_fold=2, progress=False)
    assert metrics["n_folds_evaluated"] == 1 and metrics["folds"][0]["fold"] == 2
    assert json.loads((tmp_path / "one" / "folds.json").read_text())["folds"] == json.loads((run / "folds.json").read_text())["folds"]
    assert "folds not yet run: [0, 1]" in (tmp_path / "one" / "report.md").read_text()


def test_evaluate_refuses_subjects_the_model_has_seen(cv_run, synthetic_prepared, tmp_path):
    run, _ = cv_run
    folds = json.loads((run / "folds.json").read_text())["folds"]
    with pytest.raises(IsatSleepNetError, match="trained or selected on"):
        evaluate_model(run / "fold_00" / "model.pt", synthetic_prepared, tmp_path / "e", progress=False)
    metrics = evaluate_model(run / "fold_00" / "model.pt", synthetic_prepared, tmp_path / "e",
                             subjects=folds[0]["test"], progress=False)
    fold_metrics = json.loads((run / "metrics.json").read_text())["folds"][0]
    assert metrics["pooled"]["accuracy"] == pytest.approx(fold_metrics["accuracy"])
    assert (tmp_path / "e" / "report.md").is_file() and (tmp_path / "e" / "figures" / "confusion_matrix.png").is_file()

    # another model's evaluation into the same folder must not reuse these predictions
    with pytest.raises(IsatSleepNetError, match="predictions of another model"):
        evaluate_model(run / "fold_01" / "model.pt", synthetic_prepared, tmp_path / "e",
                       subjects=folds[1]["test"], progress=False)


def test_evaluate_refuses_seen_recordings_in_a_copy_of_the_dataset(cv_run, synthetic_prepared, tmp_path):
    import shutil

    run, _ = cv_run
    folds = json.loads((run / "folds.json").read_text())["folds"]
    copy = tmp_path / "copy"
    shutil.copytree(synthetic_prepared, copy)
    with pytest.raises(IsatSleepNetError, match="same source file"):
        evaluate_model(run / "fold_00" / "model.pt", copy, tmp_path / "e2", subjects=folds[0]["train"][:1],
                       progress=False)


class _StopAtEpoch(L.Callback):
    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_train_epoch_start(self, trainer, module) -> None:
        if trainer.current_epoch == self.epoch:
            raise RuntimeError("killed")


class _CountBatches(L.Callback):
    def __init__(self) -> None:
        self.batches = 0

    def on_train_batch_end(self, *args, **kwargs) -> None:
        self.batches += 1


def test_killed_training_resumes_from_its_last_checkpoint(synthetic_prepared, tmp_path):
    data = PreparedDataset(synthetic_prepared)
    subjects = data.subjects()
    fold = Fold(0, tuple(subjects[:3]), (subjects[3],), tuple(subjects[4:]))
    config = tiny_config(max_epochs=3)
    before, after = _CountBatches(), _CountBatches()
    with pytest.raises(RuntimeError, match="killed"):
        train_split(data, fold, tmp_path, config, progress=False, callbacks=[_StopAtEpoch(2), before])
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file() and not (tmp_path / "model.pt").exists()
    train_split(data, fold, tmp_path, config, progress=False, callbacks=[after])
    # two epochs were trained before the kill; the rerun trains only the third
    assert before.batches > 0 and after.batches == before.batches // 2
    assert (tmp_path / "model.pt").is_file()
    epochs = {int(line.split(",")[0]) for line in (tmp_path / "logs" / "metrics.csv").read_text().splitlines()[1:]}
    assert epochs == {0, 1, 2}


def test_synthetic_cohort_is_learnable(cv_run):
    _, metrics = cv_run
    # Far above the 20 % of chance for five balanced classes even after two tiny epochs.
    assert metrics["pooled"]["accuracy"] > 0.45
    assert np.array(metrics["pooled"]["confusion_matrix"]).trace() > 0


def test_tensorboard_without_its_package_is_a_clear_error(synthetic_prepared, tmp_path):
    import importlib.util

    if importlib.util.find_spec("tensorboard") or importlib.util.find_spec("tensorboardX"):
        pytest.skip("tensorboard is installed here")
    data = PreparedDataset(synthetic_prepared)
    s = data.subjects()
    with pytest.raises(IsatSleepNetError, match="needs the tensorboard package"):
        train_split(data, Fold(0, tuple(s[:3]), (s[3],), (s[4],)), tmp_path / "tb",
                    tiny_config(tensorboard=True, max_epochs=1), progress=False)


def test_the_data_path_is_recorded_absolute(synthetic_prepared, tmp_path, monkeypatch):
    """A relative --data is resolved before it is written: a model's training data (for int8 calibration, the
    check that evaluate never scores subjects it was trained on) must mean the same folder from any directory."""
    from isatsleepnet.training.cv import plan_run

    monkeypatch.chdir(synthetic_prepared.parent)
    _, payload = plan_run(PreparedDataset(synthetic_prepared.name), tmp_path / "run", protocol="kfold",
                          config=tiny_config(), n_folds=2)
    assert payload["data"] == str(synthetic_prepared.resolve())


def test_reopening_a_run_with_other_data_or_another_number_of_folds_is_refused(cv_run, synthetic_prepared, tmp_path):
    """A resumed run never mixes folds of two preparations, nor changes its folds without a word."""
    import shutil

    run, metrics = cv_run
    other = tmp_path / "other_prep"
    shutil.copytree(synthetic_prepared, other)
    config_file = other / "prepare_config.json"
    config_file.write_text(config_file.read_text().replace('"bandpass": null', '"bandpass": [0.3, 35.0]'))
    assert PreparedDataset(other).identity() != PreparedDataset(synthetic_prepared).identity()
    with pytest.raises(IsatSleepNetError, match=r"other settings \(data: .* before, .*other_prep now\)"):
        cross_validate(other, run, protocol="kfold", n_folds=3, config=tiny_config(), progress=False)
    with pytest.raises(IsatSleepNetError, match=r"other settings \(n_folds= 3 before, 4 now\)"):
        cross_validate(synthetic_prepared, run, protocol="kfold", n_folds=4, config=tiny_config(), progress=False)
    moved = tmp_path / "moved"  # the same dataset elsewhere is the same data
    shutil.copytree(synthetic_prepared, moved)
    again = cross_validate(moved, run, protocol="kfold", config=tiny_config(), progress=False)
    assert again["pooled"] == metrics["pooled"]
