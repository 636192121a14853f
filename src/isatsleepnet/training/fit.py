"""Train one split: fit on training subjects, select the epoch on validation subjects.

The test subjects are never seen here. A run folder holds Lightning's
checkpoints (``checkpoints/last.ckpt`` every epoch, ``best.ckpt`` by validation
macro-F1), the CSV log and, when training is finished, ``model.pt``; a killed
run started again continues from ``last.ckpt`` and ends with the model an
uninterrupted run would have made (:mod:`isatsleepnet.training.reproducible`).
Checkpoints are read as plain data, never as code, each carries a sha256 of its
content that is checked before it is used (:func:`read_checkpoint`), and
non-finite weights never become ``model.pt``. A run folder can be moved or
copied between runs: resuming it there continues as it would have in place.
"""

from __future__ import annotations

import csv
import json
import logging
import re
import sys
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.accelerators import CPUAccelerator
from lightning.pytorch.callbacks import EarlyStopping, TQDMProgressBar
from torch.utils.data import DataLoader

from isatsleepnet.atomic import atomic_write_text
from isatsleepnet.data.input_profile import InputProfile
from isatsleepnet.data.store import PreparedDataset, PreparedRecording
from isatsleepnet.engine import Engine
from isatsleepnet.errors import IsatSleepNetError
from isatsleepnet.model.architectures import get_architecture
from isatsleepnet.model.file import ModelFile
from isatsleepnet.model.fastops import onednn_matmul
from isatsleepnet.training.config import TrainConfig
from isatsleepnet.training.data import EpochDataset, balanced_sampler
from isatsleepnet.training.windows import WindowDataset
from isatsleepnet.data.subjects import recordings_of
from isatsleepnet.training.folds import Fold, class_weights
from isatsleepnet.torchfile import load_plain, non_finite_tensors
from isatsleepnet.training.module import (
    CHECKPOINT_HASH_KEY,
    EpochSeeding,
    KeepEarlyStop,
    KeepInterrupt,
    MovableCheckpoint,
    SleepStager,
    checkpoint_sha256,
)
from isatsleepnet.training.reproducible import EpochSampler
from isatsleepnet.training.finetune import check_base, lineage_record, start_from_base
from isatsleepnet.training.provenance import data_record

logger = logging.getLogger(__name__)

MODEL_FILE = "model.pt"


def channel_roles(recording: PreparedRecording, channels: list[str]) -> list[str]:
    """Roles (eeg, eeg2, eog) of the chosen channels: from the store, or guessed from names for npz imports."""
    stored = dict(zip(recording.channels, recording.meta.get("roles") or []))
    roles, n_eeg = [], 0
    for name in channels:
        role = stored.get(name)
        if role is None:
            role = "eog" if "eog" in name.lower() else ("eeg" if n_eeg == 0 else f"eeg{n_eeg + 1}")
        n_eeg += role.startswith("eeg")
        roles.append(role)
    return roles


def network_settings(first: PreparedRecording, channels: list[str], config: TrainConfig) -> dict[str, Any]:
    """The network settings of a run: its input (roles, epoch samples, rate) from its first training recording,
    and the run's overrides of its architecture's configuration."""
    return {"roles": channel_roles(first, channels), "n_samples": int(first.meta["n_samples"]),
            "sampling_rate": first.sampling_rate, **config.network_overrides}


def check_split(data: PreparedDataset, fold: Fold, config: TrainConfig) -> None:
    """Refuse, in one line, what :func:`train_split` would refuse at its start, before a run writes anything.

    A run refused after writing its config.json would refuse the corrected command as one "with other
    settings" (another --init, --channels or --tensorboard); `train` and `cv` call this before they
    write, and train_split calls it too, so the checks live here once.
    """
    train_recs = recordings_of(data, fold.train)
    if not train_recs:
        raise IsatSleepNetError(f"fold {fold.index}: no recordings for the training subjects")
    channels = config.channels or train_recs[0].channels
    for rec in train_recs + recordings_of(data, fold.validation):
        missing = [c for c in channels if c not in rec.channels]
        if missing:
            raise IsatSleepNetError(f"recording {rec.name} lacks channel(s) {missing}; it has {rec.channels}")
    if config.tensorboard:
        import importlib.util

        if importlib.util.find_spec("tensorboard") is None and importlib.util.find_spec("tensorboardX") is None:
            raise IsatSleepNetError("{tensorboard} needs the tensorboard package: pip install tensorboard")
    first = train_recs[0]
    check_base(config, network_settings(first, list(channels), config), float(first.meta.get("epoch_seconds", 30.0)))


def _augmented_recordings(train_data: PreparedDataset, data: PreparedDataset, fold: Fold) -> list[PreparedRecording]:
    """The training recordings as ``train_data`` holds them (real epochs, then synthetic ones), checked.

    ``train_data`` is either a split's own augmented store, which must hold
    exactly the training recordings (a validation or test recording in it is
    refused rather than trained on), or ``data`` itself when it is a dataset
    written by `isatsleepnet augment`; then no validation subject may be among
    the subjects it augmented.
    """
    originals = recordings_of(data, fold.train)
    recs = recordings_of(train_data, fold.train)
    wanted, found = sorted(r.name for r in originals), sorted(r.name for r in recs)
    same_store = train_data.root.resolve() == data.root.resolve()
    extra = [] if same_store else sorted(set(train_data.names) - set(wanted))
    if found != wanted or extra:
        raise IsatSleepNetError(
            f"{train_data.root}: the augmented store should hold the {len(wanted)} training recordings of fold "
            f"{fold.index} only; it has {len(train_data.names)} (missing {sorted(set(wanted) - set(found))[:3]}, "
            f"other {extra[:3]})"
        )
    if same_store:
        record = json.loads((data.root / "augment.json").read_text())
        augmented = set(record.get("augmented_subjects", []))
        leaked = sorted(augmented & set(fold.validation))
        if leaked:
            raise IsatSleepNetError(
                f"{data.root}: validation subject(s) {', '.join(leaked[:5])} were augmented; augment only the "
                "training subjects ({subjects} or {folds_file}/{fold}), or choose other validation subjects"
            )
        untrained = sorted(augmented - set(fold.train))
        if record.get("mode") == "gan" and untrained:  # the GAN learned from every augmented subject
            raise IsatSleepNetError(
                f"{data.root}: its GAN epochs were learned from subject(s) {', '.join(untrained[:5])}"
                f"{' ...' if len(untrained) > 5 else ''} too, which this training does not train on: a model trained "
                "on them has seen those subjects, and nothing would keep them out of its evaluation; train on "
                "every augmented subject ({train_subjects}), or augment only the training subjects"
            )
        return recs
    by_name = {r.name: r for r in originals}
    for rec in recs:
        if int(rec.real.sum()) != by_name[rec.name].n_epochs:
            raise IsatSleepNetError(f"{rec.path}: its real epochs do not match {by_name[rec.name].path}; "
                                    "remove the augmented store")
    return recs


def read_checkpoint(path: Path) -> dict[str, Any]:
    """A Lightning checkpoint of ours, read as plain data (never code), complete, unaltered (its sha256, see
    :meth:`SleepStager.on_save_checkpoint`) and with finite weights.

    A checkpoint without the checksum (written before it existed) is refused like a damaged one, not trusted:
    the checkpoint becomes model.pt, which gets a valid checksum of its own, so an unverified one would turn
    any damage into a model file that every later check accepts. The cost is retraining an interrupted split;
    a finished split has its model.pt and never reads its checkpoints again.
    """
    # without last.ckpt a run starts again; without best.ckpt alone it would save its last epoch as model.pt
    again = "; delete it to start again" if path.name == "last.ckpt" else f"; delete {path.parent} to train again"
    checkpoint = load_plain(path, "training checkpoint", hint=again)
    if not (isinstance(checkpoint, dict) and isinstance(checkpoint.get("state_dict"), dict)
            and isinstance(checkpoint.get("epoch"), int) and not isinstance(checkpoint.get("epoch"), bool)):
        raise IsatSleepNetError(f"{path}: not a training checkpoint of isatsleepnet (no weights or epoch){again}")
    saved = checkpoint.get(CHECKPOINT_HASH_KEY)
    if saved is None:
        raise IsatSleepNetError(f"{path}: a training checkpoint without the checksum of its weights (written by an "
                                f"older isatsleepnet, or altered): not used; delete {path.parent} to start again")
    if saved != checkpoint_sha256(checkpoint):
        raise IsatSleepNetError(f"{path}: corrupt training checkpoint: its weights do not match their checksum; "
                                f"delete {path.parent} to start again")
    bad = non_finite_tensors(checkpoint["state_dict"])
    if bad:
        raise IsatSleepNetError(f"{path}: the checkpoint's weights hold NaN or infinity ({', '.join(bad[:3])}); "
                                f"it is not used (training diverged){again}")
    return checkpoint


def trim_log(log_path: Path | None, through_epoch: int) -> None:
    """Drop CSV rows of epochs after ``through_epoch``: the row of an epoch is written just before its
    last.ckpt, so a run killed in between logged an epoch that its resumption trains again."""
    if log_path is None or not log_path.is_file():
        return
    lines = log_path.read_text().splitlines(keepends=True)
    kept = lines[:1] + [line for line in lines[1:] if _epoch_of(line) <= through_epoch]
    if kept != lines:
        atomic_write_text(log_path, "".join(kept))


def _epoch_of(line: str) -> int:
    head = line.split(",", 1)[0].strip()
    return int(head) if head.isdigit() else -1


def one_line(exc: BaseException) -> str:
    """The message of an error re-raised by a DataLoader worker (its last traceback line, without the type)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return re.sub(r"^[\w.]+(Error|Exception): ", "", lines[-1]) if lines else type(exc).__name__


def _selection_metrics(log_path: Path, epoch: int | None) -> dict[str, Any]:
    """The validation metrics of the selected epoch, from the training log (empty if not logged)."""
    if epoch is None or not log_path.is_file():
        return {}
    with log_path.open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("epoch") == str(epoch)]
    if not rows:
        return {}
    row = rows[-1]
    values = {k.removeprefix("val_"): float(v) for k, v in row.items() if k.startswith("val_") and v not in ("", None)}
    return {"validation": {"epoch": epoch, **values}} if values else {}


def _quiet_lightning(verbose: bool = False) -> None:
    """Lightning's notices are for its developers, not for someone training a sleep stager; ``verbose`` keeps them.

    The dirpath warning of a moved run folder is moot: :class:`MovableCheckpoint` restores its state.
    """
    if verbose:
        return
    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")
    warnings.filterwarnings("ignore", message=".*Checkpoint directory.*exists and is not empty.*")
    warnings.filterwarnings("ignore", message=".*The dirpath has changed from.*")
    # a run without validation subjects says so in its own words (train_split)
    warnings.filterwarnings("ignore", message=".*defined a `validation_step` but have no `val_dataloader`.*")


def train_split(
    data: PreparedDataset,
    fold: Fold,
    out: Path,
    config: TrainConfig,
    *,
    progress: bool = True,
    description: dict[str, Any] | None = None,
    callbacks: list[L.Callback] | None = None,
    train_data: PreparedDataset | None = None,
    augment: str = "none",
    verbose: bool = False,
    engine: Engine | None = None,
) -> Path:
    """Train on ``fold.train``, select on ``fold.validation``; returns the model file's path.

    ``train_data`` is an augmented store of the training recordings (see
    :mod:`isatsleepnet.training.augmentation`): training then reads it with
    synthetic epochs admitted, while validation still reads ``data`` with real
    epochs only. ``augment`` names its mode in the model file.
    ``callbacks`` are extra Lightning callbacks (tests use them to interrupt a run).
    ``verbose`` keeps Lightning's own warnings and notices (see :func:`_quiet_lightning`).
    ``engine`` says where it runs (default: :class:`~isatsleepnet.engine.Engine`'s defaults).
    """
    engine = engine or Engine()
    out.mkdir(parents=True, exist_ok=True)
    if (out / MODEL_FILE).is_file():
        return out / MODEL_FILE
    _quiet_lightning(verbose)
    L.seed_everything(config.seed, workers=True, verbose=False)
    engine.apply()

    check_split(data, fold, config)
    train_recs = recordings_of(data, fold.train)
    val_recs = recordings_of(data, fold.validation)
    if train_data is not None:
        train_recs = _augmented_recordings(train_data, data, fold)
    channels = config.channels or train_recs[0].channels
    first = train_recs[0]
    model_config = network_settings(first, channels, config)
    arch = get_architecture(config.architecture)
    window = arch.window_length(arch.make_config(model_config))
    if window:  # a sequence-to-sequence network: windows of consecutive real epochs (training/windows.py)
        train_set = WindowDataset(train_recs, length=window, channels=channels, normalize=config.normalize,
                                  include_synthetic=train_data is not None, seed=config.seed)
        val_set = (WindowDataset(val_recs, length=window, channels=channels, normalize=config.normalize)
                   if val_recs else None)
    else:
        train_set = EpochDataset(train_recs, channels=channels, normalize=config.normalize,
                                 include_synthetic=train_data is not None)
        val_set = EpochDataset(val_recs, channels=channels, normalize=config.normalize) if val_recs else None
    weights = class_weights(train_set.class_counts()).tolist()
    module = SleepStager(model_config, asdict(config), weights)
    # fine-tuning: the base model's weights (a resumed run then loads last.ckpt over them), frozen parts frozen
    base, frozen = start_from_base(module.model, config, model_config, float(first.meta.get("epoch_seconds", 30.0)))

    # The order of training epoch e is a function of (seed, e), and the loaders draw their workers' base
    # seeds from generators of their own, not from the global one that EpochSeeding reseeds per epoch
    # (a resumed run creates its first iterator before that reseeding, an uninterrupted one after it).
    sampler = (balanced_sampler(train_set, config.seed) if config.balanced_sampling
               else EpochSampler(len(train_set), config.seed))
    train_loader = DataLoader(
        train_set, batch_size=config.batch_size, sampler=sampler,
        num_workers=engine.workers, drop_last=len(train_set) > config.batch_size,
        persistent_workers=engine.workers > 0, generator=torch.Generator().manual_seed(config.seed),
    )
    val_loader = (
        DataLoader(val_set, batch_size=max(64, config.batch_size), num_workers=engine.workers,
                   persistent_workers=engine.workers > 0, generator=torch.Generator().manual_seed(config.seed))
        if val_set is not None else None
    )

    ckpt_dir = out / "checkpoints"
    monitor = "val_macro_f1" if val_loader is not None else None
    if monitor is None:
        logger.info("no validation subjects (%d training subject(s)): the model of the last epoch is kept",
                    len(fold.train))
    interrupt = KeepInterrupt()
    callbacks = list(callbacks or []) + [EpochSeeding(config.seed, sampler), *frozen, interrupt]
    # With validation subjects, "best" by validation macro-F1, and "last" every epoch (for resuming).
    # Lightning runs checkpoint callbacks last, in list order, after early stopping and the CSV row:
    # "best" goes first so that last.ckpt holds this epoch's early-stopping and best-checkpoint state
    # (the other way round a resumed run compared later epochs with an outdated best score).
    if monitor:
        stopping = EarlyStopping(monitor=monitor, mode="max", patience=config.early_stopping_patience)
        callbacks += [stopping, KeepEarlyStop(stopping)]
        callbacks.append(MovableCheckpoint(dirpath=ckpt_dir, filename="best", monitor=monitor, mode="max",
                                           save_top_k=1, enable_version_counter=False))
    callbacks.append(MovableCheckpoint(dirpath=ckpt_dir, filename="last", monitor=None, save_top_k=1,
                                       every_n_epochs=1, enable_version_counter=False))
    if progress:
        callbacks.append(TQDMProgressBar(refresh_rate=1 if sys.stderr.isatty() else 50))
    module.log_path = out / "logs" / "metrics.csv"
    loggers: list[Any] | bool = False
    if config.tensorboard:  # its package is there (check_split)
        from lightning.pytorch.loggers import TensorBoardLogger

        loggers = [TensorBoardLogger(out, name="tensorboard", version="")]

    trainer = L.Trainer(
        **engine.lightning(),
        max_epochs=config.max_epochs,
        accumulate_grad_batches=config.accumulate_grad_batches,
        gradient_clip_val=config.grad_clip_norm,
        limit_train_batches=config.max_train_batches or 1.0,
        callbacks=callbacks,
        logger=loggers,
        enable_progress_bar=progress,
        enable_model_summary=False,
        deterministic=False,
        num_sanity_val_steps=0,
        log_every_n_steps=10,
        default_root_dir=out,
    )
    last = ckpt_dir / "last.ckpt"
    resume = None
    if last.is_file():  # checked here, so that a crafted or damaged file is one line, not Lightning's traceback
        resumed_epoch = read_checkpoint(last)["epoch"]
        # Lightning makes the first resumed epoch's iterator before it calls set_epoch (matters with workers)
        sampler.set_epoch(resumed_epoch + 1)
        trim_log(module.log_path, resumed_epoch)
        resume = last
    on_cpu = isinstance(trainer.accelerator, CPUAccelerator)
    try:
        # onednn: exact float32, ~1.2x faster training steps on AVX-512 CPUs without AMX
        with interrupt.around_fit(), onednn_matmul(on_cpu):
            trainer.fit(module, train_loader, val_loader, ckpt_path=resume, weights_only=True)
    except IsatSleepNetError as exc:  # raised in a DataLoader worker, it comes back with the worker's traceback
        if "\n" not in str(exc):
            raise
        raise IsatSleepNetError(one_line(exc)) from None
    if trainer.interrupted:  # stopped, not finished (Ctrl+C itself comes back from around_fit)
        raise KeyboardInterrupt
    if not trainer.is_global_zero:
        return out / MODEL_FILE

    best = ckpt_dir / "best.ckpt"
    chosen = best if (monitor and best.is_file()) else last
    checkpoint = read_checkpoint(chosen)  # non-finite weights never become model.pt
    model_state = {k.removeprefix("model."): v for k, v in checkpoint["state_dict"].items() if k.startswith("model.")}
    selected_epoch = checkpoint["epoch"]
    seen = recordings_of(data, list(fold.train) + list(fold.validation))
    synthetic = 0
    if train_data is not None:  # a window dataset counts those it placed in windows
        synthetic = (train_set.synthetic_epochs if isinstance(train_set, WindowDataset)
                     else int(sum(int((~rec.real).sum()) for rec in train_recs)))
    ModelFile(
        architecture=config.architecture,
        model_config=model_config,
        state_dict=model_state,
        channels=list(channels),
        roles=model_config["roles"],
        sampling_rate=first.sampling_rate,
        epoch_seconds=float(first.meta.get("epoch_seconds", 30.0)),
        normalize=config.normalize,
        training={
            "data": str(data.root.resolve()),  # absolute: the path must mean the same folder from any directory
            "fold": fold.index,
            "train_subjects": list(fold.train),
            "validation_subjects": list(fold.validation),
            "train_epochs": int(train_set.labels.size),  # windows: epochs in windows (overlaps count twice)
            "train_class_counts": train_set.class_counts().tolist(),
            "augment": augment,
            "synthetic_train_epochs": synthetic,
            # recordings made by `synth` among those seen (train + validation); unmarked stores count in neither
            "synthetic_recordings": sum(r.meta.get("synthetic") is True for r in seen),
            "real_recordings": sum(r.meta.get("synthetic") is False for r in seen),
            # what the training inputs looked like: `stage` warns when a recording lies outside it
            # what the model has seen (its real training and validation epochs), for stage's out-of-distribution check
            "input_profile": InputProfile.from_recordings([*train_recs, *val_recs], channels,
                                                          seed=config.seed).to_dict(),
            **({"train_data": str(train_data.root)} if train_data is not None else {}),
            # what the model has seen, by content: evaluate refuses these recordings wherever they are stored
            "seen_sources": sorted({r.meta.get("source_sha1", "") for r in seen} - {""}),
            # for the model card: datasets, nights, epochs per stage, channel derivations (training/provenance.py)
            **data_record(recordings_of(data, fold.train), val_recs, channels),
            # fine-tuned: its parent, ancestors' subjects, and seen_sources with the ancestors' (training/finetune.py)
            **lineage_record(base, seen),
            "selected_epoch": selected_epoch,
            "selected_by": "validation macro-F1" if monitor else "last epoch (no validation subjects)",
            "config": asdict(config),
            **(description or {}),
        },
        metrics=_selection_metrics(module.log_path, selected_epoch) if monitor else {},
    ).save(out / MODEL_FILE)
    return out / MODEL_FILE
