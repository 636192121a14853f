"""Hypnograms, expert vs predicted, drawn in the clinical order (W on top, N3 at the bottom)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from isatsleepnet import STAGES
from isatsleepnet.plots import plt, save_figure

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


def plot_hypnogram(
    onsets_s: np.ndarray,
    predicted: np.ndarray,
    path: str | Path,
    *,
    expert: np.ndarray | None = None,
    title: str = "Hypnogram",
) -> Path:
    """One panel per hypnogram on a shared time axis; ``expert`` may hold -1 for unscored epochs."""
    hours = (np.asarray(onsets_s) - onsets_s[0]) / 3600.0
    rows = 2 if expert is not None else 1
    fig, axes = plt.subplots(rows, 1, figsize=(12, 1.9 * rows + 0.6), sharex=True, squeeze=False)
    panels = [("expert", expert), ("ISATSleepNet", predicted)] if expert is not None else [("predicted", predicted)]
    for ax, (name, stages) in zip(axes[:, 0], panels):
        _steps(ax, hours, np.asarray(stages, dtype=int), color="black", lw=0.9)
        ax.set_yticks(range(len(STAGES)), _LEVEL_NAMES)
        ax.set_ylim(-0.5, 4.5)
        ax.set_ylabel(name)
        ax.grid(axis="x", alpha=0.3)
    axes[-1, 0].set_xlabel("hours from the first epoch")
    fig.suptitle(title)
    return save_figure(fig, path)
