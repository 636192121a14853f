"""ISATSleepNet: automatic sleep staging from polysomnography.

From Python (names imported on first use, so ``import isatsleepnet`` stays light)::

    import isatsleepnet as isn
    model = isn.load_model("demo/run/fold_00/model.pt")       # from `isatsleepnet demo --out demo`; or a .onnx
    night = model.stage("night.edf", eeg="C4-M1", eog="E1-M2")  # or an mne.io.Raw, or (data, sfreq, ch_names)
    night.stages, night.sleep_statistics(), night.agreement(isn.read_hypnogram("night.xml"))
    night.write("out/")                                       # the files of `isatsleepnet stage`

See ``docs/api.md``.
"""

from __future__ import annotations

import importlib
from typing import Any

from isatsleepnet.cores import yield_idle_threads

yield_idle_threads()  # before torch is loaded: idle OpenMP threads sleep instead of spinning (see cores.py)

__version__ = "0.1.0"

STAGES: tuple[str, ...] = ("W", "N1", "N2", "N3", "REM")
"""The five AASM stages, in the order of the integer labels 0..4 used everywhere."""

_LAZY: dict[str, tuple[str, str]] = {
    "load_model": ("isatsleepnet.api.model", "load_model"),
    "StagingModel": ("isatsleepnet.api.model", "StagingModel"),
    "Night": ("isatsleepnet.api.night", "Night"),
    "read_hypnogram": ("isatsleepnet.api.data", "read_hypnogram"),
    "synthetic_night": ("isatsleepnet.api.data", "synthetic_night"),
    "SyntheticNight": ("isatsleepnet.api.data", "SyntheticNight"),
    "download": ("isatsleepnet.data.download", "download"),
    "prepare": ("isatsleepnet.api.data", "prepare"),
    "export": ("isatsleepnet.inference.export", "export"),
    "PreparedDataset": ("isatsleepnet.data.store", "PreparedDataset"),
    "train": ("isatsleepnet.training.train", "train"),
    "cross_validate": ("isatsleepnet.training.cv", "cross_validate"),
    "training_config": ("isatsleepnet.training.config", "for_architecture"),
    "IsatSleepNetError": ("isatsleepnet.errors", "IsatSleepNetError"),
    "SettingError": ("isatsleepnet.errors", "SettingError"),
}
"""Top-level name -> (module, attribute), imported when first used (PEP 562)."""

__all__ = [
    "STAGES",
    "IsatSleepNetError",
    "Night",
    "PreparedDataset",
    "SettingError",
    "StagingModel",
    "SyntheticNight",
    "__version__",
    "cross_validate",
    "download",
    "export",
    "load_model",
    "prepare",
    "read_hypnogram",
    "synthetic_night",
    "train",
    "training_config",
]


def __getattr__(name: str) -> Any:
    try:
        module, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'isatsleepnet' has no attribute {name!r}") from None
    try:
        value = getattr(importlib.import_module(module), attribute)
    except ModuleNotFoundError as exc:
        from isatsleepnet.installs import is_training_module_missing

        if not is_training_module_missing(exc):
            raise
        return _needs_training(name)  # the staging install: one line when called, not an import error now
    globals()[name] = value  # the next lookup does not come here
    return value


def _needs_training(name: str) -> Any:
    """A stand-in for ``isn.NAME`` without the ``[train]`` extra: calling it says what to install, in one line
    (``import *``, ``hasattr`` and ``help(isn)`` keep working)."""

    def needs_training(*args: Any, **kwargs: Any) -> Any:
        from isatsleepnet.installs import needs_training as error

        raise error(f"isatsleepnet.{name}")

    needs_training.__name__ = needs_training.__qualname__ = name
    return needs_training


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
