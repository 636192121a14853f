"""Hypnograms, expert vs predicted, drawn in the clinical order (W on top, N3 at the bottom)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from isatsleepnet import STAGES
from isatsleepnet.plots import plt, save_figure
from isatsleepnet.time_axis import draw_time_axis

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# Height of each stage code on the plot: W, REM, N1, N2, N3 from top to bottom.
_LEVEL = np.array([4, 2, 1, 0, 3])
_LEVEL_NAMES = ["N3", "N2", "N1", "REM", "W"]


def _steps(ax, hours: np.ndarray, stages: np.ndarray, **style) -> None:
    """Stage codes as a step line; codes below 0 (unscored epochs) leave a gap."""
    scored = stages >= 0
    levels = np.ma.masked_where(~scored, _LEVEL[np.where(scored, stages, 0)])
    ax.step(hours, levels, where="post", **style)
    rem = np.ma.masked_where(stages != 4, levels)
    ax.step(hours, rem, where="post", color="crimson", lw=style.get("lw", 1.2) + 1.5)


def plot_hypnogram(onsets_s: np.ndarray, predicted: np.ndarray, path: str | Path, **options: Any) -> Path:
    """:func:`hypnogram_figure` as one PNG."""
    return save_figure(hypnogram_figure(onsets_s, predicted, **options), path)


def hypnogram_figure(
    onsets_s: np.ndarray,
    predicted: np.ndarray,
    *,
    expert: np.ndarray | None = None,
    title: str = "Hypnogram",
    epoch_seconds: float = 30.0,
    start: dt.datetime | str | None = None,
    origin: str = "the first epoch",
    ax: Axes | None = None,
) -> Figure:
    """One panel per hypnogram on a shared time axis; ``expert`` may hold -1 for unscored epochs.

    With ``ax``, the one panel of ``predicted`` is drawn into that Axes (no ``expert``), ``title`` above it.

    ``onsets_s`` are seconds from the recording start, one per epoch of the window; the x axis is
    :mod:`isatsleepnet.time_axis`'s: time from the first onset (``origin`` names it), clock times
    under the ticks when the recording's ``start`` is known.
    """
    onsets_s = np.asarray(onsets_s, dtype=float)
    # one more point so that the last epoch gets its width in the step plot
    hours = np.append(onsets_s - onsets_s[0], onsets_s[-1] - onsets_s[0] + epoch_seconds) / 3600.0
    rows = 2 if expert is not None else 1
    if ax is not None:
        if expert is not None:
            raise ValueError("one Axes holds one hypnogram: draw the expert's into another")
        fig, axes = ax.figure, np.array([[ax]])
    else:
        fig, axes = plt.subplots(rows, 1, figsize=(12, 1.9 * rows + 0.6), sharex=True, squeeze=False)
    panels = [("expert", expert), ("ISATSleepNet", predicted)] if expert is not None else [("predicted", predicted)]
    for panel, (name, stages) in zip(axes[:, 0], panels):
        stages = np.asarray(stages, dtype=int)
        _steps(panel, hours, np.append(stages, stages[-1:]), color="black", lw=0.9)
        panel.set_yticks(range(len(STAGES)), _LEVEL_NAMES)
        panel.set_ylim(-0.5, 4.5)
        panel.set_ylabel(name)
        panel.grid(axis="x", alpha=0.3)
    draw_time_axis(axes[-1, 0], hours[-1] * 3600.0, start_s=float(onsets_s[0]), start=start, origin=origin)
    if ax is None:
        fig.suptitle(title)
    else:
        ax.set_title(title)
    return fig
