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
     ("REM", L.REM), ("R", L.REM), ("?", L.DROP), ("MT", L.DROP)],
)
def test_text_labels(text, code):
    assert L.map_text(text) == code


@pytest.mark.parametrize(
    ("text", "coding", "code"),
    [(" 5 ", "rk", L.REM), ("4", "rk", L.N3), ("4", "aasm", L.REM), ("4.0", "aasm", L.REM), ("2", "aasm", L.N2),
     ("9", "rk", L.DROP), ("-1", "aasm", L.DROP), ("-2", "aasm", L.DROP), ("0", "rk", L.W)],
)
def test_integer_labels_need_their_files_coding(text, coding, code):
    assert L.map_text(text, coding) == code
    with pytest.raises(L.IntegerCode) as raised:  # no coding: the reader decides it for the whole file
        L.map_text(text)
    assert raised.value.code == int(float(text))


@pytest.mark.parametrize(("text", "coding"), [("7", None), ("10", None), ("-3", None), ("5", "aasm"), ("-1", "rk"),
                                              ("1" * 5000, None)])
def test_integers_outside_the_coding_are_unknown(text, coding):
    with pytest.raises(L.UnknownLabel):
        L.map_text(text, coding)


def at(*codes: int) -> list[tuple[int, str]]:
    return [(c, f"on line {i + 1}") for i, c in enumerate(codes)]


@pytest.mark.parametrize(
    ("codes", "coding"),
    [((0, 1, 2, 4, 5), "rk"), ((0, 4, 6), "rk"), ((0, 2, 9), "rk"), ((0, 4, -1), "aasm"), ((4, -2, 2), "aasm")],
)
def test_a_deciding_code_anywhere_in_the_file_decides_it(codes, coding):
    chosen, note = L.integer_coding(at(*codes))
    assert chosen == coding
    decisive = next(c for c in codes if (c in (5, 6, 9)) or c < 0)
    assert f"code {decisive} on line {codes.index(decisive) + 1}" in note


def test_codes_zero_to_three_read_alike_and_need_no_choice():
    coding, note = L.integer_coding(at(0, 1, 2, 3, 2, 0))
    assert note is None
    assert [L.CODING_TABLES[coding][c] for c in (0, 1, 2, 3)] == [L.W, L.N1, L.N2, L.N3]
    assert all(L.AASM_CODES[c] == L.SHHS_CODES[c] for c in (0, 1, 2, 3))


def test_a_four_without_a_deciding_code_is_refused():
    with pytest.raises(L.CodingError, match=r"^integer stage codes 0-4 without a 5: AASM \(4 = REM, YASA / "
                                            r"DeepSleepNet\) or R&K \(4 = stage 4 = N3, 5 = REM\)\? say which with "
                                            r"stage_codes= aasm or stage_codes= rk$") as refused:
        L.integer_coding(at(0, 1, 2, 3, 4))
    assert refused.value.settings == ("stage_codes",)


def test_codes_of_both_codings_in_one_file_are_refused():
    with pytest.raises(L.CodingError, match=r"mix R&K's 5 \(on line 2\) and AASM's -1 \(on line 3\)"):
        L.integer_coding(at(0, 5, -1))


def test_the_users_coding_overrides_detection_but_must_hold_every_code():
    assert L.integer_coding(at(0, 4), "aasm") == ("aasm", None)
    assert L.integer_coding(at(0, 4), "rk") == ("rk", None)
    assert L.integer_coding(at(0, 4, 5), "rk") == ("rk", None)
    with pytest.raises(L.CodingError, match=r"^stage code 5 on line 3 does not exist in the AASM coding"):
        L.integer_coding(at(0, 4, 5), "aasm")
    with pytest.raises(L.CodingError, match=r"^stage code -1 on line 2 does not exist in the R&K coding"):
        L.integer_coding(at(0, -1), "rk")


def test_an_unknown_coding_name_is_a_clear_error():
    from isatsleepnet.errors import IsatSleepNetError

    with pytest.raises(IsatSleepNetError, match="stage codes must be one of aasm, rk"):
        L.integer_coding(at(0), "yasa")


@pytest.mark.parametrize(("text", "expected"), [("W", True), ("Sleep stage 4", True), ("30.5", True), ("-1", True),
                                                ("1e3", True), ("onset", False), ("stage", False), ("", False),
                                                ("nan", False)])
def test_what_counts_as_a_label_or_number(text, expected):
    assert L.is_label_or_number(text) is expected


def test_text_unknown():
    with pytest.raises(L.UnknownLabel):
        L.map_text("deep-ish")


def test_stage_counts_has_all_stages():
    assert L.stage_counts(np.array([0, 0, 2, 4])) == {"W": 2, "N1": 0, "N2": 1, "N3": 0, "REM": 1}
