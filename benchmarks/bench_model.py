"""Benchmark ISATSleepNet on CPU: the eager reference against the fast path.

Eager reference: ``ModelConfig(use_fast_conv=False)`` — plain nn.Conv1d,
nn.Linear, nn.Dropout; inference in eval mode under ``torch.no_grad()``.
Fast path: the same weights in ``use_fast_conv=True`` (FFT convolutions,
oneDNN linears, batched cross-modal projections, cheaper dropout and
max-pool; AdamW with ``fused=True``, the eager one with ``foreach=True``);
inference through ``fuse_for_inference`` (BatchNorm/LCR folded, kernel
spectra cached, ``inference_mode``, one slice of the batch per core). With more than one
thread the inference rows also report the fused model without the batch
split, i.e. with PyTorch's own intra-op threading only.

For each batch size it measures

* inference epochs/s and training epochs/s (forward + backward + AdamW step),
  medians over ``--repeats`` timings after ``--warmup`` runs; eager and fast
  timings alternate so that load from other processes hits both alike, and
  the speed-up is the ratio of the two medians of the same run;
* peak memory: each workload runs in a fresh subprocess; the peak resident
  set size (Linux VmHWM, reset through /proc/self/clear_refs just before the
  workload; ru_maxrss otherwise) minus the resident size at that moment. It
  includes PyTorch's and the allocator's working memory, not only tensors;
* FLOPs per epoch (forward) as executed, op by op
  (``isatsleepnet.model.flops``: FlopCounterMode plus formulas for the
  oneDNN linear and LSTM, CPU attention and FFTs);
* the largest absolute difference between eager and fast logits (eval).

Run ``python benchmarks/bench_model.py --help``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

from isatsleepnet.model import MODEL_SIZES, ISATSleepNet, ModelConfig, model_size_options
from isatsleepnet.model.fastops import onednn_matmul
from isatsleepnet.model.flops import count_flops, eog_residual_share


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 16, 64], metavar="B")
    p.add_argument("--repeats", type=int, default=7, help="timed repeats per measurement (median)")
    p.add_argument("--warmup", type=int, default=2, help="untimed runs before timing")
    p.add_argument("--min-time", type=float, default=0.25,
                   help="each timed repeat loops until it lasts at least this many seconds")
    p.add_argument("--model-size", choices=sorted(MODEL_SIZES), default="paper",
                   help="paper (default) or small (see isatsleepnet.model.MODEL_SIZES)")
    p.add_argument("--n-samples", type=int, default=3000)
    p.add_argument("--sampling-rate", type=float, default=100.0)
    p.add_argument("--roles", nargs="+", default=["eeg", "eeg2", "eog"])
    p.add_argument("--modes", nargs="+", choices=["inference", "training"], default=["inference", "training"])
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    p.add_argument("--json", type=Path, help="also write the results here")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--architectures", nargs="*", metavar="NAME",
                   help="instead: every registered architecture (or those named) side by side at its paper's "
                        "defaults on --roles: parameters, forward GFLOP per epoch, inference and training "
                        "epochs/s at the first --batch-sizes value, and ratios against isatsleepnet")
    p.add_argument("--worker", nargs=3, metavar=("MODE", "IMPL", "BATCH"), help=argparse.SUPPRESS)
    return p.parse_args(argv)


# ----------------------------------------------------------------------------- models
def build_models(args: argparse.Namespace) -> tuple[ISATSleepNet, ISATSleepNet]:
    """The eager reference and the fast model with identical, BN-calibrated weights."""
    torch.manual_seed(args.seed)
    config = ModelConfig(roles=tuple(args.roles), n_samples=args.n_samples, sampling_rate=args.sampling_rate,
                         use_fast_conv=False, **model_size_options(args.model_size))
    eager = ISATSleepNet(config)
    with torch.no_grad():  # give BatchNorm realistic running statistics
        eager.train()
        for _ in range(3):
            eager(make_input(config, 16, seed=args.seed + 1))
    eager.eval()
    fast = eager.with_fast_conv(True).eval()
    return eager, fast


def make_input(config: ModelConfig, batch: int, seed: int = 0) -> torch.Tensor:
    """Random µV-scale epochs (batch, channels, samples)."""
    g = torch.Generator().manual_seed(seed)
    return 30.0 * torch.randn(batch, config.n_channels, config.n_samples, generator=g)


def inference_fn(model: torch.nn.Module, x: torch.Tensor, *, fused: bool) -> Callable[[], None]:
    if fused:
        return lambda: model(x)

    def run() -> None:
        with torch.no_grad():
            model(x)

    return run


def training_fn(model: ISATSleepNet, x: torch.Tensor, *, fast: bool) -> Callable[[], None]:
    """One optimisation step; the fast path uses the fused (single-kernel) AdamW."""
    model.train()
    kwargs = {"fused": True} if fast else {"foreach": True}
    opt = torch.optim.AdamW(model.parameters(), lr=5e-5, weight_decay=1e-5, **kwargs)
    y = torch.arange(x.shape[0]) % model.config.n_classes

    def step() -> None:
        with onednn_matmul(fast):  # as `train`/`cv` run the fast path
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(x), y).backward()
            opt.step()

    return step


def workload(mode: str, impl: str, batch: int, args: argparse.Namespace) -> Callable[[], None]:
    eager, fast = build_models(args)
    x = make_input(eager.config, batch, seed=args.seed + 2)
    if mode == "inference":
        return inference_fn(eager, x, fused=False) if impl == "eager" else inference_fn(fast.fuse_for_inference(), x, fused=True)
    return training_fn(eager, x, fast=False) if impl == "eager" else training_fn(fast, x, fast=True)


# ----------------------------------------------------------------------------- timing
def calibrate(fn: Callable[[], None], warmup: int, min_time: float) -> int:
    """Run the warm-up and return how many calls make one timed repeat."""
    t0 = time.perf_counter()
    for _ in range(max(1, warmup)):
        fn()
    single = (time.perf_counter() - t0) / max(1, warmup)
    return max(1, math.ceil(min_time / max(single, 1e-9)))


def time_all(fns: list[Callable[[], None]], args: argparse.Namespace) -> list[float]:
    """Median seconds per call of each function; repeats rotate the order so load hits all alike."""
    counts = [calibrate(fn, args.warmup, args.min_time) for fn in fns]
    times: list[list[float]] = [[] for _ in fns]
    for r in range(args.repeats):
        for k in range(len(fns)):
            i = (k + r) % len(fns)
            t0 = time.perf_counter()
            for _ in range(counts[i]):
                fns[i]()
            times[i].append((time.perf_counter() - t0) / counts[i])
    return [statistics.median(t) for t in times]


def cpu_busy(seconds: float) -> float:
    """Fraction of all CPUs' time spent busy over ``seconds`` (Linux /proc/stat; 0 elsewhere)."""
    def sample() -> tuple[int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        return sum(fields), idle

    try:
        total0, idle0 = sample()
        time.sleep(seconds)
        total1, idle1 = sample()
    except OSError:
        return 0.0
    return 1.0 - (idle1 - idle0) / max(1, total1 - total0)


# ----------------------------------------------------------------------------- memory
def _rss_kb(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def run_worker(args: argparse.Namespace) -> None:
    """Subprocess: build one workload, reset the peak-RSS mark, run it, print the peak increase (MB)."""
    mode, impl, batch = args.worker[0], args.worker[1], int(args.worker[2])
    torch.set_num_threads(args.threads)
    fn = workload(mode, impl, batch, args)
    reset = False
    try:
        Path("/proc/self/clear_refs").write_text("5")
        reset = True
    except OSError:
        pass
    before = _rss_kb("VmRSS") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for _ in range(3):
        fn()
    after = _rss_kb("VmHWM") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"peak_mb": ((after or 0) - (before or 0)) / 1024, "method": "VmHWM" if reset else "ru_maxrss"}))


def peak_memory(mode: str, impl: str, batch: int, args: argparse.Namespace) -> float | None:
    cmd = [sys.executable, __file__, "--worker", mode, impl, str(batch), "--threads", str(args.threads),
           "--model-size", args.model_size,
           "--n-samples", str(args.n_samples), "--sampling-rate", str(args.sampling_rate),
           "--seed", str(args.seed), "--roles", *args.roles]
    try:
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=1800)
        return float(json.loads(out.stdout.strip().splitlines()[-1])["peak_mb"])
    except (subprocess.SubprocessError, ValueError, KeyError, IndexError) as exc:
        print(f"  (peak memory for {mode}/{impl}/{batch} failed: {exc})", file=sys.stderr)
        return None


# ----------------------------------------------------------------------------- architectures
def architecture_rows(args: argparse.Namespace) -> list[dict]:
    """Each architecture's size, FLOPs and speed, timed in rotation with the others (same load on each).

    A sequence-to-sequence network (TinySleepNet, U-Time) reads windows of L
    epochs: its FLOPs per epoch are a window's divided by L, and "staging ep/s"
    counts the windows `stage` runs: one every quarter window
    (:func:`~isatsleepnet.model.context_plan.staging_stride`), so each staged
    epoch costs 4 / L windows (training reads windows that do not overlap).
    """
    from isatsleepnet.model.architectures import ARCHITECTURES, get_architecture
    from isatsleepnet.model.context_plan import staging_stride

    names = args.architectures or sorted(ARCHITECTURES, key=lambda n: (n != "isatsleepnet", n))
    batch = args.batch_sizes[0]
    built = []
    for name in names:
        arch = get_architecture(name)
        torch.manual_seed(args.seed)
        config = arch.make_config({"roles": tuple(args.roles), "n_samples": args.n_samples,
                                   "sampling_rate": args.sampling_rate}, graph="fast")
        window = arch.window_length(config)
        shape = (batch, *((window,) if window else ()), len(args.roles), args.n_samples)
        x = 30.0 * torch.randn(*shape, generator=torch.Generator().manual_seed(args.seed))
        net = arch.build(config)
        y = torch.arange(x.shape[0] * max(window, 1)) % 5
        opt = torch.optim.AdamW(net.parameters(), lr=1e-4)

        def step(net=net, x=x, y=y, opt=opt) -> None:
            net.train()
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(net(x).reshape(len(y), -1), y).backward()
            opt.step()

        fused = arch.inference_graph(arch.build(config))
        flops = count_flops(fused, x[:1])
        params = sum(p.numel() for p in net.parameters())
        built.append((name, window, params, flops.per_example / max(window, 1), lambda f=fused, x=x: f(x), step))
    with torch.inference_mode():
        infer = time_all([b[4] for b in built], args)
    train = time_all([b[5] for b in built], args)
    rows = []
    for (name, window, params, flop, _, _), ti, tt in zip(built, infer, train):
        epochs = batch * max(window, 1)
        rows.append({"architecture": name, "window": window, "parameters": params, "gflop_per_epoch": flop / 1e9,
                     "inference_epochs_per_s": epochs / ti,
                     "staging_epochs_per_s": batch * (staging_stride(window) if window else 1) / ti,
                     "training_epochs_per_s": epochs / tt})
    base = next((r for r in rows if r["architecture"] == "isatsleepnet"), rows[0])
    for r in rows:
        r["staging_vs_isatsleepnet"] = r["staging_epochs_per_s"] / base["staging_epochs_per_s"]
        r["training_vs_isatsleepnet"] = r["training_epochs_per_s"] / base["training_epochs_per_s"]
    return rows


def print_architectures(rows: list[dict], batch: int) -> None:
    header = (f"{'architecture':<13} {'L':>3} {'parameters':>11} {'GFLOP/ep':>9} {'infer ep/s':>10} "
              f"{'stage ep/s':>10} {'train ep/s':>10} {'stage x':>8} {'train x':>8}")
    print(f"batch {batch} (windows for a sequence network); x: ratio against isatsleepnet in this run")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['architecture']:<13} {r['window'] or 1:>3} {r['parameters']:>11,} {r['gflop_per_epoch']:>9.3f} "
              f"{r['inference_epochs_per_s']:>10.1f} {r['staging_epochs_per_s']:>10.1f} "
              f"{r['training_epochs_per_s']:>10.1f} {r['staging_vs_isatsleepnet']:>7.2f}x "
              f"{r['training_vs_isatsleepnet']:>7.2f}x", flush=True)


# ----------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        run_worker(args)
        return 0
    torch.set_num_threads(args.threads)
    if args.architectures is not None:
        rows = architecture_rows(args)
        print_architectures(rows, args.batch_sizes[0])
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps({"torch": torch.__version__, "threads": args.threads, "rows": rows},
                                            indent=2) + "\n")
        return 0
    busy = cpu_busy(1.0)
    print(f"torch {torch.__version__}, {args.threads} threads, {os.cpu_count()} CPUs "
          f"({platform.processor() or platform.machine()}), CPU busy before start: {100 * busy:.0f} %")
    if busy > 0.1:
        print("warning: other processes use the CPU; timings are noisy, and with 2 threads a busy core "
              "stalls every parallel op (eager/fast alternate, so ratios hold better than absolute numbers)")

    eager, fast = build_models(args)
    fused = fast.fuse_for_inference()
    fused_whole = fast.fuse_for_inference(split_batch=False)
    x = make_input(eager.config, 16, seed=args.seed + 3)
    with torch.no_grad():
        ref = eager(x)
        diff_fused = (ref - fused(x)).abs().max().item()
        diff_fast = (ref - fast(x)).abs().max().item()
    x1 = x[:1]
    flops_eager = count_flops(eager, x1)
    flops_fast = count_flops(fused.network, x1)
    results: dict = {
        "torch": torch.__version__, "threads": args.threads, "cpu_busy_before": busy,
        "parameters": eager.num_parameters(),
        "gflop_per_epoch": {"eager": flops_eager.per_example / 1e9, "fast": flops_fast.per_example / 1e9},
        "eog_residual_share_eager": eog_residual_share(flops_eager),
        "max_abs_logit_diff": {"fused": diff_fused, "fast_unfused": diff_fast},
        "logit_scale": ref.abs().max().item(),
        "rows": [],
    }
    print(f"parameters {results['parameters']:,}; GFLOP/epoch forward: eager {flops_eager.per_example / 1e9:.3f} "
          f"(EOG residual blocks {100 * eog_residual_share(flops_eager):.0f} %), fast {flops_fast.per_example / 1e9:.3f}")
    print(f"max |logit eager - fast+fused| = {diff_fused:.2e}, unfused fast {diff_fast:.2e} "
          f"(logits up to {results['logit_scale']:.2f})")

    header = f"{'batch':>5} {'mode':<9} {'eager ep/s':>11} {'fast ep/s':>10} {'speed-up':>8} {'eager MB':>9} {'fast MB':>8}"
    print(header)
    print("-" * len(header))
    for batch in args.batch_sizes:
        xb = make_input(eager.config, batch, seed=args.seed + 4)
        for mode in args.modes:
            extra = None
            if mode == "inference":
                fns = [inference_fn(eager, xb, fused=False), inference_fn(fused, xb, fused=True),
                       inference_fn(fused_whole, xb, fused=True)]
                ta, tb, *rest = time_all(fns if args.threads > 1 and batch > 1 else fns[:2], args)
                extra = rest[0] if rest else None
            else:
                ta, tb = time_all([training_fn(eager.with_fast_conv(False), xb, fast=False),
                                   training_fn(eager.with_fast_conv(True), xb, fast=True)], args)
            eager.eval()
            mem = (None, None) if args.no_memory else (peak_memory(mode, "eager", batch, args), peak_memory(mode, "fast", batch, args))
            row = {"batch": batch, "mode": mode, "eager_epochs_per_s": batch / ta, "fast_epochs_per_s": batch / tb,
                   "speedup": ta / tb, "eager_peak_mb": mem[0], "fast_peak_mb": mem[1]}
            if extra is not None:
                row["fast_unsplit_epochs_per_s"] = batch / extra
                row["speedup_unsplit"] = ta / extra
            results["rows"].append(row)
            fmt = lambda v: "-" if v is None else f"{v:.0f}"  # noqa: E731
            note = "" if extra is None else f"   (batch not split over cores: {batch / extra:.1f} ep/s, {ta / extra:.2f}x)"
            print(f"{batch:>5} {mode:<9} {batch / ta:>11.1f} {batch / tb:>10.1f} {ta / tb:>7.2f}x "
                  f"{fmt(mem[0]):>9} {fmt(mem[1]):>8}{note}", flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
