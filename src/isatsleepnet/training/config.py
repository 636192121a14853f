"""Training settings with the paper's defaults (SPEC, section Training)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from isatsleepnet.errors import IsatSleepNetError

NORMALIZATIONS = ("epoch-zscore", "none")


@dataclass
class TrainConfig:
    """Everything that shapes a training run; saved as config.json in every run folder.

    ``model`` holds overrides of :class:`isatsleepnet.model.ModelConfig` fields
    (e.g. ``{"use_asr": false}`` for an ablation); roles, epoch length and
    sampling rate come from the prepared data.
    """

    # optimisation (paper: AdamW 5e-5 / 1e-5, batch 16 x accumulation 4, StepLR 6 / 0.5 after epoch 7)
    learning_rate: float = 5e-5
    weight_decay: float = 1e-5
    batch_size: int = 16
    accumulate_grad_batches: int = 4
    lr_step_start: int = 7
    lr_step_size: int = 6
    lr_gamma: float = 0.5
    max_epochs: int = 100
    early_stopping_patience: int = 10
    # loss: alpha * weighted CE + (1 - alpha) * (1 - soft macro-F1)
    loss_alpha: float = 0.5
    class_weighted: bool = True
    # data
    normalize: str = "epoch-zscore"
    balanced_sampling: bool = False
    channels: list[str] | None = None
    validation_fraction: float = 0.1
    num_workers: int = 0
    max_train_batches: int | None = None
    # engine
    seed: int = 0
    accelerator: str = "auto"
    devices: str = "auto"
    num_nodes: int = 1
    precision: str = "auto"
    threads: int | None = None
    tensorboard: bool = False
    model: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        if self.normalize not in NORMALIZATIONS:
            raise IsatSleepNetError(f"normalize must be one of {', '.join(NORMALIZATIONS)}, not {self.normalize!r}")
        if not 0.0 <= self.loss_alpha <= 1.0:
            raise IsatSleepNetError("loss_alpha must lie in [0, 1]")
        for name in ("batch_size", "accumulate_grad_batches", "max_epochs", "lr_step_size"):
            if getattr(self, name) < 1:
                raise IsatSleepNetError(f"{name} must be at least 1")
