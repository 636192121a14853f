"""Reading raw recordings for a model: channel aliases, rates, units, epoch grid."""

from __future__ import annotations

import numpy as np
import pytest

from isatsleepnet.data.readers.edf import EdfRecording
from isatsleepnet.errors import DataError
from isatsleepnet.data.channels import alias_keys, label_key, resolve_channels
from isatsleepnet.data.signal import resample
from isatsleepnet.inference.raw import ModelInputs, RawRecording


def resolve_channel(psg, role, names):
    return resolve_channels(psg, {role: names}, working_rate=100.0)[0][0]
from tests.inference import SLEEP_EDF_NAMES, write_night

INPUTS = ModelInputs(("eeg", "eeg2", "eog"), tuple(SLEEP_EDF_NAMES), 100.0, 30.0)
SHHS_INPUTS = ModelInputs(("eeg", "eeg2", "eog"), ("EEG", "EEG(sec)", "EOG(L)"), 100.0, 30.0)


def test_label_keys_and_aliases():
    assert label_key("EEG Fpz-Cz") == label_key("Fpz-Cz") == label_key("fpz-cz ") == "fpz-cz"
    assert label_key("EEG") == "eeg" and label_key("EEG(sec)") == "eeg(sec)"
    assert label_key("EEG 2") == label_key("EEG2")
    assert "eeg2" in alias_keys(["EEG(sec)"]) and "eeg" not in alias_keys(["EEG(sec)"])
    assert alias_keys(["C4-M1"]) == ["c4-m1"]  # not in any group: only itself (and "EEG C4-M1")


def test_shhs_spellings_resolve_and_never_by_substring(write_edf, tmp_path):
    psg = write_night(write_edf, tmp_path / "shhs.edf", 2, labels=["EEG 2", "EEG", "EOG(L)", "EOG(R)"])
    rec = RawRecording.open(psg, SHHS_INPUTS)
    assert [(c.label, c.matched) for c in rec.choices] == [("EEG", "exact"), ("EEG 2", "alias"), ("EOG(L)", "exact")]
    assert rec.notes == ["eeg2: using channel 'EEG 2' as an alias"]

    only_sec = write_night(write_edf, tmp_path / "sec.edf", 2, labels=["EEG(sec)", "EOG(L)"])
    with pytest.raises(DataError, match=r"missing eeg channel 'EEG' .*channels present: 'EEG\(sec\)', 'EOG\(L\)'"):
        RawRecording.open(only_sec, SHHS_INPUTS)


def test_ambiguous_alias_is_refused(write_edf, tmp_path):
    psg = write_night(write_edf, tmp_path / "amb.edf", 1, labels=["EEG2", "EEG 2", "EEG", "EOG(L)"])
    with pytest.raises(DataError, match=r"eeg2 channel is ambiguous: 'EEG2' \(signal 1\), 'EEG 2' \(signal 2\) all match; name one with eeg2="):
        RawRecording.open(psg, SHHS_INPUTS)
    # the exact label wins over aliases
    psg = write_night(write_edf, tmp_path / "exact.edf", 1, labels=["Fpz-Cz", "EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal"])
    assert resolve_channel(EdfRecording.open(psg), "eeg", ["EEG Fpz-Cz"]).label == "EEG Fpz-Cz"


def test_rates_units_and_the_epoch_grid(write_edf, tmp_path):
    rng = np.random.default_rng(0)
    n = 4 * 3000
    x = rng.normal(0, 20, (3, n))
    same = write_edf(tmp_path / "uv.edf", [(name, x[i], 100.0, "uV") for i, name in enumerate(SLEEP_EDF_NAMES)])
    in_mv = write_edf(tmp_path / "mv.edf", [(name, x[i] / 1000, 100.0, "mV") for i, name in enumerate(SLEEP_EDF_NAMES)])
    a = RawRecording.open(same, INPUTS).read()
    b = RawRecording.open(in_mv, INPUTS).read()
    assert a.shape == (4, 3, 3000) and a.dtype == np.float32
    np.testing.assert_allclose(a, x.reshape(3, 4, 3000).transpose(1, 0, 2), atol=0.01)
    np.testing.assert_allclose(a, b, atol=0.01)
    np.testing.assert_array_equal(RawRecording.open(same, INPUTS).read(1, 3), a[1:3])

    # a 200-Hz recording resamples to the same epochs (the band below 50 Hz)
    t = np.arange(4 * 6000) / 200.0
    slow = 50 * np.sin(2 * np.pi * 2.0 * t)
    fast = write_edf(tmp_path / "200.edf", [(name, slow, 200.0, "uV") for name in SLEEP_EDF_NAMES])
    rec = RawRecording.open(fast, INPUTS)
    epochs = rec.read()
    expected = 50 * np.sin(2 * np.pi * 2.0 * np.arange(4 * 3000) / 100.0)
    np.testing.assert_allclose(epochs[:, 0].reshape(-1)[100:-100], expected[100:-100], atol=0.5)
    np.testing.assert_allclose(rec.read(2, 3)[0, 0, 100:-100], epochs[2, 0, 100:-100], atol=0.5)
    assert "eeg: 'EEG Fpz-Cz' resampled from 200 to 100 Hz" in rec.notes


def test_rate_rule_and_odd_rates(write_edf, tmp_path):
    # EOG at 50 Hz is enough for a 100-Hz model (SHHS), EEG at 50 Hz is not
    ok = write_edf(tmp_path / "ok.edf", [("EEG Fpz-Cz", np.ones(3000), 100.0, "uV"), ("EEG Pz-Oz", np.ones(3000), 100.0, "uV"),
                                        ("EOG horizontal", np.ones(1500), 50.0, "uV")])
    assert RawRecording.open(ok, INPUTS).read().shape == (1, 3, 3000)
    bad = write_edf(tmp_path / "bad.edf", [("EEG Fpz-Cz", np.ones(1500), 50.0, "uV"), ("EEG Pz-Oz", np.ones(3000), 100.0, "uV"),
                                          ("EOG horizontal", np.ones(3000), 100.0, "uV")])
    with pytest.raises(DataError, match="needs at least 60 Hz for EEG"):
        RawRecording.open(bad, INPUTS)
    # a rate without a small rational ratio to the model's is interpolated to exactly n samples
    y = resample(np.sin(np.arange(10007) / 50.0), 100.07, 100.0)
    assert len(y) == 10000  # ceil(10007 x 100 / 100.07)


def test_unit_that_is_not_a_voltage(write_edf, tmp_path):
    psg = write_night(write_edf, tmp_path / "degc.edf", 1, units="uV")
    edf = write_edf(tmp_path / "t.edf", [("EEG Fpz-Cz", np.ones(3000), 100.0, "DegC"), ("EEG Pz-Oz", np.ones(3000), 100.0, "uV"),
                                        ("EOG horizontal", np.ones(3000), 100.0, "uV")])
    assert RawRecording.open(psg, INPUTS).read().shape == (1, 3, 3000)
    with pytest.raises(DataError, match="physical dimension 'DegC', not a voltage"):
        RawRecording.open(edf, INPUTS).read()


def test_flat_channel_is_noted(write_edf, tmp_path):
    x = np.random.default_rng(1).normal(0, 10, 6000)
    psg = write_edf(tmp_path / "flat.edf", [("EEG Fpz-Cz", x, 100.0, "uV"), ("EEG Pz-Oz", x, 100.0, "uV"),
                                           ("EOG horizontal", np.r_[x[:3000], np.zeros(3000)], 100.0, "uV")])
    rec = RawRecording.open(psg, INPUTS)
    rec.read()
    assert "eog: channel 'EOG horizontal' is flat in 1 of 2 epochs" in rec.notes


def test_alternatives_are_tried_in_order_each_by_label_then_alias(write_edf, tmp_path):
    psg = EdfRecording.open(write_night(write_edf, tmp_path / "alt.edf", 1))  # Sleep-EDF labels
    # "Fpz-Cz" (an alias of the first channel) is preferred over the exact label listed second
    choice = resolve_channel(psg, "eeg", ["Fpz-Cz", "EEG Pz-Oz"])
    assert (choice.label, choice.matched) == ("EEG Fpz-Cz", "alias")
    choice = resolve_channel(psg, "eeg", ["C4-M1", "EEG Pz-Oz"])
    assert (choice.label, choice.matched) == ("EEG Pz-Oz", "exact")


def test_an_edf_plus_d_is_read_on_its_real_timeline(write_edf, tmp_path):
    from tests.inference import make_discontinuous

    # a 300-s ramp (value = stored second) in 30-s records; records 4.. resume 45 s later
    ramp = np.arange(300 * 100) / 100.0
    signals = [(label, ramp, 100.0, "uV") for label in SLEEP_EDF_NAMES]
    path = write_edf(tmp_path / "d.edf", signals, annotations=[(0.0, 0.0, "start")])
    make_discontinuous(path, 4, 45.0)
    rec = RawRecording.open(path, INPUTS)
    assert rec.duration == 345.0 and rec.n_epochs == 11
    assert any("1 gap(s), 45 s without data" in note for note in rec.notes)
    index = rec.available(0, rec.n_epochs)
    assert index.tolist() == [0, 1, 2, 3, 6, 7, 8, 9, 10]  # 4 lies in the gap, 5 straddles its end
    epochs = rec.read(index=index)
    # epoch 6 starts at 180 s real time = 15 s into the second segment = stored second 135
    np.testing.assert_allclose(epochs[:, 0, 0], [0, 30, 60, 90, 135, 165, 195, 225, 255], atol=0.05)
    np.testing.assert_allclose(epochs[4, 2, -1], 135 + 29.99, atol=0.05)


def test_a_channel_of_another_kind_standing_in_is_a_warning(write_edf, tmp_path):
    psg = write_night(write_edf, tmp_path / "c4.edf", 1, labels=["EEG C4", "EEG Pz-Oz", "EOG E1"])
    rec = RawRecording.open(psg, INPUTS, overrides={"eeg": ["C4"], "eog": ["EOG E1"]})
    assert rec.warnings == [
        "eeg: 'EEG C4' (referential) stands in for 'EEG Fpz-Cz' (bipolar), the kind of channel the model was "
        "trained on: its stages may be unreliable",
        "eog: 'EOG E1' (referential) stands in for 'EOG horizontal' (bipolar), the kind of channel the model was "
        "trained on: its stages may be unreliable",
    ]
    same_kind = write_night(write_edf, tmp_path / "pz.edf", 1, labels=["EEG Cz-Oz", "EEG Pz-Oz", "EOG horizontal"])
    assert RawRecording.open(same_kind, INPUTS, overrides={"eeg": ["EEG Cz-Oz"]}).warnings == []


def test_a_channel_of_another_modality_is_a_warning(write_edf, tmp_path):
    psg = write_night(write_edf, tmp_path / "emg.edf", 1, labels=["EMG Chin", "EEG Pz-Oz", "EEG C3-M2"])
    rec = RawRecording.open(psg, INPUTS, overrides={"eeg": ["EMG Chin"], "eog": ["EEG C3-M2"]})
    assert rec.warnings == [
        "eeg: 'EMG Chin' looks like an EMG channel, not an EEG channel: the eeg input takes EEG, so what is learnt "
        "or staged from it is unreliable",
        "eog: 'EEG C3-M2' looks like an EEG channel, not an EOG channel: the eog input takes EOG, so what is learnt "
        "or staged from it is unreliable",
    ]


def test_overrides_are_checked_before_the_file_is_opened(tmp_path):
    from isatsleepnet.errors import IsatSleepNetError

    missing = tmp_path / "absent.edf"  # never opened: the overrides are refused first
    with pytest.raises(IsatSleepNetError, match="channels for eeg must be a list of names, not the string 'C4-M1'"):
        RawRecording.open(missing, INPUTS, overrides={"eeg": "C4-M1"})
    with pytest.raises(IsatSleepNetError, match="the model needs its eeg input .* or the same channel as eeg2=$"):
        RawRecording.open(missing, INPUTS, overrides={"eeg": ["C4-M1", "none"]})


def test_an_empty_override_keeps_the_trained_channel(write_edf, tmp_path):
    psg = write_night(write_edf, tmp_path / "n.edf", 1)
    rec = RawRecording.open(psg, INPUTS, overrides={"eeg2": []})
    assert [c.label for c in rec.choices] == SLEEP_EDF_NAMES


def test_a_night_read_in_pieces_equals_one_read_whole(write_edf, tmp_path, monkeypatch):
    """`read` takes READ_EPOCHS epochs of a channel at a time (bounded temporary memory); a resampled channel
    (128 -> 100 Hz) and an unresampled one give the samples of one whole read, across the pieces' seams."""
    import isatsleepnet.inference.raw as raw

    rng = np.random.default_rng(3)
    n_epochs = 7
    signals = [(SLEEP_EDF_NAMES[0], rng.normal(0, 20, n_epochs * 30 * 128), 128.0, "uV")]
    signals += [(name, rng.normal(0, 20, n_epochs * 3000), 100.0, "uV") for name in SLEEP_EDF_NAMES[1:]]
    psg = write_edf(tmp_path / "pieces.edf", signals)
    whole = RawRecording.open(psg, INPUTS).read()
    monkeypatch.setattr(raw, "READ_EPOCHS", 2)
    pieces = RawRecording.open(psg, INPUTS).read()
    assert pieces.shape == whole.shape == (n_epochs, 3, 3000)
    np.testing.assert_array_equal(pieces[:, 1:], whole[:, 1:])
    np.testing.assert_allclose(pieces[:, 0], whole[:, 0], rtol=0, atol=1e-3)
    np.testing.assert_array_equal(RawRecording.open(psg, INPUTS).read(index=np.array([0, 1, 4, 5, 6])),
                                  pieces[[0, 1, 4, 5, 6]])
