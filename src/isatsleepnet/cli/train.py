"""`isatsleepnet train`: train one model on one split (no test set; see `cv` for evaluation)."""

from __future__ import annotations

import argparse
from pathlib import Path

from isatsleepnet.cli.train_options import (
    add_augment_arguments,
    add_train_arguments,
    augment_config_from_args,
    train_config_from_args,
)


def _subjects(value: str) -> list[str]:
    return [s.strip() for s in value.split(",") if s.strip()]


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
            "--augment transforms|gan class-balances the training recordings only (see `cv --help`)."
        ),
        epilog="example: isatsleepnet train --data prepared/edf20 --out models/edf20 --val-subjects SC400,SC401",
    )
    p.add_argument("--data", type=Path, required=True, help="prepared dataset")
    p.add_argument("--out", type=Path, required=True, help="output folder (model.pt, checkpoints/, logs/)")
    p.add_argument("--train-subjects", type=_subjects, help="comma-separated training subjects (default: all others)")
    p.add_argument("--val-subjects", type=_subjects, help="comma-separated validation subjects")
    p.add_argument("--folds-file", type=Path, help="take the train and validation subjects of --fold from this folds.json")
    p.add_argument("--fold", type=int, default=0, help="fold of --folds-file (default 0)")
    add_train_arguments(p)
    add_augment_arguments(p, "OUT")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from isatsleepnet.data.store import PreparedDataset
    from isatsleepnet.errors import IsatSleepNetError
    from isatsleepnet.locking import ensure_writable_folder, folder_lock
    from isatsleepnet.training.folds import Fold, load_folds, split_validation

    config = train_config_from_args(args)
    augment, gan = augment_config_from_args(args)
    data = PreparedDataset(args.data)
    subjects = data.subjects()
    if args.folds_file:
        folds = {f.index: f for f in load_folds(args.folds_file, subjects)}
        if args.fold not in folds:
            raise IsatSleepNetError(f"{args.folds_file} has no fold {args.fold}")
        fold = Fold(args.fold, folds[args.fold].train, folds[args.fold].validation, ())
    else:
        val = args.val_subjects or []
        train = args.train_subjects or [s for s in subjects if s not in set(val)]
        if not args.val_subjects:
            train, val = split_validation(train, config.validation_fraction, config.seed)
        unknown = sorted(set(train + val) - set(subjects))
        if unknown:
            raise IsatSleepNetError(f"subjects not in {args.data}: {', '.join(unknown)}")
        fold = Fold(0, tuple(train), tuple(val), ())
    fold.check(require_test=False)
    ensure_writable_folder(args.out)
    with folder_lock(args.out, "train"):
        return _train(args, data, fold, config, augment, gan)


def _train(args: argparse.Namespace, data, fold, config, augment, gan) -> int:  # noqa: ANN001 - lazily imported types
    """The training itself, with ``args.out`` held."""
    import json
    from dataclasses import replace

    from isatsleepnet.augment.balance import AUGMENT_JSON
    from isatsleepnet.errors import IsatSleepNetError
    from isatsleepnet.training.augmentation import augmented_training_data, drop_augmented_epochs
    from isatsleepnet.config import save_config
    from isatsleepnet.training.cv import changed_train_settings
    from isatsleepnet.training.fit import MODEL_FILE, train_split

    saved = args.out / "config.json"
    if saved.is_file():  # continuing (or re-reading) a training: it must be the same training
        changed = changed_train_settings(json.loads(saved.read_text()), config)
        if changed:
            raise IsatSleepNetError(f"{args.out} holds a training with other settings ({', '.join(changed)}); "
                                    "use the same flags or another --out")
    save_config(config, saved)
    print(f"train on {len(fold.train)} subject(s), select on {len(fold.validation)}: {args.out}")
    train_data = None
    if (args.out / MODEL_FILE).is_file():
        pass  # finished: train_split returns the model file as it is
    elif (data.root / AUGMENT_JSON).is_file():
        if augment.enabled:
            raise IsatSleepNetError(f"{args.data} is already augmented (`isatsleepnet augment`); drop --augment")
        train_data = data  # train on its synthetic epochs too; validation reads its real epochs only
        augment = replace(augment, mode=json.loads((data.root / AUGMENT_JSON).read_text())["mode"])
        print(f"{args.data} is an augmented dataset ({augment.mode}): training uses its synthetic epochs")
    elif augment.enabled:
        save_config(augment, args.out / "augment_config.json")
        train_data = augmented_training_data(data, fold, args.out, augment, config, gan=gan, progress=not args.quiet)
    path = train_split(data, fold, args.out, config, progress=not args.quiet, train_data=train_data,
                       augment=augment.mode)
    if train_data is not None and train_data is not data and not args.keep_augmented:
        drop_augmented_epochs(args.out)
    print(f"model: {path}")
    return 0
