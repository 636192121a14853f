"""Sleep statistics of one hypnogram, with every definition written down once.

The input is the sequence of staged epochs in time order: codes 0..4 (W, N1, N2,
N3, REM), negative codes for epochs without a stage (an expert's "?" or movement).

* TIB, time in bed: every staged epoch (the recording, or the window that was
  staged: `stage --lights` makes it lights off to lights on).
* Sleep onset: the first epoch of any sleep stage (N1, N2, N3 or REM), as AASM.
  SOL, sleep onset latency: from the first epoch to sleep onset.
* SPT, sleep period time: from sleep onset to the end of the last sleep epoch.
* TST, total sleep time: sleep epochs. SE, sleep efficiency: TST / TIB, in %.
* WASO, wake after sleep onset: wake epochs inside the SPT.
* REM latency: from sleep onset to the first REM epoch.
* Per stage: minutes, % of TIB, and % of TST for the sleep stages.
* Awakenings: runs of at least one wake epoch inside the SPT (the final
  awakening ends the SPT and is not counted).
* Unscored epochs count in TIB and in no stage, so they lower SE.

Durations are in minutes; a latency that does not exist (no sleep, no REM) is None.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from isatsleepnet import STAGES
from isatsleepnet.data.labels import REM, W


def _minutes(n_epochs: int | float, epoch_seconds: float) -> float:
    return round(float(n_epochs) * epoch_seconds / 60.0, 4)


def _percent(part: float, whole: float) -> float | None:
    return round(100.0 * part / whole, 4) if whole else None


def sleep_statistics(stages: np.ndarray, epoch_seconds: float = 30.0) -> dict[str, Any]:
    """The statistics above for ``stages`` (one code per epoch); JSON-ready values."""
    stages = np.asarray(stages, dtype=np.int64)
    n = len(stages)
    scored = stages >= 0
    asleep = scored & (stages != W)
    sleep_idx = np.flatnonzero(asleep)
    counts = {name: int(np.sum(stages == code)) for code, name in enumerate(STAGES)}
    n_sleep = int(asleep.sum())

    if len(sleep_idx):
        onset, last = int(sleep_idx[0]), int(sleep_idx[-1])
        period = stages[onset : last + 1]
        wake_in_period = period == W
        # a run starts where wake follows a non-wake epoch (the period starts with sleep)
        awakenings = int(np.sum(wake_in_period[1:] & ~wake_in_period[:-1]))
        rem_idx = np.flatnonzero(stages == REM)
        stats = {
            "sleep_onset_latency_min": _minutes(onset, epoch_seconds),
            "sleep_period_time_min": _minutes(last + 1 - onset, epoch_seconds),
            "waso_min": _minutes(int(wake_in_period.sum()), epoch_seconds),
            "rem_latency_min": _minutes(int(rem_idx[0]) - onset, epoch_seconds) if len(rem_idx) else None,
            "awakenings": awakenings,
        }
    else:
        stats = {
            "sleep_onset_latency_min": None,
            "sleep_period_time_min": 0.0,
            "waso_min": 0.0,
            "rem_latency_min": None,
            "awakenings": 0,
        }
    per_stage = {
        name: {
            "minutes": _minutes(counts[name], epoch_seconds),
            "percent_of_tib": _percent(counts[name], n),
            "percent_of_tst": None if name == STAGES[W] else _percent(counts[name], n_sleep),
        }
        for name in STAGES
    }
    return {
        "epochs": n,
        "epoch_seconds": float(epoch_seconds),
        "time_in_bed_min": _minutes(n, epoch_seconds),
        "total_sleep_time_min": _minutes(n_sleep, epoch_seconds),
        "sleep_efficiency_percent": _percent(n_sleep, n),
        **stats,
        "unscored_min": _minutes(int((~scored).sum()), epoch_seconds),
        "stages": per_stage,
    }


LABELS: dict[str, str] = {
    "time_in_bed_min": "Time in bed (TIB)",
    "total_sleep_time_min": "Total sleep time (TST)",
    "sleep_efficiency_percent": "Sleep efficiency (TST / TIB)",
    "sleep_onset_latency_min": "Sleep onset latency",
    "sleep_period_time_min": "Sleep period time (onset to last sleep)",
    "waso_min": "Wake after sleep onset (WASO)",
    "rem_latency_min": "REM latency (from sleep onset)",
    "awakenings": "Awakenings (wake bouts after onset)",
    "unscored_min": "Unscored",
}
"""Human names of the summary statistics, in report order."""
