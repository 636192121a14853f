"""The one time convention of everything `stage` writes and draws, so that a time read off a figure
is found in the CSV and the report.

* **Onset**: seconds from the recording start (the CSV's ``onset_s``, the annotations, the JSON's
  ``window_s``); epoch ``k`` starts at ``k * 30`` s.
* **Clock time**: recording start + onset, ``HH:MM:SS``, when the file carries its start time (the
  CSV's ``clock_time``, the report's review table, the figures' tick labels).
* **Elapsed time**: from the start of the staged window, that is its first epoch (lights off with
  ``--lights``, the ``--start``/``--trim`` start, else the recording start): the figures' x axis, in
  hours, or in minutes when the window is shorter than :data:`MINUTES_BELOW_S` (a nap), and the
  report's ``elapsed`` column.

This module imports no matplotlib (:func:`draw_time_axis` only calls the Axes it is given), so the
CSV and HTML writers follow the same rules without loading it.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

MINUTES_BELOW_S = 2 * 3600.0
"""Windows shorter than this are drawn in minutes, longer ones in hours."""

_MINUTE_STEPS = (1, 2, 5, 10, 15, 30)  # minutes between ticks
_HOUR_STEPS = (0.5, 1, 2, 3, 4, 6)  # hours between ticks
_MAX_INTERVALS = {"minutes": 10, "hours": 12}


def as_datetime(start: dt.datetime | str | None) -> dt.datetime | None:
    """The recording start from a datetime or its ISO text (as in ``sleep_stats.json``); None if unknown."""
    if start is None or isinstance(start, dt.datetime):
        return start
    try:
        return dt.datetime.fromisoformat(start)
    except ValueError:
        return None


def clock_time(onset_s: float, start: dt.datetime | str | None, *, with_date: bool = False) -> str | None:
    """``HH:MM:SS`` (with the date if ``with_date``: nights cross midnight) of an onset; None without a start.

    Examples
    --------
    >>> clock_time(3725, "2024-03-01T23:00:00"), clock_time(3725, None), elapsed(3725)
    ('00:02:05', None, '+1:02:05')
    """
    when = as_datetime(start)
    if when is None:
        return None
    return (when + dt.timedelta(seconds=float(onset_s))).strftime("%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S")


def elapsed(seconds: float) -> str:
    """``+H:MM:SS`` of a time span (elapsed time from the window start, or onset without a clock)."""
    s = round(float(seconds))
    sign = "-" if s < 0 else "+"
    s = abs(s)
    return f"{sign}{s // 3600:d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def tick_step(span_s: float) -> tuple[str, float]:
    """(unit, seconds between ticks) for a window of ``span_s``: minutes under two hours, else hours;
    the smallest round step that leaves at most 10 (minutes) or 12 (hours) intervals.

    Examples
    --------
    >>> tick_step(40 * 60)  # a nap: every 5 minutes
    ('minutes', 300.0)
    >>> tick_step(8 * 3600), tick_step(22 * 3600)  # a night, a long recording
    (('hours', 3600.0), ('hours', 7200.0))
    """
    if span_s < MINUTES_BELOW_S:
        steps, unit, scale = _MINUTE_STEPS, "minutes", 60.0
    else:
        steps, unit, scale = _HOUR_STEPS, "hours", 3600.0
    most = _MAX_INTERVALS[unit]
    for step in steps:
        if span_s / (step * scale) <= most:
            return unit, step * scale
    return unit, steps[-1] * scale * math.ceil(span_s / (steps[-1] * scale * most))


def tick_labels(span_s: float, start_s: float = 0.0,
                start: dt.datetime | str | None = None) -> tuple[str, list[float], list[str]]:
    """(axis label, tick positions in hours from the window start, tick labels) of a window of ``span_s``
    starting ``start_s`` after the recording start; with a known ``start`` each label gets its clock time
    on a second line."""
    unit, step = tick_step(span_s)
    scale = 60.0 if unit == "minutes" else 3600.0
    n = math.floor(span_s / step + 1e-9)
    seconds = [k * step for k in range(n + 1)]
    labels = [f"{s / scale:g}" for s in seconds]
    when = as_datetime(start)
    if when is not None:
        origin = when + dt.timedelta(seconds=float(start_s))
        fmt = "%H:%M" if origin.second == 0 and origin.microsecond == 0 else "%H:%M:%S"
        labels = [f"{label}\n{(origin + dt.timedelta(seconds=s)).strftime(fmt)}" for label, s in zip(labels, seconds)]
    return unit, [s / 3600.0 for s in seconds], labels


def draw_time_axis(ax: Any, span_s: float, *, start_s: float = 0.0, start: dt.datetime | str | None = None,
                   origin: str = "the first epoch") -> None:
    """The x axis of a matplotlib Axes whose data are hours from the window start: it spans the window,
    ticks in round minutes or hours (see :func:`tick_step`), clock times under them when known.

    ``origin`` names the window start in the axis label ("lights off", "the recording start").
    """
    unit, positions, labels = tick_labels(span_s, start_s, start)
    ax.set_xlim(0.0, span_s / 3600.0)
    ax.set_xticks(positions, labels)
    clock = "; clock time below" if as_datetime(start) is not None else ""
    ax.set_xlabel(f"{unit} from {origin}{clock}")
