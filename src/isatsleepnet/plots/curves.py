"""Learning curves (loss, accuracy, macro-F1; train and validation) from a Lightning CSV log."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING

from isatsleepnet.plots import plt, save_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def read_epoch_log(metrics_csv: str | Path) -> dict[str, dict[int, float]]:
    """{metric: {epoch: value}} from a training log (logs/metrics.csv); a later row of an epoch wins."""
    series: dict[str, dict[int, float]] = {}
    with Path(metrics_csv).open(newline="") as f:
        for row in csv.DictReader(f):
            if not row.get("epoch"):
                continue
            epoch = int(float(row["epoch"]))
            for key, value in row.items():
                if key in ("epoch", "step") or value in ("", None):
                    continue
                series.setdefault(key, {})[epoch] = float(value)
    return series


def plot_learning_curves(metrics_csv: str | Path, path: str | Path, title: str = "Learning curves", *,
                         selected_epoch: int | None = None) -> Path:
    """:func:`learning_curves_figure` as one PNG."""
    return save_figure(learning_curves_figure(metrics_csv, title, selected_epoch=selected_epoch), path)


def learning_curves_figure(metrics_csv: str | Path, title: str = "Learning curves", *,
                           selected_epoch: int | None = None) -> Figure:
    """Loss, accuracy and macro-F1 per epoch, numbered from 1 on whole-number ticks.

    ``selected_epoch`` is the epoch whose weights were kept, numbered as in the log (from 0, as the
    model file's ``training.selected_epoch``): a dashed line marks it, so that the curves show what
    the selection chose and what came after it.
    """
    from matplotlib.ticker import MaxNLocator

    series = read_epoch_log(metrics_csv)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6), layout="constrained")
    for ax, metric, label in zip(axes, ("loss", "accuracy", "macro_f1"), ("loss", "accuracy", "macro-F1")):
        for stage, style in (("train", "-o"), ("val", "-s")):
            values = series.get(f"{stage}_{metric}", {})
            if values:
                epochs = sorted(values)
                ax.plot([e + 1 for e in epochs], [values[e] for e in epochs], style, ms=3,
                        label="validation" if stage == "val" else "train")
        if selected_epoch is not None:
            ax.axvline(selected_epoch + 1, color="dimgray", ls="--", lw=1.0,
                       label=f"selected (epoch {selected_epoch + 1})")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_title(label)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    return fig
