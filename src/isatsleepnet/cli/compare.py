"""`isatsleepnet compare`: the ablation table of several runs."""

from __future__ import annotations

import argparse
from pathlib import Path

from isatsleepnet.cli.output_paths import output_file


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "compare",
        help="print (and write) the metrics of several runs side by side",
        description=(
            "Read RUN/metrics.json (and RUN/config.json) of each run given and print one markdown table "
            "with pooled accuracy, kappa, macro-F1, macro G-mean and per-class F1, plus what sets each "
            "run apart (augmentation, ablation switches). Runs should share a protocol and folds."
        ),
        epilog="example: isatsleepnet compare runs/base runs/no-asr runs/gan --out ablation.md",
    )
    p.add_argument("runs", type=Path, nargs="+", help="run folders made by `cv` (or `evaluate`)")
    p.add_argument("--out", type=output_file, help="also write the table to this markdown file")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from isatsleepnet.atomic import atomic_write_text
    from isatsleepnet.training.compare import comparison_table

    table = comparison_table(args.runs)
    print(table, end="")
    if args.out:
        atomic_write_text(args.out, table)
        print(f"written to {args.out}")
    return 0
