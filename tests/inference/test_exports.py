"""Export formats: CSV columns, EDF+ annotations that MNE re-imports, TSV events."""

from __future__ import annotations

import csv
import datetime as dt

import numpy as np
import pytest

from isatsleepnet.data.readers.hypnogram import read_hypnogram
from isatsleepnet.inference import exports

ONSETS = np.arange(6) * 30.0
STAGES_ = np.array([0, 0, 1, 2, 2, 4])
REVIEW = np.array([0, 0, 1, 1, 0, 0], dtype=bool)


def test_annotation_events_merge_runs():
    events = exports.annotation_events(ONSETS, STAGES_, REVIEW, 30.0)
    assert events == [
        (0.0, 60.0, "Sleep stage W"),
        (60.0, 30.0, "Sleep stage N1"),
        (60.0, 60.0, "Review: low confidence"),
        (90.0, 60.0, "Sleep stage N2"),
        (150.0, 30.0, "Sleep stage R"),
    ]
    # a gap in the epochs (a window, dropped epochs) ends a run
    assert exports.stage_runs(np.array([0.0, 30.0, 90.0]), ["a", "a", "a"], 30.0) == [(0.0, 60.0, "a"), (90.0, 30.0, "a")]


def test_edf_annotations_reimport_with_mne_and_our_reader(tmp_path):
    import mne

    start = dt.datetime(1989, 4, 24, 16, 13, 0)
    events = exports.annotation_events(ONSETS, STAGES_, REVIEW, 30.0)
    path = exports.write_annotations_edf(tmp_path / "n.annotations.edf", events, start=start)
    annotations = mne.read_annotations(path)
    assert list(annotations.description) == [e[2] for e in events]
    np.testing.assert_allclose(annotations.onset, [e[0] for e in events])
    np.testing.assert_allclose(annotations.duration, [e[1] for e in events])
    import edfio

    assert edfio.read_edf(path).startdatetime == start  # aligned with the PSG in EDFbrowser
    # the project's own hypnogram reader takes it back as stages (review marks ignored)
    codes = read_hypnogram(path).to_epochs(6, 30.0)
    np.testing.assert_array_equal(codes, STAGES_)
    assert not list(tmp_path.glob(".tmp-*"))


def test_tsv_and_csv(tmp_path):
    events = exports.annotation_events(ONSETS, STAGES_, REVIEW, 30.0)
    tsv = exports.write_annotations_tsv(tmp_path / "n.annotations.tsv", events).read_text().splitlines()
    assert tsv[0] == "onset\tduration\ttrial_type" and tsv[1] == "0\t60\tSleep stage W" and len(tsv) == 6

    p = np.full((6, 5), 0.05)
    p[np.arange(6), STAGES_] = 0.8
    path = exports.write_epochs_csv(tmp_path / "n.hypnogram.csv", np.arange(10, 16), ONSETS + 300, p,
                                    np.full(6, 0.5), REVIEW)
    with path.open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == list(exports.CSV_COLUMNS)
    assert rows[2] == {"epoch": "12", "onset_s": "360", "stage": "N1", "p_W": "0.050000", "p_N1": "0.800000",
                       "p_N2": "0.050000", "p_N3": "0.050000", "p_REM": "0.050000", "confidence": "0.5000",
                       "review": "1"}


@pytest.mark.parametrize("year", [1970, 2100])
def test_edf_start_outside_the_edf_date_range_is_left_out(tmp_path, year):
    events = exports.annotation_events(ONSETS, STAGES_, REVIEW, 30.0)
    path = exports.write_annotations_edf(tmp_path / "n.edf", events, start=dt.datetime(year, 1, 1))
    assert path.stat().st_size > 256
