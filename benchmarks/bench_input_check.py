"""Benchmark: the out-of-distribution rule of `stage` (data/input_profile.py), false alarms and SC4001.

Not a test. For each seed, a synthetic Sleep-EDF-layout cohort is written and
prepared as `train` would see it (Sleep-EDF trimming). A profile is built, as
train_split builds it, from the first K subjects; every other subject's whole raw
night is read as `stage` reads it and assessed with the rule. A night that gets
any warning is a false alarm: it comes from the same generator, with the same
settings, as the training nights. The real night SC4001 (its whole 22-h
recording) is assessed against every one of those profiles: a model trained on
synthetic nights must warn on it.

Also, unless --no-self-check: the profile of the prepared (trimmed) SC4001 night
against its own whole recording. Not held out (the same night), it only shows
that the 13 h of wake around a real night, which prepare trims away, do not
make a real model warn on a real recording of the same kind.

    python benchmarks/bench_input_check.py                      # 10 seeds x 10 subjects x 8 h
    python benchmarks/bench_input_check.py --seeds 0 1 --subjects 4 --hours 1 --train-subjects 2

Measured on this project's 2-core machine (AMD EPYC), default settings (452 s,
`python benchmarks/bench_input_check.py --work /tmp/bench_full/work`):

    K  nights  false alarms  rate    95 % upper  worst fraction (median / max)   SC4001 warned  (min)
    2      80             5    6.2 %     12.7 %   0.015 / 0.777                 10 of 10        0.58
    3      70             0    0.0 %      4.2 %   0.009 / 0.143                 10 of 10        0.59
    4      60             0    0.0 %      4.9 %   0.006 / 0.089                 10 of 10        0.52
    6      40             0    0.0 %      7.2 %   0.006 / 0.045                 10 of 10        0.55
    self-check: trimmed SC4001 vs its whole recording: no warning, worst fraction 0.04

A profile of two subjects has not seen how much people differ (5 false alarms in 80
nights); from three subjects on, 0 in 170 nights (95 % upper bound 1.7 %). SC4001
warns against all 40 profiles, with 52-59 % of its epochs outside the range of the
worst channel feature (beta power, mostly), twice the threshold.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from isatsleepnet.data.input_profile import MARGIN, THRESHOLD, InputProfile, assess, outside_fractions
from isatsleepnet.data.prepare import prepare_dataset
from isatsleepnet.data.prepare_config import PrepareConfig
from isatsleepnet.data.store import PreparedDataset
from isatsleepnet.data.synthetic import SynthConfig, synthesize
from isatsleepnet.inference.raw import ModelInputs, RawRecording

CHANNELS = ("EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal")
INPUTS = ModelInputs(("eeg", "eeg2", "eog"), CHANNELS, 100.0, 30.0)
SC4001 = "SC4001E0-PSG.edf"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=list(range(10)), help="one synthetic cohort per seed")
    p.add_argument("--subjects", type=int, default=10, help="subjects per cohort (default 10)")
    p.add_argument("--hours", type=float, default=8.0, help="hours per synthetic night (default 8)")
    p.add_argument("--train-subjects", type=int, nargs="+", default=[2, 3, 4, 6],
                   help="profile sizes K: the first K subjects build the profile, the others are assessed")
    p.add_argument("--data-dir", type=Path, default=Path("../shared/data/physionet-sleep-data"),
                   help=f"folder holding {SC4001} (skipped with a note when absent)")
    p.add_argument("--no-self-check", action="store_true", help="skip the SC4001-against-itself check")
    p.add_argument("--work", type=Path, help="folder for the cohorts (default: a temporary one; reused when given)")
    return p.parse_args(argv)


def whole_night(path: Path) -> np.ndarray:
    """Every whole epoch of a raw recording, in µV at the model's rate, as `stage` reads it."""
    return RawRecording.open(path, INPUTS).read()


def upper_95(k: int, n: int) -> float:
    """One-sided 95 % upper bound of a rate with k events in n (exact binomial, by bisection)."""
    if k >= n:
        return 1.0
    lo, hi = k / n, 1.0
    for _ in range(60):
        p = (lo + hi) / 2
        cdf = sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k + 1))
        lo, hi = (p, hi) if cdf > 0.05 else (lo, p)
    return hi


def cohort(work: Path, seed: int, args: argparse.Namespace) -> list:
    root = work / f"seed{seed}"
    if not (root / "prepared" / "manifest.csv").is_file():
        synthesize(root / "raw", SynthConfig(layout="sleep-edf", subjects=args.subjects, hours=args.hours, seed=seed),
                   progress=False)
        results = prepare_dataset(root / "raw", root / "prepared", PrepareConfig(dataset="sleep-edf"), jobs=2,
                                  progress=False)
        failed = [r.error for r in results if r.status == "failed"]
        if failed:
            sys.exit(f"preparing the synthetic cohort failed: {failed[0]}")
    recordings = list(PreparedDataset(root / "prepared"))
    return [(rec, root / "raw" / rec.meta["source"]) for rec in recordings]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if max(args.train_subjects) >= args.subjects:
        sys.exit("--train-subjects must leave at least one subject of --subjects to assess")
    if args.work is not None:
        return run(args, args.work)
    with tempfile.TemporaryDirectory(prefix="bench-input-check-") as tmp:
        return run(args, Path(tmp))


def run(args: argparse.Namespace, work: Path) -> int:
    started = time.perf_counter()
    sc_path = args.data_dir / SC4001
    sc_epochs = whole_night(sc_path) if sc_path.is_file() else None
    print(f"rule: range = training quantiles 0.5-99.5 % widened by {MARGIN:g} IQR; warn when > "
          f"{100 * THRESHOLD:.0f} % of a night's epochs fall outside it for any of 3 channels x 6 features")
    print(f"cohorts: seeds {args.seeds}, {args.subjects} subjects x {args.hours:g} h (Sleep-EDF layout, trimmed)")
    rows = {k: {"nights": 0, "alarms": 0, "lines": 0, "worst": [], "sc_warned": 0, "sc_worst": []}
            for k in args.train_subjects}
    for seed in args.seeds:
        recs = cohort(work, seed, args)
        nights = {rec.name: whole_night(raw) for rec, raw in recs}
        for k in args.train_subjects:
            profile = InputProfile.from_recordings([rec for rec, _ in recs[:k]], CHANNELS)
            row = rows[k]
            for rec, _ in recs[k:]:
                warnings = assess(profile, nights[rec.name], INPUTS.sampling_rate)
                row["nights"] += 1
                row["alarms"] += bool(warnings)
                row["lines"] += len(warnings)
                row["worst"].append(float(outside_fractions(profile, nights[rec.name], INPUTS.sampling_rate).max()))
            if sc_epochs is not None:
                row["sc_warned"] += bool(assess(profile, sc_epochs, INPUTS.sampling_rate))
                row["sc_worst"].append(float(outside_fractions(profile, sc_epochs, INPUTS.sampling_rate).max()))
        print(f"  seed {seed} done ({time.perf_counter() - started:.0f} s)", flush=True)

    print("\nheld-out synthetic nights (false alarms) and the real SC4001 (must warn), per profile size K")
    print("  K  nights  false alarms  rate    95 % upper  worst fraction (median / max)   SC4001 warned  "
          "SC4001 worst fraction (min)")
    for k, row in rows.items():
        n, a = row["nights"], row["alarms"]
        worst = np.array(row["worst"])
        sc = (f"{row['sc_warned']} of {len(args.seeds)}        {min(row['sc_worst']):.2f}"
              if row["sc_worst"] else "no SC4001 data")
        print(f"  {k}  {n:6d}  {a:12d}  {100 * a / n:5.1f} %  {100 * upper_95(a, n):7.1f} %   "
              f"{np.median(worst):.3f} / {worst.max():.3f}                 {sc}")
    if sc_epochs is not None and not args.no_self_check:
        real = work / "sc4001-prepared"
        if not (real / "manifest.csv").is_file():
            prepare_dataset(args.data_dir, real, PrepareConfig(dataset="sleep-edf"), progress=False)
        rec = next(r for r in PreparedDataset(real) if r.meta["source"] == SC4001)
        profile = InputProfile.from_recordings([rec], CHANNELS)
        warnings = assess(profile, sc_epochs, INPUTS.sampling_rate)
        worst = float(outside_fractions(profile, sc_epochs, INPUTS.sampling_rate).max())
        verdict = "WARNS" if warnings else "no warning"
        print(f"\nself-check (not held out): profile of the trimmed SC4001 ({rec.n_epochs} epochs) vs its whole "
              f"recording ({len(sc_epochs)} epochs): {verdict}, worst fraction {worst:.2f}")
    print(f"\n{time.perf_counter() - started:.0f} s" + (f"; cohorts in {work}" if args.work else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
