"""Hypnodensity: the stage probabilities of every epoch over the night, stacked.

A hypnogram shows only the most likely stage; the hypnodensity also shows how
sure the model was, which is where a reviewer should look (transitions, N1).
Epochs flagged for review are marked above the plot.
"""

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

# Stacking order from the bottom (N3, N2, N1, REM, W), so that from the top the bands
# read W, REM, N1, N2, N3 like the levels of a hypnogram.
_ORDER = (3, 2, 1, 4, 0)
COLORS: dict[str, str] = {"W": "#f2c14e", "N1": "#9ecae1", "N2": "#4292c6", "N3": "#08306b", "REM": "#d7301f"}


def plot_hypnodensity(onsets_s: np.ndarray, probabilities: np.ndarray, path: str | Path, **options: Any) -> Path:
    """:func:`hypnodensity_figure` as one PNG."""
    return save_figure(hypnodensity_figure(onsets_s, probabilities, **options), path)


def hypnodensity_figure(
    onsets_s: np.ndarray,
    probabilities: np.ndarray,
    *,
    review: np.ndarray | None = None,
    epoch_seconds: float = 30.0,
    title: str = "Hypnodensity",
    start: dt.datetime | str | None = None,
    origin: str = "the first epoch",
    ax: Axes | None = None,
) -> Figure:
    """Stacked stage probabilities (n_epochs x 5) against time from the first epoch (into ``ax``, or a new figure).

    The x axis is :mod:`isatsleepnet.time_axis`'s, as in :func:`~isatsleepnet.plots.hypnogram.plot_hypnogram`.
    """
    onsets_s = np.asarray(onsets_s, dtype=float)
    probabilities = np.asarray(probabilities, dtype=float)
    hours = (onsets_s - onsets_s[0]) / 3600.0
    # one more point so that the last epoch gets its width in the step plot
    edges = np.append(hours, hours[-1] + epoch_seconds / 3600.0)
    layers = np.vstack([probabilities, probabilities[-1:]])[:, list(_ORDER)].T
    if ax is None:
        fig, ax = plt.subplots(figsize=(12, 2.8))
    else:
        fig = ax.figure
    ax.stackplot(edges, layers, step="post", colors=[COLORS[STAGES[i]] for i in _ORDER],
                 labels=[STAGES[i] for i in _ORDER], linewidth=0)
    if review is not None and np.any(review):
        flagged = hours[np.asarray(review, dtype=bool)]
        ax.plot(flagged, np.full(len(flagged), 1.04), "|", color="black", ms=6, mew=0.8,
                clip_on=False, label="review")
    draw_time_axis(ax, edges[-1] * 3600.0, start_s=float(onsets_s[0]), start=start, origin=origin)
    ax.set_ylim(0, 1)
    ax.set_ylabel("probability")
    handles, labels = ax.get_legend_handles_labels()
    n = len(_ORDER)  # stack layers first (reversed to read top-down), then the review mark
    order = list(range(n))[::-1] + list(range(n, len(handles)))
    ax.legend([handles[i] for i in order], [labels[i] for i in order], loc="upper left",
              bbox_to_anchor=(1.005, 1.0), frameon=False, fontsize=8)
    ax.set_title(title, pad=12)
    return fig
