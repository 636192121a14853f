import numpy as np
import pytest

from isatsleepnet.data.readers.edf import EdfRecording, microvolt_factor
from isatsleepnet.errors import DataError

FS = 100.0


def _sine(seconds=60, amp=50.0, freq=10.0):
    t = np.arange(int(seconds * FS)) / FS
    return amp * np.sin(2 * np.pi * freq * t)


@pytest.mark.parametrize(("unit", "scale"), [("uV", 1.0), ("mV", 1e-3), ("V", 1e-6), ("nV", 1e3)])
def test_units_come_from_the_header(tmp_path, write_edf, unit, scale):
    x = _sine()
    path = write_edf(tmp_path / "u.edf", [("EEG", x * scale, FS, unit)])
    rec = EdfRecording.open(path)
    got = rec.read_microvolts(rec.find_channel("eeg", ["EEG"]))
    np.testing.assert_allclose(got, x, atol=0.05)  # 16-bit quantisation of ±50 µV


def test_non_voltage_unit_is_an_error(tmp_path, write_edf):
    path = write_edf(tmp_path / "t.edf", [("EEG", _sine(), FS, "DegC")])
    rec = EdfRecording.open(path)
    with pytest.raises(DataError, match=r"t\.edf: channel 'EEG' has physical dimension 'DegC', not a voltage"):
        rec.read_microvolts(rec.signals[0])


def test_blank_unit_needs_an_assumption(tmp_path, write_edf):
    path = write_edf(tmp_path / "b.edf", [("EEG", _sine() * 1e-3, FS, "")])
    rec = EdfRecording.open(path)
    with pytest.raises(DataError, match="assume_unit="):
        rec.read_microvolts(rec.signals[0])
    np.testing.assert_allclose(rec.read_microvolts(rec.signals[0], assume_unit="mV"), _sine(), atol=0.05)


def test_missing_channel_lists_what_exists(tmp_path, write_edf):
    path = write_edf(tmp_path / "m.edf", [("C4-M1", _sine(), FS, "uV"), ("E1-M2", _sine(), FS, "uV")])
    rec = EdfRecording.open(path)
    with pytest.raises(DataError) as err:
        rec.find_channel("eog", ["EOG(L)"])
    assert str(err.value) == "m.edf: missing eog channel 'EOG(L)'; channels present: 'C4-M1', 'E1-M2'"


def test_channel_match_is_exact_not_substring(tmp_path, write_edf):
    path = write_edf(tmp_path / "s.edf", [("EEG(sec)", _sine(), FS, "uV")])
    with pytest.raises(DataError):
        EdfRecording.open(path).find_channel("eeg", ["EEG"])


def test_slice_reads_only_the_requested_seconds(tmp_path, write_edf):
    x = np.arange(int(90 * FS), dtype=float) % 200 - 100
    path = write_edf(tmp_path / "r.edf", [("EEG", x, FS, "uV")])
    rec = EdfRecording.open(path)
    got = rec.read_microvolts(rec.signals[0], 30.0, 60.0)
    np.testing.assert_allclose(got, x[3000:6000], atol=0.01)


def test_release_unmaps_the_records_and_the_next_read_maps_them_again(tmp_path, write_edf):
    x = np.arange(int(90 * FS), dtype=float) % 200 - 100
    rec = EdfRecording.open(write_edf(tmp_path / "r.edf", [("EEG", x, FS, "uV")]))
    first = rec.read_microvolts(rec.signals[0], 30.0, 60.0)
    assert "_records" in rec.__dict__
    rec.release()
    assert "_records" not in rec.__dict__  # unmapped: its pages no longer count in this process
    np.testing.assert_array_equal(rec.read_microvolts(rec.signals[0], 30.0, 60.0), first)
    np.testing.assert_array_equal(first[:3], rec.read_microvolts(rec.signals[0], 30.0, 30.03))  # a copy survives


def test_empty_file(tmp_path):
    path = tmp_path / "empty.edf"
    path.write_bytes(b"")
    with pytest.raises(DataError, match=r"^empty\.edf: empty file$"):
        EdfRecording.open(path)


def test_garbage_file(tmp_path):
    path = tmp_path / "junk.edf"
    path.write_bytes(np.random.default_rng(0).integers(0, 255, 4000, dtype=np.uint8).tobytes())
    with pytest.raises(DataError, match=r"^junk\.edf: not an EDF/BDF file"):
        EdfRecording.open(path)


def test_truncated_file(tmp_path, write_edf):
    path = write_edf(tmp_path / "cut.edf", [("EEG", _sine(300), FS, "uV")])
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 7000])
    with pytest.raises(DataError, match=r"^cut\.edf: truncated: the header announces 10 data records, the file holds 8$"):
        EdfRecording.open(path)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        EdfRecording.open(tmp_path / "nope.edf")


def test_microvolt_factor_rejects_unknown():
    with pytest.raises(KeyError):
        microvolt_factor("bpm")


@pytest.mark.parametrize(("unit", "factor"), [("uV", 1.0), ("µV", 1.0), ("UV", 1.0), ("mV", 1e3), ("V", 1e6)])
def test_microvolt_factor(unit, factor):
    assert microvolt_factor(unit) == factor


def _write_bdf(path, signals):
    import edfio

    bdf_signals = [edfio.BdfSignal(np.asarray(x, dtype=np.float64), FS, label=label, physical_dimension=unit,
                                   physical_range=(-200.0, 200.0)) for label, x, unit in signals]
    edfio.Bdf(bdf_signals, data_record_duration=1.0).write(path)
    return path


def test_bdf_files_are_read_in_microvolts(tmp_path):
    x = _sine(amp=80.0)
    path = _write_bdf(tmp_path / "night.bdf", [("EEG Fpz-Cz", x, "uV"), ("EOG", x / 2, "uV")])
    rec = EdfRecording.open(path)
    assert rec.channel_names == ["EEG Fpz-Cz", "EOG"]
    assert rec.duration == 60
    got = rec.read_microvolts(rec.find_channel("eeg", ["EEG Fpz-Cz"]), 10.0, 20.0)
    np.testing.assert_allclose(got, x[1000:2000], atol=1e-3)  # 24 bits: far finer than EDF's 16


def test_truncated_bdf_is_refused(tmp_path):
    path = _write_bdf(tmp_path / "cut.bdf", [("EEG", _sine(), "uV")])
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 3 * int(FS) * 5])  # five 1-s records of 3-byte samples missing
    with pytest.raises(DataError, match=r"cut\.bdf: truncated: the header announces 60 data records, the file holds 55"):
        EdfRecording.open(path)


def test_zero_data_record_duration_is_named(tmp_path, write_edf):
    path = write_edf(tmp_path / "z.edf", [("EEG", _sine(300), FS, "uV")])
    data = bytearray(path.read_bytes())
    data[244:252] = b"0       "
    data[192:236] = b" " * 44  # plain EDF
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"^z\.edf: the header's data-record duration is 0 s \(must be positive\)$"):
        EdfRecording.open(path)
    data[192:236] = b"EDF+C".ljust(44)  # records of 0 s in EDF+: annotations alone, a hypnogram given as the PSG
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"^z\.edf: an EDF\+ file of annotations only \(data records of 0 s, as a "
                                        r"hypnogram is\), not a recording of signals$"):
        EdfRecording.open(path)


@pytest.mark.parametrize("field, value", [("physical_max", b"-100    "), ("digital_max", b"-32768  ")])
def test_a_channel_without_calibration_is_refused_when_read(tmp_path, write_edf, field, value):
    path = write_edf(tmp_path / "c.edf", [("EEG", _sine(300), FS, "uV")])
    data = bytearray(path.read_bytes())
    # one signal: its header fields follow the 256-byte main header; physical min at 104, max at 112,
    # digital min at 120, max at 128 (8 bytes each); set max equal to min
    offsets = {"physical_max": (256 + 104, 256 + 112), "digital_max": (256 + 120, 256 + 128)}
    lo, hi = offsets[field]
    data[hi:hi + 8] = data[lo:lo + 8]
    path.write_bytes(bytes(data))
    rec = EdfRecording.open(path)
    with pytest.raises(DataError, match=r"^c\.edf: channel 'EEG' has no usable calibration"):
        rec.read_microvolts(rec.signals[0])
