"""The model card: what a model file says about itself, gathered into one JSON-ready mapping.

Everything comes from the file's own fields (``model_config``, ``channels``,
``roles``, ``training``, ``metrics``, the checksum it was read with), so a card
can be made of any model file, old ones included: a key that an older version
did not record shows as unknown, never as a guess. :func:`model_card` builds
the card, :func:`card_markdown` (:mod:`isatsleepnet.model.card_text`) writes it
as the ``MODEL_CARD.md`` that `train` and `cv` put beside every ``model.pt``,
`isatsleepnet model-info` prints it, an ONNX export embeds it, and `stage`'s
HTML report shows :func:`card_summary` of it.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from isatsleepnet import STAGES, __version__
from isatsleepnet.atomic import atomic_write_text
from isatsleepnet.data.synthetic.marker import synthetic_training_warning
from isatsleepnet.model.card_text import card_markdown
from isatsleepnet.model.architectures import DEFAULT_ARCHITECTURE, get_architecture

CARD_FORMAT = "isatsleepnet-model-card"
CARD_VERSION = 1
CARD_FILE = "MODEL_CARD.md"

# model_config keys that describe the input (reported under channels) or how it runs, not the architecture
_NOT_ARCHITECTURE = ("roles", "n_samples", "sampling_rate", "use_fast_conv", "context")

INTENDED_USE = (
    "Automatic sleep staging (W, N1, N2, N3, REM; AASM rules) of 30-s epochs of overnight polysomnography "
    "with the channels, derivations and sampling rate listed above, recorded and scored like the training "
    "data. A decision aid: an expert reviews the hypnogram, starting with the low-confidence epochs that "
    "`isatsleepnet stage` flags."
)
LIMITS = (
    "Not a medical device and not validated for diagnosis; no clinical decision should rest on it alone.",
    "Its accuracy is known only for data like its validation and test subjects (see the metrics above); "
    "other montages, amplifiers, populations (children, patients with sleep disorders or medication), "
    "sampling rates and scoring rules can lower it without warning. `stage` warns when a recording's "
    "signals lie outside the training data's input profile.",
    "Each epoch is one label; arousals, apnoeas and other events are not scored.",
    "Metrics on subjects the model (or a model it was fine-tuned from) was trained or selected on say "
    "nothing: `evaluate` refuses such subjects and recordings.",
)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def parameter_count(model_file: Any) -> int | None:
    """Trainable-parameter count of the file's network (its buffers, BatchNorm statistics, not counted)."""
    try:
        import torch

        with torch.device("meta"):  # shapes only: no memory, no initialisation cost
            network = model_file.architecture_entry().build(model_file.network_config(fast=False))
        names = {name for name, _ in network.named_parameters()}
    except Exception:  # noqa: BLE001 - a config this version cannot build: count the stored tensors instead
        return int(sum(v.numel() for v in model_file.state_dict.values()))
    return int(sum(v.numel() for k, v in model_file.state_dict.items() if k in names))


def size_name(model_config: dict[str, Any], architecture: str = DEFAULT_ARCHITECTURE) -> str | None:
    """The name among the architecture's sizes whose widths this config has, or None (custom widths)."""
    arch = get_architecture(architecture)
    defaults = dataclasses.asdict(arch.make_config({}))
    sized = {key for options in arch.sizes.values() for key in options}
    for name, options in arch.sizes.items():
        if all(_jsonable(model_config.get(key, defaults[key])) == _jsonable(options.get(key, defaults[key]))
               for key in sized):
            return name
    return None


def paper_differences(model_config: dict[str, Any], architecture: str = DEFAULT_ARCHITECTURE
                      ) -> dict[str, dict[str, Any]]:
    """Architecture settings that differ from its paper's defaults: ``{key: {"paper": a, "model": b}}``."""
    defaults = _jsonable(dataclasses.asdict(get_architecture(architecture).make_config({})))
    found = {}
    for key in sorted(model_config):
        if key in _NOT_ARCHITECTURE or key not in defaults:
            continue
        value = _jsonable(model_config[key])
        if value != defaults[key]:
            found[key] = {"paper": defaults[key], "model": value}
    return found


def _channels(model_file: Any) -> list[dict[str, Any]]:
    sources = (model_file.training or {}).get("channel_sources") or {}
    rows = []
    for label, role in zip(model_file.channels, model_file.roles):
        known = sources.get(label)
        rows.append({
            "label": label, "role": role, "rate": float(model_file.sampling_rate),
            # per distinct way the training recordings made it: [A, B] for the derivation A-B, None as recorded
            "derived_from": known.get("derived_from") if known else "unknown",
            "source_rates": known.get("source_rates") if known else "unknown",
        })
    return rows


def data_kind(training: dict[str, Any]) -> str:
    """real, synthetic, mixed, or unknown (the model predates the counts, or its store was unmarked)."""
    n_syn, n_real = training.get("synthetic_recordings"), training.get("real_recordings")
    if n_syn is None and n_real is None:
        return "unknown"
    n_syn, n_real = int(n_syn or 0), int(n_real or 0)
    if n_syn and n_real:
        return "mixed"
    return "synthetic" if n_syn else ("real" if n_real else "unknown")


def _stage_counts(training: dict[str, Any]) -> dict[str, Any]:
    counts = training.get("stage_counts")
    if isinstance(counts, dict):
        return counts
    train = training.get("train_class_counts")  # before stage_counts: the training epochs (synthetic ones included)
    return {"train": dict(zip(STAGES, train))} if isinstance(train, list) and len(train) == len(STAGES) else {}


def _training_data(training: dict[str, Any]) -> dict[str, Any]:
    train_subjects = list(training.get("train_subjects") or [])
    validation_subjects = list(training.get("validation_subjects") or [])
    seen = list(training.get("seen_sources") or [])
    return {
        "data": training.get("data"),
        "datasets": training.get("datasets"),
        "protocol": training.get("protocol"),
        "fold": training.get("fold"),
        "kind": data_kind(training),
        "real_recordings": training.get("real_recordings"),
        "synthetic_recordings": training.get("synthetic_recordings"),
        "subjects": {"train": len(train_subjects), "validation": len(validation_subjects)},
        "train_subjects": train_subjects,
        "validation_subjects": validation_subjects,
        "nights": training.get("nights"),
        "epochs_per_stage": _stage_counts(training),
        "train_epochs": training.get("train_epochs"),
        # sha1 of every source file this model and the models it was fine-tuned from were trained or selected on
        "seen_sources": seen,
        "n_seen_sources": len(seen),
    }


def _augmentation(training: dict[str, Any]) -> dict[str, Any]:
    return {"mode": training.get("augment", "none"), "synthetic_train_epochs": training.get("synthetic_train_epochs", 0),
            "settings": training.get("augment_settings")}


def _fine_tuning(training: dict[str, Any]) -> dict[str, Any] | None:
    parent = training.get("parent")
    if not parent:
        return None
    config = training.get("config") or {}
    return {**parent, "freeze": config.get("freeze", "none"), "learning_rate": config.get("learning_rate"),
            "ancestors": len(training.get("ancestors") or [])}


def model_card(model_file: Any) -> dict[str, Any]:
    """The card of a :class:`~isatsleepnet.model.file.ModelFile`, JSON-ready; every section always present.

    Examples
    --------
    >>> card = model_card(load_model_file("model.pt"))  # doctest: +SKIP
    >>> card["architecture"]["parameters"], card["training_data"]["kind"]  # doctest: +SKIP
    (2393260, 'real')
    """
    training = dict(model_file.training or {})
    metrics = dict(model_file.metrics or {})
    config = dict(model_file.model_config)
    header = dict(getattr(model_file, "header", None) or {})
    context = config.get("context", 0)
    warning = synthetic_training_warning(training)
    arch = model_file.architecture_entry()
    card = {
        "format": CARD_FORMAT,
        "card_version": CARD_VERSION,
        "file": str(model_file.source) if model_file.source is not None else None,
        "sha256": header.get("sha256"),
        "weights_sha1": model_file.weights_sha1(),
        "architecture": {
            "name": arch.title,
            "registered_as": arch.name,
            "reference": arch.reference,
            "parameters": parameter_count(model_file),
            "size": size_name(config, arch.name),
            "differences_from_paper": paper_differences(config, arch.name),
            "model_config": config,
        },
        "context": {"epochs": context,
                    "description": ("none: each epoch is staged alone, as in the paper" if not context else
                                    f"{context} consecutive epochs per training window; staging reads the "
                                    "neighbouring epochs of the recording"),
                    # a context model: its encoder (phase 1) and the sequence head's own selection
                    "training": training.get("context") if isinstance(training.get("context"), dict) else None},
        "input": {"channels": _channels(model_file), "sampling_rate": float(model_file.sampling_rate),
                  "epoch_seconds": float(model_file.epoch_seconds), "n_samples": config.get("n_samples"),
                  "normalize": model_file.normalize, "stages": list(model_file.stages)},
        "training_data": _training_data(training),
        "augmentation": _augmentation(training),
        "parent": _fine_tuning(training),
        "selection": {"selected_by": training.get("selected_by"), "selected_epoch": training.get("selected_epoch")},
        "validation_metrics": metrics.get("validation"),
        "test_metrics": metrics.get("test"),
        "software": {"trained_with": training.get("isatsleepnet_version"), "saved_with": header.get("isatsleepnet_version"),
                     "saved": header.get("saved"), "card_made_with": __version__},
        "intended_use": INTENDED_USE,
        "limits": ([f"WARNING: {warning}."] if warning else []) + list(LIMITS),
        "synthetic_warning": warning,
    }
    return _jsonable(card)


def card_summary(card: dict[str, Any]) -> dict[str, Any]:
    """A few lines of a card for `stage`'s report: architecture, context, training data, test metrics."""
    arch, data, test = card.get("architecture") or {}, card.get("training_data") or {}, card.get("test_metrics")
    parameters = arch.get("parameters")
    size = arch.get("size") or "custom"
    changed = sorted(arch.get("differences_from_paper") or {})
    architecture = (f"ISATSleepNet, {size} size" + (f", {parameters / 1e6:.2f} M parameters" if parameters else "")
                    + (f" (differs from the paper in {', '.join(changed[:6])}{' …' if len(changed) > 6 else ''})"
                       if changed else ""))
    epochs = data.get("epochs_per_stage", {}).get("train") or {}
    training = (f"{data.get('kind')} data: {data.get('real_recordings') or 0} real and "
                f"{data.get('synthetic_recordings') or 0} synthetic recording(s), "
                f"{(data.get('subjects') or {}).get('train', 0)} training and "
                f"{(data.get('subjects') or {}).get('validation', 0)} validation subject(s)"
                + (f", {sum(epochs.values())} training epochs" if epochs else ""))
    parent = card.get("parent")
    return {
        "architecture": architecture,
        "context": (card.get("context") or {}).get("description"),
        "training_data": training,
        "kind": data.get("kind"),
        "parent": f"fine-tuned from {parent.get('file')} (weights {str(parent.get('weights_sha1'))[:12]})"
                  if parent else None,
        "test": ({k: test[k] for k in ("accuracy", "kappa", "macro_f1") if k in test}
                 | {"subjects": len(test.get("subjects") or [])}) if isinstance(test, dict) else None,
        "synthetic_warning": card.get("synthetic_warning"),
    }


def write_model_card(model_path: str | Path) -> Path:
    """(Re)write ``MODEL_CARD.md`` beside a model file, from the file as it is now."""
    from isatsleepnet.model.file import load_model_file

    model_path = Path(model_path)
    out = model_path.parent / CARD_FILE
    atomic_write_text(out, card_markdown(model_card(load_model_file(model_path))))
    return out
