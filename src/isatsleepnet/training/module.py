"""The LightningModule: ISATSleepNet, the hybrid loss, AdamW and the paper's step schedule.

Lightning runs the loop: data-parallel over GPUs and nodes (DDP), mixed
precision on CUDA, checkpoints and resumption; the same code runs on a CPU.
"""

from __future__ import annotations

import contextlib
import csv
import math
import os
import signal
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

from isatsleepnet.errors import IsatSleepNetError
from isatsleepnet.evaluation.metrics import compute_metrics
from isatsleepnet.model.architectures import get_architecture
from isatsleepnet.torchfile import non_finite_tensors, plain_sha256
from isatsleepnet.training.config import TrainConfig
from isatsleepnet.training.loss import make_loss
from isatsleepnet.training.reproducible import EpochSampler, derive_seed, seed_all

CHECKPOINT_HASH_KEY = "isatsleepnet_sha256"


def checkpoint_sha256(checkpoint: Mapping[str, Any]) -> str:
    """sha256 of a Lightning checkpoint's content but the checksum itself: weights, optimiser and scheduler
    state, loops, callbacks (a damaged optimiser state would derail a resumed run as surely as a damaged weight)."""
    return plain_sha256({key: value for key, value in checkpoint.items() if key != CHECKPOINT_HASH_KEY})


def step_schedule(epoch: int, start: int, step: int, gamma: float) -> float:
    """Learning-rate factor: 1 until ``start``, then multiplied by ``gamma`` every ``step`` epochs."""
    if epoch < start:
        return 1.0
    return gamma ** ((epoch - start) // step + 1)


def build_optimizer(network: torch.nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """The run's optimiser (``config.optimizer``) over the network's parameters.

    A network that names the parameters its paper regularises
    (``regularized_parameters()``, e.g. TinySleepNet's convolution kernels) gets
    weight decay on those only; the others on all. With ``adam`` and ``amsgrad``
    the decay is an L2 term in the gradient, as in those papers' code; with
    ``adamw`` it is decoupled.
    """
    chosen = getattr(network, "regularized_parameters", None)
    if chosen is None:
        groups: list[dict[str, Any]] = [{"params": list(network.parameters()), "weight_decay": config.weight_decay}]
    else:
        decayed = {id(p) for p in chosen()}
        groups = [{"params": [p for p in network.parameters() if id(p) in decayed], "weight_decay": config.weight_decay},
                  {"params": [p for p in network.parameters() if id(p) not in decayed], "weight_decay": 0.0}]
    if config.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=config.learning_rate)
    return torch.optim.Adam(groups, lr=config.learning_rate, amsgrad=config.optimizer == "amsgrad")


class SleepStager(L.LightningModule):
    """A network of the run's architecture with its loss and optimiser; writes one CSV row of metrics per epoch.

    The CSV (``log_path``) is appended to, so a resumed run continues the same
    log; readers keep the last row of an epoch that was logged twice.
    """

    def __init__(self, model_config: dict[str, Any], train_config: dict[str, Any], class_weights: list[float] | None = None) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.train_config = TrainConfig(**train_config)
        arch = get_architecture(self.train_config.architecture)
        self.model = arch.build(arch.make_config(model_config))
        weights = torch.tensor(class_weights, dtype=torch.float32) if class_weights and self.train_config.class_weighted else None
        self.loss = make_loss(self.train_config.loss, self.train_config.loss_alpha, weights)
        self.log_path: Path | None = None
        self._outputs: dict[str, list[tuple[np.ndarray, np.ndarray, float]]] = {"train": [], "val": []}
        self._row: dict[str, float] = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def _step(self, batch, batch_idx: int, stage: str) -> torch.Tensor:
        x, y = batch
        logits = self(x)
        if logits.dim() == 3:  # a sequence-to-sequence network: (batch, L, classes), one stage per epoch
            logits, y = logits.reshape(-1, logits.shape[-1]), y.reshape(-1)
        loss = self.loss(logits, y)
        value = float(loss.detach())
        if not math.isfinite(value):
            self._stop_non_finite(stage, value, x, batch_idx)
        self.log(f"{stage}_loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=len(y), sync_dist=True)
        self._outputs[stage].append((y.detach().cpu().numpy(), logits.argmax(1).detach().cpu().numpy(),
                                     value * len(y)))
        return loss

    def _stop_non_finite(self, stage: str, value: float, x: torch.Tensor, batch_idx: int) -> None:
        """Stop at the first non-finite loss: a step on it would write NaN into every weight."""
        where = f"epoch {self.current_epoch}, {'training' if stage == 'train' else 'validation'} batch {batch_idx}"
        if not bool(torch.isfinite(x).all()):
            cause = "its input holds NaN or infinity"
        elif non_finite_tensors(dict(self.model.state_dict())):
            cause = "the weights already hold NaN or infinity (the last step diverged)"
        else:
            cause = "the network diverged on finite input"
        raise TrainingDivergedError(
            f"training stopped: the {stage} loss is {value:g} at {where} (counted from 0); {cause}; "
            "no checkpoint of this epoch was written; try a lower learning_rate or another seed"
        )

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        return self._step(batch, batch_idx, "train")

    def validation_step(self, batch, batch_idx: int) -> None:
        self._step(batch, batch_idx, "val")

    def _epoch_metrics(self, stage: str) -> None:
        outputs, self._outputs[stage] = self._outputs[stage], []
        if not outputs:
            return
        y_true = np.concatenate([o[0] for o in outputs])
        y_pred = np.concatenate([o[1] for o in outputs])
        m = compute_metrics(y_true, y_pred)
        self._row[f"{stage}_loss"] = sum(o[2] for o in outputs) / len(y_true)
        self._row[f"{stage}_accuracy"] = m["accuracy"]
        self._row[f"{stage}_macro_f1"] = m["macro_f1"]
        # Under DDP each rank sees a shard; the logged value is the mean over ranks.
        self.log(f"{stage}_accuracy", m["accuracy"], prog_bar=stage == "val", sync_dist=True)
        self.log(f"{stage}_macro_f1", m["macro_f1"], prog_bar=stage == "val", sync_dist=True)

    def on_validation_epoch_end(self) -> None:
        self._epoch_metrics("val")

    def on_train_epoch_end(self) -> None:
        # Runs before the checkpoint callbacks: weights that are not finite are never checkpointed.
        bad = non_finite_tensors(dict(self.model.state_dict()))
        if bad:
            raise TrainingDivergedError(
                f"training stopped after epoch {self.current_epoch} (counted from 0): the weights hold NaN or "
                f"infinity ({', '.join(bad[:3])}); this epoch was not checkpointed; try a lower learning_rate"
            )
        # Lightning has run this epoch's validation already, so the row is complete here.
        self._epoch_metrics("train")
        row, self._row = self._row, {}
        if self.log_path is not None and self.trainer.is_global_zero:
            row = {"epoch": self.current_epoch, "lr": self.optimizers().param_groups[0]["lr"], **row}
            append_csv_row(self.log_path, row, LOG_COLUMNS)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Every checkpoint Lightning writes for us carries a sha256 of its content, checked before it is read
        (:func:`isatsleepnet.training.fit.read_checkpoint`): a checkpoint becomes model.pt with a fresh checksum
        of its own, so damage must be caught here. Lightning calls this hook last, on the complete checkpoint."""
        checkpoint[CHECKPOINT_HASH_KEY] = checkpoint_sha256(checkpoint)

    def configure_optimizers(self):
        c = self.train_config
        optimizer = build_optimizer(self.model, c)
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda epoch: step_schedule(epoch, c.lr_step_start, c.lr_step_size, c.lr_gamma)
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}


class TrainingDivergedError(IsatSleepNetError):
    """A non-finite loss or weights; training stops with one line, nothing non-finite is saved."""


class EpochSeeding(L.Callback):
    """At the start of every training epoch: the sampler's epoch, and the global generators seeded from
    (seed, epoch, rank); why this and not saved generator states: :mod:`isatsleepnet.training.reproducible`."""

    def __init__(self, seed: int, sampler: EpochSampler | None = None) -> None:
        self.seed = int(seed)
        self.sampler = sampler

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        epoch = trainer.current_epoch
        if self.sampler is not None:
            self.sampler.set_epoch(epoch)
        seed_all(derive_seed(self.seed, epoch, trainer.global_rank))


class KeepEarlyStop(L.Callback):
    """A run that early stopping ended stays ended when it is started again.

    Lightning keeps early stopping's state in the checkpoint but not its stop
    flag, so a run killed after the last.ckpt of its stopping epoch (before
    model.pt) trained on when rerun, and could select another epoch.
    """

    def __init__(self, early_stopping: EarlyStopping) -> None:
        self.early_stopping = early_stopping

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.early_stopping.stopped_epoch > 0:  # restored from the checkpoint before this hook runs
            trainer.should_stop = True


class KeepInterrupt(L.Callback):
    """Ctrl+C during training stays a KeyboardInterrupt instead of Lightning's exit status 1.

    Lightning's ``Trainer.fit`` catches KeyboardInterrupt, shuts down (loggers, loader
    workers), ignores SIGINT from then on and calls ``sys.exit(1)``: to its caller, a
    failure. The callback sees the interruption in ``on_exception``; :meth:`around_fit`
    turns that exit back into a KeyboardInterrupt, after Lightning's shutdown, with the
    SIGINT handler restored, so that the command says how to continue and exits 130.
    The checkpoints are those of the last finished epoch: the next run resumes from them.
    """

    def __init__(self) -> None:
        self.exception: BaseException | None = None

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        self.exception = exception

    @contextlib.contextmanager
    def around_fit(self) -> Iterator[None]:
        """Wrap ``trainer.fit``: its exit after a Ctrl+C becomes KeyboardInterrupt; any other exit stays."""
        handler = signal.getsignal(signal.SIGINT)
        try:
            yield
        except SystemExit:
            if not isinstance(self.exception, KeyboardInterrupt):
                raise
            if handler is not None and threading.current_thread() is threading.main_thread():
                signal.signal(signal.SIGINT, handler)
            raise KeyboardInterrupt from None


class MovableCheckpoint(ModelCheckpoint):
    """ModelCheckpoint whose state survives moving or copying the run folder.

    Lightning restores ``best_model_score``, ``best_k_models`` and ``last_model_path``
    only when the checkpoint's ``dirpath`` is the current one; in a moved folder it
    warned and forgot them, and the first resumed epoch replaced best.ckpt whatever its
    score (the resumed run could select a worse epoch than an uninterrupted one).
    Here paths under the old folder are mapped to the new one first. The state key
    stays ModelCheckpoint's, so checkpoints written with either class resume alike.
    """

    @property
    def state_key(self) -> str:
        return "ModelCheckpoint" + super().state_key.removeprefix(type(self).__qualname__)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        old = state_dict.get("dirpath")
        if isinstance(old, str) and self.dirpath is not None and old != str(self.dirpath):
            state_dict = relocated_state(state_dict, old, str(self.dirpath))
        super().load_state_dict(state_dict)


def relocated_state(state: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    """A ModelCheckpoint state with its paths under folder ``old`` moved under ``new``."""

    def move(path: Any) -> Any:
        if isinstance(path, str) and (path == old or path.startswith(old.rstrip(os.sep) + os.sep)):
            return new + path[len(old):]
        return path

    moved = {**state, "dirpath": new}
    for key in ("best_model_path", "kth_best_model_path", "last_model_path"):
        if key in moved:
            moved[key] = move(moved[key])
    if isinstance(moved.get("best_k_models"), dict):
        moved["best_k_models"] = {move(path): score for path, score in moved["best_k_models"].items()}
    return moved


LOG_COLUMNS = ("epoch", "lr", "train_loss", "train_accuracy", "train_macro_f1", "val_loss", "val_accuracy", "val_macro_f1")


def append_csv_row(path: Path, row: dict[str, float], columns: tuple[str, ...]) -> None:
    """Append one row (header first if the file is new); a row is small enough to land whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.is_file()
    with path.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        if new:
            writer.writeheader()
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
