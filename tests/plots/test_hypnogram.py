"""Hypnogram plots: clinical stage order, REM highlighted, unscored expert epochs as gaps."""

from __future__ import annotations

import numpy as np

from isatsleepnet.plots import plt
from isatsleepnet.plots.hypnogram import _steps, plot_hypnogram


def test_stages_are_drawn_in_clinical_order_and_unscored_epochs_leave_gaps():
    stages = np.array([0, 1, -1, -1, 2, 3, 4])  # W N1 ? ? N2 N3 REM
    fig, ax = plt.subplots()
    _steps(ax, np.arange(len(stages)) / 120.0, stages, color="black")
    line, rem = ax.lines
    levels = np.ma.masked_invalid(line.get_ydata())
    assert list(np.ma.getmaskarray(levels)) == [False, False, True, True, False, False, False]
    assert levels[[0, 1, 4, 5, 6]].tolist() == [4, 2, 1, 0, 3]  # W top, then REM, N1, N2, N3 at the bottom
    rem_levels = np.ma.masked_invalid(rem.get_ydata())
    assert np.ma.getmaskarray(rem_levels).tolist() == [True] * 6 + [False]
    plt.close(fig)


def test_plot_with_an_expert_that_leaves_epochs_unscored(tmp_path):
    onsets = np.arange(20) * 30.0
    predicted = np.tile([0, 1, 2, 3, 4], 4)
    expert = predicted.copy()
    expert[5:8] = -1
    path = plot_hypnogram(onsets, predicted, tmp_path / "h.png", expert=expert, title="t")
    assert path.is_file() and path.stat().st_size > 1000
