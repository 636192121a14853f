"""`isatsleepnet train`: train one model on one split (no test set; see `cv` for evaluation)."""

from __future__ import annotations

import argparse
from pathlib import Path

from isatsleepnet.cli.output_paths import output_folder
from isatsleepnet.cli.train_options import (
    add_augment_arguments,
    add_train_arguments,
    augment_config_from_args,
    engine_config_from_args,
    train_config_from_args,
)
from isatsleepnet.data.subjects import subject_list


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "train",
        help="train one model on chosen subjects (validation subjects select the epoch)",
        description=(
            "Train ISATSleepNet on one split and write OUT/model.pt, a portable model file for "
            "`evaluate` and `stage`. Subjects come from --train-subjects/--val-subjects, from a "
            "fold of a folds.json (--folds-file with --fold), or, with neither, from all subjects "
            "of the data with --validation-fraction of them held out for model selection. "
            "Starting the same command again continues from the last checkpoint. "
            "--augment transforms|gan class-balances the training recordings only (see `cv --help`). "
            "Fine-tuning: --init MODEL.pt starts from a trained model's weights (same channel roles, rate, "
            "epoch length and architecture) at a lower default learning rate, --freeze keeps its feature "
            "extractors or whole encoder as they are; the new model records its parent, and `evaluate` refuses "
            "what any ancestor saw. OUT/MODEL_CARD.md (also `isatsleepnet model-info OUT/model.pt`) describes "
            "the model: architecture, channels, training data, selection, metrics, intended use and limits."
        ),
        epilog="example: isatsleepnet train --data prepared/edf20 --out models/edf20 --val-subjects SC400,SC401",
    )
    p.add_argument("--data", type=Path, required=True, help="prepared dataset")
    p.add_argument("--out", type=output_folder, required=True, help="output folder (model.pt, checkpoints/, logs/)")
    p.add_argument("--train-subjects", type=subject_list, help="comma-separated training subjects (default: all others)")
    p.add_argument("--val-subjects", type=subject_list, help="comma-separated validation subjects")
    p.add_argument("--folds-file", type=Path, help="take the train and validation subjects of --fold from this folds.json")
    p.add_argument("--fold", type=int, metavar="I", help="fold index (0-based) in --folds-file; the two go together")
    add_train_arguments(p)
    add_augment_arguments(p, "OUT")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from isatsleepnet.training.train import train

    config, engine = train_config_from_args(args), engine_config_from_args(args)
    augment, gan = augment_config_from_args(args)
    path = train(args.data, args.out, config=config, engine=engine, train_subjects=args.train_subjects,
                 validation_subjects=args.val_subjects, folds_file=args.folds_file,
                 fold=args.fold, augment=augment, gan=gan,
                 keep_augmented=args.keep_augmented, progress=not args.quiet)
    print(f"model: {path}")
    return 0
