"""A description of every registered architecture, for `isatsleepnet architectures` and the docs."""

from __future__ import annotations

import dataclasses
from typing import Any

from isatsleepnet.model.architectures import ARCHITECTURES, PAPER_TRAINING, Architecture


def count_weights(arch: Architecture, settings: dict[str, Any] | None = None) -> int:
    """The number of trainable weights of an architecture's network with its default (or these) settings.

    Examples
    --------
    >>> from isatsleepnet.model.architectures import get_architecture
    >>> count_weights(get_architecture("isatsleepnet")) > 2_000_000
    True
    """
    network = arch.build(arch.make_config(settings or {}))
    return sum(p.numel() for p in network.parameters() if p.requires_grad)


def describe_architectures(*, settings: bool = False) -> list[dict[str, Any]]:
    """Name, summary, inputs, reference, window, sizes, weight count and paper's training settings of each
    registered architecture (``training``: the TrainConfig fields its paper sets, over the defaults).

    ``settings`` adds every configuration setting with its default.

    Examples
    --------
    >>> [entry["name"] for entry in describe_architectures()][:1]
    ['isatsleepnet']
    """
    entries = []
    for arch in sorted(ARCHITECTURES.values(), key=lambda a: (a.name != "isatsleepnet", a.name)):
        entry = {"name": arch.name, "summary": arch.summary, "inputs": arch.inputs, "reference": arch.reference,
                 "epochs_per_window": arch.window_length(arch.make_config({})) or 1, "sizes": list(arch.sizes),
                 "parameters": count_weights(arch), "training": arch.training_defaults()}
        if settings:
            # the paper's training is under "training", in the training's own words; not model settings
            entry["settings"] = {k: (list(v) if isinstance(v, tuple) else v)
                                 for k, v in dataclasses.asdict(arch.make_config({})).items() if k not in PAPER_TRAINING}
        entries.append(entry)
    return entries
