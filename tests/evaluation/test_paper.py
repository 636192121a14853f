"""The paper's numbers stand beside a run only for data of the paper's dataset, and a report says why not."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from isatsleepnet.data.store import write_manifest, write_recording
from isatsleepnet.errors import SettingError
from isatsleepnet.evaluation.paper import check_paper_protocol, paper_comparison, prepared_datasets
from isatsleepnet.evaluation.predictions import RecordingPrediction
from isatsleepnet.evaluation.report import write_report

PAPER_ROW = "| ISATSleepNet paper ("


def _store(root: Path, dataset: str) -> Path:
    """A prepared store of one 10-epoch recording prepared as ``dataset``."""
    labels = (np.arange(10) % 5).astype(np.int8)
    write_recording(root, "A-night1", np.zeros((10, 1, 30), np.float32) + labels[:, None, None], labels,
                    np.arange(10) * 30.0, {"subject": "A", "night": 1, "sampling_rate": 1.0, "channels": ["EEG"],
                                           "roles": ["eeg"], "dataset": dataset})
    write_manifest(root)
    return root


def _folds() -> dict[int, list[RecordingPrediction]]:
    y = np.arange(20) % 5
    return {0: [RecordingPrediction("A-night1", "A", y, np.eye(5)[y] * 0.9 + 0.02, np.arange(20) * 30.0)]}


def test_the_papers_numbers_need_data_of_the_protocols_dataset():
    numbers, why = paper_comparison("sleep-edf-20", ["sleep-edf-20"])
    assert numbers is not None and numbers["accuracy"] == 89.1 and why == ""
    numbers, why = paper_comparison("shhs", {"sleep-edf"})
    assert numbers is None and why == ("The paper's shhs numbers are not shown: they are for shhs data, and this "
                                       "run's data were prepared as sleep-edf.")
    assert paper_comparison("sleep-edf-20", {"sleep-edf-20", "sleep-edf-78"})[0] is None  # mixed data
    assert "no recorded dataset" in paper_comparison("shhs", {""})[1]
    assert "could not be read" in paper_comparison("shhs", None)[1]


def test_no_protocol_is_said_in_words_not_as_none():
    """Before: "The paper reports no numbers for protocol None"."""
    numbers, why = paper_comparison(None, {"shhs"})
    assert numbers is None and "None" not in why
    assert why.startswith("No evaluation protocol was named, so no paper numbers are shown")


def test_a_cv_report_on_other_data_leaves_the_paper_row_out(tmp_path):
    """Before: `cv --protocol shhs` on Sleep-EDF data printed "ISATSleepNet paper (shhs) 89.7" beside it."""
    data = _store(tmp_path / "prep", "sleep-edf")
    run = tmp_path / "c5"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"protocol": "shhs", "data": str(data.resolve())}))
    write_report(run, _folds(), {0: ["A"]}, title="t", protocol="shhs")  # data: the one config.json names
    text = (run / "report.md").read_text()
    assert PAPER_ROW not in text and "89.7" not in text
    assert "prepared as sleep-edf" in text


def test_a_report_on_the_protocols_own_data_shows_the_paper_row(tmp_path):
    data = _store(tmp_path / "prep", "shhs")
    write_report(tmp_path / "e", _folds(), {0: ["A"]}, title="t", protocol="shhs", data=data)
    text = (tmp_path / "e" / "report.md").read_text()
    assert f"{PAPER_ROW}shhs) | 89.7 |" in text and "not shown" not in text


def test_a_report_whose_data_are_gone_shows_no_paper_row(tmp_path):
    write_report(tmp_path / "e", _folds(), {0: ["A"]}, title="t", protocol="shhs", data=tmp_path / "gone")
    text = (tmp_path / "e" / "report.md").read_text()
    assert PAPER_ROW not in text and "could not be read" in text


def test_evaluate_refuses_a_papers_protocol_for_other_data(tmp_path):
    data = _store(tmp_path / "prep", "sleep-edf-78")
    assert prepared_datasets(data) == {"sleep-edf-78"}
    with pytest.raises(SettingError) as error:
        check_paper_protocol("sleep-edf-20", data)
    assert str(error.value) == (f"protocol= sleep-edf-20: the paper's sleep-edf-20 numbers are for sleep-edf-20 "
                                f"data, and {data} was prepared as sleep-edf-78; give protocol= sleep-edf-78")
    check_paper_protocol("sleep-edf-78", data)  # its own dataset
    check_paper_protocol(None, data)  # no protocol, no paper numbers
    check_paper_protocol("sleep-edf-st", data)  # no paper numbers: the report says so
