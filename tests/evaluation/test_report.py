"""report.md links only to files that exist beside it; learning curves mark each fold's selected epoch."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pytest

from isatsleepnet.evaluation.predictions import RecordingPrediction
from isatsleepnet.evaluation.report import markdown_report, write_report

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]*)\)")


def link_targets(report: Path) -> list[str]:
    """Every markdown link and image target in a report."""
    return LINK.findall(report.read_text())


def assert_links_resolve(report: Path) -> None:
    targets = link_targets(report)
    assert targets, "the report links to nothing"
    for target in targets:
        path = Path(unquote(target))
        assert not path.is_absolute() and ".." not in path.parts, target
        assert (report.parent / path).is_file(), f"{report.name} links to {target}, which does not exist"


def _recording_marks(monkeypatch) -> dict[str, int | None]:
    """The ``selected_epoch`` each learning-curve figure is drawn with, by file name."""
    from isatsleepnet.plots import curves

    marks: dict[str, int | None] = {}
    draw = curves.plot_learning_curves

    def plot(csv_path, path, **options):
        marks[Path(path).name] = options.get("selected_epoch")
        return draw(csv_path, path, **options)

    monkeypatch.setattr(curves, "plot_learning_curves", plot)
    return marks


def _prediction(name: str, subject: str, seed: int, n: int = 40) -> RecordingPrediction:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 5
    p = rng.dirichlet(np.ones(5), n)
    p[np.arange(n), y] += 1.0
    return RecordingPrediction(name, subject, y, p / p.sum(1, keepdims=True), np.arange(n) * 30.0)


def test_every_link_of_a_report_exists_and_names_with_spaces_still_resolve(tmp_path, monkeypatch):
    log = tmp_path / "fold_00.csv"
    log.write_text("epoch,step,train_loss,val_loss,val_macro_f1\n0,1,1.2,1.3,0.4\n1,2,1.0,1.1,0.5\n")
    marked = _recording_marks(monkeypatch)
    folds = {0: [_prediction("night 1 (left)", "A", 0)], 1: [_prediction("B-night1", "B", 1)]}
    out = tmp_path / "run"
    write_report(out, folds, {0: ["A"], 1: ["B"]}, title="t", protocol="kfold",
                 curves={0: log, 1: tmp_path / "missing.csv"}, selected_epochs={0: 1, 1: 0})
    report = out / "report.md"
    assert_links_resolve(report)
    targets = [unquote(t) for t in link_targets(report)]
    assert targets == ["figures/confusion_matrix.png", "figures/learning_curves_fold_00.png",
                       "figures/hypnograms/night 1 (left).png", "figures/hypnograms/B-night1.png"]
    assert marked == {"learning_curves_fold_00.png": 1}  # fold 1 has no log: no curves, no link
    assert "SPEC" not in report.read_text()


def test_a_stage_missing_from_a_fold_is_said_with_the_means_over_the_others():
    """Before: a fold without REM (reference and predictions) scored MF1 a fifth lower without a word."""
    from isatsleepnet.evaluation.report import run_metrics

    whole = _prediction("n1", "A", 0)
    keep = whole.y_true != 4
    no_rem = RecordingPrediction("n2", "B", whole.y_true[keep], whole.probabilities[keep][:, [0, 1, 2, 3, 3]] *
                                 np.array([1, 1, 1, 1, 0]), whole.onsets[keep])
    metrics = run_metrics({0: [whole], 1: [no_rem]}, {0: ["A"], 1: ["B"]})
    text = markdown_report(metrics, title="t", protocol="kfold", notes=[])
    fold = metrics["folds"][1]
    assert fold["undefined_stages"] == ["REM"] and fold["macro_f1"] == pytest.approx(0.8 * fold["macro_f1_defined"])
    assert (f"- fold 1: REM occurs neither in the reference nor in the predictions: its F1 and G-mean (0/0) count as "
            f"0 in MF1 and MGm; over the other stages MF1 is {100 * fold['macro_f1_defined']:.1f} %") in text
    assert "pooled test epochs:" not in text and "fold 0:" not in text  # every stage occurs there


def test_a_protocol_without_paper_numbers_names_those_that_have_them():
    metrics = {"pooled": {"n_epochs": 5, "accuracy": 0.5, "kappa": 0.3, "macro_f1": 0.4, "macro_gmean": 0.5,
                          "per_class_f1": dict.fromkeys(("W", "N1", "N2", "N3", "REM"), 0.4)},
               "folds": [], "fold_mean_std": {}, "n_folds_evaluated": 0}
    text = markdown_report(metrics, title="t", protocol="kfold", notes=[])
    assert "only for shhs, sleep-edf-20, sleep-edf-78." in text and "SPEC" not in text


def test_a_tiny_cross_validation_report_links_only_to_its_own_files(tmp_path, monkeypatch):
    from isatsleepnet.model.file import load_model_file
    from isatsleepnet.training.cv import cross_validate
    from tests.training.conftest import tiny_config
    from tests.training.tiny_store import write_tiny_store

    marked = _recording_marks(monkeypatch)
    data = write_tiny_store(tmp_path / "data", subjects=3, n_epochs=30)
    run = tmp_path / "run"
    cross_validate(data.root, run, protocol="kfold", n_folds=3, config=tiny_config(max_epochs=2), progress=False)
    assert_links_resolve(run / "report.md")
    assert len(link_targets(run / "report.md")) == 1 + 3 + 3  # confusion matrix, curves and a hypnogram per fold
    for index in range(3):
        selected = load_model_file(run / f"fold_{index:02d}" / "model.pt").training["selected_epoch"]
        assert marked[f"learning_curves_fold_{index:02d}.png"] == selected
