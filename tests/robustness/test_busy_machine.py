"""A busy machine: threads follow the cores a process may use, idle threads yield, a busy start is said once."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from isatsleepnet import cores
from isatsleepnet.cli.main import main
from isatsleepnet.engine import Engine

HAS_TASKSET = shutil.which("taskset") is not None and hasattr(os, "sched_getaffinity")


def _python(code: str, *, env: dict[str, str] | None = None, prefix: tuple[str, ...] = ()) -> str:
    clean = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME",
                                                             "OMP_NUM_THREADS")}
    done = subprocess.run([*prefix, sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**clean, **(env or {})})
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


# ---------------------------------------------------------------- idle threads sleep
def test_import_sets_a_short_openmp_spin_before_torch_loads():
    out = _python("import os, isatsleepnet, torch; print(os.environ.get('GOMP_SPINCOUNT'), "
                  "os.environ.get('KMP_BLOCKTIME'), os.environ.get('OMP_WAIT_POLICY'))")
    assert out == f"{cores.WAIT_SETTINGS['GOMP_SPINCOUNT']} {cores.WAIT_SETTINGS['KMP_BLOCKTIME']} None"


@pytest.mark.parametrize("name, value, expected", [("OMP_WAIT_POLICY", "ACTIVE", "None None"),
                                                   ("GOMP_SPINCOUNT", "5", "5 None"), ("KMP_BLOCKTIME", "0", "None 0")])
def test_a_users_own_wait_policy_is_left_alone(name, value, expected):
    out = _python("import os, isatsleepnet; print(os.environ.get('GOMP_SPINCOUNT'), os.environ.get('KMP_BLOCKTIME'))",
                  env={name: value})
    assert out == expected


def test_torch_loaded_first_is_not_changed_behind_its_back():
    out = _python("import os, torch, isatsleepnet; print(os.environ.get('GOMP_SPINCOUNT'))")
    assert out == "None"  # too late to matter: the runtime read its settings when torch loaded


# ---------------------------------------------------------------- the cores this process may use
@pytest.mark.skipif(not HAS_TASKSET, reason="needs taskset and CPU affinity (Linux)")
def test_default_threads_follow_cpu_affinity():
    code = ("import isatsleepnet, torch; from isatsleepnet.engine import Engine; from isatsleepnet.cores import "
            "usable_cores; Engine().apply(); print(usable_cores(), torch.get_num_threads())")
    assert _python(code, prefix=("taskset", "-c", "0")) == "1 1"


def test_default_threads_are_the_usable_cores(monkeypatch):  # (the suite's conftest makes it 1 elsewhere)
    monkeypatch.setattr("isatsleepnet.engine.default_threads", cores.default_threads)  # conftest makes it 1
    monkeypatch.setattr(cores, "usable_cores", lambda: 3)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert Engine().cpu_threads() == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "2")  # a batch scheduler's or the user's own setting wins
    assert Engine().cpu_threads() == 2
    monkeypatch.setenv("OMP_NUM_THREADS", "bogus")
    assert Engine().cpu_threads() == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "8")  # never more threads than cores to run them
    assert Engine().cpu_threads() == 3
    assert Engine(threads=1).cpu_threads() == 1


def _cgroup(tmp_path: Path, proc_line: str, files: dict[str, str]) -> tuple[Path, Path]:
    root = tmp_path / "cgroup"
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    proc = tmp_path / "proc-cgroup"
    proc.write_text(proc_line)
    return root, proc


def test_cgroup_v2_quota_is_read_from_the_group_and_its_parents(tmp_path):
    root, proc = _cgroup(tmp_path, "0::/jobs/fold1\n", {"jobs/fold1/cpu.max": "max 100000\n",
                                                          "jobs/cpu.max": "250000 100000\n", "cpu.max": "max 100000"})
    assert cores.cgroup_cpu_limit(root, proc) == pytest.approx(2.5)


def test_cgroup_v1_quota(tmp_path):
    root, proc = _cgroup(tmp_path, "4:cpu,cpuacct:/docker/abc\n",
                         {"cpu,cpuacct/docker/abc/cpu.cfs_quota_us": "150000", "cpu,cpuacct/docker/abc/cpu.cfs_period_us": "100000"})
    assert cores.cgroup_cpu_limit(root, proc) == pytest.approx(1.5)


def test_no_quota_unlimited_or_unreadable(tmp_path):
    root, proc = _cgroup(tmp_path, "0::/\n", {"cpu.max": "max 100000"})
    assert cores.cgroup_cpu_limit(root, proc) is None
    root, proc = _cgroup(tmp_path, "4:cpu,cpuacct:/x\n", {"cpu,cpuacct/x/cpu.cfs_quota_us": "-1",
                                                           "cpu,cpuacct/x/cpu.cfs_period_us": "100000"})
    assert cores.cgroup_cpu_limit(root, proc) is None
    assert cores.cgroup_cpu_limit(tmp_path / "none", tmp_path / "no-such-file") is None


def test_a_quota_caps_the_usable_cores(monkeypatch):
    monkeypatch.setattr(cores, "cgroup_cpu_limit", lambda: 1.5)
    assert cores.usable_cores() == min(2, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                                       else os.cpu_count())
    monkeypatch.setattr(cores, "cgroup_cpu_limit", lambda: 0.2)
    assert cores.usable_cores() == 1


def test_the_per_core_inference_split_follows_the_thread_count(monkeypatch):
    import torch

    from isatsleepnet.model import parallel

    threads = torch.get_num_threads()
    seen: list[int] = []
    try:
        Engine(threads=1).apply()
        parallel.run_on_cores([lambda: seen.append(torch.get_num_threads())] * 2)
        assert seen == [1, 1]  # one thread: the tasks run one after the other in the caller
    finally:
        torch.set_num_threads(threads)


def test_onnx_runtime_threads_follow_the_usable_cores(monkeypatch, tmp_path):
    pytest.importorskip("onnxruntime")
    from isatsleepnet.inference import onnx_backend

    captured = {}

    class FakeSession:
        def __init__(self, data, options, providers):  # noqa: ANN001
            captured["threads"] = options.intra_op_num_threads
            captured["spinning"] = options.get_session_config_entry("session.intra_op.allow_spinning")

    monkeypatch.setattr(onnx_backend, "default_threads", lambda: 3)
    monkeypatch.setattr(onnx_backend, "checked_metadata", lambda proto, path: {})
    monkeypatch.setattr("onnxruntime.InferenceSession", FakeSession)
    onnx = pytest.importorskip("onnx")
    path = tmp_path / "m.onnx"
    path.write_bytes(onnx.helper.make_model(onnx.helper.make_graph([], "g", [], [])).SerializeToString())
    runner = onnx_backend.OnnxRunner(path)
    # one thread per run, one run per usable core (a slice of the batch each), spinning off
    assert captured == {"threads": 1, "spinning": "0"} and runner.workers == 3


# ---------------------------------------------------------------- a busy start is said once
@pytest.fixture
def real_busy_check(monkeypatch):
    monkeypatch.setattr("isatsleepnet.cli.main.busy_machine", cores.busy_machine)  # conftest silences it
    monkeypatch.setattr("isatsleepnet.cli.main.default_threads", lambda: 2)


def test_a_command_started_on_a_busy_machine_says_so_once_with_the_flag(real_busy_check, monkeypatch, tmp_path,
                                                                         capsys):
    monkeypatch.setattr(os, "getloadavg", lambda: (5.2, 3.0, 2.0))
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    rc = main(["stage", str(tmp_path / "missing.edf"), "--model", str(tmp_path / "missing.pt"),
               "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 2
    notes = [line for line in err.splitlines() if "busy" in line]
    assert notes == ["isatsleepnet stage: note: this machine is busy (load 5.2 on 2 cores); if this run is slow, "
                     "give it fewer threads with --threads 1"]


def test_no_note_when_idle_or_when_the_user_chose_threads(real_busy_check, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(os, "getloadavg", lambda: (0.3, 0.3, 0.3))
    main(["stage", str(tmp_path / "missing.edf"), "--model", str(tmp_path / "m.pt"), "--out", str(tmp_path / "o")])
    monkeypatch.setattr(os, "getloadavg", lambda: (5.2, 3.0, 2.0))
    main(["stage", str(tmp_path / "missing.edf"), "--model", str(tmp_path / "m.pt"), "--out", str(tmp_path / "o"),
          "--threads", "1"])
    main(["synth", "--out", str(tmp_path / "s"), "--n-subjects", "0"])  # runs no model: no note
    assert "busy" not in capsys.readouterr().err


def test_no_note_where_no_model_will_run(real_busy_check, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(os, "getloadavg", lambda: (5.2, 3.0, 2.0))
    main(["review", str(tmp_path / "night.hypnogram.csv"), "--no-browser"])  # the staging as it is: --threads refused
    # the staging install with a .pt model or a training command: its one line names the extra, no note before it
    monkeypatch.setattr("isatsleepnet.cli.main.training_installed", lambda: False)
    main(["stage", str(tmp_path / "missing.edf"), "--model", str(tmp_path / "m.pt"), "--out", str(tmp_path / "o")])
    main(["train", "--data", str(tmp_path / "p"), "--out", str(tmp_path / "r")])
    assert "busy" not in capsys.readouterr().err
    main(["stage", str(tmp_path / "missing.edf"), "--model", str(tmp_path / "m.onnx"), "--out", str(tmp_path / "o")])
    assert "busy" in capsys.readouterr().err  # an ONNX model runs there


def test_no_note_when_the_run_already_takes_one_thread(real_busy_check, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr("isatsleepnet.cli.main.default_threads", lambda: 1)  # taskset -c 0, OMP_NUM_THREADS=1
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(os, "getloadavg", lambda: (5.2, 3.0, 2.0))
    main(["stage", str(tmp_path / "missing.edf"), "--model", str(tmp_path / "m.pt"), "--out", str(tmp_path / "o")])
    assert "busy" not in capsys.readouterr().err  # --threads 1 would change nothing


def test_suggested_threads_leave_room_for_the_other_work():
    assert cores.BusyMachine(5.2, 2, 2).suggested_threads() == 1
    assert cores.BusyMachine(20.0, 16, 16).suggested_threads() == 7  # 16 of 36 runnable threads on 16 cores
    assert cores.BusyMachine(64.5, 64, 4).suggested_threads() == 3  # never all of them
    assert cores.BusyMachine(3.0, 2, 1).suggested_threads() == 1
