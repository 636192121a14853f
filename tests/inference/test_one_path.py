"""One way from a model file to probabilities: `evaluate`/`cv` and `stage` compute the same numbers."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from isatsleepnet.data.prepare import prepare_dataset
from isatsleepnet.data.prepare_config import PrepareConfig
from isatsleepnet.data.store import PreparedDataset
from isatsleepnet.inference.options import StageOptions
from isatsleepnet.inference.predict import predict_prepared, predict_recordings
from isatsleepnet.inference.predictor import load_predictor
from isatsleepnet.inference.stage import stage_recording
from tests.inference import trained_model

# The CSV holds probabilities to 6 decimals (rounding error up to 5e-7); the two paths
# read the same float32 µV (prepare stores them, stage computes them with the same
# reader and resampler) and run the same fused graph, so nothing else may differ.
CSV_TOLERANCE = 1e-6


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return trained_model(Path(tmp_path_factory.getbasetemp()))[0]


def _csv_probabilities(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    onsets = np.array([float(r["onset_s"]) for r in rows])
    probs = np.array([[float(r[f"p_{s}"]) for s in ("W", "N1", "N2", "N3", "REM")] for r in rows])
    return onsets, probs


def test_evaluate_and_stage_of_sc4001_give_the_same_probabilities(sleep_edf_dir, model, tmp_path):
    """SC4001 prepared (Sleep-EDF trimming) and staged from its EDF over the same window."""
    prepared = tmp_path / "prepared"
    results = prepare_dataset(sleep_edf_dir, prepared, PrepareConfig(dataset="sleep-edf"), progress=False)
    assert [r.status for r in results] == ["prepared"]
    recording = next(iter(PreparedDataset(prepared)))
    predictor = load_predictor(model, threads=1)
    evaluated = predict_prepared(predictor, recording)
    onsets = recording.onsets[recording.real]

    options = StageOptions(start_s=float(onsets[0]), end_s=float(onsets[-1]) + 30.0, plots=False, report=False,
                           annotations="tsv")
    result = stage_recording(sleep_edf_dir / "SC4001E0-PSG.edf", predictor, tmp_path / "staged", options)
    staged_onsets, staged = _csv_probabilities(next((tmp_path / "staged").glob("*.hypnogram.csv")))
    assert result.n_epochs == len(evaluated) > 800
    np.testing.assert_array_equal(staged_onsets, onsets)
    np.testing.assert_allclose(staged, evaluated, rtol=0, atol=CSV_TOLERANCE)
    assert (staged.argmax(1) == evaluated.argmax(1)).mean() > 0.999


def test_cv_predictions_are_the_predictors(model, tmp_path):
    """predict_recordings (evaluate, cv's test folds) saves exactly what the predictor computes."""
    data = PreparedDataset(model.parent.parent / "prepared")
    recording = next(iter(data))
    predictor = load_predictor(model, threads=1)
    saved, = predict_recordings(predictor, [recording], tmp_path / "predictions", progress=False)
    np.testing.assert_array_equal(saved.probabilities, predict_prepared(predictor, recording))
    assert (tmp_path / "predictions" / "model.sha1").read_text().split()[0] == predictor.identity
