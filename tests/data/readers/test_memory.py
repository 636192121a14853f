"""Recordings in memory (arrays, MNE Raw) read like EDF files, and staged alike."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from isatsleepnet.data.readers.memory import MemoryRecording
from isatsleepnet.errors import DataError, IsatSleepNetError
from isatsleepnet.inference.raw import ModelInputs, RawRecording

SLEEP_EDF = ModelInputs(("eeg", "eeg2", "eog"), ("EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal"), 100.0, 30.0)
# MNE's float64 volts and our µV path compute the same physical values in another order:
# after the float32 of the model's input they agree to about one float32 step
RTOL = 1e-6


def _same_epochs(a: np.ndarray, b: np.ndarray) -> None:
    assert a.shape == b.shape and a.dtype == b.dtype == np.float32
    np.testing.assert_allclose(a, b, rtol=RTOL, atol=RTOL * float(np.abs(a).max()))


def test_from_arrays_reads_in_microvolts():
    x = np.arange(6000, dtype=np.float64).reshape(2, 3000)
    start = dt.datetime(2024, 5, 1, 22, 30)
    rec = MemoryRecording.from_arrays(x, 100.0, ["C4", "M1"], units=["mV", "uV"], start=start, name="night",
                                      annotations=[(60.0, 0.0, "Lights off"), (90.0, 5.0, "Arousal")])
    assert rec.channel_names == ["C4", "M1"] and rec.duration == 30.0 and rec.start == start
    assert str(rec.path) == "night" and rec.duplicate_labels() == {}
    assert [(a.onset, a.duration, a.text) for a in rec.annotations] == [(60.0, None, "Lights off"),
                                                                       (90.0, 5.0, "Arousal")]
    c4, m1 = rec.signal("C4"), rec.signal("M1")
    assert float(c4.rate) == 100.0 and rec.n_samples(c4) == 3000
    np.testing.assert_array_equal(rec.read_samples(c4, 10, 13), [10_000.0, 11_000.0, 12_000.0])
    np.testing.assert_array_equal(rec.read_samples(m1, 0, 2), [3000.0, 3001.0])
    np.testing.assert_array_equal(rec.read_microvolts(m1, 29.98), [5998.0, 5999.0])
    with pytest.raises(DataError, match="night: no channel 'C3'"):
        rec.signal("C3")


def test_per_channel_arrays_at_their_own_rates():
    rec = MemoryRecording.from_arrays([np.zeros(6000), np.ones(3000, dtype=np.int16)], [200.0, 100.0],
                                      ["C4", "M1"], units="V")
    assert [float(s.rate) for s in rec.signals] == [200.0, 100.0] and rec.duration == 30.0
    assert rec.read_samples(rec.signal("M1"), 0, 1).tolist() == [1e6]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"sfreq": float("nan")}, "rec: sampling rate must be a finite number of Hz above 0"),
    ({"sfreq": float("inf")}, "rec: sampling rate must be a finite number of Hz above 0"),
    ({"sfreq": 0.0}, "rec: sampling rate must be a finite number of Hz above 0"),
    ({"sfreq": "fast"}, "rec: sampling rate must be a number of Hz, not 'fast'"),
    ({"ch_names": ["C4"]}, "rec: 1 channel names for 2 channels of data"),
    ({"ch_names": ["C4", "C4"]}, "rec: channel names must be distinct: 'C4' repeated"),
    ({"ch_names": "C4"}, "rec: ch_names must be a list of non-empty labels"),
    ({"ch_names": ["C4", ""]}, "rec: ch_names must be a list of non-empty labels"),
    ({"data": np.zeros(3000)}, r"rec: data must be 2-D \(channels, samples\), not of shape \(3000,\)"),
    ({"data": np.zeros((2, 3, 1000))}, "rec: data must be 2-D"),
    ({"data": np.array([["a"] * 3, ["b"] * 3])}, "rec: data holds <U1 values, not numbers"),
    ({"data": np.array([[1 + 2j] * 3] * 2)}, "rec: data holds complex128 values, not numbers"),
    ({"data": np.r_[np.zeros(2999), np.nan, np.zeros(3000)].reshape(2, 3000)},
     r"rec: channel 'C4' holds 1 non-finite samples \(the first is sample 2999\)"),
    ({"units": ["uV"]}, r"rec: units must be one string, or one per channel \(2\)"),
    ({"start": "22:00"}, "rec: start must be a datetime.datetime or None"),
    ({"data": [np.zeros(3000), np.zeros(3000)], "sfreq": [100.0]}, "rec: 1 sampling rates for 2 channels"),
    ({"data": [np.zeros(3000), np.zeros(2000)], "sfreq": [100.0, 100.0]},
     "rec: channel 'M1' lasts 20 s, another 30 s: give channels that cover the same time"),
    ({"data": [np.zeros(3000), np.zeros((2, 10))], "sfreq": [100.0, 100.0]}, "rec: channel 'M1' is 2-D"),
])
def test_bad_arrays_are_one_line_errors(kwargs, message):
    args = {"data": np.zeros((2, 3000)), "sfreq": 100.0, "ch_names": ["C4", "M1"], "name": "rec", **kwargs}
    with pytest.raises(DataError, match=message) as err:
        MemoryRecording.from_arrays(args.pop("data"), args.pop("sfreq"), args.pop("ch_names"), **args)
    assert "\n" not in str(err.value)


def test_a_channel_that_is_not_a_voltage_is_refused_only_when_used():
    rec = MemoryRecording.from_arrays(np.ones((4, 3000)), 100.0, ["EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal", "Temp"],
                                      units=["uV", "uV", "uV", "degC"])
    assert RawRecording.open(rec, SLEEP_EDF).read().shape == (1, 3, 3000)
    with pytest.raises(DataError, match="recording: channel 'Temp' has unit 'degC', not a voltage"):
        RawRecording.open(rec, SLEEP_EDF, overrides={"eog": ["Temp"]})


def test_raw_recording_reads_a_memory_recording_like_a_file(write_edf, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(0, 20, (3, 4 * 3000 + 1234))  # and a partial epoch
    labels = list(SLEEP_EDF.channels)
    mem = MemoryRecording.from_arrays(x, 100.0, labels, start=dt.datetime(2020, 1, 1, 23, 0), name="mem",
                                      annotations=[(35.0, 0.0, "LIGHTS OFF"), (100.0, 0.0, "Lights on")])
    rec = RawRecording.open(mem, SLEEP_EDF)  # no file: the EDF+D check must not look for one
    assert rec.path.name == "mem" and rec.n_epochs == 4 and rec.segments is None
    assert rec.lights() == (35.0, 100.0) and rec.start == dt.datetime(2020, 1, 1, 23, 0)
    assert any("last 12.34 s" in n for n in rec.notes)
    np.testing.assert_allclose(rec.read(), x[:, :12000].reshape(3, 4, 3000).transpose(1, 0, 2), rtol=1e-6)
    # resampled and derived like a file's channels
    slow = MemoryRecording.from_arrays([rng.normal(0, 20, 200 * 60), rng.normal(0, 5, 100 * 60)], [200.0, 100.0],
                                       ["EEG C4", "A1"])
    from_file = write_edf(tmp_path / "same.edf", [("EEG C4", slow.data[0], 200.0, "uV"),
                                                  ("A1", slow.data[1], 100.0, "uV")])
    inputs = ModelInputs(("eeg",), ("C4-M1",), 100.0, 30.0)
    np.testing.assert_allclose(RawRecording.open(slow, inputs).read(), RawRecording.open(from_file, inputs).read(),
                               atol=0.01)  # the EDF's 16-bit quantisation


def test_open_accepts_an_opened_edf(write_edf, tmp_path):
    from isatsleepnet.data.readers.edf import EdfRecording
    from tests.inference import write_night

    path = write_night(write_edf, tmp_path / "n.edf", 2)
    np.testing.assert_array_equal(RawRecording.open(EdfRecording.open(path), SLEEP_EDF).read(),
                                  RawRecording.open(path, SLEEP_EDF).read())


def test_from_mne_units_start_and_annotations():
    mne = pytest.importorskip("mne")
    info = mne.create_info(["EEG C4", "M1", "Temp"], 100.0, ["eeg", "eeg", "temperature"])
    data = np.vstack([np.full(6000, 2e-5), np.full(6000, -1e-5), np.full(6000, 36.6)])
    raw = mne.io.RawArray(data, info, first_samp=500, verbose="error")
    raw.set_meas_date(dt.datetime(2021, 3, 4, 22, 0, tzinfo=dt.timezone.utc))
    raw.set_annotations(mne.Annotations([10.0], [0.0], ["Lights off"]))  # onset from the first sample
    rec = MemoryRecording.from_mne(raw, name="night")
    assert rec.start == dt.datetime(2021, 3, 4, 22, 0, 5)  # meas_date + first_samp / sfreq, time zone dropped
    assert [(a.onset, a.text) for a in rec.annotations] == [(10.0, "Lights off")]
    assert [s.physical_dimension for s in rec.signals] == ["V", "V", "FIFF_UNIT_CEL"]
    np.testing.assert_allclose(rec.read_samples(rec.signal("EEG C4"), 0, 2), [20.0, 20.0])
    epochs = RawRecording.open(rec, ModelInputs(("eeg",), ("C4-M1",), 100.0, 30.0)).read()
    np.testing.assert_allclose(epochs, 30.0)
    with pytest.raises(DataError, match="night: channel 'Temp' has unit 'FIFF_UNIT_CEL', not a voltage"):
        RawRecording.open(rec, ModelInputs(("eeg",), ("Temp",), 100.0, 30.0))
    with pytest.raises(IsatSleepNetError, match="from_mne expects an mne.io.Raw, not ndarray"):
        MemoryRecording.from_mne(data)


def _stage_both_ways(path, inputs: ModelInputs, **mne_kwargs) -> tuple[np.ndarray, np.ndarray]:
    import mne

    raw = mne.io.read_raw_edf(path, preload=True, verbose="error", **mne_kwargs)
    from_file = RawRecording.open(path, inputs)
    from_mne = RawRecording.open(MemoryRecording.from_mne(raw), inputs)
    assert from_mne.path.name == path.name
    assert from_file.start is None or from_mne.start == from_file.start  # edfio reads an anonymised date as None
    assert from_mne.n_epochs == from_file.n_epochs
    return from_file.read(), from_mne.read()


@pytest.mark.parametrize("fs", [100.0, 200.0])
def test_an_edf_and_its_mne_raw_give_the_model_the_same_epochs(write_edf, tmp_path, fs):
    pytest.importorskip("mne")
    rng = np.random.default_rng(3)
    n = int(5 * 30 * fs)
    path = write_edf(tmp_path / "night.edf", [
        ("EEG Fpz-Cz", rng.normal(0, 20, n), fs, "uV"), ("EEG Pz-Oz", rng.normal(0, 15, n) / 1000, fs, "mV"),
        ("EOG horizontal", rng.normal(0, 40, n), fs, "uV"), ("EEG C4", rng.normal(0, 30, n), fs, "uV"),
        ("M1", rng.normal(0, 5, n), fs, "uV"),
    ])
    a, b = _stage_both_ways(path, SLEEP_EDF)
    _same_epochs(a, b)
    a, b = _stage_both_ways(path, ModelInputs(("eeg", "eog"), ("C4-M1", "EOG horizontal"), 100.0, 30.0))
    _same_epochs(a, b)


def test_the_real_night_and_its_mne_raw_give_the_model_the_same_epochs(sleep_edf_dir):
    pytest.importorskip("mne")
    path = sleep_edf_dir / "SC4001E0-PSG.edf"
    a, b = _stage_both_ways(path, SLEEP_EDF, include=list(SLEEP_EDF.channels))  # the channels staged, not all 7
    assert a.shape == (2650, 3, 3000)  # 7 950 000 samples at 100 Hz
    _same_epochs(a, b)
