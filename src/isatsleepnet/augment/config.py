"""How training data are augmented inside a training run (`cv --augment`, `train --augment`).

Saved in RUN/config.json (cv) or OUT/augment_config.json (train), so that a
run is never continued with other augmentation and `compare` can say which
runs were augmented.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from isatsleepnet import STAGES
from isatsleepnet.errors import SettingError

AUGMENT_MODES = ("none", "transforms", "gan")


@dataclass(frozen=True)
class AugmentConfig:
    """``mode``: none (real epochs only), transforms (every stage by transforms) or
    gan (``stage`` by a Physio-GAN per channel, the other stages by transforms).

    ``stage`` is the GAN's stage and the one capped at ``stage_cap`` x its real
    count (the same cap in transforms mode, so both modes add the same counts);
    every other stage is filled toward ``target_ratio`` x the largest class of
    each training recording (SPEC, Augmentation).
    """

    mode: str = "none"
    stage: str = "N1"
    target_ratio: float = 1.15
    stage_cap: float = 0.8

    def __post_init__(self) -> None:
        """Refuse, naming the setting, what would fail only after the GANs were trained or the data copied."""
        for name, choices in (("mode", AUGMENT_MODES), ("stage", STAGES)):
            if getattr(self, name) not in choices:
                raise SettingError(name, f"must be one of {', '.join(choices)}, not {getattr(self, name)!r}")
        for name, least in (("target_ratio", 1.0), ("stage_cap", 0.0)):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and not isinstance(value, bool)
                    and math.isfinite(value) and value >= least):
                raise SettingError(name, f"must be a finite number of at least {least:g}, not {value!r}")

    @property
    def enabled(self) -> bool:
        return self.mode != "none"

    def record(self) -> dict[str, Any]:
        """What a run folder keeps: the mode alone when nothing is augmented (the other fields then do nothing)."""
        return asdict(self) if self.enabled else {"mode": "none"}


def describe(record: dict[str, Any] | str | None, gan: dict[str, Any] | None = None) -> str:
    """One short phrase for tables and reports, e.g. ``gan (N1, 100 GAN epochs)``; accepts what
    :meth:`AugmentConfig.record` saved, a bare mode string, or nothing (an older run: none)."""
    if record is None:
        return "none"
    if isinstance(record, str):
        return record
    mode = record.get("mode", "none")
    if mode == "none":
        return "none"
    detail = [record.get("stage", "N1")]
    if mode == "gan" and gan:
        detail.append(f"{gan.get('epochs')} GAN epochs")
    return f"{mode} ({', '.join(detail)})"
