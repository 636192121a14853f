"""No file we read can run code: every torch file is loaded as plain data (weights_only=True).

Each test crafts a file whose unpickling would call ``Path.touch(marker)`` (any
function could stand there: ``os.system``, ``shutil.rmtree``), checks that the
payload is live (an unsafe ``torch.load`` does create the marker), then gives
the file to one of our loaders: the marker must not appear and the error must
be one line naming the file.
"""

from __future__ import annotations

import json
import pickle
from dataclasses import asdict
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch

from isatsleepnet.cli.main import main
from isatsleepnet.errors import IsatSleepNetError
from isatsleepnet.gan.config import GanConfig
from isatsleepnet.gan.generator import GENERATOR_FILE, GeneratorBundle
from isatsleepnet.gan.train import CHECKPOINT, train_gan
from isatsleepnet.model.file import FORMAT, load_model_file
from isatsleepnet.training import fit
from isatsleepnet.training.fit import train_split
from isatsleepnet.training.folds import Fold
from tests.training.conftest import tiny_config
from tests.training.tiny_store import write_tiny_store

pytestmark = pytest.mark.usefixtures("one_torch_thread")

FOLD = Fold(0, ("S0", "S1"), ("S2",), ())
TINY_GAN = GanConfig(epochs=1, batch_size=8, min_steps_per_epoch=1, g_base_channels=8, g_upsamplings=3,
                     g_spectral_channels=2, g_freq_rank=8, d_channels=(8, 8), select_every=0)


class _TouchOnLoad:
    """Unpickling this calls ``Path.touch(marker)``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _craft(path: Path, marker: Path, how: str, **fields) -> Path:
    """A file shaped like ours (``fields``) with the payload as its weights, by torch.save or raw pickle."""
    payload = {**fields, "state_dict": {"weight": _TouchOnLoad(marker)}}
    path.parent.mkdir(parents=True, exist_ok=True)
    if how == "torch":
        torch.save(payload, path)
    else:
        with path.open("wb") as f:
            pickle.dump(payload, f)
    try:  # the control: an unsafe load runs the payload
        torch.load(path, weights_only=False)
    except Exception:  # noqa: BLE001 - a raw pickle is not a torch file; the payload ran before that was found
        pass
    assert marker.is_file(), "the crafted file should run its payload when loaded unsafely"
    marker.unlink()
    return path


def _assert_refused(exc: BaseException | str, path: Path, marker: Path) -> None:
    message = str(exc).strip()
    assert not marker.exists(), "code from the file ran"
    assert "\n" not in message and str(path) in message and "refused, a crafted or foreign file?" in message, message


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return write_tiny_store(tmp_path_factory.mktemp("code-in-files") / "store")


HOW = pytest.mark.parametrize("how", ["torch", "pickle"])


@HOW
def test_model_file(tmp_path, store, how, capsys):
    marker = tmp_path / "marker"
    model = _craft(tmp_path / "model.pt", marker, how, format=FORMAT, version=1)
    with pytest.raises(IsatSleepNetError) as info:
        load_model_file(model)
    _assert_refused(info.value, model, marker)
    # and through the CLI: one line on stderr, exit status 2
    assert main(["evaluate", "--model", str(model), "--data", str(store.root), "--out", str(tmp_path / "e"),
                 "--quiet"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    _assert_refused(err.split("error: ", 1)[1], model, marker)


@HOW
def test_gan_generator(tmp_path, how):
    marker = tmp_path / "marker"
    path = _craft(tmp_path / "gan" / GENERATOR_FILE, marker, how, n_samples=500, channel="EEG", stage="N1")
    with pytest.raises(IsatSleepNetError) as info:
        GeneratorBundle.load(tmp_path / "gan")
    _assert_refused(info.value, path, marker)


@HOW
def test_gan_resume_checkpoint(tmp_path, how):
    marker = tmp_path / "marker"
    path = _craft(tmp_path / "gan" / CHECKPOINT, marker, how, epoch=1, fingerprint="x")
    data = np.random.default_rng(0).standard_normal((8, 500)).astype(np.float32)
    with pytest.raises(IsatSleepNetError) as info:
        train_gan(data, 50.0, tmp_path / "gan", TINY_GAN, progress=False)
    _assert_refused(info.value, path, marker)
    assert "start again" in str(info.value)


@HOW
def test_lightning_last_checkpoint_on_resume(tmp_path, store, how, capsys):
    marker = tmp_path / "marker"
    out = tmp_path / "run"
    path = _craft(out / "checkpoints" / "last.ckpt", marker, how, epoch=0)
    config = tmp_path / "train.json"
    config.write_text(json.dumps({"train": asdict(tiny_config(max_epochs=1))}))
    assert main(["train", "--data", str(store.root), "--out", str(out), "--config", str(config), "--quiet",
                 "--train-subjects", "S0,S1", "--val-subjects", "S2"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "delete it to start again" in err
    _assert_refused(err.split("error: ", 1)[1], path, marker)
    assert not (out / "model.pt").exists()


def test_lightning_loads_the_resume_checkpoint_as_plain_data_too(tmp_path, store, monkeypatch):
    """Defence in depth: with our own check bypassed, Lightning's load (weights_only=True) refuses the file."""
    marker = tmp_path / "marker"
    _craft(tmp_path / "run" / "checkpoints" / "last.ckpt", marker, "torch", epoch=0)
    monkeypatch.setattr(fit, "read_checkpoint", lambda path: {"epoch": 0, "state_dict": {}})
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        train_split(store, FOLD, tmp_path / "run", tiny_config(max_epochs=1), progress=False)
    assert not marker.exists()


class _SwapBest(L.Callback):
    """Replaces best.ckpt with a crafted file once training has ended (a file swapped on a shared disk)."""

    def __init__(self, marker: Path, how: str) -> None:
        self.marker, self.how = marker, how

    def on_train_end(self, trainer, module) -> None:
        best = Path(trainer.default_root_dir) / "checkpoints" / "best.ckpt"
        assert best.is_file()
        _craft(best, self.marker, self.how, epoch=0)


@HOW
def test_lightning_best_checkpoint_read_after_fit(tmp_path, store, how):
    marker = tmp_path / "marker"
    with pytest.raises(IsatSleepNetError) as info:
        train_split(store, FOLD, tmp_path / "run", tiny_config(max_epochs=1), progress=False,
                    callbacks=[_SwapBest(marker, how)])
    _assert_refused(info.value, tmp_path / "run" / "checkpoints" / "best.ckpt", marker)
    assert not (tmp_path / "run" / "model.pt").exists()



# Files of plain data only (nothing to run) that are not what they claim: refused on their content, one line.


def _plain_lightning_checkpoint(path: Path) -> Path:
    """A checkpoint as any Lightning project writes it (plain data, our weights' names), without our checksum."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"epoch": 0, "global_step": 3, "pytorch-lightning_version": L.__version__,
                "state_dict": {"model.head.weight": torch.zeros(5, 16)}, "loops": {}, "callbacks": {}}, path)
    return path


def test_a_plain_foreign_lightning_checkpoint_is_not_resumed(tmp_path, store, capsys):
    out = tmp_path / "run"
    path = _plain_lightning_checkpoint(out / "checkpoints" / "last.ckpt")
    config = tmp_path / "train.json"
    config.write_text(json.dumps({"train": asdict(tiny_config(max_epochs=1))}))
    assert main(["train", "--data", str(store.root), "--out", str(out), "--config", str(config), "--quiet",
                 "--train-subjects", "S0,S1", "--val-subjects", "S2"]) == 2
    assert capsys.readouterr().err == (
        f"isatsleepnet train: error: {path}: a training checkpoint without the checksum of its weights (written by "
        f"an older isatsleepnet, or altered): not used; delete {path.parent} to start again\n")
    assert not (out / "model.pt").exists()


class _PlainBest(L.Callback):
    """Replaces best.ckpt with a plain foreign checkpoint once training has ended."""

    def on_train_end(self, trainer, module) -> None:
        _plain_lightning_checkpoint(Path(trainer.default_root_dir) / "checkpoints" / "best.ckpt")


def test_a_plain_foreign_best_checkpoint_never_becomes_the_model_file(tmp_path, store):
    with pytest.raises(IsatSleepNetError) as info:
        train_split(store, FOLD, tmp_path / "run", tiny_config(max_epochs=1), progress=False, callbacks=[_PlainBest()])
    best = tmp_path / "run" / "checkpoints" / "best.ckpt"
    assert str(info.value).startswith(f"{best}: a training checkpoint without the checksum of its weights")
    assert not (tmp_path / "run" / "model.pt").exists()


def test_a_plain_gan_checkpoint_shaped_like_ours_with_wrong_types(tmp_path):
    """The fingerprint matches (the file was made for this run), the rest is not what training reads."""
    from isatsleepnet.gan.train import run_fingerprint

    data = np.random.default_rng(0).standard_normal((8, 500)).astype(np.float32)
    path = tmp_path / "gan" / CHECKPOINT
    path.parent.mkdir(parents=True)
    torch.save({"fingerprint": run_fingerprint(TINY_GAN, data, 50.0), "epoch": 1, "step": 1, "rows": "abc",
                "generator": {}, "discriminator": {}, "opt_g": {}, "opt_d": {}, "sched_g": {}, "sched_d": {}}, path)
    with pytest.raises(IsatSleepNetError) as info:
        train_gan(data, 50.0, tmp_path / "gan", TINY_GAN, progress=False)
    assert str(info.value) == (f"{path}: corrupt checkpoint: generator is not a set of named weights; "
                               "use overwrite= (or delete it) to start again")


def _live_object_array(marker: Path) -> np.ndarray:
    return np.array([_TouchOnLoad(marker)], dtype=object)


def _assert_live(path: Path, marker: Path, key: str | None = None) -> None:
    """The control: loading with allow_pickle=True runs the payload."""
    loaded = np.load(path, allow_pickle=True)
    if key is not None:
        loaded[key]
    assert marker.is_file(), "the crafted array should run its payload when unpickled"
    marker.unlink()


def test_saved_predictions(tmp_path):
    from isatsleepnet.evaluation.predictions import RecordingPrediction

    marker = tmp_path / "marker"
    path = tmp_path / "SC4001.npz"
    np.savez(path, recording="SC4001", subject="SC400", y_true=np.zeros(2), onsets=np.zeros(2),
             probabilities=_live_object_array(marker))
    _assert_live(path, marker, "probabilities")
    with pytest.raises(IsatSleepNetError) as info:
        RecordingPrediction.load(path)
    message = str(info.value)
    assert not marker.exists()
    assert "\n" not in message and message.startswith(f"{path}: not a readable prediction file (Object arrays")


def test_prepared_store_arrays(tmp_path):
    """The store's .npy files are read without pickle; a refused file is one line naming it."""
    marker = tmp_path / "marker"
    data = write_tiny_store(tmp_path / "store", subjects=1, n_epochs=5)
    rec = data["S0-night1"]
    np.save(rec.path / "labels.npy", _live_object_array(marker))
    _assert_live(rec.path / "labels.npy", marker)
    with pytest.raises(IsatSleepNetError) as refused:
        type(rec)(rec.path).labels
    assert str(refused.value) == f"{rec.path / 'labels.npy'}: not a readable stored array (it holds Python objects)"
    assert not marker.exists()
