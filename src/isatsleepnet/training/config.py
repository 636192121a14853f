"""Training settings with the paper's defaults (SPEC, section Training)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from isatsleepnet.checks import is_real, whole_number
from isatsleepnet.errors import IsatSleepNetError, SettingError

from isatsleepnet.data.normalize import NORMALIZATIONS
from isatsleepnet.model.architectures import DEFAULT_ARCHITECTURE, PAPER_TRAINING, get_architecture


LOSSES = ("hybrid", "generalized-dice")
OPTIMIZERS = ("adamw", "adam", "amsgrad")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that shapes a training run; saved as config.json in every run folder.

    ``model`` holds the architecture (``"architecture"``, a name in
    :mod:`isatsleepnet.model.architectures`; none: ISATSleepNet) and overrides of
    its configuration's fields (e.g. ``{"use_asr": false}`` for an ablation of
    :class:`isatsleepnet.model.ModelConfig`); roles, epoch length and sampling
    rate come from the prepared data.
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
    # loss: "hybrid" = alpha * weighted CE + (1 - alpha) * (1 - soft macro-F1); "generalized-dice" (U-Time's)
    loss: str = "hybrid"
    loss_alpha: float = 0.5
    class_weighted: bool = True
    # optimiser: "adamw" (the paper's), "adam" (L2 weight decay in the gradient), "amsgrad" (Adam with AMSGrad)
    optimizer: str = "adamw"
    grad_clip_norm: float | None = None  # clip the gradient's norm to this (None: no clipping)
    # data
    normalize: str = "epoch-zscore"
    balanced_sampling: bool = False
    channels: list[str] | None = None
    validation_fraction: float = 0.1
    max_train_batches: int | None = None
    seed: int = 0
    tensorboard: bool = False  # also log to TensorBoard
    # phase 2 of a context model (model["context"] > 0): the sequence head on the frozen encoder
    context_epochs: int = 20
    context_learning_rate: float = 1e-3
    # fine-tuning (isatsleepnet.training.finetune): start from a model file's weights, maybe partly frozen
    init: str | None = None  # the base model file (--init); its path may change between runs, its checksum not
    init_sha256: str | None = None  # the base model file's checksum, filled in from the file
    freeze: str = "none"  # none, extractors (the EEG/EOG feature extractors) or encoder (all but the head)
    # where it runs (device, precision, threads, loader workers) is an isatsleepnet.engine.Engine, not saved here
    model: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Every setting of the right type and in range, one line naming the setting, before any data is read.

        Why on construction: argparse takes ``--lr nan`` or ``--validation-fraction 1.5`` as numbers, a
        config file anything at all; the optimiser, the fold split or Lightning would refuse them only after
        the data are loaded, as a traceback-like message. A TrainConfig that exists is one that can run.
        """
        for name, choices in (("loss", LOSSES), ("optimizer", OPTIMIZERS), ("normalize", NORMALIZATIONS)):
            _check_choice(name, getattr(self, name), choices)
        if self.grad_clip_norm is not None and not (_is_number(self.grad_clip_norm)
                                                    and math.isfinite(self.grad_clip_norm) and self.grad_clip_norm > 0):
            raise SettingError("grad_clip_norm", f"must be a finite number above 0, not {self.grad_clip_norm!r}")
        if self.grad_clip_norm is not None and type(self.grad_clip_norm) not in (int, float):
            object.__setattr__(self, "grad_clip_norm", float(self.grad_clip_norm))  # a numpy number, for JSON
        for name, low, high, meaning in _NUMBERS:
            value = getattr(self, name)
            if not (_is_number(value) and math.isfinite(value) and low(value) and high(value)):
                raise SettingError(name, f"must be {meaning}, not {value!r}")
            if type(value) not in (int, float):  # a numpy number: a float, for JSON
                object.__setattr__(self, name, float(value))
        for name, least, optional in _WHOLE:
            value = getattr(self, name)
            if value is None and optional:
                continue
            object.__setattr__(self, name, whole_number(name, value, least=least))  # np.int64: an int, for JSON
        if self.seed > 2**32 - 1:
            raise SettingError("seed", f"must be at most {2**32 - 1}, not {self.seed}")
        for name in ("class_weighted", "balanced_sampling", "tensorboard"):
            if not isinstance(getattr(self, name), bool):
                raise SettingError(name, f"must be true or false, not {getattr(self, name)!r}")
        if self.channels is not None and not (
                isinstance(self.channels, (list, tuple)) and self.channels
                and all(isinstance(c, str) and c.strip() for c in self.channels)):
            raise SettingError("channels", f"must name one or more channels, not {self.channels!r}")
        if not isinstance(self.model, dict):
            raise SettingError("model", f"must be a table of ModelConfig settings, not {self.model!r}")
        arch = get_architecture(self.architecture)  # an unknown name: one line listing the registered ones
        if self.model.get("context") and arch.name != DEFAULT_ARCHITECTURE:
            raise IsatSleepNetError(f"{{context}}: the context heads read ISATSleepNet's epoch embeddings; "
                                    f"{arch.name} has none (it is not a {DEFAULT_ARCHITECTURE} network)")
        known = set(arch.settings())
        recorded = sorted(set(self.network_overrides) & set(PAPER_TRAINING))
        if recorded:
            instead = ", ".join(dict.fromkeys(f"{{{PAPER_TRAINING[k]}}}" for k in recorded if PAPER_TRAINING[k]))
            raise IsatSleepNetError(f"model setting(s) {', '.join(recorded)} of {arch.name} record its paper's "
                                    "training, which neither the network nor the training reads"
                                    + (f": set {instead} instead" if instead else ""))
        unknown = sorted(set(self.network_overrides) - known)
        if unknown:  # here, not when the network is built: a run refused then has written its folder
            raise IsatSleepNetError(f"unknown model option(s) {', '.join(unknown)} of {arch.name}; known: "
                                    f"{', '.join(sorted(known))}")
        # checked now with the data's settings (roles, n_samples, sampling_rate) at their defaults, so a bad
        # model setting is refused before any data is read; the data's own values are checked when they arrive
        arch.make_config(self.network_overrides)
        _validate_fine_tuning(self)

    @property
    def architecture(self) -> str:
        """The architecture's name (``model["architecture"]``; ISATSleepNet when the run names none)."""
        name = self.model.get("architecture", DEFAULT_ARCHITECTURE) if isinstance(self.model, dict) else None
        return name if isinstance(name, str) else repr(name)

    @property
    def network_overrides(self) -> dict[str, Any]:
        """``model`` without the architecture's name: overrides of the architecture's configuration."""
        return {k: v for k, v in self.model.items() if k != "architecture"}


def for_architecture(name: str | None, **overrides: Any) -> TrainConfig:
    """The training settings of an architecture's paper (ISATSleepNet's: TrainConfig's defaults), with overrides.

    The optimiser is AdamW for every architecture (decoupled weight decay), and the
    loss the project's mix of weighted cross entropy and soft macro-F1
    (``loss_alpha``); the entry in :mod:`isatsleepnet.model.architectures` says
    how each paper's own loss maps onto it.

    Examples
    --------
    >>> for_architecture("tinysleepnet").learning_rate
    0.0001
    >>> for_architecture(None).learning_rate == TrainConfig().learning_rate
    True
    """
    arch = get_architecture(name)
    model = {"architecture": arch.name} if arch.name != DEFAULT_ARCHITECTURE else {}
    config = TrainConfig(**{**arch.training_defaults(), "model": model})
    return dataclasses.replace(config, **overrides)


FREEZE_CHOICES = ("none", "extractors", "encoder")
FINE_TUNE_LEARNING_RATE = 1e-5
"""The learning rate of a fine-tuning run (--init) whose settings name none: why, see isatsleepnet.training.finetune."""


def _validate_fine_tuning(config: TrainConfig) -> None:
    """``init`` names a file, ``freeze`` one of FREEZE_CHOICES, and only with ``init`` (frozen random weights learn nothing)."""
    if config.init is not None and not (isinstance(config.init, str) and config.init.strip()):
        raise SettingError("init", f"must name a model file, not {config.init!r}")
    if config.init_sha256 is not None and not isinstance(config.init_sha256, str):
        raise SettingError("init_sha256", f"must be a checksum (text), not {config.init_sha256!r}")
    if config.init_sha256 is not None and config.init is None:  # it would be recorded as a base the run never had
        raise SettingError("init_sha256", "checks the base model of {init}: give it with {init}, or leave it out")
    _check_choice("freeze", config.freeze, FREEZE_CHOICES)
    if config.freeze != "none" and config.init is None:
        raise IsatSleepNetError(f"{{freeze}} {config.freeze} needs {{init}} MODEL.pt (freezing untrained weights "
                                "learns nothing)")


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise SettingError(name, f"must be one of {', '.join(choices)}, not {value!r}")


def _is_number(value: Any) -> bool:
    return is_real(value)


def _above(bound: float):
    return lambda v: v > bound


def _from(bound: float):
    return lambda v: v >= bound


def _below(bound: float):
    return lambda v: v < bound


def _upto(bound: float):
    return lambda v: v <= bound


def _any(_value: float) -> bool:
    return True


# (field, lower test, upper test, what it must be): real-valued settings, all finite
_NUMBERS = (
    ("learning_rate", _above(0), _any, "a finite number above 0"),
    ("weight_decay", _from(0), _any, "a finite number of at least 0"),
    ("lr_gamma", _above(0), _upto(1), "a number in (0, 1]"),
    ("loss_alpha", _from(0), _upto(1), "a number in [0, 1]"),
    ("validation_fraction", _from(0), _below(1), "a number in [0, 1)"),
    ("context_learning_rate", _above(0), _any, "a finite number above 0"),
)
# (field, least value, None allowed): whole-number settings
_WHOLE = (
    ("batch_size", 1, False), ("accumulate_grad_batches", 1, False), ("max_epochs", 1, False),
    ("lr_step_start", 0, False), ("lr_step_size", 1, False), ("early_stopping_patience", 0, False),
    ("max_train_batches", 1, True), ("seed", 0, False), ("context_epochs", 1, False),
)
