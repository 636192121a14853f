"""One split, trained one way: the sequence that `train` and every fold of `cv` share.

Why one function. A model trained by ``train`` and the model of one fold of ``cv``
are the same thing: training subjects, validation subjects, one run folder. Both
resolve their settings the same way (:func:`resolve_settings`: the base model of a
fine-tuning, the configuration, the engine, the augmentation), check every split
before the first write (:func:`check_splits`), and then :func:`run_split` writes the
run folder's files (config.json, engine.json, split.json), makes the augmented
training data, trains (resuming from the last checkpoint of a killed run), drops
the augmented epochs and writes the model card. A fold folder of `cv` thus holds
the files a `train` folder holds, written by the same lines.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from isatsleepnet.atomic import atomic_write_text
from isatsleepnet.augment.balance import AUGMENT_JSON
from isatsleepnet.augment.config import AugmentConfig
from isatsleepnet.config import save_config
from isatsleepnet.data.store import PreparedDataset
from isatsleepnet.engine import Engine
from isatsleepnet.errors import IsatSleepNetError
from isatsleepnet.gan.config import GanConfig
from isatsleepnet.training.augmentation import (
    augmented_training_data,
    drop_augmented_epochs,
    fold_gan_config,
    is_rank_zero,
)
from isatsleepnet.training.config import TrainConfig
from isatsleepnet.training.coverage import warn_about_validation
from isatsleepnet.training.finetune import with_base
from isatsleepnet.training.folds import Fold
from isatsleepnet.training.provenance import MODEL_FILE, write_run_cards

logger = logging.getLogger(__name__)

CONFIG_FILE = "config.json"
ENGINE_FILE = "engine.json"  # where it ran: saved, never compared
SPLIT_FILE = "split.json"  # the subjects it learns from and selects on; its absence marks a run from before it
AUGMENT_CONFIG_FILE = "augment_config.json"


def resolve_settings(config: TrainConfig | None, engine: Engine | None, augment: AugmentConfig | None, *,
                     init: str | Path | None = None,
                     freeze: str | None = None) -> tuple[TrainConfig, Engine, AugmentConfig]:
    """The validated settings of a training: defaults filled in, the base model's checksum made a setting.

    Checked before any data are read, so that a mistyped setting costs nothing.

    Parameters
    ----------
    config, engine, augment : optional
        As given by the caller (None: the paper's settings, the default engine, no augmentation).
    init, freeze : optional
        The base model of a fine-tuning and what of it stays frozen.

    Returns
    -------
    tuple
        ``(config, engine, augment)``, each validated.

    Examples
    --------
    >>> config, engine, augment = resolve_settings(None, None, None)
    >>> augment.enabled, config.seed == TrainConfig().seed
    (False, True)
    """
    config = with_base(config, init, freeze)  # the base model's checksum becomes a setting of the run
    engine = engine or Engine()
    engine.check_training()
    augment = augment or AugmentConfig()
    return config, engine, augment


def check_splits(dataset: PreparedDataset, splits: list[Fold], config: TrainConfig, *, augment: AugmentConfig,
                 gan: GanConfig | None = None, per_fold: bool = False) -> None:
    """Refuse what :func:`run_split` would refuse, for every split, before anything is written.

    A refused run then leaves nothing that refuses the corrected command. It also
    warns (once, before hours of training) about validation sets that lack stages.

    Parameters
    ----------
    dataset : PreparedDataset
        The prepared data the splits name subjects of.
    splits : list of Fold
        The splits about to be trained (finished ones left out).
    config, augment, gan
        The resolved settings (:func:`resolve_settings`).
    per_fold : bool
        Prefix the warnings with the fold (cross-validation).

    Examples
    --------
    >>> check_splits(dataset, [split], config, augment=AugmentConfig())  # doctest: +SKIP
    """
    from isatsleepnet.training.context import check_training

    for split in splits:
        check_training(dataset, split, config)
    if augment.enabled and (dataset.root / AUGMENT_JSON).is_file():
        raise IsatSleepNetError(f"{dataset.root} is already augmented (`isatsleepnet augment`); drop {augment}")
    if augment.mode == "gan":
        fold_gan_config(gan or GanConfig(), augment, config)  # refuses a GAN setting it cannot use, as it is made
    if is_rank_zero():  # before training: a validation set lacking stages makes model selection noise
        warn_about_validation(dataset, splits, per_fold=per_fold)


def changed_train_settings(previous: dict, config: TrainConfig) -> list[str]:
    """The training settings that differ from a saved run's.

    Only saved keys that are settings today are compared: a run saved before a
    setting existed ran with its default, and the machine settings that older
    versions saved here (threads, devices, ...) are no settings of a training.

    Examples
    --------
    >>> changed_train_settings({"seed": 1, "threads": 4}, TrainConfig(seed=2))
    ['seed']
    """
    current = asdict(config)
    # the base model (init) is compared by its checksum (init_sha256): a moved copy of it is the same base model
    return sorted(k for k in previous if k in current and k != "init" and previous[k] != current[k])


def settings_named(changed: list[str]) -> str:
    """``changed`` (TrainConfig fields) as a message names them: ``{field}`` placeholders (the command line spells
    each as its flag), and the network's settings in words (several flags and keywords set them).

    Examples
    --------
    >>> settings_named(["max_epochs", "model"])
    '{max_epochs}, the network (architecture, size or model options)'
    """
    words = {"model": "the network (architecture, size or model options)", "init_sha256": "the base model ({init})"}
    return ", ".join(words.get(k, "{" + k + "}") for k in changed)


def other_data(record: dict[str, Any], dataset: PreparedDataset) -> bool:
    """Whether a saved run's ``record`` (config.json of cv, split.json of a training) names other data than
    ``dataset``: by its identity (the same dataset moved elsewhere is the same data), or, for runs saved
    before identities were, by its resolved path.

    Examples
    --------
    >>> other_data({"data_identity": dataset.identity()}, dataset)  # doctest: +SKIP
    False
    """
    if record.get("data_identity"):
        return record["data_identity"] != dataset.identity()
    return bool(record.get("data")) and Path(record["data"]).resolve() != dataset.root.resolve()


def save_engine(folder: Path, engine: Engine) -> None:
    """Write ``folder/engine.json``: where a run ran, keys sorted (the same file for `train` and `cv`).

    Examples
    --------
    >>> save_engine(Path("runs/edf20"), Engine())  # doctest: +SKIP
    """
    save_config(engine, Path(folder) / ENGINE_FILE)


def _write_split_files(out: Path, dataset: PreparedDataset, split: Fold, config: TrainConfig, engine: Engine,
                       cover_stages: bool | None) -> None:
    """config.json (compared with a saved one first), engine.json and split.json of a run folder."""
    saved = out / CONFIG_FILE
    if saved.is_file():  # continuing (or re-reading) a training: it must be the same training
        changed = [settings_named(changed_train_settings(json.loads(saved.read_text()), config))]
        changed = [c for c in changed if c]
        try:
            previous = json.loads((out / SPLIT_FILE).read_text())
        except (OSError, ValueError):
            previous = {}
        if isinstance(previous, dict) and other_data(previous, dataset):
            changed.insert(0, f"data: {previous.get('data')} before, {dataset.root} now")
        if changed:
            raise IsatSleepNetError(f"{out} holds a training with other settings ({', '.join(changed)}); "
                                    "use the same settings or another {out}")
    save_config(config, saved)
    save_engine(out, engine)
    record: dict[str, Any] = {k: v for k, v in asdict(split).items() if k != "test" and v is not None}
    record.update(data=str(dataset.root.resolve()), data_identity=dataset.identity())
    if cover_stages is not None:
        record["cover_stages"] = cover_stages
    atomic_write_text(out / SPLIT_FILE, json.dumps(record, indent=2) + "\n")


def run_split(
    dataset: PreparedDataset,
    split: Fold,
    out: Path,
    config: TrainConfig,
    *,
    engine: Engine,
    augment: AugmentConfig,
    gan: GanConfig | None = None,
    keep_augmented: bool = False,
    progress: bool = True,
    headline: str = "",
    description: dict[str, Any] | None = None,
    cover_stages: bool | None = None,
) -> Path:
    """Train one split into the run folder ``out`` and return its model file (``out/model.pt``).

    The caller has resolved the settings (:func:`resolve_settings`), checked the
    split (:func:`check_splits`) and holds the folder's lock. A killed run
    continues from its last checkpoint; a finished one returns its model file.

    Parameters
    ----------
    dataset : PreparedDataset
        The prepared data; validation always reads its real epochs.
    split : Fold
        The training and validation subjects.
    out : Path
        The run folder: config.json, engine.json, split.json, checkpoints/, logs/, model.pt, MODEL_CARD.md.
    config, engine, augment, gan
        The resolved settings.
    keep_augmented : bool
        Keep the augmented training recordings once the model is saved.
    progress : bool
        Show progress bars.
    headline : str
        The status line said once the run folder's files are written.
    description : dict, optional
        Extra keys for the model file's ``training`` record (a cv fold's protocol).
    cover_stages : bool, optional
        Whether the validation draw followed the stage-coverage rule (recorded in split.json).

    Examples
    --------
    >>> config, engine, augment = resolve_settings(None, None, None)  # doctest: +SKIP
    >>> run_split(dataset, split, Path("models/edf20"), config, engine=engine, augment=augment)  # doctest: +SKIP
    PosixPath('models/edf20/model.pt')
    """
    from isatsleepnet.training import context  # looked up at call time: tests stand in for the training

    out.mkdir(parents=True, exist_ok=True)
    _write_split_files(out, dataset, split, config, engine, cover_stages)
    if headline:
        logger.info(headline)
    train_data = None
    if (out / MODEL_FILE).is_file():
        pass  # finished: training returns the model file as it is
    elif (dataset.root / AUGMENT_JSON).is_file():
        train_data = dataset  # train on its synthetic epochs too; validation reads its real epochs only
        augment = replace(augment, mode=json.loads((dataset.root / AUGMENT_JSON).read_text())["mode"])
        logger.info("%s is an augmented dataset (%s): training uses its synthetic epochs", dataset.root, augment.mode)
    elif augment.enabled:
        save_config(augment, out / AUGMENT_CONFIG_FILE)
        train_data = augmented_training_data(dataset, split, out, augment, config, gan=gan, engine=engine,
                                             progress=progress)
    path = context.train_with_context(dataset, split, out, config, progress=progress, train_data=train_data,
                                      augment=augment.mode, description=description, engine=engine)
    if not is_rank_zero():  # the other DDP processes helped train; the first one alone writes the files
        return path
    if train_data is not None and train_data is not dataset and not keep_augmented:
        drop_augmented_epochs(out)
    if path.is_file():
        write_run_cards(out)
    return path
