"""Faults: unexpected errors, killed workers and parents, two runs on one folder, kill -9 and rerun, a full disk.

Slow work comes from sparse 24-h EDF files (no disk cost); runs that must be
killed are started as real processes (`python -m isatsleepnet.cli.main`).
A training killed with SIGKILL and resumed is tested in tests/training/test_resume.py.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

import isatsleepnet.data.prepare as prepare_module
from isatsleepnet.data.store import PreparedDataset
from isatsleepnet.locking import LOCK_FILE, folder_lock
from tests.conftest import prepare_synthetic
from tests.edf_bytes import write_sparse_edf
from tests.inference import trained_model, write_night
from tests.robustness import CHANNELS, assert_no_debris, assert_one_error, error_lines, night, prepare_args, run_cli
from tests.training.tiny_store import write_tiny_store

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg", "PYTHONUNBUFFERED": "1"}
SINGLE = ["--eeg", "EEG Fpz-Cz", "--eeg2", "none", "--eog", "none"]


def _spawn(argv: list) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "isatsleepnet.cli.main", *map(str, argv)], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError("timed out")
        time.sleep(0.05)


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _slow_nights(folder: Path, n: int, *, rate: int = 1024, hours: int = 24,
                 labels: tuple[str, ...] = ("EEG Fpz-Cz",)) -> list[Path]:
    """``n`` sparse nights at ``rate`` Hz with a few impulses, each with a CSV hypnogram: seconds of work each."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        impulses = [rate * (3600 * h + 7 * i + 1) for h in range(0, hours, 3)]
        path = write_sparse_edf(folder / f"night{i}.edf", rate, 1, 3600 * hours, impulses, labels=labels)
        (folder / f"night{i}.csv").write_text("stage\n" + "\n".join(["W", "N2", "N3", "REM"] * 30 * hours) + "\n")
        paths.append(path)
    return paths


def _mount_tmpfs(folder: Path, options: str) -> None:
    if sys.platform != "linux" or shutil.which("mount") is None:
        pytest.skip("needs Linux mount")
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip()[:80]})")


def _umount(folder: Path) -> None:
    subprocess.run(["umount", "-l", str(folder)], capture_output=True)


# --------------------------------------------------------------------------- prepare
def test_any_failure_of_one_recording_is_its_one_line_and_the_others_are_prepared(write_edf, tmp_path, capsys,
                                                                                    monkeypatch):
    raw = tmp_path / "raw"
    for name in ("a", "b", "c", "d"):
        night(write_edf, raw, name)
    original = prepare_module.read_recording

    def faulty(source, config):  # noqa: ANN001, ANN202
        if source.recording == "b":
            raise RuntimeError("an unexpected bug\nwith a second line")
        if source.recording == "c":
            raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "out" / "c"))
        return original(source, config)

    monkeypatch.setattr(prepare_module, "read_recording", faulty)
    code, out, err = run_cli(prepare_args(raw, tmp_path / "out"), capsys)  # --jobs 1: in this process
    assert code == 1
    assert_one_error(err, "b.edf:", r"^error: b\.edf: unexpected RuntimeError: an unexpected bug with a second line "
                                    r"\(--debug shows the traceback\)$")
    assert_one_error(err, "c.edf:", r"^error: c\.edf: No space left on device \(.*out/c\)$")
    assert "2 new, 0 skipped, 2 failed" in out
    assert sorted(PreparedDataset(tmp_path / "out").names) == ["a", "d"]
    assert_no_debris(tmp_path / "out")


def test_a_worker_killed_fails_its_recording_only(write_edf, tmp_path, capsys, monkeypatch):
    raw = tmp_path / "raw"
    for name in ("a", "b", "c", "d"):
        night(write_edf, raw, name)
    original = prepare_module._prepare

    def killer(source, config, out, overwrite):  # noqa: ANN001, ANN202 - runs in the forked worker
        if source.recording == "b":
            os.kill(os.getpid(), signal.SIGKILL)
        return original(source, config, out, overwrite)

    monkeypatch.setattr(prepare_module, "_prepare", killer)
    code, out, err = run_cli(prepare_args(raw, tmp_path / "out", "--jobs", "2"), capsys)
    assert code == 1
    assert_one_error(err, "b.edf:", r"its worker process died \(killed, or out of memory\)")
    assert len(error_lines(err)) == 1
    assert sorted(PreparedDataset(tmp_path / "out").names) == ["a", "c", "d"]
    assert_no_debris(tmp_path / "out")


def test_an_out_that_is_a_file_or_read_only_is_one_line_before_any_work(write_edf, tmp_path, capsys):
    raw = tmp_path / "raw"
    night(write_edf, raw, "a")
    a_file = tmp_path / "file"
    a_file.write_text("x")
    code, out, err = run_cli(prepare_args(raw, a_file), capsys)
    assert code == 2 and err.strip().splitlines() == [f"isatsleepnet prepare: error: {a_file}: the output folder is a "
                                                      "file, not a folder"]
    read_only = tmp_path / "ro"
    _mount_tmpfs(read_only, "ro,size=1m")
    try:
        code, out, err = run_cli(prepare_args(raw, read_only / "out"), capsys)
        assert code == 2
        assert err.strip().splitlines() == [f"isatsleepnet prepare: error: {read_only / 'out'}: cannot create the "
                                            "output folder (Read-only file system)"]
        code, out, err = run_cli(prepare_args(raw, read_only), capsys)
        assert code == 2
        assert err.strip().splitlines() == [f"isatsleepnet prepare: error: {read_only}: the output folder is not writable"]
    finally:
        _umount(read_only)


def test_workers_end_when_their_parent_is_killed(tmp_path):
    raw = tmp_path / "raw"
    _slow_nights(raw, 6)
    parent = _spawn(["prepare", "--dataset", "edf", "--data-dir", raw, "--out", tmp_path / "out", *SINGLE,
                     "--jobs", "2", "--quiet"])
    try:
        _wait_for(lambda: len(_children(parent.pid)) >= 2)
        workers = _children(parent.pid)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(10)
        _wait_for(lambda: not any(_alive(w) for w in workers), timeout=10)
    finally:
        if parent.poll() is None:
            parent.kill()


def test_a_second_prepare_refuses_and_a_killed_one_resumes_to_the_same_store(tmp_path, capsys):
    raw = tmp_path / "raw"
    _slow_nights(raw, 3, rate=512)
    out = tmp_path / "out"
    argv = ["prepare", "--dataset", "edf", "--data-dir", raw, "--out", out, *SINGLE, "--quiet"]
    first = _spawn(argv)
    try:
        _wait_for(lambda: (out / LOCK_FILE).is_file() and (out / "recordings").is_dir())
        code, _, err = run_cli(argv, capsys)
        assert code == 2
        assert err.strip().splitlines() == [
            f"isatsleepnet prepare: error: {out}: in use by `isatsleepnet prepare` (pid {first.pid} on "
            f"{os.uname().nodename}, since {json.loads((out / LOCK_FILE).read_text())['since']}); wait for it to "
            "finish, or write to another folder"]
        _wait_for(lambda: any((out / "recordings").glob(".tmp-*")) or any((out / "recordings").iterdir()))
        os.kill(first.pid, signal.SIGKILL)  # in the middle of the run
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    code, stdout, err = run_cli(argv, capsys)  # the lock died with its process: the rerun goes ahead
    assert code == 0, err
    code, _, err = run_cli([*argv[:6], tmp_path / "reference", *argv[7:]], capsys)
    assert code == 0, err
    resumed, reference = PreparedDataset(out), PreparedDataset(tmp_path / "reference")
    assert resumed.names == reference.names == ["night0", "night1", "night2"]
    for name in reference.names:
        np.testing.assert_array_equal(resumed[name].epochs, reference[name].epochs)
        np.testing.assert_array_equal(resumed[name].labels, reference[name].labels)
    assert_no_debris(out)


# --------------------------------------------------------------------------- every command: one folder, one run
def test_every_command_refuses_a_folder_another_run_holds(write_edf, tmp_path, tmp_path_factory, capsys):
    model, _ = trained_model(tmp_path_factory.getbasetemp())
    store = write_tiny_store(tmp_path / "store").root
    raw = tmp_path / "raw"
    night(write_edf, raw, "a")
    psg = write_night(write_edf, tmp_path / "n.edf", 2)
    busy = tmp_path / "busy"
    commands = {
        "prepare": (prepare_args(raw, busy), busy),
        "train": (["train", "--data", store, "--out", busy, "--val-subjects", "S2", "--quiet"], busy),
        "cv": (["cv", "--data", store, "--out", busy, "--protocol", "kfold", "--folds", "3", "--quiet"],
               busy / "fold_00"),
        "train-gan": (["train-gan", "--data", store, "--out", busy, "--channel", "EEG Fpz-Cz", "--quiet"], busy),
        "augment": (["augment", "--data", store, "--out", busy, "--mode", "transforms", "--quiet"], busy),
        "evaluate": (["evaluate", "--model", model, "--data", store, "--out", busy, "--quiet"], busy),
        "stage": (["stage", psg, "--model", model, "--out", busy, "--quiet"], busy),
        "demo": (["demo", "--out", busy, "--quiet"], busy),
    }
    for command, (argv, held) in commands.items():
        held.mkdir(parents=True, exist_ok=True)
        with folder_lock(held, "other"):
            code, _, err = run_cli(argv, capsys)
        assert code == 2, (command, err)
        assert err.strip().splitlines()[-1].startswith(
            f"isatsleepnet {command}: error: {held}: in use by `isatsleepnet other` (pid {os.getpid()}"), err
        shutil.rmtree(busy)


# --------------------------------------------------------------------------- stage
def test_stage_terminated_leaves_no_lock_nor_temporary_file(tmp_path, tmp_path_factory):
    """Before: SIGTERM (kill, timeout, a scheduler) ended Python at once, leaving OUT/.isatsleepnet.lock and the
    recording's temporary folder; now it unwinds as Ctrl+C does (exit 143, one line)."""
    model, _ = trained_model(tmp_path_factory.getbasetemp())
    raw = tmp_path / "raw"
    _slow_nights(raw, 2, rate=100, hours=4, labels=CHANNELS)
    out = tmp_path / "out"
    run = _spawn(["stage", raw, "--model", model, "--out", out, "--threads", "1", "--no-plots", "--quiet"])
    try:
        _wait_for(lambda: (out / LOCK_FILE).exists(), timeout=120)
        time.sleep(1.0)  # into the staging
        run.send_signal(signal.SIGTERM)
        _, err = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 143, err
    assert err.strip().splitlines()[-1] == "isatsleepnet stage: terminated; run the same command again to continue"
    assert_no_debris(out)


def test_stage_killed_and_rerun_ends_with_the_outputs_of_a_clean_run(tmp_path, tmp_path_factory, capsys):
    model, _ = trained_model(tmp_path_factory.getbasetemp())
    raw = tmp_path / "raw"
    _slow_nights(raw, 2, rate=100, hours=4, labels=CHANNELS)
    for csv in raw.glob("*.csv"):
        csv.unlink()
    out = tmp_path / "out"
    argv = ["stage", raw, "--model", model, "--out", out, "--threads", "1", "--no-plots", "--quiet"]
    first = _spawn(argv)
    try:
        _wait_for(lambda: any(out.glob(".tmp-*")) or any(out.glob("*.csv")), timeout=120)
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    code, _, err = run_cli(argv, capsys)
    assert code == 0, err
    code, _, err = run_cli([*argv[:5], tmp_path / "clean", *argv[6:]], capsys)
    assert code == 0, err
    names = sorted(p.name for p in (tmp_path / "clean").iterdir())
    assert sorted(p.name for p in out.iterdir()) == names
    for name in names:
        if name.endswith((".csv", ".tsv")):
            assert (out / name).read_text() == (tmp_path / "clean" / name).read_text(), name
    assert_no_debris(out)


def test_stage_into_another_models_folder_is_refused(write_edf, tmp_path, tmp_path_factory, capsys):
    model, _ = trained_model(tmp_path_factory.getbasetemp())
    psg = write_night(write_edf, tmp_path / "n.edf", 2)
    out = tmp_path / "out"
    code, _, err = run_cli(["stage", psg, "--model", model, "--out", out, "--no-plots", "--quiet"], capsys)
    assert code == 0, err
    from isatsleepnet.model.file import load_model_file

    other = load_model_file(model)
    other.state_dict = {k: v + 1e-3 if v.is_floating_point() else v for k, v in other.state_dict.items()}
    other.save(tmp_path / "other.pt")
    code, _, err = run_cli(["stage", psg, "--model", tmp_path / "other.pt", "--out", out, "--no-plots", "--quiet"],
                           capsys)
    assert code == 2
    assert err.strip().splitlines() == [f"isatsleepnet stage: error: {out} holds the stagings of another model "
                                        f"({out / 'model.sha1'}); stage into another --out, or delete the folder"]
    (out / "model.sha1").unlink()  # stagings without their marker: whose they are is unknown
    code, _, err = run_cli(["stage", psg, "--model", model, "--out", out, "--no-plots", "--quiet"], capsys)
    assert code == 2 and err.strip().endswith("holds stagings of an unknown model (no model.sha1); stage into "
                                              "another --out, or delete the folder")
    empty = tmp_path / "empty"  # a run that stages nothing claims nothing
    code, _, err = run_cli(["stage", tmp_path / "none.edf", "--model", model, "--out", empty, "--quiet"], capsys)
    assert code == 1 and not (empty / "model.sha1").exists()


# --------------------------------------------------------------------------- train
def test_train_killed_and_rerun_gives_the_model_of_an_uninterrupted_run(tmp_path, capsys):
    """The command-line view of tests/training/test_resume.py: kill -9 during epoch 3, run the same command."""
    from isatsleepnet.model.file import load_model_file
    from tests.training.conftest import TINY_MODEL

    store = write_tiny_store(tmp_path / "store").root
    config = tmp_path / "train.json"
    config.write_text(json.dumps({"train": {"model": TINY_MODEL, "batch_size": 16, "accumulate_grad_batches": 1,
                                            "learning_rate": 2e-3}}))

    def argv(out: Path) -> list:
        return ["train", "--data", store, "--out", out, "--train-subjects", "S0,S1", "--val-subjects", "S2",
                "--config", config, "--epochs", "6", "--threads", "1", "--quiet"]

    killed = tmp_path / "killed"
    checkpoint = killed / "checkpoints" / "last.ckpt"
    first = _spawn(argv(killed))
    try:
        def past_epoch_two() -> bool:
            try:  # the file may be half-written when looked at
                return checkpoint.is_file() and torch.load(checkpoint, weights_only=True)["epoch"] >= 2
            except Exception:  # noqa: BLE001
                return False

        _wait_for(past_epoch_two, timeout=120)
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    assert not (killed / "model.pt").exists()
    code, _, err = run_cli(argv(killed), capsys)
    assert code == 0, err
    code, _, err = run_cli(argv(tmp_path / "clean"), capsys)
    assert code == 0, err
    a, b = load_model_file(killed / "model.pt"), load_model_file(tmp_path / "clean" / "model.pt")
    assert a.training["selected_epoch"] == b.training["selected_epoch"]
    assert all(torch.equal(a.state_dict[k], b.state_dict[k]) for k in b.state_dict)
    assert_no_debris(killed)


# --------------------------------------------------------------------------- train-gan
TINY_GAN = {"gan": {"g_base_channels": 16, "g_upsamplings": 4, "g_spectral_channels": 2, "g_freq_rank": 8,
                    "d_channels": [8, 16, 16], "min_steps_per_epoch": 3, "batch_size": 16}}


@pytest.fixture(scope="module")
def gan_data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("gan-faults")
    prepare_synthetic(root, subjects=2, hours=1.5, seed=4, sampling_rate=50.0)
    (root / "gan.json").write_text(json.dumps(TINY_GAN))
    return root


def test_train_gan_killed_and_rerun_gives_the_generator_of_an_uninterrupted_run(gan_data, tmp_path, capsys):
    def argv(out: Path) -> list:
        return ["train-gan", "--data", gan_data / "prepared", "--out", out, "--channel", "EEG Fpz-Cz", "--epochs", "8",
                "--checkpoint-every", "2", "--config", gan_data / "gan.json", "--device", "cpu", "--threads", "1",
                "--quiet"]

    killed = tmp_path / "killed"
    checkpoint = killed / "eeg-fpz-cz_N1" / "checkpoints" / "last.pt"
    first = _spawn(argv(killed))
    try:
        _wait_for(lambda: checkpoint.is_file(), timeout=120)
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    assert not (killed / "eeg-fpz-cz_N1" / "done.json").exists()
    code, _, err = run_cli(argv(killed), capsys)
    assert code == 0, err
    code, _, err = run_cli(argv(tmp_path / "clean"), capsys)
    assert code == 0, err
    a = torch.load(killed / "eeg-fpz-cz_N1" / "generator.pt", weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "clean" / "eeg-fpz-cz_N1" / "generator.pt", weights_only=True)["state_dict"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert_no_debris(killed)


# --------------------------------------------------------------------------- a full disk
def test_a_full_disk_fails_the_recordings_that_do_not_fit_in_one_line_each(write_edf, tmp_path, tmp_path_factory,
                                                                            capsys):
    raw = tmp_path / "raw"
    for name in ("a", "b", "c"):
        night(write_edf, raw, name, n_epochs=20)  # 20 x 3 x 3000 float32 = 720 kB each
    full = tmp_path / "full"
    _mount_tmpfs(full, "size=1200k")
    try:
        code, out, err = run_cli(prepare_args(raw, full), capsys)
        assert code == 1
        failed = [line for line in error_lines(err) if "No space left on device" in line]
        assert failed and len(failed) == len(error_lines(err)) and "Traceback" not in err
        assert "1 new, 0 skipped, 2 failed" in out
        assert PreparedDataset(full).names == ["a"]
        assert_no_debris(full)
        model, _ = trained_model(tmp_path_factory.getbasetemp())
        shutil.rmtree(full / "recordings")
        (full / "filler").write_bytes(b"\0" * (1200 * 1024 - 40 * 1024))
        code, out, err = run_cli(["stage", raw / "a.edf", "--model", model, "--out", full / "staged", "--quiet"], capsys)
        assert code in (1, 2) and "Traceback" not in err
        assert "No space left on device" in err and len(error_lines(err)) == 1
        assert_no_debris(full)
    finally:
        _umount(full)
