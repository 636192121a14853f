"""`isatsleepnet compare`: several runs side by side, with paired statistics against the first."""

from __future__ import annotations

import argparse
from pathlib import Path

from isatsleepnet.cli.output_paths import output_file


def _resamples(value: str) -> int:
    """Type of ``--bootstrap``: a whole number >= 0."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, not {value!r}") from None
    if number < 0:
        raise argparse.ArgumentTypeError(f"must be 0 (no bootstrap) or more, not {number}")
    return number


def _seed(value: str) -> int:
    """Type of ``--seed``: a whole number >= 0 (numpy's generators take no negative seed)."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, not {value!r}") from None
    if number < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {number}")
    return number


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "compare",
        help="compare runs: metrics side by side, paired differences against the first run",
        description=(
            "Read RUN/metrics.json (and config.json, folds.json) of each run and print markdown: one table with "
            "the paper's columns (Acc, kappa, MF1, MGm, per-class F1), per run pooled over all test epochs and "
            "as mean ± std over folds, and what sets each run apart (augmentation, context, ablation switches). "
            "For cv runs a second table gives each run's paired differences against the FIRST run: the pooled "
            "difference, the mean ± std of the per-fold differences with a two-sided Wilcoxon signed-rank p "
            "(with k folds the smallest possible p is 2/2^k: 0.25 for 3 folds), and a paired bootstrap over "
            "test subjects (both runs on the same resampled subjects) giving a 95 % interval of the pooled "
            "difference and P(difference <= 0). Cv runs whose data or folds differ are refused; the paired "
            "table is left out, with a note, for runs that are not cv runs (`evaluate` folders) or have not "
            "finished the same folds."
        ),
        epilog=(
            "example: isatsleepnet compare runs/edf20 runs/edf20-no-asr runs/edf20-gan --out ablation.md "
            "--json ablation.json   (runs/edf20 is the reference; make the others with "
            "`isatsleepnet cv ... --folds-file runs/edf20/folds.json`)"
        ),
    )
    p.add_argument("runs", type=Path, nargs="+", help="run folders made by `cv` (or `evaluate`); the first is the reference")
    p.add_argument("--out", type=output_file, help="also write the markdown to this file")
    p.add_argument("--json", type=output_file, help="also write every number (fractions, not percent) to this JSON file")
    p.add_argument("--bootstrap", type=_resamples, default=2000, metavar="N",
                   help="bootstrap resamples of the test subjects (default 2000; 0: no bootstrap)")
    p.add_argument("--seed", type=_seed, default=0, help="seed of the bootstrap resamples (default 0): same seed, same numbers")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import json

    from isatsleepnet.atomic import atomic_write_text
    from isatsleepnet.training.compare import compare_runs, comparison_markdown

    result = compare_runs(args.runs, bootstrap=args.bootstrap, seed=args.seed)
    text = comparison_markdown(result)
    print(text, end="")
    for path, content in ((args.out, text), (args.json, json.dumps(result, indent=2, ensure_ascii=False) + "\n")):
        if path:
            atomic_write_text(path, content)
            print(f"written to {path}")
    return 0

