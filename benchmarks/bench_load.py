"""Benchmark: training and staging throughput alone and beside equal processes (a busy machine).

Not a test. For each kind of work and each number k of processes (default 1, 2, 3),
k identical worker processes start together, each with the project's default
settings (``import isatsleepnet`` first, no ``--threads``), warm up, wait for one
common start signal and then work for ``--seconds``; each reports its epochs per
second. Reported per k: the total over the k processes, the mean per process, and
**together / alone**: the total of k divided by the throughput of one process
alone in the same command (goal: at least 0.8, each process then getting about
1/k of a lone one's speed).

Kinds:
  train  one training step of the network per batch of 32 epochs (forward, the
         paper's hybrid loss, backward, Adam), as `train` and `cv` run it, without
         the data loader;
  stage  `Predictor.probabilities` of a model file (the path `stage` uses: fused
         graph, batches of 64, the per-core batch split) on 30-s epochs in µV.
The model has random weights (speed does not depend on them), `--model-size`
paper (default) or small.

Policies (``--policies``), the OpenMP wait settings in force when torch loads:
  default        the project's (:func:`isatsleepnet.cores.yield_idle_threads`: a
                 300-loop spin, then sleep)
  openmp         the OpenMP runtime's own default (GNU: a long spin, 300,000 loops),
                 which the project used before 2026-12-04
  passive        OMP_WAIT_POLICY=PASSIVE (sleep at once)
  threads1       the project's default with ``--threads 1``
Rounds alternate between policies and k so that other load hits all alike;
figures are medians over ``--repeats``. Run it on an idle machine; the load
average before the run is printed.

    python benchmarks/bench_load.py --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KINDS = ("train", "stage")
POLICIES: dict[str, dict[str, str]] = {
    "default": {},
    "openmp": {"GOMP_SPINCOUNT": "300000", "KMP_BLOCKTIME": "200"},
    "passive": {"OMP_WAIT_POLICY": "PASSIVE"},
    "threads1": {},
}
_POLICY_VARS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")

WORKER = r"""
import json, sys, time
import isatsleepnet  # first, as the command line does: the project's thread policy applies
kind, size, seconds, model, threads = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4], sys.argv[5]
threads = int(threads) if threads != "0" else None
import numpy as np
import torch
from isatsleepnet.engine import Engine
if kind == "stage":
    from isatsleepnet.inference.predictor import load_predictor
    predictor = load_predictor(model, device="cpu", threads=threads)
    epochs = np.random.default_rng(0).normal(0, 30, (256, 3, 3000)).astype(np.float32)
    def step():
        predictor.probabilities(epochs)
        return len(epochs)
else:
    from isatsleepnet.model import ISATSleepNet, ModelConfig, model_size_options
    from isatsleepnet.training.loss import HybridLoss
    Engine(device="cpu", threads=threads).apply()
    torch.manual_seed(0)
    net = ISATSleepNet(ModelConfig(**model_size_options(size))).train()
    optimiser = torch.optim.Adam(net.parameters(), 1e-3)
    loss_fn = HybridLoss(0.5, torch.ones(5))
    x, y = torch.randn(32, net.config.n_channels, net.config.n_samples), torch.arange(32) % 5
    def step():
        optimiser.zero_grad()
        loss_fn(net(x), y).backward()
        optimiser.step()
        return len(x)
step()
print("ready", flush=True)
sys.stdin.readline()
n, start = 0, time.perf_counter()
while time.perf_counter() - start < seconds:
    n += step()
print(json.dumps({"epochs_per_s": n / (time.perf_counter() - start), "threads": torch.get_num_threads()}), flush=True)
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    p.add_argument("--processes", nargs="+", type=int, default=[1, 2, 3], help="numbers k of equal processes")
    p.add_argument("--policies", nargs="+", choices=tuple(POLICIES), default=["default", "openmp"])
    p.add_argument("--model-size", choices=("paper", "small"), default="paper")
    p.add_argument("--seconds", type=float, default=20.0, help="timed work per process and round")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--work", type=Path, help="folder for the model file (default: a temporary one)")
    p.add_argument("--json", type=Path, help="also write the results here")
    args = p.parse_args(argv)
    if 1 not in args.processes:
        args.processes = [1, *args.processes]
    return args


def make_model(folder: Path, size: str) -> Path:
    """A model file of the given size with random weights, as `stage` reads it."""
    import torch

    from isatsleepnet.model import ISATSleepNet, ModelConfig, model_size_options
    from isatsleepnet.model.file import ModelFile

    torch.manual_seed(0)
    config = ModelConfig(**model_size_options(size))
    model = ISATSleepNet(config)
    with torch.no_grad():  # BatchNorm statistics of realistic magnitude
        model.train()
        model(torch.randn(16, config.n_channels, config.n_samples))
    model.eval()
    path = folder / f"model-{size}.pt"
    ModelFile(model_config=config.to_dict(), state_dict=model.state_dict(),
              channels=["EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal"], roles=list(config.roles),
              sampling_rate=config.sampling_rate, epoch_seconds=30.0, normalize="epoch-zscore",
              training={"data": "none: random untrained weights for timing"}).save(path)
    return path


def run_round(kind: str, policy: str, k: int, args: argparse.Namespace, model: Path) -> list[dict]:
    """k workers started together; their results once all have finished."""
    env = {name: value for name, value in os.environ.items() if name not in _POLICY_VARS}
    env.update(POLICIES[policy])
    threads = "1" if policy == "threads1" else "0"
    cmd = [sys.executable, "-c", WORKER, kind, args.model_size, str(args.seconds), str(model), threads]
    procs = [subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
             for _ in range(k)]
    try:
        for proc in procs:
            if proc.stdout.readline().strip() != "ready":
                raise RuntimeError(f"a {kind} worker failed to start (rc {proc.wait()})")
        for proc in procs:  # the start signal, as close together as pipes allow
            proc.stdin.write("go\n")
            proc.stdin.flush()
        results = [json.loads(proc.stdout.readline()) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    return results


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    from isatsleepnet.cores import usable_cores

    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        model = make_model(Path(tmp), args.model_size)
        load = os.getloadavg()[0]
        print(f"cpu: {_cpu_name()}, {os.cpu_count()} cores, {usable_cores()} usable by this process; "
              f"load average before the run {load:.2f}; model size {args.model_size}; "
              f"{args.seconds:g} s per round, medians of {args.repeats}")
        totals: dict[tuple[str, str, int], list[float]] = {}
        threads: dict[tuple[str, str, int], int] = {}
        for repeat in range(args.repeats):
            order = args.processes if repeat % 2 == 0 else list(reversed(args.processes))
            for kind in args.kinds:
                for k in order:
                    for policy in args.policies:
                        results = run_round(kind, policy, k, args, model)
                        totals.setdefault((kind, policy, k), []).append(sum(r["epochs_per_s"] for r in results))
                        print(f"  round {repeat + 1}: {kind} {policy} k={k}: "
                              + " + ".join(f"{r['epochs_per_s']:.1f}" for r in results) + " epochs/s", flush=True)
                        threads[(kind, policy, k)] = results[0]["threads"]
    rows = []
    for (kind, policy, k), values in totals.items():
        total = statistics.median(values)
        alone = statistics.median(totals[(kind, policy, 1)])
        baseline = statistics.median(totals[(kind, args.policies[0], 1)])
        rows.append({"kind": kind, "policy": policy, "processes": k, "threads": threads[(kind, policy, k)],
                     "total_epochs_per_s": total, "per_process": total / k, "together_vs_alone": total / alone,
                     "alone_vs_first_policy": alone / baseline})
    rows.sort(key=lambda r: (KINDS.index(r["kind"]), args.policies.index(r["policy"]), r["processes"]))
    print(f"\n{'kind':<6} {'policy':<9} {'k':>2} {'threads':>7} {'total ep/s':>11} {'per process':>12} "
          f"{'together/alone':>15} {'alone vs ' + args.policies[0]:>18}")
    for r in rows:
        print(f"{r['kind']:<6} {r['policy']:<9} {r['processes']:>2} {r['threads']:>7} {r['total_epochs_per_s']:>11.1f} "
              f"{r['per_process']:>12.1f} {r['together_vs_alone']:>15.2f} {r['alone_vs_first_policy']:>18.2f}")
    if args.json:
        args.json.write_text(json.dumps({"cpu": _cpu_name(), "load_before": load, "rows": rows}, indent=1))


def _cpu_name() -> str:
    """The model name, with family and model numbers (cloud CPUs often say only "AMD EPYC")."""
    try:
        fields = dict(line.split(":", 1) for line in Path("/proc/cpuinfo").read_text().split("\n\n")[0].splitlines()
                      if ":" in line)
    except OSError:
        return "unknown CPU"
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    avx = "AVX-512" if "avx512f" in fields.get("flags", "").split() else "AVX2" if "avx2" in fields.get("flags", "") else ""
    return (f"{fields.get('model name', 'unknown CPU')} (family {fields.get('cpu family', '?')} model "
            f"{fields.get('model', '?')}{', ' + avx if avx else ''})")


if __name__ == "__main__":
    main()
