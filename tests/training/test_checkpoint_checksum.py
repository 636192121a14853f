"""Lightning checkpoints carry a sha256 of their content: a damaged last.ckpt never resumes a run, a damaged
best.ckpt never becomes model.pt (which would get a valid checksum of its own and pass every later check)."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path

import pytest
import torch

from isatsleepnet.cli.main import main
from isatsleepnet.training.module import CHECKPOINT_HASH_KEY, checkpoint_sha256
from tests.training.conftest import tiny_config
from tests.training.tiny_store import write_tiny_store

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _train(store: Path, out: Path, config: Path) -> int:
    return main(["train", "--data", str(store), "--out", str(out), "--config", str(config), "--quiet",
                 "--train-subjects", "S0,S1", "--val-subjects", "S2"])


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path, Path]:
    """(store, config file, a finished run folder) of one epoch, trained once through the CLI."""
    root = tmp_path_factory.mktemp("checksum")
    store = write_tiny_store(root / "store").root
    config = root / "train.json"
    config.write_text(json.dumps({"train": asdict(tiny_config(max_epochs=1))}))
    assert _train(store, root / "run", config) == 0
    return store, config, root / "run"


def _unfinished_copy(run: Path, tmp_path: Path) -> Path:
    """A copy of the run folder without its model.pt: starting it again reads its checkpoints."""
    out = tmp_path / "run"
    shutil.copytree(run, out)
    (out / "model.pt").unlink()
    return out


def _flip_exponents(path: Path) -> str:
    """Flip the top exponent bit of 16 weights below 1 in magnitude, in the file's bytes: the zip stays
    readable and the values finite, near 1e37. Returns the weight's name."""
    state = torch.load(path, weights_only=True)["state_dict"]
    name = max((k for k, v in state.items() if v.dtype == torch.float32), key=lambda k: state[k].numel())
    values = state[name].reshape(-1)
    raw = bytearray(path.read_bytes())
    at = raw.find(values.numpy().tobytes())
    assert at > 0
    chosen = [i for i in range(len(values)) if 0 < abs(float(values[i])) < 1][:16]
    for i in chosen:
        raw[at + 4 * i + 3] ^= 0x40  # the high byte of a little-endian float32: sign and exponent
    path.write_bytes(bytes(raw))
    flipped = torch.load(path, weights_only=True)["state_dict"][name].reshape(-1)[chosen]
    assert bool(torch.isfinite(flipped).all()) and float(flipped.abs().min()) > 1e30
    return name


def test_every_checkpoint_carries_the_checksum_of_its_content(trained):
    _, _, run = trained
    for name in ("last.ckpt", "best.ckpt"):
        checkpoint = torch.load(run / "checkpoints" / name, weights_only=True)
        assert checkpoint[CHECKPOINT_HASH_KEY] == checkpoint_sha256(checkpoint)
        # the optimiser state is covered too, not only the weights
        moment = next(iter(checkpoint["optimizer_states"][0]["state"].values()))["exp_avg"]
        moment.view(-1)[0] += 1.0
        assert checkpoint[CHECKPOINT_HASH_KEY] != checkpoint_sha256(checkpoint)


@pytest.mark.parametrize("name", ["best.ckpt", "last.ckpt"])
def test_a_damaged_checkpoint_is_refused_and_never_becomes_the_model_file(trained, tmp_path, capsys, name):
    """last.ckpt is read when the run is started again, best.ckpt when its model.pt is written."""
    store, config, run = trained
    out = _unfinished_copy(run, tmp_path)
    _flip_exponents(out / "checkpoints" / name)
    capsys.readouterr()
    assert _train(store, out, config) == 2
    err = capsys.readouterr().err
    assert err == (f"isatsleepnet train: error: {out / 'checkpoints' / name}: corrupt training checkpoint: its "
                   f"weights do not match their checksum; delete {out / 'checkpoints'} to start again\n")
    assert not (out / "model.pt").exists()


def test_a_checkpoint_without_the_checksum_is_refused(trained, tmp_path, capsys):
    """Written before checksums existed, or stripped: it cannot be verified, so it is not used (see read_checkpoint)."""
    store, config, run = trained
    out = _unfinished_copy(run, tmp_path)
    last = out / "checkpoints" / "last.ckpt"
    checkpoint = torch.load(last, weights_only=True)
    del checkpoint[CHECKPOINT_HASH_KEY]
    torch.save(checkpoint, last)
    capsys.readouterr()
    assert _train(store, out, config) == 2
    assert capsys.readouterr().err == (
        f"isatsleepnet train: error: {last}: a training checkpoint without the checksum of its weights (written by "
        f"an older isatsleepnet, or altered): not used; delete {out / 'checkpoints'} to start again\n")
    assert not (out / "model.pt").exists()


def test_an_intact_copy_finishes_with_the_same_model(trained, tmp_path, capsys):
    """The control: the same copy, undamaged, writes model.pt again, with the same weights."""
    from isatsleepnet.model.file import load_model_file

    store, config, run = trained
    out = _unfinished_copy(run, tmp_path)
    assert _train(store, out, config) == 0
    assert load_model_file(out / "model.pt").weights_sha1() == load_model_file(run / "model.pt").weights_sha1()
