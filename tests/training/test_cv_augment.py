"""`cv --augment`: per-fold augmentation from training subjects only, never in validation, test or prediction."""

import json
from dataclasses import asdict, replace

import numpy as np
import pytest

from isatsleepnet import STAGES
from isatsleepnet.augment.config import AugmentConfig
from isatsleepnet.cli.main import main
from isatsleepnet.data.store import (
    ORIGIN_GAN,
    ORIGIN_REAL,
    ORIGIN_TRANSFORM,
    PreparedDataset,
)
from isatsleepnet.errors import IsatSleepNetError
from isatsleepnet.gan import stages as gan_stages
from isatsleepnet.gan import train as gan_train
from isatsleepnet.gan.config import GanConfig
from isatsleepnet.inference import predict as predict_module
from isatsleepnet.model.file import load_model_file
from isatsleepnet.training import augmentation
from isatsleepnet.training.compare import comparison_table
from isatsleepnet.training.cv import cross_validate
from isatsleepnet.training.data import EpochDataset
from tests.training.conftest import tiny_config

CHANNELS = ["EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal"]
# A Physio-GAN small enough for a test: one short epoch, narrow networks, no model-selection pass.
TINY_GAN = GanConfig(epochs=1, batch_size=16, min_steps_per_epoch=3, g_base_channels=16, g_upsamplings=4,
                     g_spectral_channels=2, g_freq_rank=8, d_channels=(8, 16, 16), checkpoint_every=1,
                     select_every=0)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _fold(run, index=0):
    return json.loads((run / "folds.json").read_text())["folds"][index]


@pytest.fixture(scope="module")
def transforms_run(synthetic_prepared, tmp_path_factory):
    """`isatsleepnet cv --augment transforms` (fold 0 of 3) with every EpochDataset and item it yields recorded,
    and every recording the test predictions read."""
    root = tmp_path_factory.mktemp("cv-aug")
    config = root / "train.json"
    config.write_text(json.dumps({"train": asdict(tiny_config(max_epochs=1))}))
    datasets = []
    original_init, original_getitem = EpochDataset.__init__, EpochDataset.__getitem__

    def init(self, recordings, **kwargs):
        original_init(self, recordings, **kwargs)
        self.spy = {"include_synthetic": kwargs.get("include_synthetic", False),
                    "roots": {str(r.path.parent.parent) for r in self.recordings}, "items": 0, "flagged": 0}
        datasets.append(self.spy)

    def getitem(self, index):
        r, e = self.locate(index)
        self.spy["items"] += 1
        self.spy["flagged"] += int(self.recordings[r].origins[e] != ORIGIN_REAL)
        return original_getitem(self, index)

    original_predict = predict_module.predict_prepared

    def predict(predictor, recording, batch_size=64):  # the test predictions: real epochs only, counted
        probabilities = original_predict(predictor, recording, batch_size)
        datasets.append({"include_synthetic": False, "roots": {str(recording.path.parent.parent)},
                         "items": len(probabilities), "flagged": len(probabilities) - int(recording.real.sum())})
        return probabilities

    run = root / "run"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(EpochDataset, "__init__", init)
        mp.setattr(EpochDataset, "__getitem__", getitem)
        mp.setattr(predict_module, "predict_prepared", predict)
        code = main(["cv", "--data", str(synthetic_prepared), "--out", str(run), "--protocol", "kfold", "--folds", "3",
                     "--fold", "0", "--config", str(config), "--augment", "transforms", "--keep-augmented", "--quiet"])
    assert code == 0
    return run, datasets


def test_transforms_run_trains_on_flagged_epochs_of_the_training_subjects(transforms_run, synthetic_prepared):
    run, _ = transforms_run
    fold = _fold(run)
    saved = json.loads((run / "config.json").read_text())
    assert saved["augment"] == {"mode": "transforms", "stage": "N1", "target_ratio": 1.15, "stage_cap": 0.8}
    assert saved["gan"] is None
    assert "training data augmented: transforms (N1)" in (run / "report.md").read_text()
    store = PreparedDataset(run / "fold_00" / "augmented")
    original = PreparedDataset(synthetic_prepared)
    # only the fold's training recordings, each its real epochs then flagged transforms
    assert {rec.subject for rec in store} == set(fold["train"])
    assert sorted(store.names) == sorted(r["recording"] for r in original.manifest if r["subject"] in fold["train"])
    synthetic = 0
    for rec in store:
        src = original[rec.name]
        assert np.array_equal(rec.epochs[: src.n_epochs], src.epochs) and rec.real[: src.n_epochs].all()
        assert set(np.unique(rec.origins[src.n_epochs:])) == {ORIGIN_TRANSFORM}
        synthetic += rec.n_epochs - src.n_epochs
    assert synthetic > 0
    assert sum(int(row["n_transform"]) for row in store.manifest) == synthetic
    real = sum(original[name].n_epochs for name in store.names)
    training = load_model_file(run / "fold_00" / "model.pt").training
    assert training["augment"] == "transforms" and training["synthetic_train_epochs"] == synthetic
    assert training["train_epochs"] == real + synthetic > real
    assert training["augment_settings"]["mode"] == "transforms"


def test_no_validation_test_or_prediction_loader_yields_a_flagged_epoch(transforms_run, synthetic_prepared):
    run, datasets = transforms_run
    store = str(run / "fold_00" / "augmented")
    training = [d for d in datasets if d["include_synthetic"]]
    others = [d for d in datasets if not d["include_synthetic"]]
    assert len(training) == 1 and training[0]["roots"] == {store} and training[0]["flagged"] > 0
    # validation (one set) and prediction (one per test recording) read the original store, real epochs only
    n_test = len([r for r in PreparedDataset(synthetic_prepared).manifest if r["subject"] in _fold(run)["test"]])
    assert len(others) == 1 + n_test
    for d in others:
        assert d["items"] > 0 and d["flagged"] == 0
        assert d["roots"] == {str(synthetic_prepared)}


def test_rerun_with_other_augmentation_is_refused_and_compare_shows_it(transforms_run, synthetic_prepared):
    run, _ = transforms_run
    base = dict(protocol="kfold", n_folds=3, config=tiny_config(max_epochs=1), only_fold=0, progress=False)
    with pytest.raises(IsatSleepNetError, match=r"other settings \(augment: transforms \(N1\) before, none now"):
        cross_validate(synthetic_prepared, run, **base)
    with pytest.raises(IsatSleepNetError, match=r"augment: transforms \(N1\) before, gan \(N1, 1 GAN epochs\) now"):
        cross_validate(synthetic_prepared, run, augment=AugmentConfig(mode="gan"), gan=TINY_GAN, **base)
    with pytest.raises(IsatSleepNetError, match=r"augment: transforms \(N1\) before, transforms \(N2\) now"):
        cross_validate(synthetic_prepared, run, augment=AugmentConfig(mode="transforms", stage="N2"), **base)
    # the same settings continue (the fold is done: nothing is trained again)
    stamp = (run / "fold_00" / "model.pt").stat().st_mtime_ns
    cross_validate(synthetic_prepared, run, augment=AugmentConfig(mode="transforms"), **base)
    assert (run / "fold_00" / "model.pt").stat().st_mtime_ns == stamp
    table = comparison_table([run]).splitlines()
    assert table[0].startswith("| run | augment | context | setting |") and "| run | transforms (N1) | 0 |" in table[2]


def test_cv_refuses_an_already_augmented_dataset(transforms_run, tmp_path):
    run, _ = transforms_run
    with pytest.raises(IsatSleepNetError, match="is an augmented dataset"):
        cross_validate(run / "fold_00" / "augmented", tmp_path / "r", protocol="kfold", n_folds=2,
                       config=tiny_config(), progress=False)


@pytest.fixture(scope="module")
def gan_run(synthetic_prepared, tmp_path_factory):
    """`cv --augment gan` killed while training the second channel's GAN, then started again."""
    run = tmp_path_factory.mktemp("cv-gan") / "run"
    kwargs = dict(protocol="kfold", n_folds=3, config=tiny_config(max_epochs=1), only_fold=0, progress=False,
                  augment=AugmentConfig(mode="gan"), gan=TINY_GAN)
    calls = []
    real_train_gan = gan_train.train_gan

    def killed_at_second(data, fs, folder, config, **kw):
        calls.append(folder.name)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_train_gan(data, fs, folder, config, **kw)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(gan_stages, "train_gan", killed_at_second)
        with pytest.raises(KeyboardInterrupt):
            cross_validate(synthetic_prepared, run, **kwargs)
    first = run / "fold_00" / "gan" / calls[0] / "generator.pt"
    stamp = first.stat().st_mtime_ns
    assert not (run / "fold_00" / "augmented").exists()
    resumed = []

    def counting(data, fs, folder, config, **kw):
        resumed.append(folder.name)
        return real_train_gan(data, fs, folder, config, **kw)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(gan_stages, "train_gan", counting)
        cross_validate(synthetic_prepared, run, **kwargs)
    return run, calls, resumed, first, stamp


def test_gan_run_trains_each_channels_gan_on_the_folds_training_subjects_only(gan_run, synthetic_prepared):
    run, calls, resumed, _, _ = gan_run
    fold = _fold(run)
    folders = sorted(p for p in (run / "fold_00" / "gan").iterdir() if p.is_dir())
    assert [f.name for f in folders] == ["eeg-fpz-cz_N1", "eeg-pz-oz_N1", "eog-horizontal_N1"]
    assert set(json.loads((run / "fold_00" / "gan" / "quality.json").read_text())) == {f.name for f in folders}
    original = PreparedDataset(synthetic_prepared)
    for folder in folders:
        data = json.loads((folder / "data.json").read_text())
        assert set(data["subjects"]) == set(fold["train"])
        assert not set(data["subjects"]) & (set(fold["validation"]) | set(fold["test"]))
        assert {original[r].subject for r in data["recordings"]} <= set(fold["train"])
        saved = json.loads((folder / "gan_config.json").read_text())
        assert saved["epochs"] == 1 and saved["stage"] == "N1" and saved["seed"] == 0
        assert (folder / "done.json").is_file() and (folder / "quality.json").is_file()
    config = json.loads((run / "config.json").read_text())
    assert config["augment"]["mode"] == "gan" and config["gan"]["epochs"] == 1
    assert config["gan"]["g_base_channels"] == 16


def test_killed_gan_run_continues_without_retraining_finished_gans(gan_run):
    run, calls, resumed, first, stamp = gan_run
    assert len(calls) == 2 and calls[1] != calls[0]
    # the first channel's finished GAN is reused as it is; only the other two are trained
    assert sorted(resumed) == sorted({"eeg-fpz-cz_N1", "eeg-pz-oz_N1", "eog-horizontal_N1"} - {calls[0]})
    assert first.stat().st_mtime_ns == stamp
    assert (run / "fold_00" / "DONE").is_file()


def test_gan_run_trains_on_gan_epochs_and_drops_them_once_the_model_is_saved(gan_run):
    run, *_ = gan_run
    store = run / "fold_00" / "augmented"
    made = json.loads((store / "augment.json").read_text())
    assert made["mode"] == "gan" and made["gan_channels"] == CHANNELS
    assert sorted(made["augmented_subjects"]) == sorted(_fold(run)["train"])
    added_gan = sum(r["added_gan"]["N1"] for r in made["recordings"])
    assert added_gan > 0 and all(sum(r["added_gan"].values()) == r["added_gan"]["N1"] for r in made["recordings"])
    assert not (store / "recordings").exists()  # deleted after training (no --keep-augmented); the record stays
    assert sorted(json.loads((store / "made_from.json").read_text())["generators"]) == [
        "eeg-fpz-cz_N1", "eeg-pz-oz_N1", "eog-horizontal_N1"]
    training = load_model_file(run / "fold_00" / "model.pt").training
    added = sum(sum(r["added_gan"].values()) + sum(r["added_transform"].values()) for r in made["recordings"])
    assert training["augment"] == "gan" and training["synthetic_train_epochs"] == added
    assert training["augment_settings"]["gan"]["epochs"] == 1


def test_rerun_with_other_gan_settings_is_refused(gan_run, synthetic_prepared):
    run, *_ = gan_run
    with pytest.raises(IsatSleepNetError, match=r"other settings \(GAN settings epochs, g_base_channels\)"):
        cross_validate(synthetic_prepared, run, protocol="kfold", n_folds=3, config=tiny_config(max_epochs=1),
                       only_fold=0, augment=AugmentConfig(mode="gan"),
                       gan=replace(TINY_GAN, epochs=2, g_base_channels=8), progress=False)


def test_augmented_store_is_reused_when_complete_and_rebuilt_from_other_inputs(gan_run, synthetic_prepared, monkeypatch):
    """The store step alone, as a run killed between store and model redoes it: a complete store made
    from the same inputs is reused, one made from other inputs rebuilt; finished GANs are never retrained."""
    from isatsleepnet.training.folds import Fold

    run, *_ = gan_run
    f = _fold(run)
    fold = Fold(0, tuple(f["train"]), tuple(f["validation"]), tuple(f["test"]))
    monkeypatch.setattr(gan_stages, "train_gan", lambda *a, **k: pytest.fail("a finished GAN was trained again"))
    data, folder, config = PreparedDataset(synthetic_prepared), run / "fold_00", tiny_config(max_epochs=1)
    try:
        store = augmentation.augmented_training_data(data, fold, folder, AugmentConfig(mode="gan"), config, gan=TINY_GAN,
                                                     progress=False)
        stamp = (store.root / "made_from.json").stat().st_mtime_ns
        rec = store[store.names[0]]
        n_before = rec.n_epochs
        gan = rec.origins == ORIGIN_GAN
        assert gan.sum() > 0 and (rec.labels[gan] == STAGES.index("N1")).all()
        again = augmentation.augmented_training_data(data, fold, folder, AugmentConfig(mode="gan"), config,
                                                     gan=TINY_GAN, progress=False)
        assert (again.root / "made_from.json").stat().st_mtime_ns == stamp
        other = augmentation.augmented_training_data(data, fold, folder, AugmentConfig(mode="gan", target_ratio=1.5),
                                                     config, gan=TINY_GAN, progress=False)
        assert (other.root / "made_from.json").stat().st_mtime_ns != stamp
        assert other[rec.name].n_epochs > n_before
        assert not [p for p in folder.iterdir() if p.name.startswith(".tmp-")]
    finally:
        augmentation.drop_augmented_epochs(folder)


def test_other_ddp_ranks_wait_for_the_first_ones_store(tmp_path, monkeypatch):
    """Extra DDP processes rerun the command: they must neither train GANs nor write the store."""
    from isatsleepnet.training.folds import Fold

    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setattr(augmentation, "RANK_WAIT_SECONDS", 0.0)
    monkeypatch.setattr(augmentation, "train_fold_gans", lambda *a, **k: pytest.fail("a second rank trained GANs"))
    with pytest.raises(IsatSleepNetError, match="gave up waiting for the first process"):
        augmentation.augmented_training_data(None, Fold(0, ("a",), (), ("b",)), tmp_path, AugmentConfig(mode="gan"),
                                             tiny_config())
    assert not (tmp_path / "augmented").exists()
