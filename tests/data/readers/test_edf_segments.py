"""Gap-free segments of EDF+D recordings, from the data records' time stamps."""

import numpy as np
import pytest

from isatsleepnet.data.readers.edf_segments import Segment, contiguous_segments, is_discontinuous, record_onsets
from isatsleepnet.errors import DataError
from tests.inference import make_discontinuous


def test_segments_group_back_to_back_records():
    onsets = np.array([0.0, 30.0, 60.0, 150.0, 180.0, 600.0])
    assert contiguous_segments(onsets, 30.0) == [
        Segment(0.0, 0.0, 90.0), Segment(150.0, 90.0, 60.0), Segment(600.0, 150.0, 30.0)]
    assert contiguous_segments(np.array([0.0, 30.0]), 30.0) == [Segment(0.0, 0.0, 60.0)]


def test_records_that_overlap_in_time_are_refused(tmp_path):
    with pytest.raises(DataError, match=r"x\.edf: data record 2 starts at 40 s, before the previous one ends"):
        contiguous_segments(np.array([0.0, 30.0, 40.0]), 30.0, path=tmp_path / "x.edf")


def test_time_stamps_are_read_from_the_file(tmp_path, write_edf):
    path = write_edf(tmp_path / "d.edf", [("EEG", np.zeros(100 * 150), 100.0, "uV")], annotations=[(0.0, 0.0, "x")])
    assert not is_discontinuous(path)
    make_discontinuous(path, 2, 12.5)
    assert is_discontinuous(path)
    onsets, record_s = record_onsets(path)
    assert record_s == 30.0 and onsets.tolist() == [0.0, 30.0, 72.5, 102.5, 132.5]


def test_an_edf_plus_d_without_annotation_signal_is_refused(tmp_path, write_edf):
    path = write_edf(tmp_path / "plain.edf", [("EEG", np.zeros(100 * 60), 100.0, "uV")])
    with pytest.raises(DataError, match="plain.edf: EDF\\+D without an 'EDF Annotations' signal"):
        record_onsets(path)


def test_a_record_count_of_minus_one_and_a_time_stamp_with_a_duration(tmp_path, write_edf):
    path = write_edf(tmp_path / "m.edf", [("EEG", np.zeros(100 * 90), 100.0, "uV")], annotations=[(0.0, 0.0, "x")])
    make_discontinuous(path, 1, 30.0)
    data = bytearray(path.read_bytes())
    data[236:244] = b"-1      "  # a recorder that never wrote the count
    path.write_bytes(bytes(data))
    onsets, _ = record_onsets(path)
    assert onsets.tolist() == [0.0, 60.0, 90.0]
    from isatsleepnet.data.readers import edf_segments

    assert edf_segments._ONSET.match(b"+12.5\x1530\x14\x14\x00").group(1) == b"+12.5"
