"""`isatsleepnet cv`: subject-wise cross-validation with the paper's protocols."""

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
from isatsleepnet.data.datasets import KFOLD, get_dataset, protocols

_DESCRIPTION = """\
Train and evaluate ISATSleepNet by subject-wise cross-validation: both nights of a
subject always share one fold; each fold's validation subjects (early stopping,
model selection) come from its training subjects; metrics use test subjects only.

Protocols (each dataset's own, see `isatsleepnet prepare --help`; kfold for any dataset):
{protocols}

RUN receives config.json, folds.json, fold_XX/ (checkpoints every epoch, CSV log,
model.pt, test predictions), metrics.json, report.md and figures/. Starting the
same command again continues where it stopped; --fold i runs one fold (folds can
run on different machines with the same --folds-file), and the report covers the
folds finished so far.

--augment transforms|gan class-balances each fold's training recordings (never its
validation or test recordings) before training: with gan, one Physio-GAN per
channel is first trained on that fold's training subjects in fold_XX/gan/
(resumable; a finished GAN is reused), then the augmented training store is
written to fold_XX/augmented/. Training reads it with the synthetic epochs;
validation and test read the original data. config.json records the mode and the
GAN settings, so a rerun with other ones is refused.

--init MODEL.pt fine-tunes one base model in every fold (see `train --help`); a base
model that saw a fold's test subjects or recordings is refused. Every fold_XX/ gets
a MODEL_CARD.md, with the fold's test metrics (`isatsleepnet model-info`)."""

EPILOG = """\
examples:
  isatsleepnet cv --data prepared/edf20 --out runs/edf20 --protocol sleep-edf-20
  isatsleepnet cv --data prepared/synth --out runs/quick --protocol kfold --folds 3 --epochs 3
  isatsleepnet cv --data prepared/edf20 --out runs/no-asr --protocol sleep-edf-20 --ablation asr --fold 0
  isatsleepnet cv --data prepared/edf20 --out runs/edf20-gan --protocol sleep-edf-20 --augment gan --folds-file runs/edf20/folds.json"""


def description() -> str:
    """The command's help text, its protocols read from the table of datasets."""
    names = protocols(kfold=True)
    width = max(map(len, names))
    lines = [f"  {name.ljust(width)}  {get_dataset(name).protocol}" for name in names if name != KFOLD]
    lines.append(f"  {KFOLD.ljust(width)}  --folds K subject-wise folds")
    return _DESCRIPTION.format(protocols="\n".join(lines))


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("cv", help="subject-wise cross-validation: train, select on validation, test, report",
                              description=description(), epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, required=True, help="prepared dataset (from `isatsleepnet prepare`)")
    p.add_argument("--out", type=output_folder, required=True, help="run folder")
    p.add_argument("--protocol", choices=protocols(kfold=True), required=True, help="fold layout (see above)")
    p.add_argument("--folds", type=int, help="number of folds for --protocol kfold")
    p.add_argument("--folds-file", type=Path, help="reuse the folds of a folds.json instead of drawing new ones")
    p.add_argument("--fold", type=int, help="run only this fold (0-based)")
    p.add_argument("--resume", action="store_true", help="require RUN to exist and continue it (the default when it exists with the same settings)")
    add_train_arguments(p)
    add_augment_arguments(p, "RUN/fold_XX")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from isatsleepnet.training.cv import cross_validate

    config, engine = train_config_from_args(args), engine_config_from_args(args)
    augment, gan = augment_config_from_args(args)
    metrics = cross_validate(args.data, args.out, protocol=args.protocol, config=config, engine=engine,
                             n_folds=args.folds,
                             folds_file=args.folds_file, only_fold=args.fold, resume=args.resume,
                             progress=not args.quiet, augment=augment, gan=gan, keep_augmented=args.keep_augmented)
    if not metrics:  # an extra process of multi-GPU training: the first process reports
        return 0
    p = metrics["pooled"]
    print(f"\n{metrics['n_folds_evaluated']} fold(s) evaluated on {p['n_epochs']} test epochs: "
          f"accuracy {100 * p['accuracy']:.1f} %, kappa {p['kappa']:.3f}, macro-F1 {100 * p['macro_f1']:.1f} %, "
          f"macro G-mean {100 * p['macro_gmean']:.1f} %")
    print(f"report: {args.out / 'report.md'}  metrics: {args.out / 'metrics.json'}  figures: {args.out / 'figures'}")
    return 0
