"""Benchmark: the training loader, epochs/s and peak memory from the prepared store.

Not a test. Measures the loader that ``training/fit.py`` ``train_split`` builds:
``torch.utils.data.DataLoader`` over ``EpochDataset`` (every night of the cohort),
batch size 16, ``EpochSampler`` (a permutation across all recordings, one per
pass), ``drop_last``, persistent workers when there are workers. Nothing is done
with the batches: this is the rate at which the loader delivers them.

For each synthetic cohort (``--nights``, each of ``--hours``; made with the
project's generator and ``prepare`` as tests/conftest.py does, cached in
``--work`` so that reruns skip it; generation is not timed) and each worker
count, a fresh process makes one loader and runs ``--repeats`` full passes
(one training epoch each, pass r in the sampler's order of epoch r). It reports

* epochs/s: the median over the passes of delivered epochs / pass time (the first
  pass includes starting the workers), and the ratio to the 0-worker loader of
  the same cohort in the same command;
* CPU time (user + system) of the main process and its workers per delivered
  epoch, median pass: what a pass costs, less sensitive than epochs/s to other
  jobs sharing the cores;
* peak memory of the main process plus its workers, from /proc/<pid>/status:
  ``RSS`` is the sum of every process's VmHWM read after the last pass (an upper
  bound: a page shared by several processes is counted in each), ``anon`` the
  peak of the summed RssAnon sampled every 50 ms (memory the processes own: what
  would grow if epochs were loaded rather than streamed), ``file`` the peak of the
  summed RssFile (pages of the memory-mapped store and the libraries; page cache,
  which the kernel can drop), and ``PSS`` the largest summed proportional set
  size (smaps_rollup, read after each pass; shared pages split between the
  processes that map them: the tree's real footprint).

    python benchmarks/bench_loader.py --work ~/.cache/isatsleepnet-bench-loader \\
        --nights 20 20 200 --hours 8 2 2 --workers 0 2 4 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Self

BATCH_SIZE = 16  # TrainConfig's default, what train_split uses
SAMPLE_SECONDS = 0.05


# ---------------------------------------------------------------- cohorts


def cohort(work: Path, nights: int, hours: float, seed: int) -> Path:
    """The prepared store of a synthetic cohort of ``nights`` nights (2 per subject), made once in ``work``."""
    if nights < 2 or nights % 2:
        raise SystemExit(f"--nights {nights}: an even number of at least 2 (the sleep-edf layout has 2 nights a subject)")
    folder = work / f"synthetic-{nights}n-{hours:g}h-seed{seed}"
    done = folder / "complete.json"
    if done.is_file():
        return folder / "prepared"
    from isatsleepnet.data.prepare import prepare_dataset
    from isatsleepnet.data.prepare_config import PrepareConfig
    from isatsleepnet.data.synthetic import SynthConfig, synthesize

    shutil.rmtree(folder, ignore_errors=True)
    t0 = time.perf_counter()
    print(f"making the cohort {folder.name} (once; not timed) ...", file=sys.stderr, flush=True)
    synthesize(folder / "raw", SynthConfig(layout="sleep-edf", subjects=nights // 2, nights=2, hours=hours, seed=seed),
               progress=False)
    results = prepare_dataset(folder / "raw", folder / "prepared",
                              PrepareConfig(dataset="sleep-edf", sampling_rate=100.0), progress=False)
    bad = [r for r in results if r.status != "prepared"]
    if bad or len(results) != nights:
        raise SystemExit(f"preparing {folder.name} failed: {[r.error for r in bad]}")
    shutil.rmtree(folder / "raw")  # the loader reads the prepared store only
    seconds = time.perf_counter() - t0
    done.write_text(json.dumps({"nights": nights, "hours": hours, "seed": seed, "seconds": seconds}) + "\n")
    print(f"  made in {seconds:.0f} s", file=sys.stderr, flush=True)
    return folder / "prepared"


# ---------------------------------------------------------------- memory of a process tree


def _status(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM, RssAnon, RssFile (kB) of ``pid``; empty once it has exited."""
    fields = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                    fields[key] = int(value.split()[0])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return {}
    return fields


def _pss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` (all its threads); 0 once it has exited."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def tree_cpu() -> dict[int, float]:
    return {p: _cpu_seconds(p) for p in _tree(os.getpid())}


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (the DataLoader's workers are its children)."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return found


class TreeMemory:
    """Samples the summed RssAnon, RssFile and PSS of this process and its children in a thread."""

    def __init__(self) -> None:
        self.peak = {"anon": 0, "file": 0, "pss": 0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self, pss: bool = False) -> None:
        """Cheap /proc/<pid>/status reads; ``pss`` also reads smaps_rollup, which walks every mapping
        (milliseconds per GiB mapped, so only between passes: mapped store pages only accumulate in a pass)."""
        pids = _tree(os.getpid())
        stats = [_status(p) for p in pids]
        now = {"anon": sum(s.get("RssAnon", 0) for s in stats), "file": sum(s.get("RssFile", 0) for s in stats)}
        if pss:
            now["pss"] = sum(_pss(p) for p in pids)
        for key, value in now.items():
            self.peak[key] = max(self.peak[key], value)

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            self.sample()

    def __enter__(self) -> Self:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample(pss=True)

    @staticmethod
    def hwm_sum() -> tuple[int, int]:
        """(sum of VmHWM of the tree, number of processes), read now."""
        pids = _tree(os.getpid())
        return sum(_status(p).get("VmHWM", 0) for p in pids), len(pids)


# ---------------------------------------------------------------- one measurement (fresh process)


def child(prepared: Path, workers: int, repeats: int, seed: int, context: int) -> dict:
    import torch
    from torch.utils.data import DataLoader

    from isatsleepnet.data.store import PreparedDataset
    from isatsleepnet.training.data import EpochDataset
    from isatsleepnet.training.reproducible import EpochSampler

    data = PreparedDataset(prepared)
    recordings = list(data)
    if context:
        return context_child(recordings, repeats, seed, context)
    dataset = EpochDataset(recordings)
    sampler = EpochSampler(len(dataset), seed)
    loader = DataLoader(dataset, batch_size=BATCH_SIZE, sampler=sampler, num_workers=workers,
                        drop_last=len(dataset) > BATCH_SIZE, persistent_workers=workers > 0,
                        generator=torch.Generator().manual_seed(seed))
    rss_before = _status(os.getpid())["VmRSS"]
    seconds, cpu, delivered = [], [], 0
    with TreeMemory() as memory:
        for r in range(repeats):
            sampler.set_epoch(r)
            delivered = 0
            cpu0 = tree_cpu()
            t0 = time.perf_counter()
            for x, y in loader:
                delivered += len(y)
            seconds.append(time.perf_counter() - t0)
            cpu1 = tree_cpu()  # workers started in this pass count from 0
            cpu.append(sum(c - cpu0.get(p, 0.0) for p, c in cpu1.items()))
            memory.sample(pss=True)
        hwm, processes = TreeMemory.hwm_sum()  # before the persistent workers exit
    del loader
    first = recordings[0].epochs
    return {"seconds": seconds, "cpu_seconds": cpu, "delivered": delivered, "epochs": len(dataset), "nights": len(recordings),
            "store_mib": sum(r.epochs.nbytes for r in recordings) / 2**20, "epoch_shape": list(first.shape[1:]),
            "rss_before_kib": rss_before, "hwm_sum_kib": hwm, "processes": processes, **{
                f"peak_{k}_kib": v for k, v in memory.peak.items()}}


def context_child(recordings: list, repeats: int, seed: int, context: int) -> dict:
    """Phase 2 of a context model: windows of the frozen encoder's per-epoch outputs (1 KB an epoch).

    The outputs are random numbers of the right shape (5 logits + a 256-d embedding per recorded
    epoch) in memory-mapped .npy files, as ``training/context.py`` caches them; the windows and
    batches are made by its own functions, over the store's real epoch numbers and labels.
    """
    import numpy as np
    import torch

    from isatsleepnet.training.context import Features, _batch, training_windows

    folder = Path(tempfile.mkdtemp(prefix="bench-loader-features-"))
    rng = np.random.default_rng(seed)
    features = []
    for rec in recordings:
        positions = np.flatnonzero(rec.real)
        path = folder / f"{rec.name}.npy"
        np.save(path, rng.standard_normal((len(positions), 5 + 256)).astype(np.float32))
        features.append(Features(rec.name, np.load(path, mmap_mode="r"),
                                 np.round(rec.onsets[positions] / 30.0).astype(np.int64), rec.labels[positions]))
    windows = training_windows(features, context)
    rss_before = _status(os.getpid())["VmRSS"]
    seconds, cpu, delivered = [], [], 0
    with TreeMemory() as memory:
        for r in range(repeats):
            order = torch.randperm(len(windows), generator=torch.Generator().manual_seed(seed + r)).numpy()
            delivered = 0
            cpu0 = tree_cpu()
            t0 = time.perf_counter()
            for i in range(0, len(order), BATCH_SIZE):
                _, _, y = _batch(features, windows[order[i:i + BATCH_SIZE]], context, 5)
                delivered += int((y >= 0).sum())
            seconds.append(time.perf_counter() - t0)
            cpu.append(sum(c - cpu0.get(p, 0.0) for p, c in tree_cpu().items()))
            memory.sample(pss=True)
        hwm, processes = TreeMemory.hwm_sum()
    return {"seconds": seconds, "cpu_seconds": cpu, "delivered": delivered, "epochs": int(sum(len(f.labels) for f in features)),
            "windows": int(len(windows)), "nights": len(recordings),
            "store_mib": sum(f.outputs.nbytes for f in features) / 2**20, "epoch_shape": [5 + 256],
            "rss_before_kib": rss_before, "hwm_sum_kib": hwm, "processes": processes, **{
                f"peak_{k}_kib": v for k, v in memory.peak.items()}}


def measure(prepared: Path, workers: int, repeats: int, seed: int, context: int) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", str(prepared), str(workers), str(repeats), str(seed),
                           str(context)], capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"measuring {prepared} with {workers} workers failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- machine


def machine() -> str:
    try:
        info = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        model = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("Model name")), "?")
    except OSError:
        model = "?"
    try:
        with open("/proc/meminfo") as f:
            total = int(f.readline().split()[1]) / 2**20
    except OSError:
        total = float("nan")
    return f"{model}, {os.cpu_count()} cores, {total:.0f} GiB"


def load_average() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


# ---------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nights", type=int, nargs="+", default=[20, 20, 200],
                        help="cohort sizes in nights (even numbers; 2 nights a subject)")
    parser.add_argument("--hours", type=float, nargs="+", default=[8.0, 2.0, 2.0],
                        help="hours per night: one value for every cohort, or one per --nights")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2, 4], help="worker counts (0 is the baseline)")
    parser.add_argument("--repeats", type=int, default=3, help="full passes per loader (median reported)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, help="folder caching the prepared cohorts (default: a temporary one)")
    parser.add_argument("--context", type=int, default=0,
                        help="also measure phase 2 of a context model: windows of N consecutive epochs' encoder "
                             "outputs (main process only, as training/context.py reads them)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if len(args.hours) not in (1, len(args.nights)):
        parser.error("--hours takes one value, or one per --nights")
    hours = args.hours * len(args.nights) if len(args.hours) == 1 else args.hours
    workers = sorted(set(args.workers))
    if 0 not in workers:
        workers = [0, *workers]  # the baseline of the ratios

    start_load = load_average()
    tmp = None if args.work else tempfile.TemporaryDirectory(prefix="bench-loader-")
    work = args.work or Path(tmp.name)
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    try:
        cohorts = [(n, h, cohort(work, n, h, args.seed)) for n, h in zip(args.nights, hours)]
        measure_load = load_average()
        t0 = time.perf_counter()
        for nights, h, prepared in cohorts:
            for w in workers:
                print(f"  {nights} nights x {h:g} h, {w} workers ...", file=sys.stderr, flush=True)
                rows.append({"nights": nights, "hours": h, "workers": w, "context": 0,
                             **measure(prepared, w, args.repeats, args.seed, 0)})
            if args.context:
                print(f"  {nights} nights x {h:g} h, context windows of {args.context} ...", file=sys.stderr, flush=True)
                rows.append({"nights": nights, "hours": h, "workers": 0, "context": args.context,
                             **measure(prepared, 0, args.repeats, args.seed, args.context)})
        measured = time.perf_counter() - t0
    finally:
        if tmp is not None:
            tmp.cleanup()
    end_load = load_average()

    import torch

    print("training loader: DataLoader(EpochDataset, batch 16, EpochSampler shuffled across nights), "
          f"median of {args.repeats} full passes, each loader in a fresh process")
    print(f"machine: {machine()}; torch {torch.__version__}")
    print(f"load average (1/5/15 min): {start_load} at start, {measure_load} before measuring, {end_load} at end "
          f"({measured:.0f} s measuring)")
    print("CPU us/ep: CPU time (user + system) of main process + workers per delivered epoch, median pass")
    print("memory: peak over the passes of main process + workers, MiB; RSS = sum of VmHWM, "
          "anon = summed RssAnon, file = summed RssFile (memory map, page cache), PSS = summed Pss")
    head = (f"{'nights':>6s} {'h/night':>7s} {'epochs':>7s} {'store MiB':>9s} {'workers':>7s} {'pass s':>7s} "
            f"{'epochs/s':>9s} {'vs 0':>6s} {'CPU us/ep':>9s} {'RSS':>6s} {'anon':>6s} {'file':>6s} {'PSS':>6s}")
    print(head)
    base = {}
    for row in rows:
        rate = row["delivered"] / statistics.median(row["seconds"])
        row["epochs_per_s"] = rate
        if row["workers"] == 0 and not row["context"]:
            base[row["nights"], row["hours"]] = rate
        ratio = rate / base[row["nights"], row["hours"]]
        cpu_us = statistics.median(row["cpu_seconds"]) / row["delivered"] * 1e6
        row["cpu_us_per_epoch"] = cpu_us
        mib = {k: row[f"{k}_kib"] / 1024 for k in ("hwm_sum", "peak_anon", "peak_file", "peak_pss")}
        loader = f"ctx {row['context']}" if row["context"] else str(row["workers"])
        print(f"{row['nights']:6d} {row['hours']:7g} {row['epochs']:7d} {row['store_mib']:9.0f} {loader:>7s} "
              f"{statistics.median(row['seconds']):7.2f} {rate:9.0f} {ratio:5.2f}x {cpu_us:9.0f} {mib['hwm_sum']:6.0f} "
              f"{mib['peak_anon']:6.0f} {mib['peak_file']:6.0f} {mib['peak_pss']:6.0f}")
    print("(first-pass times, which include starting the workers: "
          + "; ".join(f"{r['nights']}x{r['hours']:g}h/{r['workers']}w{'/ctx' if r['context'] else ''} "
                      f"{r['seconds'][0]:.2f} s" for r in rows) + ")")
    print("context windows: " + ("not measured (--context 0)" if not args.context else
                                 f"'ctx {args.context}' rows: phase 2 of a context model, windows of {args.context} "
                                 "epochs of the frozen encoder's outputs (store MiB: those outputs), main process; "
                                 "epochs/s counts the epochs inside the windows, 'vs 0' is against the raw-epoch loader"))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    if len(sys.argv) == 7 and sys.argv[1] == "--child":
        _, _, folder, n_workers, n_repeats, seed_, context_ = sys.argv
        print(json.dumps(child(Path(folder), int(n_workers), int(n_repeats), int(seed_), int(context_))))
    else:
        main()
