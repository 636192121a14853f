"""`isatsleepnet train` with augmentation: --augment on the original data, or a dataset from `augment`."""

import json
from dataclasses import asdict

import numpy as np
import pytest

from isatsleepnet.augment.balance import augment_dataset
from isatsleepnet.cli.main import main
from isatsleepnet.data.store import PreparedDataset
from isatsleepnet.errors import IsatSleepNetError
from isatsleepnet.model.file import load_model_file
from tests.training.conftest import tiny_config


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def config_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("train-aug") / "train.json"
    path.write_text(json.dumps({"train": asdict(tiny_config(max_epochs=1))}))
    return path


def _synthetic_count(root, subjects) -> int:
    return sum(int((~rec.real).sum()) for rec in PreparedDataset(root) if rec.subject in subjects)


def test_train_on_a_dataset_written_by_augment_uses_its_synthetic_epochs(synthetic_prepared, config_file, tmp_path):
    s = PreparedDataset(synthetic_prepared).subjects()
    aug = tmp_path / "aug"
    augment_dataset(synthetic_prepared, aug, subjects=s[:3], mode="transforms", progress=False)
    base = ["train", "--data", str(aug), "--config", str(config_file), "--quiet", "--train-subjects", ",".join(s[:3])]
    assert main(base + ["--out", str(tmp_path / "m"), "--val-subjects", s[3]]) == 0
    training = load_model_file(tmp_path / "m" / "model.pt").training
    synthetic = _synthetic_count(aug, s[:3])
    assert training["augment"] == "transforms" and training["synthetic_train_epochs"] == synthetic > 0
    assert training["train_epochs"] == sum(PreparedDataset(aug)[n].n_epochs for n in PreparedDataset(aug).names
                                           if PreparedDataset(aug)[n].subject in s[:3])
    # a validation subject whose recordings were augmented is refused
    with pytest.raises(IsatSleepNetError, match=rf"validation subject\(s\) {s[2]} were augmented"):
        main(["--debug", "train", "--data", str(aug), "--config", str(config_file), "--quiet",
              "--train-subjects", ",".join(s[:2]), "--val-subjects", s[2], "--out", str(tmp_path / "bad")])


def test_a_gan_augmented_dataset_trains_only_with_every_subject_its_gan_learned_from(synthetic_prepared, config_file,
                                                                                      tmp_path):
    """Before: training on two of the three subjects a GAN learned from was accepted, the model file did not name
    the third, and `evaluate` then scored the model on it (the GAN's epochs of it were in the training data)."""
    s = PreparedDataset(synthetic_prepared).subjects()
    aug = tmp_path / "aug"
    augment_dataset(synthetic_prepared, aug, subjects=s[:3], mode="transforms", progress=False)
    record = json.loads((aug / "augment.json").read_text())
    (aug / "augment.json").write_text(json.dumps({**record, "mode": "gan"}))  # as `augment --mode gan` records it
    base = ["--debug", "train", "--data", str(aug), "--config", str(config_file), "--quiet", "--val-subjects", s[3]]
    with pytest.raises(IsatSleepNetError, match=rf"GAN epochs were learned from subject\(s\) {s[2]} too, which this "
                                                r"training does not train on"):
        main([*base, "--train-subjects", ",".join(s[:2]), "--out", str(tmp_path / "leak")])
    assert not (tmp_path / "leak" / "model.pt").exists()
    # transforms use each recording's own epochs: training on some of the augmented subjects is fine
    (aug / "augment.json").write_text(json.dumps(record))
    assert main([*base[1:], "--train-subjects", ",".join(s[:2]), "--out", str(tmp_path / "ok")]) == 0


def test_train_augment_transforms_makes_the_store_from_the_training_subjects(synthetic_prepared, config_file, tmp_path):
    s = PreparedDataset(synthetic_prepared).subjects()
    out = tmp_path / "m"
    assert main(["train", "--data", str(synthetic_prepared), "--config", str(config_file), "--quiet", "--out", str(out),
                 "--train-subjects", ",".join(s[:2]), "--val-subjects", s[2], "--augment", "transforms",
                 "--keep-augmented"]) == 0
    store = PreparedDataset(out / "augmented")
    assert {rec.subject for rec in store} == set(s[:2])
    assert all(np.isin(rec.origins, [0, 2]).all() for rec in store)
    training = load_model_file(out / "model.pt").training
    assert training["augment"] == "transforms" and training["synthetic_train_epochs"] == _synthetic_count(store.root, s[:2])
    assert json.loads((out / "augment_config.json").read_text())["mode"] == "transforms"


def test_train_refuses_an_out_folder_holding_a_training_with_other_settings(synthetic_prepared, config_file, tmp_path):
    s = PreparedDataset(synthetic_prepared).subjects()
    base = ["train", "--data", str(synthetic_prepared), "--config", str(config_file), "--quiet", "--out",
            str(tmp_path / "m"), "--train-subjects", ",".join(s[:2]), "--val-subjects", s[2]]
    assert main(base) == 0
    before = (tmp_path / "m" / "config.json").read_text()
    assert main(base + ["--threads", "1"]) == 0  # a machine setting may differ: the finished model is kept
    with pytest.raises(IsatSleepNetError, match=r"other settings \(the network \(architecture, size or model options\)\)"):
        main(["--debug", *base, "--model-size", "small"])
    with pytest.raises(IsatSleepNetError, match=r"other settings \(learning_rate=\)"):
        main(["--debug", *base, "--lr", "0.5"])
    assert json.loads((tmp_path / "m" / "config.json").read_text())["model"] == json.loads(before)["model"]
