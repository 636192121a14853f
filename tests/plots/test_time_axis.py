"""The one time axis of the staging figures: hours for a night, minutes for a nap, clock times when known."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from isatsleepnet.plots import plt
from isatsleepnet.plots.hypnodensity import hypnodensity_figure
from isatsleepnet.plots.hypnogram import hypnogram_figure, plot_hypnogram
from isatsleepnet.time_axis import clock_time, elapsed, tick_labels, tick_step

START = dt.datetime(2024, 3, 1, 22, 40, 0)


def _ticks(ax) -> tuple[list[float], list[str]]:
    return list(ax.get_xticks()), [t.get_text() for t in ax.get_xticklabels()]


def test_a_40_minute_nap_is_drawn_in_minutes():
    n = 80  # 40 min of 30-s epochs
    fig = hypnogram_figure(np.arange(n) * 30.0, np.tile([0, 1, 2, 3], n // 4))
    ax = fig.axes[-1]
    positions, labels = _ticks(ax)
    assert ax.get_xlabel() == "minutes from the first epoch"
    assert labels == ["0", "5", "10", "15", "20", "25", "30", "35", "40"]
    np.testing.assert_allclose(np.array(positions) * 60, [0, 5, 10, 15, 20, 25, 30, 35, 40])  # data: hours
    assert ax.get_xlim() == pytest.approx((0.0, 40 / 60))
    plt.close(fig)


def test_a_full_night_is_drawn_in_hours_with_clock_times_under_the_ticks():
    n = 8 * 120 + 20  # 8 h 10 min, starting 10 min into the recording
    onsets = 600.0 + np.arange(n) * 30.0
    fig = hypnogram_figure(onsets, np.zeros(n, dtype=int), expert=np.zeros(n, dtype=int), start=START,
                           origin="lights off")
    ax = fig.axes[-1]
    positions, labels = _ticks(ax)
    assert ax.get_xlabel() == "hours from lights off; clock time below"
    np.testing.assert_allclose(positions, np.arange(9))
    assert labels[0] == "0\n22:50" and labels[2] == "2\n00:50" and labels[-1] == "8\n06:50"
    plt.close(fig)


def test_the_hypnodensity_shares_the_hypnograms_axis():
    n = 80
    onsets = 300.0 + np.arange(n) * 30.0
    p = np.full((n, 5), 0.2)
    density = hypnodensity_figure(onsets, p, start=START)
    hypnogram = hypnogram_figure(onsets, p.argmax(1), start=START)
    assert _ticks(density.axes[0]) == _ticks(hypnogram.axes[-1])
    assert density.axes[0].get_xlabel() == hypnogram.axes[-1].get_xlabel()
    assert _ticks(density.axes[0])[1][1] == "5\n22:50"
    plt.close("all")


@pytest.mark.parametrize(("span_min", "unit", "step_min"), [
    (4, "minutes", 1), (40, "minutes", 5), (90, "minutes", 10), (119, "minutes", 15),
    (120, "hours", 30), (8 * 60, "hours", 60), (22 * 60, "hours", 120),
])
def test_the_tick_unit_and_step_follow_the_span(span_min, unit, step_min):
    assert tick_step(span_min * 60.0) == (unit, step_min * 60.0)


def test_clock_and_elapsed_times():
    assert clock_time(3725, START) == "23:42:05"
    assert clock_time(3 * 3600, START.isoformat(), with_date=True) == "2024-03-02 01:40:00"
    assert clock_time(10.0, None) is None and clock_time(10.0, "not a date") is None
    assert elapsed(3725) == "+1:02:05" and elapsed(0) == "+0:00:00"
    # a window start off the minute keeps its seconds in the tick labels
    assert tick_labels(600, 30.0, START)[2][:2] == ["0\n22:40:30", "1\n22:41:30"]


def test_the_last_epoch_is_drawn_to_its_end(tmp_path):
    fig = hypnogram_figure(np.arange(4) * 30.0, np.array([0, 2, 2, 4]))
    line = fig.axes[0].lines[0]
    assert line.get_xdata()[-1] == pytest.approx(120 / 3600)
    plt.close(fig)
    assert plot_hypnogram(np.arange(4) * 30.0, np.array([0, 2, 2, 4]), tmp_path / "h.png").stat().st_size > 1000
