"""`isatsleepnet demo`: the whole pipeline on a synthetic cohort, end to end on a CPU.

For now the pipeline is synth → prepare; later stages (training, evaluation,
staging) join as they land.
"""

from __future__ import annotations

import argparse
from pathlib import Path



def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "demo",
        help="run the pipeline end to end on a synthetic cohort",
        description=(
            "Write a synthetic Sleep-EDF-like cohort (TEST data, never results) to OUT/raw, then "
            "prepare it into OUT/prepared. Runs in about a minute on a laptop CPU."
        ),
        epilog="example: isatsleepnet demo --out demo --subjects 6",
    )
    p.add_argument("--out", type=Path, default=Path("isatsleepnet-demo"), help="output folder (default ./isatsleepnet-demo)")
    p.add_argument("--subjects", type=int, default=6, help="synthetic subjects (default 6)")
    p.add_argument("--nights", type=int, default=1, choices=[1, 2], help="nights per subject (default 1)")
    p.add_argument("--hours", type=float, default=8.0, help="length of each synthetic recording in hours (default 8)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--jobs", type=int, default=2, help="recordings prepared in parallel (default 2)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from isatsleepnet.data.prepare import prepare_dataset, summary_table
    from isatsleepnet.data.prepare_config import PrepareConfig
    from isatsleepnet.data.synthetic import SynthConfig, synthesize

    raw, prepared = args.out / "raw", args.out / "prepared"
    print(f"[1/2] synth: {args.subjects} subject(s) x {args.nights} night(s) of {args.hours:g} h -> {raw}")
    synthesize(raw, SynthConfig(layout="sleep-edf", subjects=args.subjects, nights=args.nights,
                                hours=args.hours, seed=args.seed))
    print(f"[2/2] prepare -> {prepared}")
    results = prepare_dataset(raw, prepared, PrepareConfig(dataset="sleep-edf"), jobs=args.jobs)
    print(summary_table(results))
    failed = any(r.status == "failed" for r in results)
    print(f"\ndemo finished: prepared dataset in {prepared} (manifest: {prepared / 'manifest.csv'})")
    return 1 if failed else 0
