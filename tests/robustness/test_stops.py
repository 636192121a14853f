"""Runs that stop: refused by their checks, killed, or interrupted with Ctrl+C, then started again.

A refused run writes nothing that would refuse the corrected command; a rerun after a kill
clears the temporary files of the killed run and ends as an uninterrupted one; Ctrl+C ends
any command with one line that says how to continue, and exit status 130. Commands that
are interrupted run as real processes (`python -m isatsleepnet.cli.main`) in a session of
their own, and get SIGINT as a terminal sends it: to every process of the command.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from isatsleepnet.atomic import TMP_PREFIX
from isatsleepnet.data.store import PreparedDataset, is_complete
from isatsleepnet.locking import LOCK_FILE, clear_stale_temporaries
from isatsleepnet.model.config import ModelConfig
from isatsleepnet.model.context import build_network
from isatsleepnet.model.file import ModelFile, load_model_file
from isatsleepnet.training.fit import read_checkpoint
from tests.edf_bytes import write_sparse_edf
from tests.robustness import assert_no_debris, assert_one_error, run_cli
from tests.review.conftest import ctrl_c_reaches_it
from tests.training.conftest import TINY_MODEL
from tests.training.tiny_store import CHANNELS, write_tiny_store

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg", "PYTHONUNBUFFERED": "1"}
FS = 10.0  # the tiny store's sampling rate


def interrupted(command: str) -> str:
    return f"isatsleepnet {command}: interrupted; run the same command again to continue"


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    return write_tiny_store(tmp_path_factory.mktemp("stops") / "store", subjects=4).root


@pytest.fixture(scope="module")
def settings(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("settings") / "train.json"
    path.write_text(json.dumps({"train": {"model": TINY_MODEL, "batch_size": 16, "accumulate_grad_batches": 1,
                                          "learning_rate": 2e-3}}))
    return path


def untrained_base(path: Path, n_channels: int) -> Path:
    """A model file of the tiny network on the store's first ``n_channels`` channels (fresh weights)."""
    roles = ["eeg", "eeg2", "eog"][:n_channels]
    config = {**TINY_MODEL, "roles": roles, "n_samples": int(30 * FS), "sampling_rate": FS}
    network = build_network(ModelConfig(**config))
    ModelFile(model_config=config, state_dict=network.state_dict(), channels=CHANNELS[:n_channels], roles=roles,
              sampling_rate=FS, epoch_seconds=30.0, normalize="epoch-zscore").save(path)
    return path


def written_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def temporaries(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.name.startswith(TMP_PREFIX))


def _spawn(argv: list) -> subprocess.Popen:
    """The command as a process group of its own, as a shell starts it (Ctrl+C reaches all its processes)."""
    return subprocess.Popen([sys.executable, "-m", "isatsleepnet.cli.main", *map(str, argv)], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=ctrl_c_reaches_it)  # SIGINT as a terminal's, even from a background shell


def _wait_for(condition: Callable[[], bool], process: subprocess.Popen, timeout: float = 120.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            raise AssertionError(f"ended before the condition (rc {process.returncode}): {process.stderr.read()}")
        if time.monotonic() > end:
            raise AssertionError("timed out")
        time.sleep(0.02)


def _ctrl_c(process: subprocess.Popen) -> tuple[int, str]:
    """SIGINT to the command's process group, as Ctrl+C in a terminal; its exit status and stderr."""
    try:
        os.killpg(process.pid, signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
    return process.returncode, err


def assert_interrupted(code: int, err: str, command: str) -> None:
    """Exit status 130, no traceback (of the command or of a worker), the one line last."""
    assert code == 130, err
    assert "Traceback" not in err, err
    assert err.strip().splitlines()[-1] == interrupted(command), err
    assert err.count("interrupted") == 1, err


# --------------------------------------------------------------------------- refused by its checks
def test_a_train_refused_for_its_base_model_writes_nothing_and_the_corrected_command_runs(store, settings,
                                                                                         tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "--data", store, "--out", out, "--train-subjects", "S0,S1", "--val-subjects", "S2",
            "--config", settings, "--epochs", "1", "--max-train-batches", "2", "--threads", "1", "--quiet"]
    wrong = untrained_base(tmp_path / "eeg-only.pt", 2)
    code, _, err = run_cli([*argv, "--init", wrong], capsys)
    assert code == 2
    assert_one_error(err, str(wrong), r"the base model does not fit this run: channel roles eeg, eeg2 \(base\) vs "
                                      r"eeg, eeg2, eog \(this run\)")
    assert written_files(out) == []  # no config.json or engine.json that would refuse the corrected command

    right = untrained_base(tmp_path / "three-channels.pt", 3)
    code, _, err = run_cli([*argv, "--init", right], capsys)
    assert code == 0, err
    assert load_model_file(out / "model.pt").training["parent"]["sha256"] == load_model_file(right).header["sha256"]


def test_a_cv_refused_for_its_base_model_writes_nothing_and_the_corrected_command_runs(store, settings,
                                                                                      tmp_path, capsys):
    run = tmp_path / "cv"
    argv = ["cv", "--data", store, "--out", run, "--protocol", "kfold", "--folds", "2", "--fold", "0",
            "--config", settings, "--epochs", "1", "--max-train-batches", "2", "--threads", "1", "--quiet"]
    wrong = untrained_base(tmp_path / "eeg-only.pt", 2)
    code, _, err = run_cli([*argv, "--init", wrong], capsys)
    assert code == 2
    assert_one_error(err, str(wrong), "the base model does not fit this run: channel roles")
    assert written_files(run) == []  # neither config.json nor folds.json nor engine.json

    code, _, err = run_cli(argv, capsys)  # without --init
    assert code == 0, err
    assert (run / "fold_00" / "DONE").is_file()
    assert json.loads((run / "config.json").read_text())["train"]["init"] is None


# --------------------------------------------------------------------------- killed: the rerun clears its debris
def _plant_debris(folder: Path) -> list[Path]:
    """What a run killed while writing leaves: atomic.py's temporary files and folders (and a user's own files)."""
    planted = [folder / f"{TMP_PREFIX}k3x9q2mz.pt", folder / f"{TMP_PREFIX}config.json.a8c2m1p0"]
    for path in planted:
        path.write_bytes(b"half a file")
    half = folder / f"{TMP_PREFIX}augmented.q9w8e7r6"
    (half / "recordings").mkdir(parents=True)
    (half / "recordings" / "x.npy").write_bytes(b"\0")
    return [*planted, half]


def test_a_rerun_after_a_kill_in_phase_two_clears_the_temporary_files_and_ends_the_same(store, settings, tmp_path,
                                                                                        capsys):
    """`cv --context N` killed while writing a fold's model file after its last context checkpoint."""
    run = tmp_path / "cv"
    argv = ["cv", "--data", store, "--out", run, "--protocol", "kfold", "--folds", "2", "--config", settings,
            "--epochs", "1", "--max-train-batches", "2", "--context", "3", "--context-epochs", "2",
            "--threads", "1", "--quiet"]
    code, _, err = run_cli(argv, capsys)
    assert code == 0, err
    metrics = json.loads((run / "metrics.json").read_text())
    model = run / "fold_00" / "model.pt"
    finished = load_model_file(model)
    model.unlink()  # killed before os.replace: no model file, no DONE, a temporary file beside the model
    (run / "fold_00" / "DONE").unlink()
    user = run / "fold_00" / "notes.tmp"  # not a name atomic.py gives: not ours to delete
    user.write_text("mine")
    _plant_debris(run / "fold_00")
    _plant_debris(run / "fold_00" / "context")
    (run / "fold_00" / "context" / "features" / f"{TMP_PREFIX}r2d2c3po.npy").write_bytes(b"\0")
    _plant_debris(run)  # the run folder's own files (config.json, report) are written under the folds' locks
    assert len(temporaries(run)) == 10

    code, _, err = run_cli(argv, capsys)
    assert code == 0, err
    assert temporaries(run) == [] and user.read_text() == "mine"
    again = load_model_file(model)
    assert again.training["context"]["selected_epoch"] == finished.training["context"]["selected_epoch"]
    assert all(torch.equal(again.state_dict[k], finished.state_dict[k]) for k in finished.state_dict)
    assert json.loads((run / "metrics.json").read_text())["pooled"] == metrics["pooled"]
    assert_no_debris(run)


def test_a_train_rerun_clears_its_temporary_files_but_not_another_command_s_folder(store, settings, tmp_path,
                                                                                   capsys):
    out = tmp_path / "run"
    argv = ["train", "--data", store, "--out", out, "--train-subjects", "S0,S1", "--val-subjects", "S2",
            "--config", settings, "--epochs", "2", "--max-train-batches", "2", "--threads", "1", "--quiet"]
    code, _, err = run_cli(argv, capsys)
    assert code == 0, err
    finished = load_model_file(out / "model.pt")
    (out / "model.pt").unlink()
    _plant_debris(out)
    _plant_debris(out / "checkpoints")
    other = out / "staged"  # another command's output folder inside it: its temporary files are its own
    other.mkdir()
    (other / LOCK_FILE).write_text("{}")
    (other / f"{TMP_PREFIX}k3x9q2mz.csv").write_text("")

    code, _, err = run_cli(argv, capsys)
    assert code == 0, err
    assert temporaries(out) == [other / f"{TMP_PREFIX}k3x9q2mz.csv"]
    again = load_model_file(out / "model.pt")
    assert all(torch.equal(again.state_dict[k], finished.state_dict[k]) for k in finished.state_dict)
    assert clear_stale_temporaries(other) == 1 and temporaries(out) == []


# --------------------------------------------------------------------------- Ctrl+C
def test_ctrl_c_in_train_is_one_line_and_exit_130_and_the_same_command_continues(store, settings, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "--data", store, "--out", out, "--train-subjects", "S0,S1", "--val-subjects", "S2",
            "--config", settings, "--epochs", "4", "--threads", "1", "--quiet"]
    last = out / "checkpoints" / "last.ckpt"
    process = _spawn(argv)
    _wait_for(last.is_file, process)  # training has started: its first epoch is saved
    code, err = _ctrl_c(process)
    assert_interrupted(code, err, "train")
    assert not (out / "model.pt").exists() and not (out / LOCK_FILE).exists()
    stopped_at = read_checkpoint(last)["epoch"]  # a checkpoint to continue from, intact
    assert 0 <= stopped_at < 3

    code, _, err = run_cli(argv, capsys)
    assert code == 0, err
    with (out / "logs" / "metrics.csv").open() as f:
        assert [line.split(",")[0] for line in f][1:] == ["0", "1", "2", "3"]  # each epoch once: continued
    assert_no_debris(out)


def test_ctrl_c_in_prepare_with_worker_processes_is_one_line_without_their_tracebacks(tmp_path, capsys):
    """Two workers: when Ctrl+C comes, one prepares the long night and the other waits for work (an idle
    worker printed a KeyboardInterrupt traceback of its own)."""
    raw = tmp_path / "raw"
    raw.mkdir()
    for name, rate, hours in (("a", 64, 1), ("b", 64, 1), ("c", 1024, 24)):
        write_sparse_edf(raw / f"{name}.edf", rate, 1, 3600 * hours, [rate * 7], labels=("EEG Fpz-Cz",))
        (raw / f"{name}.csv").write_text("stage\n" + "\n".join(["W", "N2", "N3", "REM"] * 30 * hours) + "\n")
    out = tmp_path / "out"
    argv = ["prepare", "--dataset", "edf", "--data-dir", raw, "--out", out, "--eeg", "EEG Fpz-Cz", "--eeg2", "none",
            "--eog", "none", "--jobs", "2", "--quiet"]
    process = _spawn(argv)
    recordings = out / "recordings"
    # a and b are done (seconds before c): one worker is on c, the other waits for work
    _wait_for(lambda: is_complete(recordings / "a") and is_complete(recordings / "b"), process)
    assert not is_complete(recordings / "c")
    code, err = _ctrl_c(process)
    assert_interrupted(code, err, "prepare")
    assert_no_debris(out)  # the workers were ended and what they were writing removed

    code, stdout, err = run_cli(argv, capsys)
    assert code == 0, err
    assert "1 new, 2 skipped, 0 failed" in stdout
    assert PreparedDataset(out).names == ["a", "b", "c"]
