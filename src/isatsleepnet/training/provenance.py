"""What a model file records of its training data for its model card, and the cards of a run folder.

:func:`data_record` adds to a model file's ``training`` what the recordings'
meta.json say and the card shows: the datasets (layouts), the nights, the real
epochs per stage of the training and validation recordings, how each channel
was made (derivation, source rate) and the software version.
:func:`write_run_cards` (re)writes ``MODEL_CARD.md`` beside every model.pt of a
run folder (a context model's encoder/model.pt too).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from isatsleepnet import STAGES, __version__
from isatsleepnet.data.store import PreparedRecording
from isatsleepnet.model.card import write_model_card

MODEL_FILE = "model.pt"
_NESTED = ("encoder",)  # sub-folders of a run folder that hold a model.pt of their own (a context model's encoder)


def _stage_counts(recordings: Sequence[PreparedRecording]) -> dict[str, int]:
    counts = np.zeros(len(STAGES), dtype=np.int64)
    for rec in recordings:
        labels = np.asarray(rec.labels)[rec.real]
        labels = labels[(labels >= 0) & (labels < len(STAGES))]
        counts += np.bincount(labels.astype(np.int64), minlength=len(STAGES))
    return {stage: int(n) for stage, n in zip(STAGES, counts)}


def _distinct(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for value in values:
        if value not in out:
            out.append(value)
    return out


def channel_sources(recordings: Sequence[PreparedRecording], channels: Sequence[str]) -> dict[str, dict[str, list]]:
    """Per model channel: the distinct derivations ([A, B], or None when recorded as such) and source rates.

    Recordings whose meta.json predates ``derived_from`` (or npz imports) add nothing; a channel none of
    them describes is left out (the card says not recorded).
    """
    found: dict[str, dict[str, list]] = {}
    for label in channels:
        ways = [rec.meta["derived_from"].get(label) for rec in recordings
                if isinstance(rec.meta.get("derived_from"), dict) and label in rec.meta["derived_from"]]
        rates = [float(rec.meta["source_sampling_rates"][label]) for rec in recordings
                 if isinstance(rec.meta.get("source_sampling_rates"), dict)
                 and isinstance(rec.meta["source_sampling_rates"].get(label), (int, float))]
        if ways or rates:
            found[label] = {"derived_from": _distinct(ways), "source_rates": sorted(set(rates))}
    return found


def data_record(train: Sequence[PreparedRecording], validation: Sequence[PreparedRecording],
                channels: Sequence[str]) -> dict[str, Any]:
    """The ``training`` keys of a model file that describe its data (``train``: the original recordings)."""
    recordings = [*train, *validation]
    return {
        "datasets": sorted({str(r.meta["dataset"]) for r in recordings if r.meta.get("dataset")}),
        "nights": {"train": len(train), "validation": len(validation)},
        "stage_counts": {"train": _stage_counts(train), "validation": _stage_counts(validation)},
        "channel_sources": channel_sources(recordings, channels),
        "isatsleepnet_version": __version__,
    }


def write_run_cards(folder: str | Path) -> list[Path]:
    """(Re)write MODEL_CARD.md beside ``folder/model.pt`` and any nested model.pt of the run; returns them."""
    folder = Path(folder)
    models = [folder / MODEL_FILE, *(folder / name / MODEL_FILE for name in _NESTED)]
    return [write_model_card(path) for path in models if path.is_file()]
