"""`isatsleepnet evaluate`: metrics, report and figures of a trained model on prepared data."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from isatsleepnet.cli.engine_options import add_engine_arguments, engine_from_args
from isatsleepnet.cli.flags import QUIET_HELP, words
from isatsleepnet.cli.output_paths import output_folder
from isatsleepnet.data.datasets import protocols
from isatsleepnet.data.subjects import subject_list


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="evaluate a model file on a prepared dataset (metrics.json, report.md, figures)",
        description=(
            "Predict every recording of a prepared dataset with a model file (model.pt from `train` "
            "or `cv`) and write metrics.json, report.md and figures/ (confusion matrix, a hypnogram "
            "per recording) to OUT. Subjects the model was trained or selected on are refused, so "
            "that no metric is computed on data the model has seen; so is an OUT that holds another run "
            "(a cv or train folder, a model, a prepared dataset), whose results it would replace."
        ),
        epilog="example: isatsleepnet evaluate --model runs/edf20/fold_00/model.pt --data prepared/edf78 --out eval/edf78",
    )
    p.add_argument("--model", type=Path, required=True, help="model file (model.pt)")
    p.add_argument("--data", type=Path, required=True, help="prepared dataset")
    p.add_argument("--out", type=output_folder, required=True, help="output folder")
    p.add_argument("--subjects", type=subject_list, help="only these subjects (default: all)")
    p.add_argument("--protocol", choices=protocols(), metavar="DATASET",
                   help="the dataset's evaluation protocol, to print the paper's numbers beside where it has them "
                        f"({', '.join(protocols())}); refused for data prepared as another dataset")
    p.add_argument("--batch-size", type=int, default=64, help="epochs per forward pass (default 64)")
    p.add_argument("--quiet", action="store_true", help=QUIET_HELP)
    add_engine_arguments(p, workers=False)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from isatsleepnet.inference.evaluate import check_evaluation, evaluate_model
    from isatsleepnet.inference.out_folder import out_folder
    from isatsleepnet.locking import folder_lock

    engine = engine_from_args(args)
    check_evaluation(args.out, args.data, protocol=args.protocol, batch_size=args.batch_size)  # before any folder
    # out_folder: a refused run (subjects the model saw, data it cannot read) leaves no folder it made
    with out_folder(args.out) as out, folder_lock(out, "evaluate", clean=True):  # clean: what a killed run was writing
        metrics = evaluate_model(args.model, args.data, out, subjects=args.subjects, protocol=args.protocol,
                                 engine=engine, batch_size=args.batch_size, progress=not args.quiet)
    for warning in metrics.get("warnings", []):
        print(f"warning: {args.model}: {words(warning)}", file=sys.stderr)  # a template kept as text
    p = metrics["pooled"]
    print(f"{p['n_epochs']} epochs: accuracy {100 * p['accuracy']:.1f} %, kappa {p['kappa']:.3f}, "
          f"macro-F1 {100 * p['macro_f1']:.1f} %, macro G-mean {100 * p['macro_gmean']:.1f} %")
    print(f"report: {args.out / 'report.md'}")
    return 0
