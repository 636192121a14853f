"""A training killed and resumed ends with the same model as one never interrupted (same seed).

Everything is compared exactly: on a CPU with one thread every kernel is
deterministic, so the resumed run must reproduce the uninterrupted one bit for
bit (weights compared with ``torch.equal``, the CSV log as text), not within a
tolerance. On CUDA, Lightning's ``deterministic=False`` lets kernels differ in
the last bits, and only a tolerance could be asserted there.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import warnings
from dataclasses import asdict
from pathlib import Path

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from isatsleepnet.model.file import load_model_file
from isatsleepnet.training import fit
from isatsleepnet.training.config import TrainConfig
from isatsleepnet.training.fit import train_split
from isatsleepnet.training.folds import Fold
from isatsleepnet.training.reproducible import EpochSampler
from tests.training.conftest import tiny_config
from tests.training.tiny_store import write_tiny_store

ROOT = Path(__file__).resolve().parents[2]
FOLD = Fold(0, ("S0", "S1"), ("S2",), ())
EPOCHS = 6

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _config(**overrides) -> TrainConfig:
    return tiny_config(**{"max_epochs": EPOCHS, "batch_size": 16, "early_stopping_patience": 3, **overrides})


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return write_tiny_store(tmp_path_factory.mktemp("resume") / "store")


def _checkpoint_epoch(path: Path) -> int:
    return torch.load(path, map_location="cpu", weights_only=True)["epoch"]


def _assert_same_training(a: Path, b: Path) -> None:
    """Same selected epoch, same log rows, bit-identical weights (and so the same metrics)."""
    first, second = load_model_file(a / "model.pt"), load_model_file(b / "model.pt")
    assert first.training["selected_epoch"] == second.training["selected_epoch"]
    assert (a / "logs" / "metrics.csv").read_text() == (b / "logs" / "metrics.csv").read_text()
    assert first.state_dict.keys() == second.state_dict.keys()
    different = [k for k in first.state_dict if not torch.equal(first.state_dict[k], second.state_dict[k])]
    assert different == []
    assert first.metrics == second.metrics


def _assert_checkpoint_holds_its_own_epoch(path: Path, log: Path) -> None:
    """last.ckpt of epoch k knows epoch k's validation score in its best-checkpoint and early-stopping state
    (were it written before them, a resumed run would compare later epochs with an outdated best)."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    with log.open(newline="") as f:
        rows = list(csv.DictReader(f))
    scores = [float(r["val_macro_f1"]) for r in rows if int(r["epoch"]) <= checkpoint["epoch"]]
    assert scores[-1] == max(scores) > max(scores[:-1]), "the test needs a new best score in the checkpoint's epoch"
    states = checkpoint["callbacks"]
    best = next(v for k, v in states.items() if k.startswith("ModelCheckpoint") and "'val_macro_f1'" in k)
    stopping = next(v for k, v in states.items() if k.startswith("EarlyStopping"))
    assert float(best["best_model_score"]) == pytest.approx(scores[-1], rel=1e-5)
    assert float(stopping["best_score"]) == pytest.approx(scores[-1], rel=1e-5) and stopping["wait_count"] == 0


# Run in a fresh interpreter and killed there with SIGKILL (no cleanup, no finally) in the middle of
# training epoch KILL_EPOCH, after that epoch's second batch: last.ckpt is the one of the epoch before.
_CHILD = """
import json, os, signal, sys
import lightning as L
from isatsleepnet.data.store import PreparedDataset
from isatsleepnet.training.config import TrainConfig
from isatsleepnet.training import fit
from isatsleepnet.training.fit import train_split
from isatsleepnet.training.folds import Fold

store, out, config, kill_epoch = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4])

class Kill(L.Callback):
    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        if trainer.current_epoch == kill_epoch and batch_idx == 1:
            os.kill(os.getpid(), signal.SIGKILL)

train_split(PreparedDataset(store), Fold(0, ("S0", "S1"), ("S2",), ()), __import__("pathlib").Path(out),
            TrainConfig(**config), progress=False, callbacks=[Kill()])
"""


def test_a_run_killed_mid_epoch_resumes_to_the_same_model(store, tmp_path):
    config = _config()
    train_split(store, FOLD, tmp_path / "a", config, progress=False)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    child = subprocess.run([sys.executable, "-c", _CHILD, str(store.root), str(tmp_path / "b"),
                            json.dumps(asdict(config)), "3"], env=env, capture_output=True, text=True, timeout=300)
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    assert _checkpoint_epoch(tmp_path / "b" / "checkpoints" / "last.ckpt") == 2
    assert not (tmp_path / "b" / "model.pt").exists()
    _assert_checkpoint_holds_its_own_epoch(tmp_path / "b" / "checkpoints" / "last.ckpt",
                                           tmp_path / "b" / "logs" / "metrics.csv")
    train_split(store, FOLD, tmp_path / "b", config, progress=False)
    _assert_same_training(tmp_path / "a", tmp_path / "b")


class _Stopped(RuntimeError):
    pass


def test_a_run_stopped_between_its_log_row_and_its_checkpoint_resumes_to_the_same_model(store, tmp_path, monkeypatch):
    """The fragile moment: epoch 2's log row, early-stopping state and best.ckpt are written, its
    last.ckpt not yet. With class-balanced sampling (the other sampler)."""
    config = _config(balanced_sampling=True)
    train_split(store, FOLD, tmp_path / "a", config, progress=False)
    save = ModelCheckpoint._save_checkpoint

    def stop_before_last(self, trainer: L.Trainer, filepath: str) -> None:
        if filepath.endswith("last.ckpt") and trainer.current_epoch == 2:
            raise _Stopped("killed")
        save(self, trainer, filepath)

    monkeypatch.setattr(ModelCheckpoint, "_save_checkpoint", stop_before_last)
    with pytest.raises(_Stopped):
        train_split(store, FOLD, tmp_path / "b", config, progress=False)
    monkeypatch.setattr(ModelCheckpoint, "_save_checkpoint", save)
    rows = (tmp_path / "b" / "logs" / "metrics.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["0", "1", "2"]  # the row of epoch 2 is there ...
    assert _checkpoint_epoch(tmp_path / "b" / "checkpoints" / "last.ckpt") == 1  # ... its checkpoint is not
    train_split(store, FOLD, tmp_path / "b", config, progress=False)
    _assert_same_training(tmp_path / "a", tmp_path / "b")


def test_a_run_stopped_after_early_stopping_decided_stays_stopped(store, tmp_path, monkeypatch):
    """Killed after the last.ckpt of the epoch at which early stopping fired, before model.pt: the rerun
    trains no further epoch (Lightning does not keep its stop flag in the checkpoint)."""
    config = _config(early_stopping_patience=1)
    train_split(store, FOLD, tmp_path / "a", config, progress=False)
    stopped = len((tmp_path / "a" / "logs" / "metrics.csv").read_text().splitlines()) - 2  # header, epochs from 0
    assert stopped < EPOCHS - 1, "the test needs early stopping to end the run before max_epochs"
    save = ModelCheckpoint._save_checkpoint

    def stop_after_last(self, trainer: L.Trainer, filepath: str) -> None:
        save(self, trainer, filepath)
        if filepath.endswith("last.ckpt") and trainer.current_epoch == stopped:
            raise _Stopped("killed")

    monkeypatch.setattr(ModelCheckpoint, "_save_checkpoint", stop_after_last)
    with pytest.raises(_Stopped):
        train_split(store, FOLD, tmp_path / "b", config, progress=False)
    monkeypatch.setattr(ModelCheckpoint, "_save_checkpoint", save)
    assert not (tmp_path / "b" / "model.pt").exists()
    train_split(store, FOLD, tmp_path / "b", config, progress=False)
    _assert_same_training(tmp_path / "a", tmp_path / "b")


def _val_scores(log: Path) -> list[float]:
    with log.open(newline="") as f:
        return [float(r["val_macro_f1"]) for r in csv.DictReader(f)]


@pytest.mark.parametrize("how", ["move", "copy"])
def test_a_run_folder_moved_or_copied_between_runs_resumes_to_the_same_model(store, tmp_path, monkeypatch, capsys,
                                                                                how):
    """Lightning forgets the best score of a checkpoint whose folder has moved (warning in several lines that it
    does), so the first resumed epoch replaced best.ckpt whatever its score; here that epoch (3) is worse than
    the best one (2), which an uninterrupted run selects. Resumed without a word, the result is the same."""
    config = _config(balanced_sampling=True, max_epochs=4)
    train_split(store, FOLD, tmp_path / "a", config, progress=False)
    scores = _val_scores(tmp_path / "a" / "logs" / "metrics.csv")
    assert scores[2] == max(scores) > scores[3], "the test needs the best epoch at the interruption, a worse one after"
    save = ModelCheckpoint._save_checkpoint

    def stop_after_last(self, trainer: L.Trainer, filepath: str) -> None:
        save(self, trainer, filepath)
        if filepath.endswith("last.ckpt") and trainer.current_epoch == 2:
            raise _Stopped("killed")

    monkeypatch.setattr(ModelCheckpoint, "_save_checkpoint", stop_after_last)
    with pytest.raises(_Stopped):
        train_split(store, FOLD, tmp_path / "b", config, progress=False)
    monkeypatch.setattr(ModelCheckpoint, "_save_checkpoint", save)
    elsewhere = tmp_path / "elsewhere" / "run"
    (shutil.move if how == "move" else shutil.copytree)(tmp_path / "b", elsewhere)
    capsys.readouterr()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train_split(store, FOLD, elsewhere, config, progress=False)
    _assert_same_training(tmp_path / "a", elsewhere)
    assert load_model_file(elsewhere / "model.pt").training["selected_epoch"] == 2
    said = capsys.readouterr().err + " ".join(str(w.message) for w in caught)
    assert "dirpath has changed" not in said


def test_lightnings_dirpath_warning_is_kept_only_when_asked_for():
    text = "The dirpath has changed from '/old/checkpoints' to '/new/checkpoints', therefore `best_model_score` ..."
    for verbose in (False, True):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fit._quiet_lightning(verbose)
            warnings.warn(text, UserWarning)
        assert [str(w.message) for w in caught] == ([text] if verbose else [])


@pytest.mark.parametrize("weighted", [False, True])
def test_the_order_of_an_epoch_depends_on_seed_and_epoch_only(weighted):
    weights = torch.linspace(1, 5, 50) if weighted else None
    used = EpochSampler(50, seed=3, weights=weights)
    orders = []
    for epoch in (0, 1, 2):
        used.set_epoch(epoch)
        orders.append(list(used))
    fresh = EpochSampler(50, seed=3, weights=weights)
    fresh.set_epoch(2)
    assert list(fresh) == orders[2]  # a new process at epoch 2 draws what the running one drew
    assert orders[0] != orders[1] != orders[2]
    other_seed = EpochSampler(50, seed=4, weights=weights)
    other_seed.set_epoch(2)
    assert list(other_seed) != orders[2]
    if not weighted:
        assert sorted(orders[0]) == list(range(50))
