"""Train one model: the library function behind `isatsleepnet train` (and ``isatsleepnet.train``).

Its sibling :func:`isatsleepnet.training.cv.cross_validate` trains one model
per fold and tests it; this trains one model on chosen subjects and selects it
on others, for `evaluate` and `stage`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path

from isatsleepnet.atomic import atomic_write_text
from isatsleepnet.augment.config import AugmentConfig
from isatsleepnet.config import save_config
from isatsleepnet.data.store import PreparedDataset
from isatsleepnet.engine import Engine
from isatsleepnet.errors import IsatSleepNetError
from isatsleepnet.gan.config import GanConfig
from isatsleepnet.locking import ensure_writable_folder, folder_lock
from isatsleepnet.training.config import TrainConfig
from isatsleepnet.training.coverage import warn_about_validation
from isatsleepnet.training.folds import Fold, training_split

CONFIG_FILE = "config.json"
ENGINE_FILE = "engine.json"  # where it ran: saved, never compared
SPLIT_FILE = "split.json"  # the subjects it learns from and selects on; its absence marks a run from before it


def changed_train_settings(previous: dict, config: TrainConfig) -> list[str]:
    """The training settings that differ from a saved run's.

    Only saved keys that are settings today are compared: a run saved before a
    setting existed ran with its default, and the machine settings that older
    versions saved here (threads, devices, ...) are no settings of a training.
    """
    from dataclasses import asdict

    current = asdict(config)
    # the base model (--init) is compared by its checksum (init_sha256): a moved copy of it is the same base model
    return sorted(k for k in previous if k in current and k != "init" and previous[k] != current[k])


def _covering_draw(out: Path) -> bool:
    """Whether a drawn validation set follows the stage-coverage rule: as split.json says in a rerun;
    not in a run folder made before the rule (config.json without split.json), whose rerun must keep
    its plain seeded draw; else yes."""
    out = Path(out)
    if (out / SPLIT_FILE).is_file():
        try:
            return bool(json.loads((out / SPLIT_FILE).read_text()).get("cover_stages", True))
        except (OSError, ValueError, AttributeError):
            return True
    return not (out / CONFIG_FILE).is_file()


def train(
    data: str | Path | PreparedDataset,
    out: str | Path,
    *,
    config: TrainConfig | None = None,
    engine: Engine | None = None,
    train_subjects: list[str] | None = None,
    validation_subjects: list[str] | None = None,
    folds_file: str | Path | None = None,
    fold: int | None = None,
    augment: AugmentConfig | None = None,
    gan: GanConfig | None = None,
    keep_augmented: bool = False,
    progress: bool = True,
    init: str | Path | None = None,
    freeze: str | None = None,
) -> Path:
    """Train a model on ``data`` into the folder ``out`` and return its model file (``out/model.pt``).

    Subjects: ``train_subjects`` and ``validation_subjects`` (default: a seeded
    ``config.validation_fraction`` of all subjects validates), or the training
    and validation subjects of fold ``fold`` of a ``folds_file`` (from `cv`).
    A killed run continues from its last checkpoint when called again with the
    same settings, and ends with the model an uninterrupted run makes.

    Parameters
    ----------
    data : path or PreparedDataset
        A prepared dataset (from :func:`isatsleepnet.prepare`).
    out : path
        The run folder: config.json, engine.json, checkpoints/, logs/, model.pt.
    config : TrainConfig, optional
        Training settings (default: the paper's).
    engine : Engine, optional
        Where it runs (default: a CUDA GPU when there is one, else the CPU).
    augment, gan : optional
        Augmentation of the training subjects' recordings (default: none).
    init : path, optional
        Fine-tune: start from this model file's weights (same channel roles, rate, epoch length and
        architecture); without ``config``, the learning rate is then
        :data:`~isatsleepnet.training.finetune.FINE_TUNE_LEARNING_RATE`. The new model records its parent.
    freeze : {"none", "extractors", "encoder"}, optional
        With ``init``: keep the EEG/EOG feature extractors, or everything but the classification head,
        as the base model has them (default none).

    ``out/MODEL_CARD.md`` describes the model (:mod:`isatsleepnet.model.card`).

    Examples
    --------
    >>> import isatsleepnet as isn  # doctest: +SKIP
    >>> model_path = isn.train("prepared/edf20", "models/edf20", validation_subjects=["SC400"])  # doctest: +SKIP
    """
    from isatsleepnet.augment.balance import AUGMENT_JSON
    from isatsleepnet.training.augmentation import (
        augmented_training_data,
        drop_augmented_epochs,
        fold_gan_config,
        is_rank_zero,
    )
    from isatsleepnet.training.context import check_training, train_with_context
    from isatsleepnet.training.fit import MODEL_FILE

    from isatsleepnet.training.finetune import with_base
    from isatsleepnet.training.provenance import write_run_cards

    config = with_base(config, init, freeze)  # the base model's checksum becomes a setting of the run
    config.validate()
    engine = engine or Engine()
    engine.validate()
    engine.check_training()
    augment = augment or AugmentConfig()
    augment.validate()
    dataset = data if isinstance(data, PreparedDataset) else PreparedDataset(data)
    out = Path(out)
    cover_stages = _covering_draw(out)
    split: Fold = training_split(dataset, train_subjects=train_subjects, validation_subjects=validation_subjects,
                                 folds_file=folds_file, fold=fold, validation_fraction=config.validation_fraction,
                                 seed=config.seed, cover_stages=cover_stages)
    # every check before the first write: a refused run leaves nothing that refuses the corrected command
    check_training(dataset, split, config)
    augmented_store = (dataset.root / AUGMENT_JSON).is_file()
    if augmented_store and augment.enabled:
        raise IsatSleepNetError(f"{dataset.root} is already augmented (`isatsleepnet augment`); drop --augment")
    if augment.mode == "gan":
        fold_gan_config(gan or GanConfig(), augment, config).validate()
    if is_rank_zero():  # before training: a validation set lacking stages makes model selection noise
        warn_about_validation(dataset, [split], per_fold=False)
    ensure_writable_folder(out)
    with folder_lock(out, "train", clean=True):  # clean: what a killed run was writing
        saved = out / CONFIG_FILE
        if saved.is_file():  # continuing (or re-reading) a training: it must be the same training
            changed = changed_train_settings(json.loads(saved.read_text()), config)
            if changed:
                raise IsatSleepNetError(f"{out} holds a training with other settings ({', '.join(changed)}); "
                                        "use the same flags or another --out")
        save_config(config, saved)
        save_config(engine, out / ENGINE_FILE)
        record = {k: v for k, v in asdict(split).items() if k != "test" and v is not None}
        atomic_write_text(out / SPLIT_FILE, json.dumps({**record, "cover_stages": cover_stages}, indent=2) + "\n")
        if progress:
            print(f"train on {len(split.train)} subject(s), select on {len(split.validation)}: {out}", flush=True)
        train_data = None
        if (out / MODEL_FILE).is_file():
            pass  # finished: train_split returns the model file as it is
        elif augmented_store:
            train_data = dataset  # train on its synthetic epochs too; validation reads its real epochs only
            augment = replace(augment, mode=json.loads((dataset.root / AUGMENT_JSON).read_text())["mode"])
            if progress:
                print(f"{dataset.root} is an augmented dataset ({augment.mode}): training uses its synthetic epochs")
        elif augment.enabled:
            save_config(augment, out / "augment_config.json")
            train_data = augmented_training_data(dataset, split, out, augment, config, gan=gan, engine=engine,
                                                 progress=progress)
        path = train_with_context(dataset, split, out, config, progress=progress, train_data=train_data,
                                  augment=augment.mode, engine=engine)
        if train_data is not None and train_data is not dataset and not keep_augmented:
            drop_augmented_epochs(out)
        if is_rank_zero() and path.is_file():  # the first process of a multi-GPU run writes the files
            write_run_cards(out)
    return path
