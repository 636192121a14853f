"""An EDF+D under review: windows and the spectrogram are read in real time, as staging reads it.

Before: the server indexed the stored samples by ``start * rate``, so after a gap every window showed
the signals of another time, the last epochs showed empty lanes, and the spectrogram's rows after the
gap were another time's (or blank); a recording whose first record starts after its header's start
time showed every window that much late.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from starlette.testclient import TestClient

from isatsleepnet.data.readers.edf import EdfRecording
from isatsleepnet.review.server import TOKEN_HEADER, new_token, review_app
from isatsleepnet.review.session import Review
from tests.review.conftest import (
    GAPPED_CHANNELS,
    GAPPED_NUMBERS,
    GAPPED_RATE,
    GAPPED_SEGMENTS,
    MODEL_STAGES,
    gapped_frequency,
    write_gapped_edf,
    write_staged,
)
from tests.review.test_server import unpack

OFF = json.dumps({"eeg": [None, None, None], "eog": [None, None, None]})  # display filters off: samples as stored
PER_RECORD = int(30 * GAPPED_RATE)


def stored_record(onset: float) -> int | None:
    """The stored record recorded at real time ``onset`` (None: in a gap)."""
    for real_start, first, count in GAPPED_SEGMENTS:
        if real_start <= onset < real_start + 30 * count:
            return first + int((onset - real_start) // 30)
    return None


def client_of(review: Review, recording: EdfRecording) -> TestClient:
    token = new_token()
    client = TestClient(review_app([(review, recording)], token))
    client.headers[TOKEN_HEADER] = token
    return client


@pytest.fixture
def edf(tmp_path: Path) -> Path:
    return write_gapped_edf(tmp_path / "night.edf")


@pytest.fixture
def review(tmp_path: Path, edf: Path):
    stages = (MODEL_STAGES * 2)[:len(GAPPED_NUMBERS)]
    opened = Review.open(write_staged(tmp_path / "s", stages, numbers=GAPPED_NUMBERS, recording=edf), reviewer="ana")
    yield opened
    opened.close()


@pytest.fixture
def client(review, edf):
    with client_of(review, EdfRecording.open(edf)) as test_client:
        yield test_client


def window(client: TestClient, start: float, seconds: int = 30, filters: str = OFF) -> list[np.ndarray]:
    response = client.get("/api/window", params={"start": start, "seconds": seconds,
                                                 "channels": ",".join(GAPPED_CHANNELS), "filters": filters})
    assert response.status_code == 200, response.text
    header, traces = unpack(response.content)
    assert [h["start"] for h in header] == [float(start)] * len(GAPPED_CHANNELS)
    return traces


@pytest.mark.parametrize("onset", [210.0, 270.0, 420.0, 1050.0, 1200.0])
def test_a_window_holds_the_samples_recorded_at_its_time(client, edf, onset):
    """270 s is stored record 8 (before: record 9's samples), 1200 s record 19 (before: nothing, past the file)."""
    psg, record = EdfRecording.open(edf), stored_record(onset)
    for label, trace in zip(GAPPED_CHANNELS, window(client, onset)):
        stored = psg.read_samples(psg.signal(label), record * PER_RECORD, (record + 1) * PER_RECORD)
        assert trace.shape == (PER_RECORD,) and np.allclose(trace, stored, atol=1e-3), (label, onset, record)


def test_a_window_over_a_gap_is_nan_there_and_filtered_around_it(client):
    """150-450 s: records 5-7, the 30-s gap (240-270 s), records 8-13; the display filters on (AASM's)."""
    eeg, eog = window(client, 150.0, 300, filters="")
    gap = slice(int(90 * GAPPED_RATE), int(120 * GAPPED_RATE))
    assert np.isnan(eeg[gap]).all() and np.isnan(eog[gap]).all()
    recorded = np.ones(len(eeg), dtype=bool)
    recorded[gap] = False
    assert np.isfinite(eeg[recorded]).all() and np.isfinite(eog[recorded]).all()  # the filter did not spread NaN
    real = 150 + np.arange(len(eeg)) / GAPPED_RATE
    middle = (real > 280) & (real < 440)  # records 8-13, away from the gap's and the window's filter edges
    record = 8 + (real[middle] - 270) // 30
    expected = 40 * np.sin(2 * np.pi * gapped_frequency(record) * (real[middle] % 30))
    assert np.abs(eeg[middle] - expected).max() < 3.0  # 9-14 Hz sines pass the 0.3-35 Hz display band


def test_a_window_in_a_gap_holds_nothing_and_one_past_the_end_no_samples(client):
    for trace in window(client, 600.0):  # epoch 20, inside the 10-min gap
        assert trace.shape == (PER_RECORD,) and np.isnan(trace).all()
    for trace in window(client, 1230.0):  # the recording's data end at 1230 s
        assert trace.shape == (0,)


def test_the_spectrogram_row_of_each_epoch_is_that_epochs(client):
    """Each stored record is a sine of its own frequency: a row's peak says which record it was computed on."""
    message = client.get("/api/spectrogram").content
    size = struct.unpack("<I", message[:4])[0]
    header = json.loads(message[4:4 + size])
    frequencies = np.array(header["frequencies"])
    image = np.frombuffer(message[4 + size:], np.uint8).reshape(header["epochs"], len(frequencies))
    assert header["epochs"] == len(GAPPED_NUMBERS)
    for row, number in enumerate(GAPPED_NUMBERS):
        record = stored_record(30.0 * number)
        if record is None:  # epoch 20: nothing recorded, no power
            assert not image[row].any(), number
            continue
        peak = frequencies[np.flatnonzero(image[row] == image[row].max())]
        assert np.abs(peak - gapped_frequency(record)).min() <= 0.5, (number, record, peak)
        assert np.abs(peak - gapped_frequency(record)).max() < 1.0, (number, record, peak)  # not its neighbour's


def test_a_spectrogram_cached_before_gaps_were_read_in_real_time_is_computed_again(review, edf):
    """A cache written by the version that read an EDF+D as continuous matched by channel and epoch count only:
    its shifted rows would have been shown again."""
    stale = np.full((len(GAPPED_NUMBERS), 60), 7, np.uint8)
    np.savez(review.path(".review-spectrogram.npz"), label=np.array(GAPPED_CHANNELS[0]),
             frequencies=np.arange(60) / 2 + 0.5, image=stale)
    with client_of(review, EdfRecording.open(edf)) as client:
        message = client.get("/api/spectrogram").content
    size = struct.unpack("<I", message[:4])[0]
    assert not np.array_equal(np.frombuffer(message[4 + size:], np.uint8).reshape(stale.shape), stale)
    with np.load(review.path(".review-spectrogram.npz")) as cached:
        assert np.array_equal(cached["onsets"], 30.0 * np.array(GAPPED_NUMBERS))


def test_a_recording_whose_data_start_late_is_read_from_its_start(tmp_path, write_edf):
    """An EDF+D whose first record starts 15 s after the header's start time: the window at 30 s shows the
    samples stored from 15 s on (before: those stored at 30 s, 15 s late)."""
    from tests.inference import make_discontinuous

    rng = np.random.default_rng(3)
    data = rng.normal(0, 20, int(13 * 30 * GAPPED_RATE))  # 15-405 s: epochs 1-12 wholly recorded
    path = make_discontinuous(write_edf(tmp_path / "late.edf", [("EEG Fpz-Cz", data, GAPPED_RATE, "uV")],
                                        annotations=[(0.0, 0.0, "start")]), 0, 15.0)
    review = Review.open(write_staged(tmp_path / "s", MODEL_STAGES, numbers=list(range(1, 13)), recording=path),
                         reviewer="ana")
    try:
        psg = EdfRecording.open(path)
        stored = psg.read_samples(psg.signal("EEG Fpz-Cz"), 0, len(data))
        filters = json.dumps({"eeg": [None, None, None]})
        with client_of(review, psg) as client:
            at_30 = client.get("/api/window", params={"start": 30, "channels": "EEG Fpz-Cz", "filters": filters})
            at_0 = client.get("/api/window", params={"start": 0, "channels": "EEG Fpz-Cz", "filters": filters})
        late, early = unpack(at_30.content)[1][0], unpack(at_0.content)[1][0]
        assert np.allclose(late, stored[1500:4500], atol=1e-3)
        assert np.isnan(early[:1500]).all() and np.allclose(early[1500:], stored[:1500], atol=1e-3)
    finally:
        review.close()
