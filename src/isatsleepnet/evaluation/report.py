"""metrics.json, report.md and the figures of a run, from its saved predictions."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

from isatsleepnet import STAGES
from isatsleepnet.atomic import atomic_write_text
from isatsleepnet.errors import IsatSleepNetError
from isatsleepnet.evaluation.metrics import compute_metrics, summarise_folds, undefined_note
from isatsleepnet.evaluation.paper import paper_comparison, prepared_datasets
from isatsleepnet.evaluation.predictions import RecordingPrediction


def fold_metrics(predictions: list[RecordingPrediction]) -> dict[str, Any]:
    y_true = np.concatenate([p.y_true for p in predictions])
    y_pred = np.concatenate([p.y_pred for p in predictions])
    return compute_metrics(y_true, y_pred)


def run_metrics(folds: dict[int, list[RecordingPrediction]], test_subjects: dict[int, list[str]]) -> dict[str, Any]:
    """Pooled metrics over every test epoch, per-fold metrics, and their mean and std."""
    all_preds = [p for preds in folds.values() for p in preds]
    per_fold = []
    for index in sorted(folds):
        m = fold_metrics(folds[index])
        per_fold.append({"fold": index, "test_subjects": test_subjects.get(index, []),
                         "test_recordings": [p.recording for p in folds[index]], **m})
    return {
        "pooled": fold_metrics(all_preds),
        "folds": per_fold,
        "fold_mean_std": summarise_folds(per_fold) if per_fold else {},
        "n_folds_evaluated": len(per_fold),
    }


CONFUSION_FIGURE = "figures/confusion_matrix.png"
"""Where the report's confusion matrix lies, relative to the run folder."""


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def markdown_report(metrics: dict[str, Any], *, title: str, protocol: str | None, notes: list[str],
                    curves: Sequence[str] = (), hypnograms: Sequence[str] = (), warnings: Sequence[str] = (),
                    datasets: Iterable[str] | None = None) -> str:
    """The run in the paper's table layout, beside the paper's numbers when the protocol has them and the run's
    data are of the protocol's dataset (``datasets``: what its prepared data were prepared as; None: unknown).

    ``curves`` and ``hypnograms`` are figure paths relative to the report, linked at its end (with
    the confusion matrix, :data:`CONFUSION_FIGURE`): the report links only to files of its run folder;
    ``warnings`` come first, under the title, before any number they qualify.
    """
    pooled = metrics["pooled"]
    header = "| | Acc | κ | MF1 | MGm | " + " | ".join(STAGES) + " |"
    rule = "|---" * (5 + len(STAGES)) + "|"
    row = (f"| this run (pooled, {pooled['n_epochs']} test epochs) | {_pct(pooled['accuracy'])} | {pooled['kappa']:.3f} | "
           f"{_pct(pooled['macro_f1'])} | {_pct(pooled['macro_gmean'])} | "
           + " | ".join(_pct(pooled["per_class_f1"][s]) for s in STAGES) + " |")
    lines = [f"# {title}", ""]
    for warning in warnings:
        lines += [f"> **Warning:** {warning}", ""]
    lines += [header, rule, row]
    ms = metrics.get("fold_mean_std")
    if ms and metrics["n_folds_evaluated"] > 1:
        cell = lambda d, pct=True: f"{100 * d['mean']:.1f} ± {100 * d['std']:.1f}" if pct else f"{d['mean']:.3f} ± {d['std']:.3f}"
        lines.append(
            f"| this run (mean ± std over {metrics['n_folds_evaluated']} folds) | {cell(ms['accuracy'])} | "
            f"{cell(ms['kappa'], False)} | {cell(ms['macro_f1'])} | {cell(ms['macro_gmean'])} | "
            + " | ".join(cell(ms["per_class_f1"][s]) for s in STAGES) + " |"
        )
    paper, why_not = paper_comparison(protocol, datasets)
    if paper:
        lines.append(
            f"| ISATSleepNet paper ({protocol}) | {paper['accuracy']:.1f} | {paper['kappa']:.3f} | {paper['macro_f1']:.1f} | "
            f"{paper['macro_gmean']:.1f} | " + " | ".join(f"{paper[s]:.1f}" for s in STAGES) + " |"
        )
    lines += ["", "Acc, MF1, MGm and per-class F1 in %; κ is Cohen's kappa. Metrics are computed on test "
              "subjects only; model selection used validation subjects carved from the training subjects."]
    if why_not:
        lines.append(why_not)
    undefined = [undefined_note(pooled, "the pooled test epochs")]
    if metrics["n_folds_evaluated"] > 1:
        undefined += [undefined_note(f, f"fold {f['fold']}") for f in metrics["folds"]]
    notes = [*notes, *(n for n in undefined if n)]
    lines += [""] + [f"- {n}" for n in notes] if notes else []
    lines += ["", "## Per fold", "", "| fold | test subjects | epochs | Acc | κ | MF1 | MGm |", "|---|---|---|---|---|---|---|"]
    for f in metrics["folds"]:
        subjects = ", ".join(f["test_subjects"][:6]) + (" …" if len(f["test_subjects"]) > 6 else "")
        lines.append(f"| {f['fold']} | {subjects} | {f['n_epochs']} | {_pct(f['accuracy'])} | {f['kappa']:.3f} | "
                     f"{_pct(f['macro_f1'])} | {_pct(f['macro_gmean'])} |")
    lines += ["", "## Figures", "", f"![confusion matrix]({_link(CONFUSION_FIGURE)})", ""]
    for path in curves:
        lines += [f"![learning curves]({_link(path)})", ""]
    if hypnograms:
        lines += ["Hypnograms of the test recordings, expert vs predicted:", ""]
        lines += [f"- [{Path(path).stem}]({_link(path)})" for path in hypnograms] + [""]
    return "\n".join(lines) + "\n"


def _link(path: str) -> str:
    """A relative path as a markdown link target: percent-encoded, so that a recording name with a
    space or a parenthesis still points at its file."""
    return quote(path, safe="/")


def write_report(
    out: Path,
    folds: dict[int, list[RecordingPrediction]],
    test_subjects: dict[int, list[str]],
    *,
    title: str,
    protocol: str | None,
    notes: list[str] | None = None,
    curves: dict[int, Path] | None = None,
    selected_epochs: dict[int, int] | None = None,
    warnings: Sequence[str] = (),
    data: str | Path | None = None,
    model: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write metrics.json, report.md and figures/ into ``out``; returns the metrics.

    ``curves``: each fold's training log; ``selected_epochs``: the epoch each fold's model was kept
    from (the model file's ``training.selected_epoch``), marked on its learning curves.
    ``warnings`` (such as a model trained on synthetic data) go into both, at the top of the report.
    ``data``: the prepared dataset the predictions are of (None: the one ``out/config.json`` names, a cv
    run's), read to put the paper's numbers beside the run only for data of the protocol's dataset.
    ``model``: the evaluated model's file and settings (`evaluate`), kept in metrics.json for `compare`.
    """
    from isatsleepnet.plots.confusion import plot_confusion_matrix
    from isatsleepnet.plots.curves import plot_learning_curves
    from isatsleepnet.plots.hypnogram import plot_hypnogram

    metrics = run_metrics(folds, test_subjects)
    metrics["protocol"] = protocol
    if model is not None:
        metrics["model"] = model
    if warnings:
        metrics["warnings"] = list(warnings)
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    plot_confusion_matrix(np.array(metrics["pooled"]["confusion_matrix"]), out / CONFUSION_FIGURE,
                          title=f"{title}: pooled test epochs")
    curve_files, hypnogram_files = [], []
    for index, csv_path in (curves or {}).items():
        if csv_path.is_file():
            name = f"figures/learning_curves_fold_{index:02d}.png"
            plot_learning_curves(csv_path, out / name, title=f"fold {index}",
                                 selected_epoch=(selected_epochs or {}).get(index))
            curve_files.append(name)
    for preds in folds.values():
        for p in preds:
            m = compute_metrics(p.y_true, p.y_pred)
            name = f"figures/hypnograms/{p.recording}.png"
            plot_hypnogram(p.onsets, p.y_pred, out / name, expert=p.y_true,
                           title=f"{p.recording}: accuracy {100 * m['accuracy']:.1f} %, κ {m['kappa']:.3f}")
            hypnogram_files.append(name)
    atomic_write_text(out / "report.md", markdown_report(metrics, title=title, protocol=protocol, notes=notes or [],
                                                         curves=curve_files, hypnograms=hypnogram_files,
                                                         warnings=warnings, datasets=_datasets(out, data)))
    return metrics


def _datasets(out: Path, data: str | Path | None) -> set[str] | None:
    """What the run's prepared data were prepared as (None: unknown, their folder unreadable or gone)."""
    try:
        if data is None:
            data = json.loads((out / "config.json").read_text(encoding="utf-8"))["data"]
        return prepared_datasets(data)
    except (OSError, ValueError, KeyError, TypeError, IsatSleepNetError):
        return None
