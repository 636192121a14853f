"""The Python API: stage recordings, inspect and compare the stages, write what `stage` writes.

The top layer of the package (it may use anything below it but the command line).
Its names are also the top-level names of :mod:`isatsleepnet`, imported on first use::

    import isatsleepnet as isn
    model = isn.load_model("model.pt")
    night = model.stage("night.edf", eeg="C4-M1", eog="E1-M2")

See ``docs/api.md`` for a whole session.
"""

from __future__ import annotations

from isatsleepnet.api.data import (
    SyntheticNight,
    prepare,
    read_hypnogram,
    synthetic_night,
)
from isatsleepnet.api.model import StagingModel, load_model
from isatsleepnet.api.night import Night
from isatsleepnet.api.views import UNSTAGED, stage_codes_of

__all__ = [
    "UNSTAGED",
    "Night",
    "StagingModel",
    "SyntheticNight",
    "load_model",
    "prepare",
    "read_hypnogram",
    "stage_codes_of",
    "synthetic_night",
]
