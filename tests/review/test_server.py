"""The review server's interface, through Starlette's test client (no browser, no port)."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from starlette.testclient import TestClient

from isatsleepnet.data.readers.hypnogram import read_hypnogram
from isatsleepnet.data.readers.memory import MemoryRecording
from isatsleepnet.review.server import TOKEN_HEADER, new_token, review_app
from isatsleepnet.review.session import Review
from tests.review.conftest import MODEL_STAGES, START, write_staged

RATE = 100.0


@pytest.fixture
def recording() -> MemoryRecording:
    rng = np.random.default_rng(0)
    t = np.arange(int(12 * 30 * RATE)) / RATE
    signals = np.stack([20 * np.sin(2 * np.pi * 10 * t), rng.normal(0, 5, t.size), 50 + 0 * t])
    return MemoryRecording.from_arrays(signals, RATE, ["EEG Fpz-Cz", "EMG submental", "Resp"])


@pytest.fixture
def client(staged, recording):
    token = new_token()
    review = Review.open(staged, reviewer="ana")
    with TestClient(review_app([(review, recording)], token)) as test_client:
        test_client.headers[TOKEN_HEADER] = token
        test_client.token = token
        yield test_client
    review.close()


def unpack(message: bytes) -> tuple[list[dict], list[np.ndarray]]:
    size = struct.unpack("<I", message[:4])[0]
    header = json.loads(message[4:4 + size])
    data = np.frombuffer(message[4 + size:], "<f4")
    bounds = np.cumsum([0] + [h["n"] for h in header])
    return header, [data[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


@pytest.mark.parametrize("path", ["/api/night", "/api/window?start=0&seconds=30&channels=Resp"])
def test_a_request_without_the_token_gets_403(client, path):
    del client.headers[TOKEN_HEADER]
    assert client.get(path).status_code == 403
    assert client.get(path, headers={TOKEN_HEADER: "guess"}).status_code == 403
    assert client.post("/api/edit", json={"action": "undo", "version": 0}).status_code == 403
    separator = "&" if "?" in path else "?"
    assert client.get(f"{path}{separator}token={client.token}").status_code == 200


def test_the_night_holds_what_the_page_draws(client):
    night = client.get("/api/night").json()
    assert night["name"] == "night" and night["model"] == MODEL_STAGES and night["stages"] == MODEL_STAGES
    assert night["start"] == START.isoformat() and night["epoch_seconds"] == 30.0 and len(night["onsets"]) == 12
    assert [c["type"] for c in night["channels"]] == ["eeg", "emg", "other"]
    assert night["flagged"].count(True) == 2 and night["version"] == 0 and not night["can_undo"]
    assert night["progress"]["flagged_reviewed"] == 0 and night["agreement"]["accuracy"] is None


def test_a_window_is_the_channels_asked_for_display_filtered(client, recording):
    response = client.get("/api/window", params={"start": 60, "seconds": 30, "channels": "Resp,EEG Fpz-Cz"})
    assert response.headers["content-type"] == "application/octet-stream"
    header, traces = unpack(response.content)
    assert [(h["label"], h["start"], h["n"]) for h in header] == [("Resp", 60.0, 3000), ("EEG Fpz-Cz", 60.0, 3000)]
    assert np.allclose(traces[0], 50)  # "other": shown as recorded
    raw = recording.read_samples(recording.signal("EEG Fpz-Cz"), 6000, 9000)
    assert np.abs(traces[1] - raw).max() < 1.0  # 10 Hz passes the 0.3-35 Hz display band
    last = unpack(client.get("/api/window", params={"start": 345, "seconds": 30, "channels": "Resp"}).content)
    assert last[0][0]["n"] == 1500  # the window ends with the recording


@pytest.mark.parametrize(("params", "words"), [
    ({"start": 0, "seconds": 45, "channels": "Resp"}, "seconds= must be one of 30, 60, 120, 300"),
    ({"start": -1, "seconds": 30, "channels": "Resp"}, "start= must be a time in the recording"),
    ({"start": "x", "seconds": 30, "channels": "Resp"}, "start and seconds must be numbers"),
    ({"start": 0, "seconds": 30, "channels": "../etc/passwd"}, "channels= name '../etc/passwd', neither a channel"),
    ({"start": 0, "seconds": 30, "channels": "Resp", "filters": "[1]"}, "filters= must be JSON such as"),
    ({"start": 0, "seconds": 30, "channels": "Resp", "filters": '{"eeg": [40, 30, null]}'},
     "high_pass= 40 Hz must lie below the low-pass 30 Hz"),
    ({"start": 0, "seconds": 30}, "name one or more channels"),
])
def test_a_bad_window_request_is_400_with_its_reason(client, params, words):
    response = client.get("/api/window", params=params)
    assert response.status_code == 400 and words in response.json()["error"]


def test_edits_are_answered_once_on_disk_and_a_stale_tab_is_told(client, staged):
    answer = client.post("/api/edit", json={"action": "set", "epoch": 2, "stage": "W", "version": 0})
    assert answer.status_code == 200 and answer.json()["edit"] == {"epoch": 2, "old": "N1", "new": "W",
                                                                   "action": "set"}
    assert (staged.parent / "night.review.jsonl").read_text().count("\n") == 1
    hypnogram = read_hypnogram(staged.parent / "night.reviewed.csv", psg_start=START)
    assert hypnogram.codes[2] == 0  # W
    stale = client.post("/api/edit", json={"action": "set", "epoch": 3, "stage": "N3", "version": 0})
    assert stale.status_code == 409 and stale.json()["version"] == 1 and "reload" in stale.json()["error"]
    assert client.post("/api/edit", json={"action": "undo", "version": 1}).json()["can_redo"]
    redo = client.post("/api/edit", json={"action": "redo", "version": 2}).json()
    assert redo["version"] == 3 and redo["progress"]["flagged_reviewed"] == 1
    assert client.get("/api/night").json()["stages"][2] == "W"


@pytest.mark.parametrize(("body", "words"), [
    ({"action": "set", "epoch": 99, "stage": "W", "version": 0}, "epoch= must be an epoch of this night"),
    ({"action": "set", "epoch": 0, "stage": "S4", "version": 0}, "stage= must be one of"),
    ({"action": "erase", "version": 0}, "action= must be set, undo or redo"),
    ({"action": "undo", "version": 0}, "nothing to undo"),
    ({"action": "undo", "version": "0"}, "version must be a whole number"),
    ({"epoch": 1}, "an edit is JSON with action, version"),
])
def test_a_bad_edit_is_400_and_changes_nothing(client, body, words):
    answer = client.post("/api/edit", json=body)
    assert answer.status_code == 400 and words in answer.json()["error"]
    assert client.get("/api/night").json()["version"] == 0


def test_the_spectrogram_of_the_first_eeg_is_computed_once_and_cached(client, staged):
    response = client.get("/api/spectrogram")
    assert response.status_code == 200
    size = struct.unpack("<I", response.content[:4])[0]
    header = json.loads(response.content[4:4 + size])
    image = np.frombuffer(response.content[4 + size:], np.uint8).reshape(header["epochs"], -1)
    assert header["label"] == "EEG Fpz-Cz" and header["epochs"] == 12 and image.shape[1] == len(header["frequencies"])
    peak = header["frequencies"][int(image[5].argmax())]
    assert abs(peak - 10.0) <= 0.5  # the 10-Hz sine of the fixture
    cache = staged.parent / "night.review-spectrogram.npz"
    assert cache.is_file()
    stamp = cache.stat().st_mtime_ns
    assert client.get("/api/spectrogram").content == response.content and cache.stat().st_mtime_ns == stamp


def test_a_folder_of_nights_is_served_night_by_night(tmp_path, recording):
    from tests.review.conftest import write_staged

    token = new_token()
    reviews = [Review.open(write_staged(tmp_path / "s", name=name), reviewer="ana") for name in ("a", "b")]
    try:
        with TestClient(review_app([(r, recording) for r in reviews], token)) as client:
            client.headers[TOKEN_HEADER] = token
            assert [n["name"] for n in client.get("/api/nights").json()] == ["a", "b"]
            assert client.get("/api/night").json()["name"] == "a"  # the first by default
            answer = client.post("/api/edit", params={"night": "b"},
                                 json={"action": "set", "epoch": 0, "stage": "N3", "version": 0})
            assert answer.status_code == 200
            assert (reviews[1].version, reviews[0].version) == (1, 0)
            assert client.get("/api/nights").json()[1]["reviewed"] == 1
            missing = client.get("/api/night", params={"night": "../a"})
            assert missing.status_code == 404 and "nights: a, b" in missing.json()["error"]
    finally:
        for review in reviews:
            review.close()


def test_lights_and_gaps_are_in_the_night(tmp_path):
    from isatsleepnet.review.server import night_summary

    samples = np.zeros((1, int(12 * 30 * RATE)))
    lit = MemoryRecording.from_arrays(samples, RATE, ["EEG Fpz-Cz"],
                                      annotations=[(45.0, None, "Lights off"), (200.0, None, "LIGHTS ON"),
                                                   (300.0, None, "Lights on")])
    csv_path = write_staged(tmp_path / "s")
    rows = csv_path.read_text().splitlines()
    csv_path.write_text("\n".join(rows[:4] + rows[7:]) + "\n")  # epochs 3-5 not staged (an EDF+D gap)
    with Review.open(csv_path, reviewer="ana") as review:
        night = night_summary(review, lit)
    assert night["lights"] == {"off": 45.0, "on": 300.0}
    assert night["gaps"] == [{"after": 2, "seconds": 90.0}] and len(night["stages"]) == 9
    assert night_summary(Review.open(write_staged(tmp_path / "t"), reviewer="a"), None)["lights"] == \
        {"off": None, "on": None}


def test_a_window_shows_derivations_and_the_filters_asked_for(client, recording):
    params = {"start": 0, "seconds": 30, "channels": "EEG Fpz-Cz-EMG submental,Resp",
              "filters": '{"other": [null, null, null], "eeg": [null, 5, null]}'}
    header, traces = unpack(client.get("/api/window", params=params).content)
    assert [h["label"] for h in header] == ["EEG Fpz-Cz-EMG submental", "Resp"]
    assert np.std(traces[0]) < 3  # the 10-Hz EEG is above the 5-Hz low-pass asked for; the noise mostly too
    raw = [recording.read_samples(recording.signal(c), 0, 3000) for c in ("EEG Fpz-Cz", "EMG submental")]
    plain = unpack(client.get("/api/window", params={**params, "filters": '{"eeg": [null, null, null]}'}).content)
    np.testing.assert_allclose(plain[1][0], raw[0] - raw[1], atol=1e-3)  # unfiltered: A minus B exactly
