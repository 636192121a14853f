"""How many CPU cores this process may use, and threads that yield them when idle.

Why: on a shared machine (a laptop running other work, a cluster node where
several folds run side by side) every process that takes all of the machine's
cores, with OpenMP threads that spin while they wait, stalls the others: on
this project's 2-core machine two trainings side by side together ran at 0.17
of one alone (see :func:`yield_idle_threads`). Three rules keep throughput
graceful:

* the default thread count is the number of cores this process may use: its
  CPU affinity (``taskset``, a batch scheduler's cpuset) and its container's
  CPU quota (cgroup v2 ``cpu.max``, v1 ``cpu.cfs_quota_us``), not the
  machine's core count (``OMP_NUM_THREADS``, when set, wins);
* OpenMP threads spin only briefly before they sleep (:func:`yield_idle_threads`,
  which must run before torch is first imported: ``import isatsleepnet`` and
  the command line call it);
* a command started on a machine that is already busy says so once
  (:func:`busy_machine`).

Only the standard library is used here, so the check costs nothing at import.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path

WAIT_SETTINGS: dict[str, str] = {
    # GNU OpenMP (torch's Linux wheels): spin about 300 pause loops (a few µs) before sleeping.
    # Default: 300,000 (milliseconds of spinning), which starves a competing process's threads.
    "GOMP_SPINCOUNT": "300",
    # LLVM/Intel OpenMP (macOS and conda builds): sleep after 1 ms instead of 200 ms.
    "KMP_BLOCKTIME": "1",
}
"""Environment set when the user chose no OpenMP wait policy (see :func:`yield_idle_threads`)."""

_USER_POLICY = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")


def yield_idle_threads() -> bool:
    """Make idle OpenMP threads sleep after a short spin, unless the user chose a policy.

    Measured on a 2-core Zen 3, idle, 2026-12-05 (paper-size model, training
    steps of 32 epochs, ``benchmarks/bench_load.py --repeats 2 --seconds 10``):
    the OpenMP default (long spin) 24.1 epochs/s alone but 2.0 each beside one
    equal process; ``OMP_WAIT_POLICY=PASSIVE`` 16.9 alone, 14.0 each; this
    300-loop spin 23.7 alone, 13.9 each. The short spin keeps the speed alone
    and shares the machine as well as passive waiting.

    Takes effect only before torch (and its OpenMP runtime) is loaded; returns
    whether it did. A user's own ``OMP_WAIT_POLICY``, ``GOMP_SPINCOUNT`` or
    ``KMP_BLOCKTIME`` is left alone.
    """
    if "torch" in sys.modules or any(name in os.environ for name in _USER_POLICY):
        return False
    os.environ.update(WAIT_SETTINGS)
    return True


def default_threads() -> int:
    """The thread count of an engine without ``threads``: the usable cores, or ``OMP_NUM_THREADS`` when fewer.

    ``OMP_NUM_THREADS`` is how batch schedulers (SLURM, PBS) and users already say it;
    it is honoured, but never above the cores this process may use (``OMP_NUM_THREADS=8``
    under ``taskset -c 0`` would put 8 spinning threads on one core).

    Examples
    --------
    >>> default_threads() >= 1
    True
    """
    value = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    cores = usable_cores()
    if value.isdigit() and int(value) >= 1:
        return min(int(value), cores)
    return cores


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity, capped by a cgroup CPU quota.

    Examples
    --------
    >>> 1 <= usable_cores() <= (os.cpu_count() or 1)
    True
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # macOS, Windows
        cores = os.cpu_count() or 1
    quota = cgroup_cpu_limit()
    if quota is not None:
        cores = min(cores, max(1, math.ceil(quota - 1e-9)))
    return max(1, cores)


def cgroup_cpu_limit(root: Path = Path("/sys/fs/cgroup"), proc_cgroup: Path = Path("/proc/self/cgroup")) -> float | None:
    """The CPU quota of this process's cgroup in cores (None: no limit, or not Linux).

    cgroup v2: ``cpu.max`` ("QUOTA PERIOD" or "max PERIOD") of this process's
    group and each parent, the smallest; cgroup v1: ``cpu.cfs_quota_us`` /
    ``cpu.cfs_period_us`` of the cpu controller's group.
    """
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return None
    limits: list[float] = []
    for line in lines:
        _, controllers, group = (line.split(":", 2) + ["", ""])[:3]
        group = group.strip().lstrip("/")
        if controllers == "":  # cgroup v2 unified hierarchy
            for folder in _self_and_parents(root, group):
                limits += _v2_limit(folder / "cpu.max")
        elif "cpu" in controllers.split(","):
            for mount in (root / controllers, root / "cpu", root / "cpu,cpuacct"):
                for folder in _self_and_parents(mount, group):
                    limits += _v1_limit(folder)
                if limits:
                    break
    return min(limits) if limits else None


def _self_and_parents(mount: Path, group: str) -> list[Path]:
    parts = [p for p in group.split("/") if p and p != ".."]
    return [mount.joinpath(*parts[:i]) for i in range(len(parts), -1, -1)]


def _v2_limit(path: Path) -> list[float]:
    try:
        quota, period = path.read_text().split()[:2]
        return [] if quota == "max" else [int(quota) / int(period)]
    except (OSError, ValueError, ZeroDivisionError):
        return []


def _v1_limit(folder: Path) -> list[float]:
    try:
        quota = int((folder / "cpu.cfs_quota_us").read_text())
        period = int((folder / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return []
    return [quota / period] if quota > 0 and period > 0 else []


@dataclass(frozen=True)
class BusyMachine:
    """The machine's load when a command started, against the cores it has."""

    load: float  # 1-minute load average (runnable processes, all of the machine)
    machine_cores: int
    usable_cores: int

    def suggested_threads(self) -> int:
        """This process's fair share of the machine: its threads among the runnable ones, fewer than it may use."""
        share = self.machine_cores * self.usable_cores / (self.load + self.usable_cores)
        return max(1, min(self.usable_cores - 1, int(share)))


def busy_machine() -> BusyMachine | None:
    """The load, when the machine's load average already exceeds its cores (None otherwise).

    Examples
    --------
    >>> busy = busy_machine()
    >>> busy is None or busy.load > busy.machine_cores
    True
    """
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # Windows
        return None
    machine = os.cpu_count() or 1
    if load <= machine:
        return None
    return BusyMachine(round(load, 1), machine, usable_cores())
