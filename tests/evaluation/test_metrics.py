import doctest
import warnings

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, cohen_kappa_score, confusion_matrix, f1_score, recall_score

from isatsleepnet import STAGES
from isatsleepnet.evaluation import metrics
from isatsleepnet.evaluation.metrics import compute_metrics, confusion_matrix_of, confusion_metrics, summarise_folds

CLASSES = list(range(5))


def test_examples_run():
    result = doctest.testmod(metrics, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted >= 4


def _scikit_learn(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """The same metrics from scikit-learn (a kappa sklearn cannot define, nan, counts 0)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kappa = cohen_kappa_score(y_true, y_pred, labels=CLASSES)
    gmean = []
    for k in CLASSES:
        sens = recall_score(y_true == k, y_pred == k, zero_division=0)
        spec = recall_score(y_true != k, y_pred != k, zero_division=0)
        gmean.append(np.sqrt(sens * spec))
    per_class = f1_score(y_true, y_pred, labels=CLASSES, average=None, zero_division=0)
    return {"accuracy": accuracy_score(y_true, y_pred), "kappa": 0.0 if np.isnan(kappa) else kappa,
            "macro_f1": f1_score(y_true, y_pred, labels=CLASSES, average="macro", zero_division=0),
            "macro_gmean": float(np.mean(gmean)), **{f"f1_{s}": per_class[k] for k, s in enumerate(STAGES)}}


@pytest.mark.parametrize("case", range(200))
def test_metrics_equal_scikit_learn(case):
    rng = np.random.default_rng(case)
    n, classes = int(rng.integers(1, 80)), int(rng.integers(1, 6))  # few classes: absent stages, kappa without chance
    y_true = rng.integers(0, classes, n)
    y_pred = np.where(rng.random(n) < rng.random(), y_true, rng.integers(0, classes, n))
    expected = _scikit_learn(y_true, y_pred)
    got = confusion_metrics(confusion_matrix_of(y_true, y_pred))
    assert {k: float(v) for k, v in got.items()} == pytest.approx(expected, abs=1e-12)
    m = compute_metrics(y_true, y_pred)
    assert m["kappa"] == pytest.approx(expected["kappa"], abs=1e-12)
    assert [m["per_class_f1"][s] for s in STAGES] == pytest.approx([expected[f"f1_{s}"] for s in STAGES], abs=1e-12)
    assert m["confusion_matrix"] == confusion_matrix(y_true, y_pred, labels=CLASSES).tolist()
    present = sorted(set(y_true.tolist()) | set(y_pred.tolist()))
    if len(present) < 5:  # the stages in neither: named, and the means over the others beside the 5-stage ones
        assert m["undefined_stages"] == [s for k, s in enumerate(STAGES) if k not in present]
        assert m["macro_f1_defined"] == pytest.approx(
            f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0), abs=1e-12)
        gmean = [np.sqrt(recall_score(y_true == k, y_pred == k, zero_division=0)
                         * recall_score(y_true != k, y_pred != k, zero_division=0)) for k in present]
        assert m["macro_gmean_defined"] == pytest.approx(float(np.mean(gmean)), abs=1e-12)
    else:
        assert "undefined_stages" not in m


def test_confusion_metrics_score_many_matrices_at_once():
    rng = np.random.default_rng(0)
    cms = rng.integers(0, 20, size=(3, 4, 5, 5))
    batch = confusion_metrics(cms)
    assert batch["accuracy"].shape == (3, 4)
    assert batch["macro_f1"][2, 1] == pytest.approx(float(confusion_metrics(cms[2, 1])["macro_f1"]))


def test_hand_computed_gmean():
    cm = np.zeros((5, 5), int)
    cm[:2, :2] = [[8, 2], [1, 9]]  # W: sens 0.8, spec 0.9; N1: sens 0.9, spec 0.8; the other three absent: 0
    assert float(confusion_metrics(cm)["macro_gmean"]) == pytest.approx(2 * np.sqrt(0.72) / 5)


def test_perfect_and_degenerate():
    y = np.array([0, 1, 2, 3, 4, 4])
    m = compute_metrics(y, y)
    assert m["accuracy"] == 1 and m["kappa"] == 1 and m["macro_f1"] == 1 and m["macro_gmean"] == pytest.approx(1)
    assert compute_metrics(np.zeros(4, int), np.zeros(4, int))["kappa"] == 0.0
    with pytest.raises(ValueError, match="no epochs"):
        compute_metrics(np.array([]), np.array([]))
    with pytest.raises(ValueError, match="3 true stages but 2 predicted"):
        compute_metrics(np.array([0, 1, 2]), np.array([0, 1]))


def test_fold_summary():
    a = compute_metrics(np.array([0, 1, 2, 3, 4]), np.array([0, 1, 2, 3, 4]))
    b = compute_metrics(np.array([0, 1, 2, 3, 4]), np.array([0, 0, 2, 3, 4]))
    s = summarise_folds([a, b])
    assert s["accuracy"]["mean"] == pytest.approx(0.9) and s["accuracy"]["std"] == pytest.approx(0.1)
    assert s["per_class_f1"]["N1"]["mean"] == pytest.approx(0.5)
