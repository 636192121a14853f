"""The paper's metrics: accuracy, Cohen's kappa, macro-F1, macro G-mean, per-class F1.

All are functions of the 5 x 5 confusion matrix of pooled epochs (rows: truth), computed
here with numpy so that staging, which reports agreement with a reference, does not need
scikit-learn (the tests check every value against scikit-learn's). A class absent from
both truth and prediction scores 0 (reports say so: :func:`undefined_note`); a kappa without agreement beyond chance possible
scores 0; macro G-mean is the mean over classes of sqrt(sensitivity x specificity),
one-vs-rest.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from isatsleepnet import STAGES


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, 0 where the denominator is 0 (scikit-learn's ``zero_division=0``)."""
    safe = np.where(denominator > 0, denominator, 1.0)
    return np.where(denominator > 0, numerator / safe, 0.0)


def confusion_metrics(cms: np.ndarray) -> dict[str, np.ndarray]:
    """The paper's metrics of confusion matrices (rows: truth), one value per matrix.

    ``cms`` has shape ``(..., 5, 5)``; every value has shape ``cms.shape[:-2]``.
    The values are those of :func:`compute_metrics`
    (a kappa without agreement beyond chance possible scores 0, an absent class's F1 scores 0).

    Examples
    --------
    >>> cm = np.diag([10, 5, 20, 8, 7])
    >>> cm[1, 2] = 5  # five N1 epochs staged N2
    >>> m = confusion_metrics(cm)
    >>> round(float(m["accuracy"]), 3), round(float(m["f1_N1"]), 3)
    (0.909, 0.667)
    """
    cms = np.asarray(cms, dtype=np.float64)
    total = cms.sum(axis=(-2, -1))
    tp = np.diagonal(cms, axis1=-2, axis2=-1)
    truth, predicted = cms.sum(axis=-1), cms.sum(axis=-2)
    chance = (truth * predicted).sum(axis=-1) / np.where(total > 0, total, 1.0)
    f1 = _ratio(2 * tp, truth + predicted)
    sensitivity = _ratio(tp, truth)
    specificity = _ratio(total[..., None] - truth - predicted + tp, total[..., None] - truth)
    values = {
        "accuracy": _ratio(tp.sum(axis=-1), total),
        "kappa": 1.0 - _ratio(total - tp.sum(axis=-1), total - chance),
        "macro_f1": f1.mean(axis=-1),
        "macro_gmean": np.sqrt(sensitivity * specificity).mean(axis=-1),
    }
    values["kappa"] = np.where(total - chance > 0, values["kappa"], 0.0)
    values.update({f"f1_{stage}": f1[..., k] for k, stage in enumerate(STAGES)})
    return values


def confusion_matrix_of(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """The 5 x 5 confusion matrix (rows: truth) of labelled epochs; labels outside 0..4 are left out.

    Examples
    --------
    >>> confusion_matrix_of(np.array([0, 1, 1]), np.array([0, 1, 2]))[1].tolist()
    [0, 1, 1, 0, 0]
    """
    n = len(STAGES)
    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    keep = (y_true >= 0) & (y_true < n) & (y_pred >= 0) & (y_pred < n)
    return np.bincount(y_true[keep] * n + y_pred[keep], minlength=n * n).reshape(n, n)


def compute_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, Any]:
    """All metrics of one set of epochs (stage codes 0..4), as plain JSON-ready values.

    Examples
    --------
    >>> m = compute_metrics(np.array([0, 1, 2, 2]), np.array([0, 2, 2, 2]))
    >>> m["accuracy"], m["per_class_f1"]["N1"], m["confusion_matrix"][1]
    (0.75, 0.0, [0, 0, 1, 0, 0])
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if len(y_true) == 0:
        raise ValueError("no epochs to evaluate")
    if len(y_true) != len(y_pred):
        raise ValueError(f"{len(y_true)} true stages but {len(y_pred)} predicted")
    cm = confusion_matrix_of(y_true, y_pred)
    values = {key: float(value) for key, value in confusion_metrics(cm).items()}
    metrics = {
        "n_epochs": int(len(y_true)),
        "accuracy": values["accuracy"],
        "kappa": values["kappa"],
        "macro_f1": values["macro_f1"],
        "macro_gmean": values["macro_gmean"],
        "per_class_f1": {stage: values[f"f1_{stage}"] for stage in STAGES},
        "confusion_matrix": cm.tolist(),
    }
    return {**metrics, **undefined_stages(cm)}


def undefined_stages(cm: np.ndarray) -> dict[str, Any]:
    """For a confusion matrix where a stage is absent from both truth and prediction: which (``undefined_stages``),
    and the macro means over the other stages (``macro_f1_defined``, ``macro_gmean_defined``); else nothing.

    Why: such a stage's F1 and G-mean are 0/0; they count as 0 in MF1 and MGm (scikit-learn's
    ``zero_division=0``, so that numbers compare), which pulls a fold without REM down by a fifth
    although the model did nothing wrong there. Reports say so, with the means over the stages present.

    Examples
    --------
    >>> undefined_stages(np.diag([10, 5, 20, 8, 0]))["undefined_stages"]
    ['REM']
    >>> undefined_stages(np.diag([10, 5, 20, 8, 7]))
    {}
    """
    cm = np.asarray(cm, dtype=np.float64)
    absent = (cm.sum(axis=1) == 0) & (cm.sum(axis=0) == 0)
    if not absent.any() or absent.all():
        return {}
    sub = cm[np.ix_(~absent, ~absent)]
    tp, truth, predicted, total = np.diagonal(sub), sub.sum(axis=1), sub.sum(axis=0), sub.sum()
    f1 = _ratio(2 * tp, truth + predicted)
    gmean = np.sqrt(_ratio(tp, truth) * _ratio(total - truth - predicted + tp, total - truth))
    return {"undefined_stages": [s for s, a in zip(STAGES, absent) if a],
            "macro_f1_defined": float(f1.mean()), "macro_gmean_defined": float(gmean.mean())}


def undefined_note(metrics: dict[str, Any], where: str) -> str | None:
    """The report's line on stages absent from ``where``'s epochs (None when every stage occurs).

    Examples
    --------
    >>> undefined_note({"undefined_stages": ["REM"], "macro_f1_defined": 0.963, "macro_gmean_defined": 0.97},
    ...                "fold 2")
    'fold 2: REM occurs neither in the reference nor in the predictions: its F1 and G-mean (0/0) count as 0 in MF1 and MGm; over the other stages MF1 is 96.3 % and MGm 97.0 %'
    """
    stages = metrics.get("undefined_stages")
    if not stages:
        return None
    return (f"{where}: {', '.join(stages)} {'occurs' if len(stages) == 1 else 'occur'} neither in the reference nor "
            f"in the predictions: {'its' if len(stages) == 1 else 'their'} F1 and G-mean (0/0) count as 0 in MF1 and "
            f"MGm; over the other stages MF1 is {100 * metrics['macro_f1_defined']:.1f} % and MGm "
            f"{100 * metrics['macro_gmean_defined']:.1f} %")


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
