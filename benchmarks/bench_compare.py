"""The paper's comparison, run: every registered architecture on the same folds, then `isatsleepnet compare`.

Two jobs, one script:

* ``--runs`` (default): cross-validate ISATSleepNet on ``--data`` (or reuse the
  run given by ``--reference``), then each other architecture on exactly its
  folds (``isatsleepnet cv --folds-file REF/folds.json --architecture NAME``),
  and write ``OUT/comparison.md`` and ``OUT/comparison.json`` with
  ``isatsleepnet compare`` (pooled and mean ± std rows, paired differences,
  Wilcoxon over folds, bootstrap over test subjects). Runs that exist are
  continued or reused (cv resumes), so a killed benchmark picks up where it
  stopped. ``--cv-arg`` passes a flag to every cv (repeat it), e.g.
  ``--cv-arg=--epochs --cv-arg=4``. Each cv's wall time goes to ``OUT/times.json``.
* ``--fold-time``: how long one training pass over a fold takes, per
  architecture, with its paper's training settings: ``isatsleepnet train`` for
  one and for two passes over ``--data`` (no validation), the difference being
  one pass without start-up costs, scaled to the training epochs of one
  Sleep-EDF-20 fold (20-fold CV of 42,308 epochs, ``--fold-epochs``, minus the
  validation tenth). A fold's time is that times the passes early stopping
  lets it run (at most ``--epochs`` of the run, 100 by default).

Nothing here is a figure about real sleep unless ``--data`` is real: on the
demo cohort (``isatsleepnet demo``) the table compares networks on synthetic
nights. Run ``python benchmarks/bench_compare.py --help``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_load import _cpu_name as cpu_name  # the same CPU line as the other benchmarks

from isatsleepnet.model.architectures import ARCHITECTURES, DEFAULT_ARCHITECTURE

SLEEP_EDF_20_EPOCHS = 42_308  # trimmed, W/N1/N2/N3/REM (DeepSleepNet's count; all peers use the same)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--data", type=Path, required=True, help="prepared dataset (`isatsleepnet prepare` or `demo`)")
    p.add_argument("--out", type=Path, required=True, help="folder of the runs and the table")
    p.add_argument("--architectures", nargs="+", default=sorted(ARCHITECTURES), metavar="NAME",
                   help=f"registered architectures to compare (default: all: {', '.join(sorted(ARCHITECTURES))})")
    p.add_argument("--fold-time", action="store_true", help="measure the time of one training pass instead")
    p.add_argument("--reference", type=Path, help="an existing ISATSleepNet cv run whose folds the others use")
    p.add_argument("--protocol", default="kfold", help="cv --protocol of the reference run (default kfold)")
    p.add_argument("--folds", type=int, default=3, help="cv --folds of the reference run (default 3)")
    p.add_argument("--cv-arg", action="append", default=[], metavar="FLAG",
                   help="passed to every cv (repeat it: --cv-arg=--epochs --cv-arg=4)")
    p.add_argument("--channels", help="--channels of the baselines' runs, and of every run with --fold-time "
                                      "(default: the prepared channels; ISATSleepNet's cv always reads those)")
    p.add_argument("--fold-epochs", type=int, default=SLEEP_EDF_20_EPOCHS,
                   help=f"epochs of the dataset a fold is cut from, for --fold-time (default {SLEEP_EDF_20_EPOCHS:,})")
    p.add_argument("--n-folds", type=int, default=20, help="folds of that dataset (default 20)")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def _run(command: list[str]) -> float:
    """Run an isatsleepnet command; its wall time in seconds (a failure stops the benchmark with its output)."""
    print("$", " ".join(command), flush=True)
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"bench_compare: {' '.join(command[:2])} failed (rc {done.returncode}):\n{done.stderr[-2000:]}")
    return seconds


def _cli() -> list[str]:
    return [sys.executable, "-m", "isatsleepnet.cli.main"]


def compare_runs(args: argparse.Namespace) -> None:
    args.out.mkdir(parents=True, exist_ok=True)
    times_path = args.out / "times.json"
    times = json.loads(times_path.read_text()) if times_path.is_file() else {}
    channels = ["--channels", args.channels] if args.channels else []
    reference = args.reference or args.out / DEFAULT_ARCHITECTURE
    common = ["--data", str(args.data), "--seed", str(args.seed), "--quiet", *args.cv_arg]
    if args.reference is None:
        times[DEFAULT_ARCHITECTURE] = _run([*_cli(), "cv", "--out", str(reference), "--protocol", args.protocol,
                                            "--folds", str(args.folds), *common])
    runs = [reference]
    for name in args.architectures:
        if name == DEFAULT_ARCHITECTURE:
            continue
        run = args.out / name
        times[name] = _run([*_cli(), "cv", "--out", str(run), "--protocol", args.protocol, "--folds-file",
                            str(reference / "folds.json"), "--architecture", name, *channels, *common])
        runs.append(run)
        times_path.write_text(json.dumps(times, indent=2) + "\n")
    times_path.write_text(json.dumps(times, indent=2) + "\n")
    _run([*_cli(), "compare", *map(str, runs), "--out", str(args.out / "comparison.md"),
          "--json", str(args.out / "comparison.json")])
    print((args.out / "comparison.md").read_text())
    print("cv wall time (s): " + ", ".join(f"{k} {v:.0f}" for k, v in times.items()))


def fold_time(args: argparse.Namespace) -> None:
    from isatsleepnet.data.store import PreparedDataset

    n_epochs = sum(int(rec.real.sum()) for rec in PreparedDataset(args.data))
    fold_train = args.fold_epochs * (args.n_folds - 1) / args.n_folds * 0.9  # minus the test fold and validation
    channels = ["--channels", args.channels] if args.channels else []
    rows = []
    work = Path(tempfile.mkdtemp(prefix="bench-compare-"))
    try:
        for name in args.architectures:
            seconds = {}
            for passes in (1, 2):
                out = work / f"{name}-{passes}"
                seconds[passes] = _run([*_cli(), "train", "--data", str(args.data), "--out", str(out),
                                        "--architecture", name, "--epochs", str(passes), "--validation-fraction", "0",
                                        "--seed", str(args.seed), "--quiet", *channels])
                shutil.rmtree(out)
            one_pass = seconds[2] - seconds[1]
            if one_pass <= 0:
                print(f"{name}: one pass over {n_epochs} epochs is lost in the noise of start-up "
                      f"({seconds[1]:.1f} s for one pass, {seconds[2]:.1f} s for two); give --data more epochs")
                continue
            rows.append({"architecture": name, "seconds_one_pass_here": one_pass, "epochs_here": n_epochs,
                         "seconds_one_pass_fold": one_pass * fold_train / n_epochs, "startup_s": seconds[1] - one_pass})
            print(f"{name}: one pass over {n_epochs} epochs {one_pass:.1f} s -> {rows[-1]['seconds_one_pass_fold'] / 60:.1f}"
                  f" min per pass over a fold's {fold_train:,.0f} training epochs", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "fold_time.json").write_text(json.dumps({"cpu": cpu_name(),
                                                         "cores": os.cpu_count(), "rows": rows}, indent=2) + "\n")
    print(f"{'architecture':<14} {'s/pass here':>11} {'min/pass (fold)':>15} {'h per 100 passes':>16}")
    for row in rows:
        per_fold = row["seconds_one_pass_fold"]
        print(f"{row['architecture']:<14} {row['seconds_one_pass_here']:>11.1f} {per_fold / 60:>15.1f} "
              f"{per_fold * 100 / 3600:>16.1f}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    unknown = sorted(set(args.architectures) - set(ARCHITECTURES))
    if unknown:
        sys.exit(f"bench_compare: unknown architecture(s) {unknown}; registered: {sorted(ARCHITECTURES)}")
    print(f"machine: {cpu_name()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start", flush=True)
    fold_time(args) if args.fold_time else compare_runs(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
