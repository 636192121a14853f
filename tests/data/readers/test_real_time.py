"""A recording read in real time: an EDF+D's segments where they were recorded, NaN in its gaps."""

from __future__ import annotations

import numpy as np
import pytest

from isatsleepnet.data.readers.edf import EdfRecording
from isatsleepnet.data.readers.edf_segments import Segment
from isatsleepnet.data.readers.memory import MemoryRecording
from isatsleepnet.data.readers.real_time import RealTimeRecording, in_real_time
from isatsleepnet.data.readers.recording import is_recording
from isatsleepnet.errors import DataError
from tests.inference import make_discontinuous

RATE = 100.0


def night(tmp_path, write_edf, records: int = 5):
    """An EDF of ``records`` 30-s records whose sample j holds j / 10 µV (to within the 16-bit resolution)."""
    data = np.arange(records * 30 * int(RATE), dtype=np.float64) / 10
    return write_edf(tmp_path / "n.edf", [("EEG", data, RATE, "uV")], annotations=[(0.0, 0.0, "Lights off")]), data


def test_a_continuous_recording_and_a_gap_free_edf_plus_d_are_read_as_they_are(tmp_path, write_edf):
    path, _ = night(tmp_path, write_edf)
    psg = EdfRecording.open(path)
    assert in_real_time(psg) is psg
    make_discontinuous(path, 2, 0.0)  # EDF+D, every record where the one before it ends
    psg = EdfRecording.open(path)
    assert in_real_time(psg) is psg
    memory = MemoryRecording.from_arrays(np.zeros((1, 300)), RATE, ["EEG"])
    assert in_real_time(memory) is memory


def test_an_edf_plus_d_is_read_at_the_times_its_records_were_recorded(tmp_path, write_edf):
    path, data = night(tmp_path, write_edf)
    make_discontinuous(path, 2, 45.0)  # records 2-4 at 105-195 s: a 45-s gap after 60 s
    real = in_real_time(EdfRecording.open(path))
    assert isinstance(real, RealTimeRecording) and is_recording(real)
    eeg = real.signal("EEG")
    assert real.duration == 195.0 and real.n_samples(eeg) == 19_500
    x = real.read_samples(eeg, 5_500, 11_000)  # 55-110 s: the end of record 1, the gap, the start of record 2
    assert np.allclose(x[:500], data[5_500:6_000], atol=0.05)
    assert np.isnan(x[500:5_000]).all()
    assert np.allclose(x[5_000:], data[6_000:6_500], atol=0.05)
    assert len(real.read_samples(eeg, 19_000, 25_000)) == 500  # clipped at the end, as a file's reader is
    assert [a.text for a in real.annotations] == ["Lights off"] and real.channel_names == ["EEG"]
    real.release()  # lets the file's map go, as EdfRecording.release does
    assert "_records" not in real.psg.__dict__


def test_data_that_start_after_the_recording_are_late_by_that_much(tmp_path, write_edf):
    path, data = night(tmp_path, write_edf)
    make_discontinuous(path, 0, 15.0)  # every record 15 s after the header's start time
    real = in_real_time(EdfRecording.open(path))
    x = real.read_samples(real.signal("EEG"), 0, 4_500)
    assert np.isnan(x[:1_500]).all() and np.allclose(x[1_500:], data[:3_000], atol=0.05)


def test_a_segment_starting_between_two_samples_lies_at_the_nearest_one():
    psg = MemoryRecording.from_arrays(np.arange(1.0, 7.0)[None], 1.0, ["C4"])
    real = RealTimeRecording(psg, (Segment(0.0, 0.0, 3.0), Segment(4.6, 3.0, 3.0)))
    assert real.n_samples(real.signal("C4")) == 8
    assert real.read_samples(real.signal("C4"), 0, 8).tolist()[:3] == [1.0, 2.0, 3.0]
    assert real.read_samples(real.signal("C4"), 0, 8).tolist()[5:] == [4.0, 5.0, 6.0]


def test_records_out_of_order_are_one_line(tmp_path, write_edf):
    path, _ = night(tmp_path, write_edf)
    make_discontinuous(path, 1, -20.0)  # record 1 at 10 s, inside record 0
    with pytest.raises(DataError, match=r"n\.edf: data record 1 starts at 10 s, before the previous one ends"):
        in_real_time(EdfRecording.open(path))


def test_the_module_examples_run():
    """(tests/test_doctests.py lists the modules whose examples run; this one's run here.)"""
    import doctest

    from isatsleepnet.data.readers import real_time

    result = doctest.testmod(real_time, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
