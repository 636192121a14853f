"""One way to train a split: `train` and every fold of `cv` go through run_split and write the same files."""

from __future__ import annotations

import doctest
import json
from pathlib import Path

import pytest

from isatsleepnet.augment.config import AugmentConfig
from isatsleepnet.cli.flags import message
from isatsleepnet.config import save_config
from isatsleepnet.data.store import PreparedDataset
from isatsleepnet.engine import Engine
from isatsleepnet.errors import IsatSleepNetError
from isatsleepnet.training import context, split_run
from isatsleepnet.training.cv import cross_validate, fold_dir
from isatsleepnet.training.folds import Fold, training_split
from isatsleepnet.training.split_run import (
    CONFIG_FILE,
    ENGINE_FILE,
    SPLIT_FILE,
    check_splits,
    resolve_settings,
    run_split,
)
from isatsleepnet.training.train import train
from tests.training.conftest import tiny_config

CV_ONLY = {"predictions", "DONE"}  # what a fold adds to a train folder: its test subjects' predictions


def _names(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if not p.name.startswith(".")}


def test_a_train_folder_and_a_cv_fold_folder_hold_the_same_files(synthetic_prepared, tmp_path):
    config, engine = tiny_config(max_epochs=1, max_train_batches=2), Engine(threads=1)
    run = tmp_path / "cv"
    cross_validate(synthetic_prepared, run, protocol="kfold", n_folds=3, config=config, engine=engine,
                   only_fold=0, progress=False)
    out = tmp_path / "train"
    model = train(synthetic_prepared, out, config=config, engine=engine, folds_file=run / "folds.json", fold=0,
                  progress=False)
    fold = fold_dir(run, 0)
    assert model == out / "model.pt" and model.is_file()
    assert _names(fold) - CV_ONLY == _names(out)
    assert {"config.json", "engine.json", "split.json", "MODEL_CARD.md", "model.pt"} <= _names(out)
    for name in (CONFIG_FILE, ENGINE_FILE):  # written by the same lines, byte for byte
        assert (fold / name).read_text() == (out / name).read_text(), name
    splits = [json.loads((folder / SPLIT_FILE).read_text()) for folder in (fold, out)]
    # the same subjects (a folds file's split keeps no stage coverage: training_split reads the subjects only)
    assert [{k: s[k] for k in ("index", "train", "validation", "cover_stages")} for s in splits] == [
        {k: splits[0][k] for k in ("index", "train", "validation", "cover_stages")}] * 2
    # engine.json one way: sorted keys, the run folder's as well as each fold's
    assert (run / ENGINE_FILE).read_text() == (out / ENGINE_FILE).read_text()
    assert list(json.loads((out / ENGINE_FILE).read_text())) == sorted(json.loads((out / ENGINE_FILE).read_text()))


@pytest.fixture
def stand_in(monkeypatch):
    """Training replaced by a recorder: the files around it are what these tests look at."""
    calls: list[dict] = []

    def fake(data, fold, out, config, **kwargs):
        calls.append({"fold": fold, "out": out, **kwargs})
        return out / "model.pt"  # not written: no model card either

    monkeypatch.setattr(context, "train_with_context", fake)
    return calls


def _split(data: PreparedDataset) -> Fold:
    subjects = data.subjects()
    return training_split(data, train_subjects=subjects[:4], validation_subjects=subjects[4:5])


def test_run_split_writes_its_files_then_trains_and_refuses_other_settings(synthetic_prepared, tmp_path, stand_in,
                                                                          caplog):
    caplog.set_level("INFO", logger="isatsleepnet")
    data = PreparedDataset(synthetic_prepared)
    config, engine, augment = resolve_settings(tiny_config(), Engine(threads=1), None)
    out = tmp_path / "run"
    run_split(data, _split(data), out, config, engine=engine, augment=augment, headline="train on 4 subject(s)",
              description={"protocol": "kfold"}, cover_stages=True)
    assert json.loads((out / CONFIG_FILE).read_text())["seed"] == config.seed
    assert json.loads((out / SPLIT_FILE).read_text())["cover_stages"] is True
    assert stand_in[-1]["description"] == {"protocol": "kfold"} and stand_in[-1]["train_data"] is None
    assert "train on 4 subject(s)" in caplog.messages

    other, _, _ = resolve_settings(tiny_config(seed=3, max_epochs=3, learning_rate=1e-3), None, None)
    with pytest.raises(IsatSleepNetError, match=r"holds a training with other settings") as caught:
        run_split(data, _split(data), out, other, engine=engine, augment=augment)
    # named as the caller sets them: keywords in Python, flags on the command line (not max_epochs, learning_rate)
    assert "other settings (learning_rate=, max_epochs=, seed=)" in str(caught.value)
    assert "other settings (--lr, --epochs, --seed)" in message(caught.value)
    assert len(stand_in) == 1  # refused before training


def test_a_finished_split_is_not_augmented_again(synthetic_prepared, tmp_path, stand_in, monkeypatch):
    data = PreparedDataset(synthetic_prepared)
    config, engine, augment = resolve_settings(tiny_config(), None, AugmentConfig(mode="transforms"))
    out = tmp_path / "done"
    out.mkdir()
    (out / "model.pt").write_bytes(b"")  # a finished run (resumed runs continue inside training)
    monkeypatch.setattr(split_run, "augmented_training_data", lambda *a, **k: pytest.fail("augmented again"))
    cards: list[Path] = []
    monkeypatch.setattr(split_run, "write_run_cards", cards.append)
    assert run_split(data, _split(data), out, config, engine=engine, augment=augment) == out / "model.pt"
    assert stand_in[-1]["train_data"] is None and stand_in[-1]["augment"] == "transforms"
    assert cards == [out]  # the card is (re)written beside the model file


def test_check_splits_refuses_before_anything_is_written(synthetic_prepared, tmp_path):
    data = PreparedDataset(synthetic_prepared)
    config, _, augment = resolve_settings(tiny_config(channels=["no such channel"]), None, None)
    with pytest.raises(IsatSleepNetError, match="lacks channel"):
        check_splits(data, [_split(data)], config, augment=augment)
    assert list(tmp_path.iterdir()) == []


def test_resolve_settings_fills_in_and_validates():
    config, engine, augment = resolve_settings(None, None, None)
    assert isinstance(engine, Engine) and not augment.enabled
    with pytest.raises(IsatSleepNetError, match="epochs"):
        resolve_settings(tiny_config(max_epochs=0), None, None)


def test_save_engine_is_save_config(tmp_path):
    split_run.save_engine(tmp_path, Engine(threads=2))
    save_config(Engine(threads=2), tmp_path / "reference.json")
    assert (tmp_path / ENGINE_FILE).read_text() == (tmp_path / "reference.json").read_text()


def test_examples():
    result = doctest.testmod(split_run, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


def test_a_training_continued_on_other_data_is_refused(synthetic_prepared, tmp_path, stand_in):
    import shutil

    data = PreparedDataset(synthetic_prepared)
    config, engine, augment = resolve_settings(tiny_config(), Engine(threads=1), None)
    out = tmp_path / "run"
    run_split(data, _split(data), out, config, engine=engine, augment=augment)
    assert json.loads((out / SPLIT_FILE).read_text())["data_identity"] == data.identity()
    other = tmp_path / "bandpassed"
    shutil.copytree(synthetic_prepared, other)
    settings = other / "prepare_config.json"
    settings.write_text(settings.read_text().replace('"bandpass": null', '"bandpass": [0.3, 35.0]'))
    with pytest.raises(IsatSleepNetError, match=r"holds a training with other settings \(data: .* before, .*bandpassed now"):
        run_split(PreparedDataset(other), _split(data), out, config, engine=engine, augment=augment)
    assert len(stand_in) == 1  # refused before training
    moved = tmp_path / "moved"  # the same dataset in another folder: the same training continues
    shutil.copytree(synthetic_prepared, moved)
    run_split(PreparedDataset(moved), _split(data), out, config, engine=engine, augment=augment)
    assert len(stand_in) == 2
