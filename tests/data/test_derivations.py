"""Derivations A-B: a role formed from two referential channels, in `prepare` and `stage`."""

from __future__ import annotations

import numpy as np
import pytest

from isatsleepnet.data.channels import resolve_channels
from isatsleepnet.data.derivations import derivation_keys, electrode_key, splits
from isatsleepnet.data.readers.edf import EdfRecording
from isatsleepnet.data.signal import resample
from isatsleepnet.errors import DataError, IsatSleepNetError
from isatsleepnet.inference.raw import ModelInputs, RawRecording

ONE_EEG = ModelInputs(("eeg",), ("C4-M1",), 100.0, 30.0)
THREE = ModelInputs(("eeg", "eeg2", "eog"), ("C4-M1", "C3-M2", "E1-M2"), 100.0, 30.0)


def _noise(n: int, seed: int, scale: float = 20.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, scale, n)


def _microvolts(path, label: str) -> np.ndarray:
    psg = EdfRecording.open(path)
    signal = psg.signal(label)
    return psg.read_samples(signal, 0, psg.n_samples(signal))


@pytest.mark.parametrize(("a", "b"), [("EEG C4-REF", "C4"), ("C4 REF", "c4"), ("A1", "M1"), ("EOG E1", "E1"),
                                      ("EEG Fpz", "Fpz"), ("a2", "M2")])
def test_spellings_of_one_electrode_are_equal(a, b):
    assert electrode_key(a) == electrode_key(b)


@pytest.mark.parametrize(("a", "b"), [("M1", "M2"), ("A1", "A2"), ("C4", "C3"), ("EEG", "EEG2"), ("E1", "E2")])
def test_distinct_electrodes_stay_distinct(a, b):
    assert electrode_key(a) != electrode_key(b)


def test_splits_and_derivation_keys():
    assert splits("C4-M1") == [("C4", "M1")]
    assert splits("EEG C4-REF-A1") == [("EEG C4", "REF-A1"), ("EEG C4-REF", "A1")]
    assert splits("C4") == [] and splits("-M1") == [] and splits("C4-") == []
    assert derivation_keys("E1-A2") == derivation_keys("EOG E1-M2") == {("e1", "m2")}


def test_derived_channel_is_a_minus_b_sample_for_sample(write_edf, tmp_path):
    n = 4 * 3000
    path = write_edf(tmp_path / "ref.edf", [("EEG C4-REF", _noise(n, 1), 100.0, "uV"),
                                            ("A1", _noise(n, 2, 5.0), 100.0, "uV")])
    rec = RawRecording.open(path, ONE_EEG)
    choice = rec.choices[0]
    assert (choice.label, choice.matched, choice.derived_from) == ("C4-M1", "derived", ("EEG C4-REF", "A1"))
    expected = _microvolts(path, "EEG C4-REF") - _microvolts(path, "A1")  # each with its own calibration
    epochs = rec.read()
    assert epochs.shape == (4, 1, 3000)
    np.testing.assert_array_equal(epochs[:, 0].reshape(-1), expected.astype(np.float32))
    np.testing.assert_array_equal(rec.read(2, 3)[0, 0], expected[6000:9000].astype(np.float32))
    assert "eeg: 'C4-M1' derived as 'EEG C4-REF' (100 Hz) minus 'A1' (100 Hz), each at 100 Hz" in rec.notes


def test_halves_in_different_units_are_each_converted(write_edf, tmp_path):
    n = 2 * 3000
    c4, m1 = _noise(n, 3), _noise(n, 4, 5.0)
    path = write_edf(tmp_path / "units.edf", [("C4", c4 / 1000, 100.0, "mV"), ("M1", m1, 100.0, "uV")])
    epochs = RawRecording.open(path, ONE_EEG).read()
    np.testing.assert_allclose(epochs[:, 0].reshape(-1), c4 - m1, atol=0.01)


def test_unequal_rates_match_the_subtraction_after_resampling_both(write_edf, tmp_path):
    seconds = 120
    a, b = _noise(200 * seconds, 5), _noise(100 * seconds, 6, 5.0)
    path = write_edf(tmp_path / "rates.edf", [("C4", a, 200.0, "uV"), ("M1", b, 100.0, "uV")])
    rec = RawRecording.open(path, ONE_EEG)
    got = rec.read()[:, 0].reshape(-1)
    expected = resample(_microvolts(path, "C4"), 200, 100) - _microvolts(path, "M1")
    np.testing.assert_allclose(got, expected, atol=1e-3)
    assert "eeg: 'C4-M1' derived as 'C4' (200 Hz) minus 'M1' (100 Hz), each at 100 Hz" in rec.notes
    assert rec.choices[0].rate == 100.0  # the slower half's

    # neither half at the working rate: both resampled onto one grid
    path = write_edf(tmp_path / "both.edf", [("C4", _noise(256 * seconds, 7), 256.0, "uV"),
                                             ("M1", _noise(128 * seconds, 8), 128.0, "uV")])
    got = RawRecording.open(path, ONE_EEG).read()[:, 0].reshape(-1)
    expected = resample(_microvolts(path, "C4"), 256, 100) - resample(_microvolts(path, "M1"), 128, 100)
    np.testing.assert_allclose(got, expected[: len(got)], atol=1e-3)


def test_halves_at_different_rates_are_aligned_in_time(write_edf, tmp_path):
    # the same 2-Hz wave recorded at 200 Hz and at 100 Hz: their difference is ~0 only if both halves
    # land on the same time grid (one 10-ms sample of misalignment leaves ~6 µV)
    wave = lambda fs: 50 * np.sin(2 * np.pi * 2.0 * np.arange(90 * int(fs)) / fs)
    path = write_edf(tmp_path / "wave.edf", [("C3", wave(200.0), 200.0, "uV"), ("M2", wave(100.0), 100.0, "uV")])
    inputs = ModelInputs(("eeg",), ("C3-M2",), 100.0, 30.0)
    epochs = RawRecording.open(path, inputs).read()
    assert np.abs(epochs[:, 0].reshape(-1)[200:-200]).max() < 0.5


def test_alias_forms_of_each_half(write_edf, tmp_path):
    n = 3000
    labels = ["EEG C4-REF", "EEG C3-REF", "A1", "A2", "EOG E1-REF"]
    path = write_edf(tmp_path / "lab.edf", [(label, _noise(n, i), 100.0, "uV") for i, label in enumerate(labels)])
    rec = RawRecording.open(path, THREE, overrides={"eog": ["EOG E1-M2"]})
    assert [(c.label, c.matched, c.derived_from) for c in rec.choices] == [
        ("C4-M1", "derived", ("EEG C4-REF", "A1")),
        ("C3-M2", "derived", ("EEG C3-REF", "A2")),
        ("EOG E1-M2", "derived", ("EOG E1-REF", "A2")),
    ]
    np.testing.assert_array_equal(rec.read()[0, 2], (_microvolts(path, "EOG E1-REF") - _microvolts(path, "A2"))
                                  .astype(np.float32))


def test_a_whole_name_match_wins_over_a_split(write_edf, tmp_path):
    n = 3000
    labels = ["C4", "M1", "C4-M1", "EEG Fpz", "Cz", "EEG Fpz-Cz", "EEG C3-A2"]
    path = write_edf(tmp_path / "whole.edf", [(label, _noise(n, i), 100.0, "uV") for i, label in enumerate(labels)])
    psg = EdfRecording.open(path)
    wanted = {"eeg": ["C4-M1"], "eeg2": ["Fpz-Cz"], "eog": ["C3-M2"]}
    got = [(c.label, c.matched, c.derived_from) for c, _ in resolve_channels(psg, wanted, working_rate=100.0)]
    # "C3-M2" is recorded as "EEG C3-A2" (A2 = M2): the same derivation, used as it is
    assert got == [("C4-M1", "exact", None), ("EEG Fpz-Cz", "alias", None), ("EEG C3-A2", "alias", None)]
    np.testing.assert_array_equal(RawRecording.open(path, ONE_EEG).read()[0, 0],
                                  _microvolts(path, "C4-M1").astype(np.float32))


def test_alternatives_first_found_or_formed_wins(write_edf, tmp_path):
    labels = ["EOG horizontal", "E1", "M2"]
    path = write_edf(tmp_path / "alt.edf", [(label, _noise(3000, i), 100.0, "uV") for i, label in enumerate(labels)])
    psg = EdfRecording.open(path)
    pick = lambda names: resolve_channels(psg, {"eog": names}, working_rate=100.0)[0][0]
    assert pick(["EOG E1-M2", "EOG horizontal"]).derived_from == ("E1", "M2")
    assert pick(["E2-M1", "EOG horizontal"]).label == "EOG horizontal"
    assert pick(["EOG horizontal", "E1-M2"]).derived_from is None


def test_a_missing_half_is_named_and_all_missing_roles_are_listed(write_edf, tmp_path):
    labels = ["EEG C4-REF", "A2", "EMG chin"]
    path = write_edf(tmp_path / "miss.edf", [(label, _noise(3000, i), 100.0, "uV") for i, label in enumerate(labels)])
    with pytest.raises(DataError) as err:
        RawRecording.open(path, THREE)
    message = str(err.value)
    assert "\n" not in message and message.startswith("miss.edf: missing ")
    assert "eeg channel 'C4-M1' ('C4' found as 'EEG C4-REF'; no channel 'M1') (the model was trained on it)" in message
    assert "eeg2 channel 'C3-M2' (no channel 'C3'; 'M2' found as 'A2')" in message
    assert "eog channel 'E1-M2' (no channel 'E1'; 'M2' found as 'A2')" in message
    assert "channels present: 'EEG C4-REF', 'A2', 'EMG chin'; choose with eeg=/eeg2=/eog=" in message
    with pytest.raises(DataError, match=r"missing eog channel 'EOG E1-M2' \(no channel 'EOG E1'; 'M2' found as "
                                        r"'A2'\) or 'EOG horizontal'; channels present"):
        RawRecording.open(path, THREE, overrides={"eeg": ["EEG C4-REF"], "eeg2": ["EEG C4-REF"],
                                                  "eog": ["EOG E1-M2", "EOG horizontal"]})


def test_refused_halves(write_edf, tmp_path):
    n = 3000
    same = write_edf(tmp_path / "same.edf", [("M1", _noise(n, 1), 100.0, "uV"), ("C4", _noise(n, 2), 100.0, "uV")])
    with pytest.raises(DataError, match=r"eeg channel 'M1-A1' \('M1' and 'A1' are one channel, 'M1'\)"):
        RawRecording.open(same, ONE_EEG, overrides={"eeg": ["M1-A1"]})
    ambiguous = write_edf(tmp_path / "amb.edf", [("EEG C4", _noise(n, 1), 100.0, "uV"),
                                                 ("C4-REF", _noise(n, 2), 100.0, "uV"), ("M1", _noise(n, 3), 100.0, "uV")])
    with pytest.raises(DataError, match=r"eeg channel 'C4' is ambiguous: 'EEG C4' \(signal 1\), 'C4-REF' \(signal 2\)"):
        RawRecording.open(ambiguous, ONE_EEG)
    slow = write_edf(tmp_path / "slow.edf", [("C4", _noise(n, 1), 100.0, "uV"), ("M1", _noise(n // 2, 2), 50.0, "uV")])
    with pytest.raises(DataError, match=r"channel 'M1' \(eeg, half of 'C4-M1'\) is sampled at 50 Hz; the model works "
                                        r"at 100 Hz and needs at least 60 Hz for EEG"):
        RawRecording.open(slow, ONE_EEG)
    degc = write_edf(tmp_path / "degc.edf", [("C4", _noise(n, 1), 100.0, "uV"), ("M1", _noise(n, 2), 100.0, "DegC")])
    with pytest.raises(DataError, match=r"channel 'M1' has physical dimension 'DegC', not a voltage"):
        RawRecording.open(degc, ONE_EEG)


def test_a_derivation_on_the_real_timeline_of_an_edf_plus_d(write_edf, tmp_path):
    from tests.inference import make_discontinuous

    ramp = np.arange(300 * 100) / 100.0  # value = stored second
    path = write_edf(tmp_path / "d.edf", [("C4", 3 * ramp, 100.0, "uV"), ("M1", ramp, 100.0, "uV")],
                     annotations=[(0.0, 0.0, "start")])
    make_discontinuous(path, 4, 45.0)
    rec = RawRecording.open(path, ONE_EEG)
    epochs = rec.read(index=rec.available(0, rec.n_epochs))
    # epoch 6 starts at 180 s real time = stored second 135; C4 - M1 = 2 x the stored second
    np.testing.assert_allclose(epochs[:, 0, 0], 2 * np.array([0, 30, 60, 90, 135, 165, 195, 225, 255]), atol=0.1)


def test_a_role_the_model_needs_cannot_be_dropped(write_edf, tmp_path):
    from tests.inference import SLEEP_EDF_NAMES, write_night

    inputs = ModelInputs(("eeg", "eeg2", "eog"), tuple(SLEEP_EDF_NAMES), 100.0, 30.0)
    path = write_night(write_edf, tmp_path / "n.edf", 1)
    for dropped in (["none"], ["None"], [""], ["  "]):
        with pytest.raises(IsatSleepNetError) as err:
            RawRecording.open(path, inputs, overrides={"eeg2": dropped})
        assert str(err.value) == (
            "the model needs its eeg2 input (it was trained on channel 'EEG Pz-Oz'): it cannot be left out; give "
            "another EEG channel or a derivation such as C3-M2, or the same channel as eeg=")
    with pytest.raises(IsatSleepNetError, match=r"needs its eog input \(it was trained on channel 'EOG horizontal'\): "
                                                r"it cannot be left out; give another EOG channel or a derivation such "
                                                r"as E1-M2$"):
        RawRecording.open(path, inputs, overrides={"eog": ["none"]})
    with pytest.raises(IsatSleepNetError, match="the model has no eog2 input"):
        RawRecording.open(path, inputs, overrides={"eog2": ["E2-M1"]})


def test_the_stage_command_line_passes_none_and_empty_names_on():
    import argparse

    from isatsleepnet.cli.stage import add_parser
    from isatsleepnet.cli.staging_options import options_from_args

    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    args = parser.parse_args(["stage", "x.edf", "--model", "m.pt", "--out", "o", "--eeg2", "none", "--eog", "", "--eeg",
                              "C4-M1, C4-A1"])
    assert options_from_args(args).channels == {"eeg": ["C4-M1", "C4-A1"], "eeg2": ["none"], "eog": [""]}


def test_prepare_with_derivations_end_to_end(tmp_path, write_edf):
    from isatsleepnet.data.prepare import prepare_dataset
    from isatsleepnet.data.prepare_config import PrepareConfig
    from isatsleepnet.data.store import PreparedDataset

    raw = tmp_path / "raw"
    raw.mkdir()
    n = 10 * 30
    c4, m1, e1 = _noise(200 * n, 1), _noise(100 * n, 2, 5.0), _noise(200 * n, 3, 40.0)
    path = write_edf(raw / "night01.edf", [("EEG C4-REF", c4, 200.0, "uV"), ("A1", m1, 100.0, "uV"),
                                           ("EOG E1-REF", e1 / 1000, 200.0, "mV"), ("EMG chin", c4, 200.0, "uV")])
    (raw / "night01.csv").write_text("stage\nW\nN1\nN2\nN2\nN3\nN3\nREM\nW\nW\nW\n")
    config = PrepareConfig(dataset="edf", eeg=["C4-M1"], eog=["E1-A1"], trim=False)
    results = prepare_dataset(raw, tmp_path / "out", config, progress=False)
    assert results[0].status == "prepared", results[0].error
    rec = PreparedDataset(tmp_path / "out")["night01"]
    assert rec.channels == ["C4-M1", "E1-A1"] and rec.meta["roles"] == ["eeg", "eog"]
    assert rec.meta["derived_from"] == {"C4-M1": ["EEG C4-REF", "A1"], "E1-A1": ["EOG E1-REF", "A1"]}
    assert "eeg: 'C4-M1' derived as 'EEG C4-REF' minus 'A1'" in rec.meta["notes"]
    m1_uv = _microvolts(path, "A1")
    expected = resample(_microvolts(path, "EEG C4-REF"), 200, 100) - m1_uv
    np.testing.assert_allclose(rec.epochs[:, 0].reshape(-1), expected, atol=1e-3)
    expected_eog = resample(_microvolts(path, "EOG E1-REF"), 200, 100) - m1_uv
    np.testing.assert_allclose(rec.epochs[:, 1].reshape(-1), expected_eog, atol=1e-3)
