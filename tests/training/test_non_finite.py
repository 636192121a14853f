"""Nothing non-finite passes silently: a NaN epoch, loss or weight stops training with one line, and is never saved."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch

from isatsleepnet.cli.main import main
from isatsleepnet.data.store import PreparedDataset
from isatsleepnet.errors import IsatSleepNetError
from isatsleepnet.gan.data import load_stage_epochs
from isatsleepnet.engine import Engine
from isatsleepnet.inference.predict import predict_prepared
from isatsleepnet.inference.predictor import load_predictor
from isatsleepnet.training import loss as loss_module
from isatsleepnet.training.fit import train_split
from isatsleepnet.training.folds import Fold
from isatsleepnet.training.module import (
    CHECKPOINT_HASH_KEY,
    SleepStager,
    checkpoint_sha256,
)
from tests.training.conftest import tiny_config
from tests.training.tiny_store import write_tiny_store

pytestmark = pytest.mark.usefixtures("one_torch_thread")

FOLD = Fold(0, ("S0", "S1"), ("S2",), ())
BAD_EPOCH = 7


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> PreparedDataset:
    return write_tiny_store(tmp_path_factory.mktemp("finite") / "clean")


@pytest.fixture(scope="module")
def poisoned(tmp_path_factory) -> PreparedDataset:
    """The tiny store with one NaN sample in epoch 7 of S1's night.

    ``write_recording`` refuses non-finite epochs, so the NaN is written into the stored
    array afterwards, as a damaged disk or a store from an older version would hold it.
    """
    data = write_tiny_store(tmp_path_factory.mktemp("nan") / "store")
    stored = np.lib.format.open_memmap(data["S1-night1"].path / "epochs.npy", mode="r+")
    stored[BAD_EPOCH, 1, 5] = np.nan
    stored.flush()
    del stored
    return PreparedDataset(data.root)


def _assert_names_the_epoch(message: str, data: PreparedDataset) -> None:
    assert "\n" not in message
    assert str(data["S1-night1"].path) in message and f"epoch {BAD_EPOCH} holds NaN or infinite samples" in message


@pytest.mark.parametrize("workers", [0, 1])
def test_a_nan_epoch_stops_training_naming_its_recording_and_epoch(poisoned, tmp_path, workers):
    """With a DataLoader worker the error comes back wrapped in the worker's traceback: still one line."""
    with pytest.raises(IsatSleepNetError) as info:
        train_split(poisoned, FOLD, tmp_path, tiny_config(max_epochs=1), engine=Engine(workers=workers),
                    progress=False)
    _assert_names_the_epoch(str(info.value), poisoned)
    assert not (tmp_path / "model.pt").exists() and not (tmp_path / "checkpoints" / "last.ckpt").exists()


def test_the_cli_prints_one_line_for_a_nan_epoch(poisoned, tmp_path, capsys):
    config = tmp_path / "train.json"
    config.write_text(json.dumps({"train": asdict(tiny_config(max_epochs=1))}))
    code = main(["train", "--data", str(poisoned.root), "--out", str(tmp_path / "run"), "--config", str(config),
                 "--quiet", "--train-subjects", "S0,S1", "--val-subjects", "S2"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("isatsleepnet train: error: ") and len(err.splitlines()) == 1
    _assert_names_the_epoch(err, poisoned)


def test_predicting_a_nan_epoch_is_an_error_not_nan_probabilities(poisoned, clean, tmp_path):
    model = train_split(clean, FOLD, tmp_path, tiny_config(max_epochs=1), progress=False)
    with pytest.raises(IsatSleepNetError) as info:
        predict_prepared(load_predictor(model, threads=1), poisoned["S1-night1"])
    _assert_names_the_epoch(str(info.value), poisoned)


def test_the_first_non_finite_loss_stops_training_and_keeps_the_last_good_checkpoint(clean, tmp_path, monkeypatch,
                                                                                      capsys):
    """The loss of training batch 2 of epoch 1 is made NaN; through train_split and through the CLI."""
    poison = {"on": False}
    real_step, real_loss = SleepStager.training_step, loss_module.HybridLoss.forward

    def step(self, batch, batch_idx):
        poison["on"] = self.current_epoch == 1 and batch_idx == 2
        return real_step(self, batch, batch_idx)

    monkeypatch.setattr(SleepStager, "training_step", step)
    monkeypatch.setattr(loss_module.HybridLoss, "forward", lambda self, logits, target:
                        real_loss(self, logits, target) * (float("nan") if poison["on"] else 1.0))
    with pytest.raises(IsatSleepNetError) as info:
        train_split(clean, FOLD, tmp_path / "a", tiny_config(max_epochs=3), progress=False)
    message = str(info.value)
    assert "\n" not in message
    assert "the train loss is nan at epoch 1, training batch 2" in message and "diverged on finite input" in message
    last = torch.load(tmp_path / "a" / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["epoch"] == 0
    assert all(torch.isfinite(v).all() for v in last["state_dict"].values() if v.is_floating_point())
    assert not (tmp_path / "a" / "model.pt").exists()
    config = tmp_path / "train.json"
    config.write_text(json.dumps({"train": asdict(tiny_config(max_epochs=3))}))
    assert main(["train", "--data", str(clean.root), "--out", str(tmp_path / "b"), "--config", str(config), "--quiet",
                 "--train-subjects", "S0,S1", "--val-subjects", "S2"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"isatsleepnet train: error: {message}"


class _PoisonWeights(L.Callback):
    """NaN into one weight after the last training batch of ``epoch`` (as a diverging step would)."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        if trainer.current_epoch == self.epoch and trainer.fit_loop.epoch_loop.batch_progress.is_last_batch:
            with torch.no_grad():
                next(module.parameters()).view(-1)[0] = float("nan")


@pytest.mark.filterwarnings("ignore:You defined a `validation_step` but have no `val_dataloader`")
def test_non_finite_weights_at_the_end_of_an_epoch_are_never_checkpointed(clean, tmp_path):
    no_validation = Fold(0, ("S0", "S1"), (), ())
    with pytest.raises(IsatSleepNetError, match=r"^training stopped after epoch 1 \(counted from 0\): the weights "
                                                 r"hold NaN or infinity \([\w.]+\); this epoch was not checkpointed[^\n]*$"):
        train_split(clean, no_validation, tmp_path / "a", tiny_config(max_epochs=3), progress=False,
                    callbacks=[_PoisonWeights(1)])
    assert torch.load(tmp_path / "a" / "checkpoints" / "last.ckpt", weights_only=True)["epoch"] == 0
    # with validation subjects, the validation loss of the poisoned network stops it first
    with pytest.raises(IsatSleepNetError, match=r"the val loss is nan at epoch 1, validation batch 0 .*"
                                                 r"the weights already hold NaN"):
        train_split(clean, FOLD, tmp_path / "b", tiny_config(max_epochs=3), progress=False,
                    callbacks=[_PoisonWeights(1)])
    assert not (tmp_path / "a" / "model.pt").exists() and not (tmp_path / "b" / "model.pt").exists()


class _PoisonBest(L.Callback):
    """Writes infinity into best.ckpt's weights once training has ended; ``resign`` recomputes its checksum
    (as if the checkpoint had been written like that), otherwise the checksum no longer matches."""

    def __init__(self, resign: bool) -> None:
        self.resign = resign

    def on_train_end(self, trainer, module) -> None:
        best = Path(trainer.default_root_dir) / "checkpoints" / "best.ckpt"
        checkpoint = torch.load(best, weights_only=True)
        name = next(k for k, v in checkpoint["state_dict"].items() if v.is_floating_point())
        checkpoint["state_dict"][name].view(-1)[0] = float("inf")
        if self.resign:
            checkpoint[CHECKPOINT_HASH_KEY] = checkpoint_sha256(checkpoint)
        torch.save(checkpoint, best)


@pytest.mark.parametrize("resign, problem", [(True, "weights hold NaN or infinity"),
                                             (False, "corrupt training checkpoint: its weights do not match")])
def test_a_best_checkpoint_with_non_finite_weights_never_becomes_the_model_file(clean, tmp_path, resign, problem):
    with pytest.raises(IsatSleepNetError) as info:
        train_split(clean, FOLD, tmp_path, tiny_config(max_epochs=1), progress=False,
                    callbacks=[_PoisonBest(resign)])
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{tmp_path / 'checkpoints' / 'best.ckpt'}: ")
    assert problem in message
    assert not (tmp_path / "model.pt").exists()


def test_a_gan_refuses_a_nan_epoch_naming_its_recording(poisoned):
    stage = int(poisoned["S1-night1"].labels[BAD_EPOCH])
    from isatsleepnet import STAGES

    with pytest.raises(IsatSleepNetError) as info:
        load_stage_epochs(poisoned, ["S0", "S1"], "EEG Pz-Oz", STAGES[stage])
    message = str(info.value)
    assert "\n" not in message and str(poisoned["S1-night1"].path) in message
    assert f"epoch {BAD_EPOCH} of 'EEG Pz-Oz' holds NaN or infinite samples" in message
    # the other channel of that epoch is finite, and so is every epoch of S0
    assert len(load_stage_epochs(poisoned, ["S0", "S1"], "EEG Fpz-Cz", STAGES[stage])) > 0
