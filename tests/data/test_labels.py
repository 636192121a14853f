import numpy as np
import pytest

from isatsleepnet.data import labels as L


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Sleep stage W", L.W), ("Sleep stage 1", L.N1), ("Sleep stage 2", L.N2),
        ("Sleep stage 3", L.N3), ("Sleep stage 4", L.N3), ("Sleep stage R", L.REM),
        ("Movement time", L.DROP), ("Sleep stage ?", L.DROP),
    ],
)
def test_sleep_edf_rk_to_aasm(text, code):
    assert L.map_sleep_edf(text) == code


def test_sleep_edf_unknown_stage_raises_and_other_events_are_ignored():
    with pytest.raises(L.UnknownLabel):
        L.map_sleep_edf("Sleep stage 5")
    assert L.map_sleep_edf("Lights off") is None


@pytest.mark.parametrize(("code", "stage"), [(0, L.W), (1, L.N1), (2, L.N2), (3, L.N3), (4, L.N3), (5, L.REM), (6, L.DROP), (9, L.DROP)])
def test_shhs_codes(code, stage):
    assert L.map_shhs(code) == stage


@pytest.mark.parametrize("code", [7, -1, 10])
def test_shhs_unknown_code(code):
    with pytest.raises(L.UnknownLabel):
        L.map_shhs(code)


@pytest.mark.parametrize(
    ("text", "code"),
    [("W", L.W), ("wake", L.W), ("N1", L.N1), ("s2", L.N2), ("N3", L.N3), ("S4", L.N3),
     ("REM", L.REM), ("R", L.REM), (" 5 ", L.REM), ("?", L.DROP), ("MT", L.DROP), ("2", L.N2)],
)
def test_text_labels(text, code):
    assert L.map_text(text) == code


def test_text_unknown():
    with pytest.raises(L.UnknownLabel):
        L.map_text("deep-ish")


def test_stage_counts_has_all_stages():
    assert L.stage_counts(np.array([0, 0, 2, 4])) == {"W": 2, "N1": 0, "N2": 1, "N3": 0, "REM": 1}
