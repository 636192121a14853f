"""`isatsleepnet train-gan`: train Physio-GAN (one GAN per channel and stage) on training subjects only."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from isatsleepnet import STAGES
from isatsleepnet.cli.engine_options import add_engine_arguments, engine_from_args
from isatsleepnet.cli.flags import QUIET_HELP
from isatsleepnet.cli.output_paths import output_folder
from isatsleepnet.data.subjects import subject_list
from isatsleepnet.errors import IsatSleepNetError

if TYPE_CHECKING:
    from isatsleepnet.gan.config import GanConfig

DESCRIPTION = """\
Train Physio-GAN, the generator of synthetic epochs that `augment` uses to fill a
minority stage (N1 by default), one GAN per channel and stage, on real epochs of
the TRAINING subjects only: pass --subjects, or --folds-file with --fold to use
that fold's training subjects (never its validation or test subjects); with
neither, every subject of the dataset is used.

Each GAN is written to GAN_DIR/<channel>_<stage>/ (e.g. eeg-fpz-cz_N1/):
  generator.pt     weights, settings and real µV amplitudes: enough to sample later
  gan_config.json  the resolved settings; data.json: subjects, recordings, epochs used
  checkpoints/     last.pt every --checkpoint-every epochs; running the same command
                   again resumes from it (a killed run continues where it stopped)
  loss_log.csv, loss_curve.png
  quality.json, quality_time.png, quality_psd.png
                   real vs generated: relative band powers, log-PSD distance and a
                   classifier two-sample test (0.5 = indistinguishable), next to
                   baselines (phase-randomised real epochs, coloured noise) and the
                   untrained generator. When the stage has enough epochs, a share
                   of them is held out of GAN training as the real reference.

Training stops with a one-line message if a loss becomes NaN or explodes; the
last good checkpoint is kept."""

EPILOG = """\
examples:
  isatsleepnet train-gan --data prepared/edf20 --out gans/fold00 --folds-file runs/edf20/folds.json --fold 0 --channel all
  isatsleepnet train-gan --data prepared/edf20 --out gans/sc400 --subjects SC400 --channel 'EEG Fpz-Cz' --epochs 60
  isatsleepnet train-gan --data prepared/shhs --out gans/shhs --stage N1 --config gan.toml --device cuda"""


def add_subject_arguments(p: argparse.ArgumentParser, verb: str, others: str = "") -> None:
    """--subjects or --folds-file/--fold: the training subjects a command may use.

    ``verb`` says what the command does with them, ``others`` what happens to the rest.
    """
    p.add_argument("--subjects", type=subject_list, metavar="A,B",
                   help=f"comma-separated subjects to {verb} (default: all subjects of the dataset){others}")
    p.add_argument("--folds-file", type=Path, metavar="FILE",
                   help=f"a folds.json (from `cv`): {verb} only the TRAINING subjects of --fold, never its "
                        f"validation or test subjects{others}")
    p.add_argument("--fold", type=int, metavar="I", help="fold index (0-based) in --folds-file")


def training_subjects(dataset, args: argparse.Namespace) -> list[str]:  # noqa: ANN001 - a PreparedDataset
    """The subjects chosen by --subjects or --folds-file/--fold (checked against the dataset)."""
    from isatsleepnet.training.folds import training_subjects as chosen

    return chosen(dataset, subjects=args.subjects, folds_file=args.folds_file, fold=args.fold)


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "train-gan",
        help="train Physio-GAN generators of synthetic epochs (one per channel and stage)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--data", type=Path, required=True, metavar="PREPARED", help="prepared dataset (from `isatsleepnet prepare`)")
    p.add_argument("--out", type=output_folder, required=True, metavar="GAN_DIR", help="GAN folder; one subfolder per channel and stage")
    p.add_argument("--stage", choices=STAGES, help="stage to generate (default N1)")
    p.add_argument("--channel", default="all", metavar="NAME|all",
                   help="channel to train on, exactly as in the dataset (e.g. 'EEG Fpz-Cz'), or all (default)")
    add_subject_arguments(p, "train on")
    p.add_argument("--epochs", type=int, metavar="N", help="training epochs (passes; at least 20 discriminator steps each; default 100)")
    p.add_argument("--batch-size", type=int, metavar="N", help="batch size (default 32)")
    p.add_argument("--seed", type=int, metavar="N", help="random seed of data order, noise and weights (default 0)")
    p.add_argument("--config", type=Path, metavar="FILE", help="TOML or JSON with GAN settings (a [gan] table or top-level keys); flags override it")
    p.add_argument("--checkpoint-every", type=int, metavar="N", help="write checkpoints/last.pt every N epochs (default 5)")
    p.add_argument("--overwrite", action="store_true", help="start again instead of resuming from an existing checkpoint")
    p.add_argument("--quiet", action="store_true", help=QUIET_HELP)
    add_engine_arguments(p, workers=False)
    p.set_defaults(run=run)


_FLAG_FIELDS = {"stage": "stage", "epochs": "epochs", "batch_size": "batch_size", "seed": "seed",
                "checkpoint_every": "checkpoint_every"}


def config_from_args(args: argparse.Namespace) -> GanConfig:
    """The GAN settings of --config, overridden by the flags (checked as they are made)."""
    from isatsleepnet.config import read_config_file, replace_from
    from isatsleepnet.gan.config import GanConfig

    values = read_config_file(args.config, "gan") if args.config else {}
    flags = {field: getattr(args, attr) for attr, field in _FLAG_FIELDS.items() if getattr(args, attr) is not None}
    return replace_from(GanConfig(), {**values, **flags}, source=str(args.config))


def run(args: argparse.Namespace) -> int:

    from isatsleepnet.data.store import PreparedDataset
    from isatsleepnet.gan.data import resolve_channels

    config = config_from_args(args)
    engine = engine_from_args(args)
    engine.single_device("train-gan")
    if engine.precision_on("cpu") != "32-true":
        raise IsatSleepNetError("train-gan trains in float32; drop {precision}")
    engine.apply()
    dataset = PreparedDataset(args.data)
    subjects = training_subjects(dataset, args)
    channels = resolve_channels(dataset, subjects, args.channel)
    if not args.subjects and args.folds_file is None:
        print("note: no --subjects or --folds-file: the GAN learns from every subject; evaluate on other data only")
    print(f"training {config.stage} GAN(s) for {', '.join(channels)} on {len(subjects)} subject(s)")
    from isatsleepnet.inference.out_folder import out_folder
    from isatsleepnet.locking import folder_lock

    # out_folder: a run refused before its first GAN (too few epochs of the stage) leaves no folder it made
    with out_folder(args.out) as out, folder_lock(out, "train-gan", clean=True):  # clean: what a killed run wrote
        return _train_gans(args, dataset, subjects, channels, config, engine.torch_device())


def _train_gans(args: argparse.Namespace, dataset, subjects: list[str], channels: list[str], config,  # noqa: ANN001
                device) -> int:  # noqa: ANN001
    import json

    from isatsleepnet.gan.stages import train_channel_gan, write_quality_summary

    for channel in channels:
        folder = train_channel_gan(dataset, subjects, channel, args.out, config, device=device,
                                   progress=False if args.quiet else None, overwrite=args.overwrite)
        report = json.loads((folder / "quality.json").read_text())
        m = report["metrics"]
        line = "  ".join(
            f"{name} {m[name]['log_psd_distance_db']:.2f} dB / C2ST {m[name]['c2st_accuracy']['mean']:.2f}"
            for name in ("gan", "phase_randomised", "coloured_noise") if name in m
        )
        print(f"{channel}: {folder}  (log-PSD distance / two-sample accuracy, 0.5 best): {line}")
    summary = write_quality_summary(args.out)
    if summary is not None:
        print(f"quality of every GAN in {args.out}: {summary}")
    return 0
