"""Augmented training data for one split, made from its training subjects only.

Why this lives beside the training loop and not in a separate step: the SPEC
(and the paper's released code, which got it wrong) require that synthetic
epochs come from, and are added to, training data only. Per split:

* ``gan`` mode trains one Physio-GAN per channel on the real ``stage`` epochs
  of ``fold.train`` (never validation or test subjects) into FOLDER/gan/, where
  a killed run resumes from its checkpoint and a finished GAN is reused;
* the augmented store FOLDER/augmented/ holds the training recordings only
  (validation and test recordings are not copied into it), the real epochs
  followed by flagged synthetic ones. It is published atomically, so it exists
  only when complete, and reused when it was made from the same inputs.

The training loader then reads this store with synthetic epochs admitted, while
validation and test keep reading the original store.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from isatsleepnet.atomic import atomic_directory, atomic_write_text, remove_stale_temporaries
from isatsleepnet.augment.config import AugmentConfig
from isatsleepnet.data.hashing import sha1_of
from isatsleepnet.data.store import RECORDINGS, PreparedDataset
from isatsleepnet.engine import Engine
from isatsleepnet.errors import IsatSleepNetError
from isatsleepnet.gan.config import GanConfig
from isatsleepnet.training.config import TrainConfig
from isatsleepnet.training.folds import Fold

GAN_DIR = "gan"
AUGMENTED_DIR = "augmented"
MADE_FROM = "made_from.json"
RANK_WAIT_SECONDS = 24 * 3600

logger = logging.getLogger(__name__)


def fold_gan_config(gan: GanConfig, augment: AugmentConfig, train: TrainConfig) -> GanConfig:
    """The GAN settings a split uses: the augmented stage and the run's seed."""
    return replace(gan, stage=augment.stage, seed=train.seed)


def is_rank_zero() -> bool:
    """False in the extra processes of multi-GPU (DDP) training, which run the command from the start too:
    only the first process trains GANs and writes the store, the others wait for it."""
    return all(os.environ.get(name, "0") == "0" for name in ("RANK", "LOCAL_RANK", "NODE_RANK"))


def _wait_for(path: Path, what: str) -> None:
    """Other DDP ranks wait for rank 0 to publish ``path`` instead of building it concurrently."""
    deadline = time.monotonic() + RANK_WAIT_SECONDS
    while not path.exists():
        if time.monotonic() >= deadline:
            raise IsatSleepNetError(f"{path}: gave up waiting for the first process to write the {what}")
        time.sleep(5.0)


def _made_from(data: PreparedDataset, fold: Fold, augment: AugmentConfig, seed: int, gan_root: Path | None) -> dict[str, Any]:
    """Everything the augmented store depends on; a store made from other inputs is rebuilt."""
    from isatsleepnet.gan.generator import GENERATOR_FILE

    generators = {}
    if gan_root is not None:
        for folder in sorted(p for p in gan_root.iterdir() if (p / GENERATOR_FILE).is_file()):
            generators[folder.name] = sha1_of(folder / GENERATOR_FILE)
    return {"source": str(data.root.resolve()), "train_subjects": sorted(fold.train), "seed": seed,
            **augment.record(), "generators": generators}


def train_fold_gans(
    data: PreparedDataset,
    fold: Fold,
    folder: Path,
    gan: GanConfig,
    config: TrainConfig,
    *,
    progress: bool = True,
    engine: Engine | None = None,
) -> Path:
    """One GAN per channel of ``gan.stage`` on ``fold.train`` in FOLDER/gan/ (resumed or reused); returns that folder."""
    from isatsleepnet.gan.stages import train_stage_gans

    root = folder / GAN_DIR
    engine = engine or Engine()
    engine.apply()
    channels = config.channels or "all"
    logger.info("  Physio-GAN (%s, %d epochs) per channel on %d training subject(s)", gan.stage, gan.epochs,
                len(fold.train))
    train_stage_gans(data, fold.train, channels, root, gan, device=engine.torch_device(),
                     progress=None if progress else False)
    return root


def augmented_training_data(
    data: PreparedDataset,
    fold: Fold,
    folder: Path,
    augment: AugmentConfig,
    config: TrainConfig,
    *,
    gan: GanConfig | None = None,
    progress: bool = True,
    engine: Engine | None = None,
) -> PreparedDataset | None:
    """The augmented store of ``fold``'s training recordings (None when ``augment.mode`` is none).

    ``gan``: the Physio-GAN settings in gan mode (default GanConfig()); the
    stage and seed are taken from ``augment`` and ``config``.
    """
    if not augment.enabled:
        return None
    store = folder / AUGMENTED_DIR
    if not is_rank_zero():
        _wait_for(store, "augmented training data")
        return PreparedDataset(store)
    gan_root = None
    if augment.mode == "gan":
        gan_root = train_fold_gans(data, fold, folder, fold_gan_config(gan or GanConfig(), augment, config), config,
                                   progress=progress, engine=engine)
    made_from = _made_from(data, fold, augment, config.seed, gan_root)
    try:
        if json.loads((store / MADE_FROM).read_text()) == made_from and (store / RECORDINGS).is_dir():
            return PreparedDataset(store)
    except (OSError, json.JSONDecodeError):
        pass
    from isatsleepnet.augment.balance import augment_dataset

    logger.info("  augmenting %d training subject(s): %s", len(fold.train), augment.mode)
    remove_stale_temporaries(folder)  # a store half-written by a killed run
    with atomic_directory(store, overwrite=True) as tmp:
        augment_dataset(data, tmp, gan_dir=gan_root, subjects=fold.train, mode=augment.mode, stage=augment.stage,
                        seed=config.seed, target_ratio=augment.target_ratio, stage_cap=augment.stage_cap,
                        progress=None if progress else False, keep_others=False)
        atomic_write_text(tmp / MADE_FROM, json.dumps(made_from, indent=2) + "\n")
    return PreparedDataset(store)


def drop_augmented_epochs(folder: Path) -> None:
    """Delete the augmented recordings once the split's model is saved (they can take several
    times the training data's disk space per fold); augment.json, the manifest and
    made_from.json stay as the record of what was added."""
    shutil.rmtree(folder / AUGMENTED_DIR / RECORDINGS, ignore_errors=True)
