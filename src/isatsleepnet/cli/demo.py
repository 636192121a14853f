"""`isatsleepnet demo`: the whole pipeline on a synthetic cohort, end to end on a CPU.

synth → prepare → subject-wise cross-validation → report → stage a night of a
subject that no fold saw. The training schedule is shortened (a few epochs, a
larger learning rate) so that it finishes in minutes; the paper's schedule is
what `cv` uses by default.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from isatsleepnet.cli.engine_options import add_engine_arguments, engine_from_args
from isatsleepnet.cli.flags import QUIET_HELP, RenamedFlag, flag, renamed
from isatsleepnet.cli.output_paths import output_folder
from isatsleepnet.errors import IsatSleepNetError


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "demo",
        help="run the pipeline end to end on a synthetic cohort",
        description=(
            "Write a synthetic Sleep-EDF-like cohort (TEST data, never results) to OUT/raw, prepare it "
            "into OUT/prepared, cross-validate ISATSleepNet subject-wise (k folds, a short schedule) "
            "into OUT/run, then stage the night of one more synthetic subject, kept out of the "
            "cross-validation, with fold 0's model into OUT/staged, and print where the reports are. "
            "A few minutes on a 2-core CPU with the defaults. Rerunning continues where it stopped."
        ),
        epilog="example: isatsleepnet demo --out demo",
    )
    p.add_argument("--out", type=output_folder, default=Path("isatsleepnet-demo"), help="output folder (default ./isatsleepnet-demo)")
    p.add_argument("--n-subjects", dest="subjects", type=int, default=6, metavar="N",
                   help="synthetic subjects cross-validated (default 6); one more is made for staging")
    p.add_argument("--subjects", dest="subjects", type=int, action=RenamedFlag, new="--n-subjects",  # before 0.1.1
                   why="a count; --subjects names subjects in download, evaluate, augment and train-gan")
    p.add_argument("--hours", type=float, default=3.0, help="length of each synthetic recording in hours (default 3)")
    p.add_argument("--folds", type=int, default=3, help="cross-validation folds (default 3)")
    p.add_argument("--epochs", type=int, default=4, help="training epochs per fold (default 4)")
    p.add_argument("--model-size", choices=("paper", "small"), default="paper",
                   help="paper (default) or small (every width halved: faster training and staging)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--jobs", type=int, default=2, help="recordings prepared in parallel (default 2)")
    p.add_argument("--quiet", action="store_true", help=QUIET_HELP)
    add_engine_arguments(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from isatsleepnet.api.demo import run_demo

    def spell(setting: str) -> str:  # the count of subjects is --n-subjects here
        return "--n-subjects" if setting == "subjects" else flag(setting)

    try:
        result = run_demo(args.out, subjects=args.subjects, hours=args.hours, folds=args.folds, epochs=args.epochs,
                          model_size=args.model_size, seed=args.seed, jobs=args.jobs, engine=engine_from_args(args),
                          progress=not args.quiet, spell=spell)
    except IsatSleepNetError as exc:
        raise renamed(exc, subjects="n_subjects") from None
    p = result.metrics["pooled"]
    print(f"\ndemo finished in {result.minutes:.1f} min. Synthetic test data: these numbers only show the pipeline works.")
    print(f"  cross-validation, pooled over {p['n_epochs']} test epochs: accuracy {100 * p['accuracy']:.1f} %, "
          f"kappa {p['kappa']:.3f}, macro-F1 {100 * p['macro_f1']:.1f} %")
    print(f"  report:  {result.run / 'report.md'}")
    print(f"  figures: {result.run / 'figures'} (confusion matrix, learning curves, hypnograms)")
    agreement = (result.stage_summary.get("expert") or {}).get("agreement") or {}
    if agreement:
        print(f"  held-out night {result.night.stem}: accuracy {100 * agreement['accuracy']:.1f} %, "
              f"kappa {agreement['kappa']:.3f} against its synthetic hypnogram")
    name, staged = result.night.stem, result.staged
    print(f"  staged:  {staged / (name + '.report.html')} (sleep report)")
    print(f"           {staged / (name + '.hypnogram.csv')}, {name}.hypnogram.png, {name}.hypnodensity.png")
    return 0
