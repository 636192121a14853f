"""Fine-tuning: a training that starts from a model file's weights (``--init MODEL.pt``).

The base model must fit the run: the same channel roles, sampling rate, epoch
length, normalisation and architecture (the dropout rates and the context
settings may differ: they hold no per-epoch weights). Its per-epoch weights are
loaded into the new network before the first step; ``freeze`` keeps part of
them as they are: ``extractors`` (the EEG and EOG feature extractors,
``eeg.*`` and ``eog.*``) or ``encoder`` (everything but the classification
head). Frozen parts get no gradient and run in eval mode (their BatchNorm
statistics and dropout stay those of the base model), so their weights leave
training bit for bit as they came.

Why the default learning rate :data:`FINE_TUNE_LEARNING_RATE` (1e-5, a fifth of
the paper's 5e-5 from scratch) when ``--init`` is given without ``--lr``: a few
nights of a lab's own data give noisy gradients, and large steps overwrite what
the base model learned from many nights (catastrophic forgetting) before they
fit the new montage; 1e-5 with AdamW moves the weights about as far in one epoch
as the paper's schedule does in its last, decayed epochs.

Lineage. The new model file records its parent (:func:`lineage_record`): its
file, checksum and weights, and the train/validation subjects of every ancestor
per dataset; its ``seen_sources`` are the union of the source files every
ancestor saw, so that `evaluate` refuses a recording the base model was trained on.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import lightning as L
from torch import nn

from isatsleepnet.errors import IsatSleepNetError, SettingError, template_of
from isatsleepnet.model.architectures import DEFAULT_ARCHITECTURE, get_architecture
from isatsleepnet.model.file import ModelFile, load_model_file
from isatsleepnet.training.config import FINE_TUNE_LEARNING_RATE, FREEZE_CHOICES, TrainConfig

# ModelConfig settings that may differ between a base model and its fine-tuning: no per-epoch weight depends on them
_FREE = ("use_fast_conv", "dropout", "attention_dropout", "context", "context_hidden", "context_layers")
_INPUT = ("roles", "n_samples", "sampling_rate")  # compared as roles, rate and epoch length, with their own words

__all__ = ["FINE_TUNE_LEARNING_RATE", "FREEZE_CHOICES", "FrozenInEval", "base_mismatch", "check_base",
           "check_base_unseen", "frozen_modules", "lineage_record", "start_from_base", "with_base"]


def _base_file(path: str | Path) -> ModelFile:
    path = Path(path)
    if not path.is_file():
        raise IsatSleepNetError(f"{{init}} {path}: model file not found")
    return load_model_file(path)


def with_base(config: TrainConfig | None, init: str | Path | None = None, freeze: str | None = None) -> TrainConfig:
    """``config`` (default: the paper's, with :data:`FINE_TUNE_LEARNING_RATE` when ``init`` is given) with the
    base model ``init`` and ``freeze``, and the base file's checksum in ``init_sha256``.

    The checksum makes the base model a setting: a run continued with another base model is refused
    (a moved or renamed copy of the same file is the same base model).
    """
    if config is None:
        config = TrainConfig(learning_rate=FINE_TUNE_LEARNING_RATE) if init is not None else TrainConfig()
    if init is not None:
        config = replace(config, init=str(init))
    if freeze is not None:
        config = replace(config, freeze=freeze)
    if config.init is None:
        return config
    checksum = _base_file(config.init).header["sha256"]
    if config.init_sha256 is not None and config.init_sha256 != checksum:
        raise IsatSleepNetError(f"{{init}} {config.init}: not the base model these settings name (its checksum is not "
                                f"init_sha256 {config.init_sha256[:12]}…)")
    return replace(config, init_sha256=checksum)


def _words(value: Any) -> str:
    return ", ".join(str(v) for v in value) if isinstance(value, (list, tuple)) else f"{value:g}" \
        if isinstance(value, float) else str(value)


def base_mismatch(base: ModelFile, model_config: dict[str, Any], epoch_seconds: float, normalize: str,
                  architecture: str = DEFAULT_ARCHITECTURE) -> str | None:
    """What keeps ``base`` from starting a run with this network and data, in one line; None if it fits.

    The line is a message template: it may name the setting ``{architecture}``.
    """
    if base.architecture != architecture:
        return f"architecture {base.architecture} (base) vs {architecture} (this run; {{architecture}})"
    found = []
    if list(base.roles) != list(model_config["roles"]):
        found.append(f"channel roles {_words(base.roles)} (base) vs {_words(model_config['roles'])} (this run)")
    if float(base.sampling_rate) != float(model_config["sampling_rate"]):
        found.append(f"sampling rate {base.sampling_rate:g} Hz (base) vs {float(model_config['sampling_rate']):g} Hz")
    if float(base.epoch_seconds) != float(epoch_seconds):
        found.append(f"epoch length {base.epoch_seconds:g} s (base) vs {float(epoch_seconds):g} s")
    if base.normalize != normalize:
        found.append(f"normalisation {base.normalize} (base) vs {normalize}")
    if not found:
        ours = dataclasses.asdict(get_architecture(architecture).make_config(model_config, graph="fast"))
        theirs = dataclasses.asdict(base.network_config())
        keys = [k for k in ours if k not in _FREE + _INPUT and ours[k] != theirs.get(k)]
        if keys:
            found.append("architecture " + ", ".join(f"{k} {_words(theirs.get(k))} (base) vs {_words(ours[k])}"
                                                     for k in keys[:4]) + (" …" if len(keys) > 4 else "")
                         + _size_hint(architecture, model_config, theirs))
    return "; ".join(found) if found else None


def _size_hint(architecture: str, model_config: dict[str, Any], theirs: dict[str, Any]) -> str:
    """``: the base model is the small size ({model_size} small)`` when one of the architecture's named sizes
    gives the base's network, so that the line says what to change, not only what differs."""
    arch = get_architecture(architecture)
    sized = {key for options in arch.sizes.values() for key in options}
    unsized = {k: v for k, v in model_config.items() if k not in sized}
    for size, options in arch.sizes.items():
        ours = dataclasses.asdict(arch.make_config({**unsized, **options}, graph="fast"))
        if all(ours[k] == theirs.get(k) for k in ours if k not in _FREE + _INPUT):
            return f" (the base model is the {size} size: give {{model_size}} {size})"
    return ""


def frozen_modules(network: nn.Module, freeze: str, architecture: str = DEFAULT_ARCHITECTURE) -> list[nn.Module]:
    """The submodules that ``freeze`` keeps as they are: none, the per-channel extractors, or all but the head
    (which modules those are, the architecture's entry says)."""
    if freeze not in FREEZE_CHOICES:
        raise SettingError("freeze", f"must be one of {', '.join(FREEZE_CHOICES)}, not {freeze!r}")
    arch = get_architecture(architecture)
    if freeze == "none":
        return []
    if freeze == "extractors":
        if not arch.extractors:
            raise IsatSleepNetError(f"{{freeze}} extractors: {arch.name} has no per-channel extractors; "
                                    "use {freeze} encoder or none")
        return [getattr(network, name) for name in arch.extractors]
    return [module for name, module in network.named_children() if name not in arch.heads]


class FrozenInEval(L.Callback):
    """Frozen submodules stay in eval mode in every training batch (Lightning turns the whole module to train)."""

    def __init__(self, modules: list[nn.Module]) -> None:
        self.modules = modules

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int) -> None:
        for module in self.modules:
            module.eval()


def check_base(config: TrainConfig, model_config: dict[str, Any], epoch_seconds: float) -> ModelFile | None:
    """The base model ``config.init`` (None without one) if it fits a run of this network and data.

    Another file than the run's ``init_sha256``, or a base model that does not fit, is one line naming it;
    `train` and `cv` check this before they write anything (see :func:`~isatsleepnet.training.fit.check_split`).
    """
    if config.init is None:
        return None
    base = _base_file(config.init)
    if config.init_sha256 is not None and base.header.get("sha256") != config.init_sha256:
        raise IsatSleepNetError(f"{{init}} {config.init}: not the base model this run started from (its checksum "
                                "differs); use that model file or another {out}")
    problem = base_mismatch(base, model_config, epoch_seconds, config.normalize, config.architecture)
    if problem:
        raise IsatSleepNetError(f"{{init}} {config.init}: the base model does not fit this run: {problem}")
    return base


def start_from_base(network: nn.Module, config: TrainConfig, model_config: dict[str, Any],
                    epoch_seconds: float) -> tuple[ModelFile | None, list[L.Callback]]:
    """Load ``config.init``'s weights into ``network`` and freeze what ``config.freeze`` says.

    Returns the base model file (None without ``init``) and the callbacks that keep the frozen parts frozen.
    A base model that does not fit, or another file than the run's ``init_sha256``, is one line naming it.
    """
    base = check_base(config, model_config, epoch_seconds)
    if base is None:
        return None, []
    # per-epoch weights only: a context model's sequence head (context.*) is trained again on top
    state = {k: v for k, v in base.state_dict.items() if not k.startswith("context.")}
    expected = network.state_dict()
    missing = sorted(k for k in expected if k not in state and not k.startswith("context."))
    if missing or any(k not in expected or tuple(expected[k].shape) != tuple(v.shape) for k, v in state.items()):
        raise IsatSleepNetError(f"{{init}} {config.init}: its weights do not fit this run's network "
                                f"({', '.join(missing[:3]) or 'shapes differ'})")
    network.load_state_dict(state, strict=False)
    modules = frozen_modules(network, config.freeze, config.architecture)
    for module in modules:
        for parameter in module.parameters():
            parameter.requires_grad_(False)
    return base, ([FrozenInEval(modules)] if modules else [])


def lineage_record(base: ModelFile | None, seen: list[Any]) -> dict[str, Any]:
    """The model file's ``training`` keys of a fine-tuned model: parent, ancestors and the union of seen sources.

    ``seen`` are this run's training and validation recordings. ``ancestors`` lists, nearest first, each
    ancestor's dataset and the subjects it was trained or selected on (for `evaluate`'s subject check).
    """
    if base is None:
        return {}
    trained = base.training or {}
    own = {r.meta.get("source_sha1", "") for r in seen} - {""}
    file = os.path.abspath(base.source) if base.source is not None else None  # --init as given may be relative
    ancestor = {"data": trained.get("data"), "file": file, "weights_sha1": base.weights_sha1(),
                "subjects": sorted({*trained.get("train_subjects", []), *trained.get("validation_subjects", [])})}
    return {
        "parent": {"file": file, "sha256": base.header.get("sha256"), "weights_sha1": base.weights_sha1(),
                   "data": trained.get("data"), "selected_by": trained.get("selected_by")},
        "ancestors": [ancestor, *(trained.get("ancestors") or [])],
        "seen_sources": sorted(own | set(trained.get("seen_sources") or [])),
    }


def check_base_unseen(config: TrainConfig, data: Any, folds: list[Any]) -> None:
    """Refuse a cross-validation whose base model (or an ancestor of it) saw a test subject or recording of a fold."""
    if config.init is None:
        return
    from isatsleepnet.data.subjects import recordings_of
    from isatsleepnet.inference.evaluate import check_unseen

    training = _base_file(config.init).training or {}
    for fold in folds:
        try:
            check_unseen(training, data.root, list(fold.test), recordings_of(data, list(fold.test)),
                         hint="fine-tune from a model that never saw this dataset's test subjects")
        except IsatSleepNetError as exc:
            raise IsatSleepNetError(f"{{init}} {config.init}: fold {fold.index}'s test subjects: "
                                    f"{template_of(exc)}") from None
