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

The statistics cover the staged window and nothing tells a night from a day in
it: a window longer than :data:`LONG_WINDOW_HOURS` (a whole Sleep-EDF recording,
about 22 h, without `stage --trim`/`--lights`/`--start --end`) gets a note that
names it (:func:`long_window_note`), since its TST, SE, WASO and latencies count
the day too.

Durations are in minutes; a latency that does not exist (no sleep, no REM) is None.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from isatsleepnet import STAGES
from isatsleepnet.data.labels import REM, W
from isatsleepnet.time_axis import clock_time, elapsed

LONG_WINDOW_HOURS = 16.0
"""A staged window longer than this is much longer than a night: a night in bed rarely reaches 12 h,
while ambulatory day-and-night recordings (Sleep-EDF's SC nights, ~20-22 h) pass 16 h."""


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


def long_window_note(window_s: tuple[float, float], start: dt.datetime | str | None,
                     narrowed_by: str | None = None) -> str | None:
    """The note that statistics over a window much longer than a night carry; None for a night.

    Parameters
    ----------
    window_s : (float, float)
        Start and end of the staged window, seconds from the recording start.
    start : datetime or ISO text, optional
        The recording start, for clock times (else the window is given in elapsed time).
    narrowed_by : str, optional
        The option that chose the window (``"--lights"``, ...); None: the whole recording.

    Returns
    -------
    str or None

    Examples
    --------
    >>> long_window_note((0.0, 8 * 3600.0), None) is None
    True
    >>> print(long_window_note((0.0, 79200.0), "1989-04-24T16:13:00"))  # doctest: +ELLIPSIS
    the sleep statistics cover the whole recording, 22.0 h from 1989-04-24 16:13:00 to 1989-04-25 14:13:00: ...
    """
    first, last = float(window_s[0]), float(window_s[1])
    hours = (last - first) / 3600.0
    if hours <= LONG_WINDOW_HOURS:
        return None
    begin, end = clock_time(first, start, with_date=True), clock_time(last, start, with_date=True)
    span = f"from {begin} to {end}" if begin else f"from {elapsed(first)} to {elapsed(last)} of the recording"
    what = f"the window {narrowed_by} chose" if narrowed_by else "the whole recording"
    return (f"the sleep statistics cover {what}, {hours:.1f} h {span}: much longer than a night (over "
            f"{LONG_WINDOW_HOURS:g} h), so TIB, TST, sleep efficiency, WASO and the latencies count the day too; "
            "narrow the window to the night with --trim (with --hypnogram), --lights or --start/--end "
            "(in Python: stage(..., lights=True) or start=/end=)")
