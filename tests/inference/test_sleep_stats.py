"""Sleep statistics against values computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from isatsleepnet.inference.sleep_stats import sleep_statistics

W, N1, N2, N3, R = range(5)


def test_statistics_of_a_hand_scored_night():
    # 20 epochs of 30 s (10 min):
    #  0-3 W (4)          sleep onset at epoch 4 -> SOL 2.0 min
    #  4 N1, 5-6 N2, 7 N3
    #  8-9 W (2)          awakening 1
    #  10 N2, 11-12 R     REM latency: epoch 11 - 4 = 7 epochs = 3.5 min
    #  13 W (1)           awakening 2
    #  14 N2, 15 -1 (unscored), 16 N2    last sleep epoch 16 -> SPT 4..16 = 13 epochs = 6.5 min
    #  17-19 W            final awakening: not counted
    night = [W, W, W, W, N1, N2, N2, N3, W, W, N2, R, R, W, N2, -1, N2, W, W, W]
    s = sleep_statistics(np.array(night), 30.0)
    assert s["epochs"] == 20
    assert s["time_in_bed_min"] == 10.0
    # sleep epochs: N1 1, N2 5, N3 1, REM 2 -> 9 epochs = 4.5 min
    assert s["total_sleep_time_min"] == 4.5
    assert s["sleep_efficiency_percent"] == 45.0
    assert s["sleep_onset_latency_min"] == 2.0
    assert s["sleep_period_time_min"] == 6.5
    assert s["waso_min"] == 1.5  # epochs 8, 9, 13
    assert s["rem_latency_min"] == 3.5
    assert s["awakenings"] == 2
    assert s["unscored_min"] == 0.5
    stages = s["stages"]
    assert {k: v["minutes"] for k, v in stages.items()} == {"W": 5.0, "N1": 0.5, "N2": 2.5, "N3": 0.5, "REM": 1.0}
    assert stages["N2"]["percent_of_tst"] == pytest.approx(100 * 5 / 9, abs=1e-3)
    assert stages["N2"]["percent_of_tib"] == 25.0
    assert stages["W"]["percent_of_tst"] is None and stages["W"]["percent_of_tib"] == 50.0
    assert sum(v["percent_of_tst"] for k, v in stages.items() if k != "W") == pytest.approx(100.0)


def test_night_without_sleep_or_rem():
    s = sleep_statistics(np.zeros(10, dtype=int), 30.0)
    assert s["total_sleep_time_min"] == 0.0 and s["sleep_efficiency_percent"] == 0.0
    assert s["sleep_onset_latency_min"] is None and s["rem_latency_min"] is None
    assert s["awakenings"] == 0 and s["waso_min"] == 0.0
    assert all(v["percent_of_tst"] is None for v in s["stages"].values())

    s = sleep_statistics(np.array([N2, N2, W, N3, N3]), 20.0)
    assert s["sleep_onset_latency_min"] == 0.0 and s["rem_latency_min"] is None
    assert s["awakenings"] == 1 and s["waso_min"] == pytest.approx(1 / 3, abs=1e-4)
    assert s["epoch_seconds"] == 20.0


def test_empty_hypnogram():
    s = sleep_statistics(np.array([], dtype=int))
    assert s["time_in_bed_min"] == 0.0 and s["sleep_efficiency_percent"] is None
