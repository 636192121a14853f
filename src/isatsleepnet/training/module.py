"""The LightningModule: ISATSleepNet, the hybrid loss, AdamW and the paper's step schedule.

Lightning runs the loop: data-parallel over GPUs and nodes (DDP), mixed
precision on CUDA, checkpoints and resumption; the same code runs on a CPU.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch

from isatsleepnet.evaluation.metrics import compute_metrics
from isatsleepnet.model import ISATSleepNet, ModelConfig
from isatsleepnet.training.config import TrainConfig
from isatsleepnet.training.loss import HybridLoss


def step_schedule(epoch: int, start: int, step: int, gamma: float) -> float:
    """Learning-rate factor: 1 until ``start``, then multiplied by ``gamma`` every ``step`` epochs."""
    if epoch < start:
        return 1.0
    return gamma ** ((epoch - start) // step + 1)


class SleepStager(L.LightningModule):
    """ISATSleepNet with its loss and optimiser; writes one CSV row of metrics per epoch.

    The CSV (``log_path``) is appended to, so a resumed run continues the same
    log; readers keep the last row of an epoch that was logged twice.
    """

    def __init__(self, model_config: dict[str, Any], train_config: dict[str, Any], class_weights: list[float] | None = None) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.train_config = TrainConfig(**train_config)
        self.model = ISATSleepNet(ModelConfig(**model_config))
        weights = torch.tensor(class_weights, dtype=torch.float32) if class_weights and self.train_config.class_weighted else None
        self.loss = HybridLoss(self.train_config.loss_alpha, weights)
        self.log_path: Path | None = None
        self._outputs: dict[str, list[tuple[np.ndarray, np.ndarray, float]]] = {"train": [], "val": []}
        self._row: dict[str, float] = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def _step(self, batch, stage: str) -> torch.Tensor:
        x, y = batch
        logits = self(x)
        loss = self.loss(logits, y)
        self.log(f"{stage}_loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=len(y), sync_dist=True)
        self._outputs[stage].append(
            (y.detach().cpu().numpy(), logits.argmax(1).detach().cpu().numpy(), float(loss.detach()) * len(y))
        )
        return loss

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx: int) -> None:
        self._step(batch, "val")

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
        # Lightning has run this epoch's validation already, so the row is complete here.
        self._epoch_metrics("train")
        row, self._row = self._row, {}
        if self.log_path is not None and self.trainer.is_global_zero:
            row = {"epoch": self.current_epoch, "lr": self.optimizers().param_groups[0]["lr"], **row}
            append_csv_row(self.log_path, row, LOG_COLUMNS)

    def configure_optimizers(self):
        c = self.train_config
        optimizer = torch.optim.AdamW(self.parameters(), lr=c.learning_rate, weight_decay=c.weight_decay)
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda epoch: step_schedule(epoch, c.lr_step_start, c.lr_step_size, c.lr_gamma)
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}


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
