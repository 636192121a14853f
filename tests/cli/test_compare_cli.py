"""`isatsleepnet compare` says what an `evaluate` folder's model is, and checks --seed before any work."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from isatsleepnet.cli.main import main
from isatsleepnet.evaluation.predictions import RecordingPrediction
from isatsleepnet.evaluation.report import run_metrics
from isatsleepnet.model import model_size_options


def _evaluate_folder(folder: Path, model: dict | None) -> Path:
    """An `evaluate` output folder's metrics.json (``model``: what evaluate records of the model, None: nothing)."""
    y = np.arange(20) % 5
    metrics = run_metrics({0: [RecordingPrediction("A-night1", "A", y, np.eye(5)[y] * 0.9 + 0.02,
                                                   np.arange(20) * 30.0)]}, {0: ["A"]})
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps({**metrics, **({"model": model} if model else {})}))
    return folder


def _setting_cells(stdout: str) -> dict[str, list[str]]:
    """Each run's augment, context and setting cells of the printed table."""
    rows = [line.split("|")[1:-1] for line in stdout.splitlines() if line.startswith("| e")]
    return {cells[0].strip(): [c.strip() for c in cells[1:4]] for cells in rows}


def test_an_evaluate_folder_shows_its_models_settings_or_unknown(tmp_path, capsys):
    """Before: an evaluate folder of a `--model-size small` model read `paper defaults`."""
    small = {"file": "m/model.pt", "train": {"model": {**model_size_options("small"), "context": 3}},
             "augment": "none", "gan": None}
    _evaluate_folder(tmp_path / "e2", small)
    _evaluate_folder(tmp_path / "e_old", None)  # made before evaluate recorded its model
    assert main(["compare", str(tmp_path / "e2"), str(tmp_path / "e_old")]) == 0
    cells = _setting_cells(capsys.readouterr().out)
    assert cells == {"e2": ["none", "3", "size=small"], "e_old": ["unknown", "unknown", "unknown"]}


def test_a_negative_seed_is_a_one_line_usage_error(tmp_path, capsys):
    """Before: `compare --seed -1` ended with numpy's "expected non-negative integer" as an unexpected error."""
    _evaluate_folder(tmp_path / "e2", None)
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", str(tmp_path / "e2"), "--seed", "-1"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == ("isatsleepnet compare: error: argument --seed: must be 0 "
                                                        "or more, not -1")
