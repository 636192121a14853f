"""Train one model: the library function behind `isatsleepnet train` (and ``isatsleepnet.train``).

Its sibling :func:`isatsleepnet.training.cv.cross_validate` trains one model
per fold and tests it; this trains one model on chosen subjects and selects it
on others, for `evaluate` and `stage`. Both train each split with
:func:`isatsleepnet.training.split_run.run_split`, so a `train` folder and a
fold folder of `cv` hold the same files.
"""

from __future__ import annotations

import json
from pathlib import Path

from isatsleepnet.augment.config import AugmentConfig
from isatsleepnet.data.store import PreparedDataset
from isatsleepnet.engine import Engine
from isatsleepnet.gan.config import GanConfig
from isatsleepnet.locking import ensure_writable_folder, folder_lock
from isatsleepnet.training.arguments import check_setting_objects
from isatsleepnet.training.config import TrainConfig
from isatsleepnet.training.folds import Fold, training_split
from isatsleepnet.training.split_run import (
    CONFIG_FILE,
    ENGINE_FILE,
    SPLIT_FILE,
    changed_train_settings,
    check_splits,
    resolve_settings,
    run_split,
)

__all__ = ["CONFIG_FILE", "ENGINE_FILE", "SPLIT_FILE", "changed_train_settings", "train"]


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
    check_setting_objects(config=config, engine=engine, augment=augment, gan=gan)  # a dict: one line
    config, engine, augment = resolve_settings(config, engine, augment, init=init, freeze=freeze)
    dataset = data if isinstance(data, PreparedDataset) else PreparedDataset(data)
    out = Path(out)
    cover_stages = _covering_draw(out)
    split: Fold = training_split(dataset, train_subjects=train_subjects, validation_subjects=validation_subjects,
                                 folds_file=folds_file, fold=fold, validation_fraction=config.validation_fraction,
                                 seed=config.seed, cover_stages=cover_stages)
    # every check before the first write: a refused run leaves nothing that refuses the corrected command
    check_splits(dataset, [split], config, augment=augment, gan=gan)
    ensure_writable_folder(out)
    with folder_lock(out, "train", clean=True):  # clean: what a killed run was writing
        return run_split(dataset, split, out, config, engine=engine, augment=augment, gan=gan,
                         keep_augmented=keep_augmented, progress=progress, cover_stages=cover_stages,
                         headline=f"train on {len(split.train)} subject(s), select on {len(split.validation)}: {out}")
