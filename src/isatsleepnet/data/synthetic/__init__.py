"""Synthetic polysomnography for tests and the demo: real EDF/XML files, fake people.

The files follow the Sleep-EDF or SHHS layout so that ``prepare`` reads them like
downloaded data, and the signals carry the stage cues that scoring rules describe, so
that a model trained on them has something to learn. They are test data only: results
on them say nothing about performance on real recordings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from isatsleepnet.checks import is_real, whole_number
from isatsleepnet.data.synthetic.hypnogram import EPOCH_SECONDS, mark_movement, simulate_hypnogram
from isatsleepnet.errors import IsatSleepNetError, SettingError

# the signal generators need scipy.signal, scipy.ndimage...: loaded on first use, so that `stage` reading the
# synthetic mark (``marker.py``, a submodule of this package) does not pay for them (0.8 s)
_LAZY = {"SubjectProfile": "signals", "simulate_channels": "signals"}


def __getattr__(name: str):  # noqa: ANN202 - PEP 562 lazy attribute
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


LAYOUTS: tuple[str, ...] = ("sleep-edf", "shhs")
MAX_HOURS = 48.0

__all__ = [
    "LAYOUTS",
    "SubjectProfile",
    "SynthConfig",
    "SynthRecording",
    "simulate_channels",
    "simulate_hypnogram",
    "synthesize",
]


@dataclass(frozen=True)
class SynthConfig:
    """What to generate: ``hours`` is the total recording length of each night."""

    layout: str = "sleep-edf"
    subjects: int = 4
    nights: int = 1
    hours: float = 8.0
    seed: int = 0
    profusion: bool = False

    @property
    def n_epochs(self) -> int:
        return int(self.hours * 3600.0 // EPOCH_SECONDS)

    def __post_init__(self) -> None:
        """Raise :class:`IsatSleepNetError` naming the setting, before a file is written."""
        if self.layout not in LAYOUTS:
            raise SettingError("layout", f"must be one of {', '.join(LAYOUTS)}, not {self.layout!r}")
        for name, least in (("subjects", 1), ("nights", 1), ("seed", 0)):
            object.__setattr__(self, name, whole_number(name, getattr(self, name)))  # np.int64 too, kept as an int
        if self.subjects < 1:
            raise SettingError("subjects", f"must be at least 1, got {self.subjects}")
        if self.layout == "sleep-edf" and self.subjects > 100:
            raise SettingError("subjects", f"must be at most 100 with the sleep-edf layout (it numbers subjects "
                                           f"with two digits), not {self.subjects}")
        if self.nights not in (1, 2):
            raise SettingError("nights", f"must be 1 or 2, got {self.nights}")
        if not (is_real(self.hours) and math.isfinite(self.hours)):
            raise SettingError("hours", f"must be a finite number of hours, not {self.hours!r}")  # nan is no short night
        if type(self.hours) not in (int, float):  # a numpy number: as a float, for JSON
            object.__setattr__(self, "hours", float(self.hours))
        if self.hours * 3600.0 < EPOCH_SECONDS:
            raise IsatSleepNetError(
                f"{{hours}} {self.hours!r} is shorter than one {EPOCH_SECONDS:.0f}-s epoch; "
                "use a few hours (at least 0.5 for a recording with sleep in it)"
            )
        if self.hours > MAX_HOURS:
            raise IsatSleepNetError(f"{{hours}} {self.hours!r} is more than {MAX_HOURS:.0f} h per night")
        if self.seed < 0:
            raise SettingError("seed", f"must be non-negative, got {self.seed}")
        if not isinstance(self.profusion, bool):
            raise SettingError("profusion", f"must be true or false, not {self.profusion!r}")
        if self.profusion and self.layout != "shhs":
            raise IsatSleepNetError("{profusion} only applies to the shhs layout")


@dataclass(frozen=True)
class SynthRecording:
    """One written night. ``stages`` holds 0..4 (W, N1, N2, N3, REM) per PSG epoch, -1 for movement."""

    psg: Path
    hypnogram: Path
    subject: int
    night: int
    stages: np.ndarray
    profusion: Path | None = None


def synthesize(out_dir: Path, config: SynthConfig, progress: bool = True) -> list[SynthRecording]:
    """Write ``config.subjects`` x ``config.nights`` recordings into ``out_dir``.

    Every night depends only on (seed, subject, night), so subject 2 is the same whether
    2 or 20 subjects are generated, and the same seed always gives identical files.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    jobs = [(s, n) for s in range(config.subjects) for n in range(1, config.nights + 1)]
    recordings = []
    from isatsleepnet.data.synthetic.signals import SubjectProfile
    from isatsleepnet.data.synthetic.writers import write_shhs, write_sleep_edf

    for subject, night in tqdm(jobs, desc="synth", unit="night", disable=None if progress else True):
        profile = SubjectProfile.draw(np.random.default_rng([config.seed, subject]))
        rng = np.random.default_rng([config.seed, subject, night])
        profile = profile.for_night(rng)
        stages = simulate_hypnogram(config.n_epochs, rng, epoch_seconds=EPOCH_SECONDS,
                                    n3_propensity=profile.n3_propensity, fragmentation=profile.fragmentation)
        if config.layout == "sleep-edf":
            stages = mark_movement(stages, rng, int(rng.integers(1, 4)))
            psg, hypnogram = write_sleep_edf(out_dir, subject, night, stages, profile, rng)
            extra = None
        else:
            stages = mark_movement(stages, rng, int(rng.integers(0, 3)))
            psg, hypnogram, extra = write_shhs(out_dir, subject, night, stages, profile, rng, config.profusion)
        recordings.append(SynthRecording(psg, hypnogram, subject, night, stages, extra))
    return recordings
