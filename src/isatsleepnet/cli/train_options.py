"""Training flags shared by `cv` and `train`, resolved into a TrainConfig."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from isatsleepnet import STAGES
from isatsleepnet.augment.config import AUGMENT_MODES, AugmentConfig
from isatsleepnet.cli.engine_options import add_engine_arguments, engine_from_args
from isatsleepnet.cli.flags import QUIET_HELP, named_as_in_file, renamed
from isatsleepnet.config import read_config_file, replace_from
from isatsleepnet.engine import Engine
from isatsleepnet.errors import DataError, IsatSleepNetError, SettingError
from isatsleepnet.gan.config import GanConfig
from isatsleepnet.training.config import LOSSES, NORMALIZATIONS, OPTIMIZERS, TrainConfig

ABLATIONS = ("lcr", "simgate", "cross-attention", "lstm", "self-attention", "asr", "tpp", "eog")

# flag destination → TrainConfig field
_FLAGS = {
    "epochs": "max_epochs", "batch_size": "batch_size", "lr": "learning_rate", "weight_decay": "weight_decay",
    "accumulate": "accumulate_grad_batches", "patience": "early_stopping_patience", "loss_alpha": "loss_alpha",
    "normalize": "normalize", "balanced": "balanced_sampling", "channels": "channels", "seed": "seed",
    "max_train_batches": "max_train_batches", "context_epochs": "context_epochs", "context_lr": "context_learning_rate",
    "tensorboard": "tensorboard", "validation_fraction": "validation_fraction", "init": "init", "freeze": "freeze",
    "loss": "loss", "optimizer": "optimizer", "grad_clip": "grad_clip_norm",
}


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("training (defaults: the settings of the architecture's paper; ISATSleepNet's are shown)")
    g.add_argument("--config", type=Path, help="TOML/JSON file with training settings (a [train] table or top-level keys; "
                                               "[augment], [gan] and [engine] tables too); flags override it")
    g.add_argument("--epochs", type=int, help="maximum training epochs (default 100)")
    g.add_argument("--batch-size", type=int, help="batch size (default 16)")
    g.add_argument("--accumulate", type=int, help="gradient accumulation steps (default 4: effective batch 64)")
    g.add_argument("--optimizer", choices=OPTIMIZERS,
                   help="adamw (default; decoupled weight decay), adam (weight decay as L2 in the gradient) or "
                        "amsgrad (adam with AMSGrad)")
    g.add_argument("--lr", type=float, help="learning rate (default 5e-5)")
    g.add_argument("--weight-decay", type=float, help="weight decay (default 1e-5)")
    g.add_argument("--grad-clip", type=float, metavar="NORM", help="clip the gradient's norm to NORM (default: no clipping)")
    g.add_argument("--patience", type=int, help="early stopping: epochs without a better validation macro-F1 (default 10)")
    g.add_argument("--loss", choices=LOSSES,
                   help="hybrid (default: weighted cross-entropy and 1 - soft macro-F1, mixed by --loss-alpha) or "
                        "generalized-dice (U-Time's)")
    g.add_argument("--loss-alpha", type=float, help="weight of cross-entropy in the hybrid loss; the rest is 1 - soft macro-F1 (default 0.5)")
    g.add_argument("--normalize", choices=NORMALIZATIONS, help="input normalisation (default epoch-zscore: per epoch and channel)")
    g.add_argument("--balanced", action="store_true", default=None, help="class-balanced sampling of training epochs (a sequence network's windows: by the mean rarity of their stages)")
    g.add_argument("--channels", type=lambda v: [c.strip() for c in v.split(",")], help="comma-separated channels to use (default: all prepared channels)")
    g.add_argument("--validation-fraction", type=float,
                   help="share of training subjects held out for model selection (default 0.1, at least one when "
                        "there are two or more; with one subject, none: the last epoch's model is kept; drawn, "
                        "when the subjects allow it, so that they hold all five stages)")
    g.add_argument("--architecture", metavar="NAME",
                   help="the network to train: isatsleepnet (default) or another registered architecture "
                        "(`isatsleepnet architectures` lists them); a config file says it as [model] architecture")
    g.add_argument("--model-size", choices=("paper", "small"),
                   help="paper (default: the paper's network, 2.39 M parameters) or small (every width halved, "
                        "0.61 M parameters, ~2x faster staging on a CPU); --model-option overrides either")
    g.add_argument("--ablation", action="append", choices=ABLATIONS, default=[], help="switch a model component off (repeatable), e.g. --ablation asr")
    g.add_argument("--model-option", action="append", default=[], metavar="KEY=VALUE", help="override a setting of the architecture's configuration (JSON value), e.g. --model-option dropout=0.3")
    g.add_argument("--context", type=int, metavar="N",
                   help="context across epochs: 0 (default) is the paper's per-epoch network; N (3-255, e.g. 21) "
                        "trains it first (OUT/encoder/), then a sequence model (--context-model) over the embeddings "
                        "of N consecutive epochs on the frozen network (see README, Context)")
    g.add_argument("--context-model", choices=("bigru", "transformer"),
                   help="the sequence model of --context: bigru (default) or transformer")
    g.add_argument("--context-epochs", type=int, help="training epochs of the context head (default 20)")
    g.add_argument("--context-lr", type=float, help="AdamW learning rate of the context head (default 1e-3)")
    g.add_argument("--seed", type=int, help="random seed (default 0)")
    g.add_argument("--max-train-batches", type=int, help="limit the batches per training epoch (quick runs)")
    g.add_argument("--tensorboard", action="store_true", default=None, help="also log to TensorBoard (needs the tensorboard package)")
    g.add_argument("--quiet", action="store_true", help=QUIET_HELP)
    _add_fine_tune_arguments(p)
    add_engine_arguments(p, training=True)


def _add_fine_tune_arguments(p: argparse.ArgumentParser) -> None:
    from isatsleepnet.training.config import FINE_TUNE_LEARNING_RATE, FREEZE_CHOICES

    f = p.add_argument_group("fine-tuning (start from a trained model; the new model records it as its parent)")
    f.add_argument("--init", metavar="MODEL.pt",
                   help="start from this model file's weights: the same channel roles, sampling rate, epoch length, "
                        "normalisation and architecture, or one line saying what differs (cv: one base model for "
                        f"every fold). Without --lr the learning rate is then {FINE_TUNE_LEARNING_RATE:g}, a fifth "
                        "of the paper's: a few nights give noisy gradients, and large steps erase what the base "
                        "model learned before they fit the new data")
    f.add_argument("--freeze", choices=FREEZE_CHOICES,
                   help="with --init: none (default: train every weight); extractors (keep the EEG/EOG feature "
                        "extractors as they are: few nights, a similar montage); encoder (train the classification "
                        "head alone)")


def _fine_tune_learning_rate(config: TrainConfig, args: argparse.Namespace) -> TrainConfig:
    """With --init and no learning rate from --lr or --config: the fine-tuning default."""
    from dataclasses import replace

    from isatsleepnet.training.config import FINE_TUNE_LEARNING_RATE

    from_file = read_config_file(args.config, "train") if args.config else {}
    if config.init is None or args.lr is not None or "learning_rate" in from_file:
        return config
    return replace(config, learning_rate=FINE_TUNE_LEARNING_RATE)


def train_config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The run's training settings: the architecture's paper's, then the --config file's, then the flags.

    The file's values and the flags are applied at once, so that a setting the file gives may
    depend on one a flag gives (``freeze`` in the file, ``--init`` on the command line).
    """
    from isatsleepnet.training.config import for_architecture

    values = read_config_file(args.config, "train") if args.config else {}
    table = values.get("model") if isinstance(values.get("model"), dict) else {}
    base = for_architecture(getattr(args, "architecture", None) or table.get("architecture"))
    if args.config:
        # [augment] and [gan] tables beside top-level training keys belong to augment_config_from_args
        values = {k: v for k, v in values.items() if not (k in ("augment", "gan", "engine") and isinstance(v, dict))}
        moved = sorted(set(values) & {"threads", "num_workers", "accelerator", "devices", "num_nodes", "precision"})
        if moved:
            raise IsatSleepNetError(f"{args.config}: {', '.join(moved)} are engine settings now: move them to an "
                                    "[engine] table (device, devices, num_nodes, precision, threads, workers)")
        _refuse_flag_spellings(args.config, values)
    flags = {field: getattr(args, dest) for dest, field in _FLAGS.items() if getattr(args, dest) is not None}
    values = {**values, **flags}
    if not isinstance(values.get("model", {}), dict):
        replace_from(base, values, source=str(args.config))  # refuses the model table, naming the setting
    model = dict(values.get("model", base.model))
    if getattr(args, "architecture", None):
        model["architecture"] = args.architecture
    from isatsleepnet.model.architectures import DEFAULT_ARCHITECTURE, get_architecture

    if model.get("architecture") == DEFAULT_ARCHITECTURE:
        model.pop("architecture")  # the default: a run made without --architecture continues
    arch = get_architecture(model.get("architecture"))
    if getattr(args, "model_size", None):
        # a size sets every width a size may set (--model-size paper undoes a config file's small widths)
        sized = {key for options in arch.sizes.values() for key in options}
        model = {**{k: v for k, v in model.items() if k not in sized}, **arch.size_options(args.model_size)}
    if getattr(args, "context_model", None):
        model["context_model"] = args.context_model
    if getattr(args, "context", None):
        model["context"] = args.context
    elif getattr(args, "context", None) == 0:
        model.pop("context", None)  # 0 is the default: a run made without --context continues
    if getattr(args, "context_model", None) and not model.get("context"):
        raise SettingError("context_model", "chooses the sequence model of {context} N: give --context N (3-255) "
                                            "as well, or leave it out")
    for name in args.ablation:
        model[f"use_{name.replace('-', '_')}"] = False
    for item in args.model_option:
        key, sep, value = item.partition("=")
        if not sep:
            raise SettingError("model_option", f"expects KEY=VALUE, got {item!r}")
        try:
            model[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            model[key.strip()] = value
    with named_as_in_file(args.config, {k for k in values if k not in flags}):
        config = replace_from(base, {**values, "model": model}, source=str(args.config))
    return _fine_tune_learning_rate(config, args)  # (TrainConfig refuses unknown model options itself)


def _refuse_flag_spellings(config_file: Path, values: dict) -> None:
    """A key spelled as its flag (``epochs`` for ``max_epochs``, ``lr``...) says the file's spelling, not just
    "unknown": the flag and the key differ only for the settings the flag table renames."""
    from isatsleepnet.cli.flags import flag

    renamed_keys = {flag(field).removeprefix("--").replace("-", "_"): field for field in _FLAGS.values()}
    wrong = {key: renamed_keys[key] for key in values if key in renamed_keys and renamed_keys[key] != key}
    if wrong:
        raise DataError(config_file, "; ".join(f"{key} is spelled {field} in a config file (the flag "
                                               f"--{key.replace('_', '-')} sets it)" for key, field in wrong.items()))


def engine_config_from_args(args: argparse.Namespace) -> Engine:
    """The engine of the flags, over the ``[engine]`` table of --config (when it has one)."""
    tables = read_config_file(args.config, "") if args.config else {}
    table = tables.get("engine") if isinstance(tables.get("engine"), dict) else None
    given = {name for name in (table or {}) if getattr(args, name, None) is None}
    with named_as_in_file(args.config, given, table="engine"):
        return engine_from_args(args, table)




def add_augment_arguments(p: argparse.ArgumentParser, folder: str) -> None:
    """--augment and the Physio-GAN options of `cv` and `train`; ``folder`` names where a split's files go."""
    a = p.add_argument_group(
        "augmentation (made from the training subjects only; validation and test stay real)")
    a.add_argument("--augment", choices=AUGMENT_MODES, default="none",
                   help="none (default); transforms: balance each training recording toward 1.15 x its largest "
                        "class with physiology-aware transforms; gan: the same, with the --augment-stage epochs "
                        f"made by a Physio-GAN per channel trained on the training subjects ({folder}/gan/)")
    a.add_argument("--augment-stage", choices=STAGES,
                   help="the stage the GAN fills, capped at 0.8 x its real count (with transforms: the stage "
                        "given that cap); default N1")
    a.add_argument("--gan-epochs", type=int, metavar="N", help="Physio-GAN training epochs per channel (default 100)")
    a.add_argument("--gan-config", type=Path, metavar="FILE",
                   help="TOML/JSON with Physio-GAN settings (a [gan] table or top-level keys, as for train-gan)")
    a.add_argument("--keep-augmented", action="store_true",
                   help=f"keep the augmented recordings ({folder}/augmented/) after the model is saved; by default "
                        "they are deleted then (2-3 x the training data's size), their counts kept")


def augment_config_from_args(args: argparse.Namespace) -> tuple[AugmentConfig, GanConfig | None]:
    """The augmentation and (gan mode) the GAN settings from the flags; --config may hold [augment] and [gan] tables."""
    tables = read_config_file(args.config, "") if args.config else {}
    values = dict(tables["augment"]) if isinstance(tables.get("augment"), dict) else {}
    if args.augment != "none":
        values["mode"] = args.augment
    if args.augment_stage:
        values["stage"] = args.augment_stage
    try:
        augment = replace_from(AugmentConfig(), values, source=f"{args.config} [augment]")
    except SettingError as exc:  # train and cv set these by --augment and --augment-stage
        raise renamed(exc, mode="augment", stage="augment_stage") from None
    gan_flags = [name for name in ("gan_epochs", "gan_config") if getattr(args, name) is not None]
    if augment.mode != "gan":
        if gan_flags:
            raise IsatSleepNetError(f"{{{gan_flags[0]}}} needs {{augment}} gan")
        if args.augment_stage and augment.mode == "none":
            raise IsatSleepNetError("{augment_stage} needs {augment} transforms or gan")
        return augment, None
    try:
        gan = GanConfig()
        if isinstance(tables.get("gan"), dict):
            gan = replace_from(gan, tables["gan"], source=f"{args.config} [gan]")
        if args.gan_config:
            gan = replace_from(gan, read_config_file(args.gan_config, "gan"), source=str(args.gan_config))
        flags = {"stage": augment.stage} if args.gan_epochs is None else {"stage": augment.stage,
                                                                          "epochs": args.gan_epochs}
        gan = replace_from(gan, flags)
    except SettingError as exc:  # here the GAN's epochs are --gan-epochs (train-gan's --epochs), its stage cv's
        raise renamed(exc, epochs="gan_epochs", stage="augment_stage") from None
    return augment, gan
