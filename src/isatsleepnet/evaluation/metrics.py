"""The paper's metrics: accuracy, Cohen's kappa, macro-F1, macro G-mean, per-class F1.

Computed with scikit-learn on pooled epochs over all five classes (a class
absent from both truth and prediction scores 0); macro G-mean is the mean over
classes of sqrt(sensitivity x specificity), one-vs-rest.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, cohen_kappa_score, confusion_matrix, f1_score

from isatsleepnet import STAGES

CLASSES = list(range(len(STAGES)))


def macro_gmean(cm: np.ndarray) -> float:
    """Mean over classes of sqrt(sensitivity x specificity), from a confusion matrix (rows = truth)."""
    cm = np.asarray(cm, dtype=np.float64)
    total = cm.sum()
    scores = []
    for k in range(len(cm)):
        tp = cm[k, k]
        fn = cm[k].sum() - tp
        fp = cm[:, k].sum() - tp
        tn = total - tp - fn - fp
        sens = tp / (tp + fn) if tp + fn else 0.0
        spec = tn / (tn + fp) if tn + fp else 0.0
        scores.append(np.sqrt(sens * spec))
    return float(np.mean(scores))


def _kappa(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    # sklearn returns nan when truth and prediction hold one single class: no agreement beyond chance.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = cohen_kappa_score(y_true, y_pred, labels=CLASSES)
    return 0.0 if np.isnan(value) else float(value)


def compute_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, Any]:
    """All metrics of one set of epochs, as plain JSON-ready values."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if len(y_true) == 0:
        raise ValueError("no epochs to evaluate")
    cm = confusion_matrix(y_true, y_pred, labels=CLASSES)
    per_class = f1_score(y_true, y_pred, labels=CLASSES, average=None, zero_division=0)
    return {
        "n_epochs": int(len(y_true)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "kappa": _kappa(y_true, y_pred),
        "macro_f1": float(f1_score(y_true, y_pred, labels=CLASSES, average="macro", zero_division=0)),
        "macro_gmean": macro_gmean(cm),
        "per_class_f1": {STAGES[k]: float(per_class[k]) for k in CLASSES},
        "confusion_matrix": cm.tolist(),
    }


def summarise_folds(fold_metrics: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and standard deviation over folds of each scalar metric and per-class F1."""
    keys = ("accuracy", "kappa", "macro_f1", "macro_gmean")
    out: dict[str, Any] = {}
    for key in keys:
        values = np.array([m[key] for m in fold_metrics], dtype=np.float64)
        out[key] = {"mean": float(values.mean()), "std": float(values.std(ddof=0))}
    out["per_class_f1"] = {}
    for stage in STAGES:
        values = np.array([m["per_class_f1"][stage] for m in fold_metrics], dtype=np.float64)
        out["per_class_f1"][stage] = {"mean": float(values.mean()), "std": float(values.std(ddof=0))}
    return out
