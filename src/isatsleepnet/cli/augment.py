"""`isatsleepnet augment`: a new prepared dataset whose training recordings are class-balanced."""

from __future__ import annotations

import argparse
from pathlib import Path

from isatsleepnet import STAGES
from isatsleepnet.cli.flags import QUIET_HELP
from isatsleepnet.cli.output_paths import output_folder
from isatsleepnet.cli.train_gan import add_subject_arguments, training_subjects

DESCRIPTION = """\
Write a NEW prepared dataset (the source is only read) in which every recording of
the training subjects is balanced toward 1.15 x its largest class:

  - the GAN's stage (N1 by default) gets Physio-GAN epochs, up to 0.8 x its real
    count, each channel rescaled to the µV mean and spread of a random real
    epoch of that stage from the same recording (channels without a GAN are that
    real epoch, transformed);
  - the other stages get physiology-aware transforms of their real epochs:
    alpha (~9.5 Hz) for W, a spindle (~14 Hz) for N2, delta (0.5-1 Hz) for N3,
    rapid eye movements on the EOG and damped EEG for REM, then ±3 % scaling,
    offset, 0.3 % noise and a mild time-warp.

With --mode transforms every stage, N1 included, is made by transforms (same
counts). Synthetic epochs are appended to each recording with origins 1 (GAN) or
2 (transform) and onset NaN; training loaders admit them only for training, so
they never reach validation or test. Recordings of subjects not chosen are
carried over unchanged (hard links or copies), so validation and test stay real.

Settings are checked before the first recording is written: --target-ratio of at
least 1, --stage-cap of at least 0 (finite numbers), --seed of at least 0, and at
most 20 x the real epochs of the augmented recordings in all (and no more than
the disk holds). An interrupted run is continued by the same command: recordings
already written with the same settings are kept, and it ends with the dataset an
uninterrupted run writes.

`isatsleepnet train --data AUG` trains on the synthetic epochs of the augmented
recordings (and refuses validation subjects that were augmented). For
cross-validation use `isatsleepnet cv --augment gan|transforms` on the original
data instead: it trains the GANs and augments per fold, from that fold's training
subjects only."""

EPILOG = """\
examples:
  isatsleepnet augment --data prepared/edf20 --gan gans/fold00 --out aug/fold00 --folds-file runs/edf20/folds.json --fold 0
  isatsleepnet augment --data prepared/edf20 --out aug/transforms --mode transforms --subjects SC400,SC401"""


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "augment",
        help="class-balance training recordings with Physio-GAN and transform epochs (writes a new dataset)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--data", type=Path, required=True, metavar="PREPARED", help="prepared dataset to read (left unchanged)")
    p.add_argument("--out", type=output_folder, required=True, metavar="AUG", help="folder of the new, augmented dataset")
    p.add_argument("--gan", type=Path, metavar="GAN_DIR", help="GAN folder from `isatsleepnet train-gan` (needed with --mode gan)")
    p.add_argument("--mode", choices=["gan", "transforms"], default="gan",
                   help="gan: GAN epochs for the GAN's stage (default); transforms: transforms for every stage")
    p.add_argument("--stage", choices=STAGES, default="N1", help="the GAN's stage, capped at 0.8 x its real count (default N1)")
    add_subject_arguments(p, "augment", "; the others are copied unchanged")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="random seed (default 0)")
    p.add_argument("--target-ratio", type=float, default=1.15, metavar="R", help="balance toward this multiple of the largest class (default 1.15)")
    p.add_argument("--stage-cap", type=float, default=0.8, metavar="R", help="at most this multiple of the real count is added to --stage (default 0.8)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace a dataset already in OUT (without it, OUT from an interrupted run of the same "
                        "settings is continued, and any other is refused)")
    p.add_argument("--quiet", action="store_true", help=QUIET_HELP)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from isatsleepnet.augment.balance import augment_dataset, summary_table
    from isatsleepnet.data.store import PreparedDataset

    dataset = PreparedDataset(args.data)
    subjects = training_subjects(dataset, args)
    if not args.subjects and args.folds_file is None:
        print("note: no --subjects or --folds-file: every subject is augmented; evaluate on other data only")
    from isatsleepnet.inference.out_folder import out_folder
    from isatsleepnet.locking import folder_lock

    # out_folder: a run refused before it wrote anything leaves no folder behind
    with out_folder(args.out), folder_lock(args.out, "augment", clean=True):  # clean: what a killed run was writing
        summaries = augment_dataset(dataset, args.out, gan_dir=args.gan, subjects=subjects, mode=args.mode,
                                    stage=args.stage, seed=args.seed, target_ratio=args.target_ratio,
                                    stage_cap=args.stage_cap, overwrite=args.overwrite,
                                    progress=False if args.quiet else None)
    print(summary_table(summaries))
    print(f"augmented dataset: {args.out}  (manifest: {args.out / 'manifest.csv'})")
    return 0
