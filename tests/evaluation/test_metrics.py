import numpy as np
import pytest
from sklearn.metrics import accuracy_score, cohen_kappa_score, f1_score, recall_score

from isatsleepnet.evaluation.metrics import compute_metrics, macro_gmean, summarise_folds


@pytest.fixture
def known():
    rng = np.random.default_rng(3)
    y_true = rng.integers(0, 5, 500)
    y_pred = np.where(rng.random(500) < 0.7, y_true, rng.integers(0, 5, 500))
    return y_true, y_pred


def test_metrics_equal_scikit_learn(known):
    y_true, y_pred = known
    m = compute_metrics(y_true, y_pred)
    assert m["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred))
    assert m["kappa"] == pytest.approx(cohen_kappa_score(y_true, y_pred))
    assert m["macro_f1"] == pytest.approx(f1_score(y_true, y_pred, average="macro"))
    per_class = f1_score(y_true, y_pred, average=None)
    assert [m["per_class_f1"][s] for s in ("W", "N1", "N2", "N3", "REM")] == pytest.approx(per_class)
    # G-mean: sensitivity = recall of the class; specificity = recall of "not the class"
    gm = []
    for k in range(5):
        sens = recall_score(y_true == k, y_pred == k)
        spec = recall_score(y_true != k, y_pred != k)
        gm.append(np.sqrt(sens * spec))
    assert m["macro_gmean"] == pytest.approx(np.mean(gm))
    assert np.array(m["confusion_matrix"]).sum() == 500


def test_hand_computed_gmean():
    cm = np.array([[8, 2], [1, 9]])
    # class 0: sens 0.8, spec 0.9; class 1: sens 0.9, spec 0.8
    assert macro_gmean(cm) == pytest.approx(np.sqrt(0.72))


def test_perfect_and_degenerate():
    y = np.array([0, 1, 2, 3, 4, 4])
    m = compute_metrics(y, y)
    assert m["accuracy"] == 1 and m["kappa"] == 1 and m["macro_f1"] == 1 and m["macro_gmean"] == pytest.approx(1)
    assert compute_metrics(np.zeros(4, int), np.zeros(4, int))["kappa"] == 0.0
    with pytest.raises(ValueError):
        compute_metrics(np.array([]), np.array([]))


def test_fold_summary():
    a = compute_metrics(np.array([0, 1, 2, 3, 4]), np.array([0, 1, 2, 3, 4]))
    b = compute_metrics(np.array([0, 1, 2, 3, 4]), np.array([0, 0, 2, 3, 4]))
    s = summarise_folds([a, b])
    assert s["accuracy"]["mean"] == pytest.approx(0.9) and s["accuracy"]["std"] == pytest.approx(0.1)
    assert s["per_class_f1"]["N1"]["mean"] == pytest.approx(0.5)
