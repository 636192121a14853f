"""Learning curves: whole-number epoch ticks and the selected epoch marked."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from isatsleepnet.plots import plt
from isatsleepnet.plots.curves import learning_curves_figure, plot_learning_curves


def _log(path: Path, n_epochs: int) -> Path:
    """A Lightning-style CSV log: a train row and a validation row per epoch."""
    lines = ["epoch,step,train_loss,train_accuracy,train_macro_f1,val_loss,val_accuracy,val_macro_f1"]
    for e in range(n_epochs):
        lines.append(f"{e},{10 * e},{1.5 - 0.1 * e},{0.4 + 0.05 * e},{0.3 + 0.05 * e},,,")
        lines.append(f"{e},{10 * e},,,,{1.4 - 0.08 * e},{0.45 + 0.04 * e},{0.35 + 0.04 * e}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_epoch_ticks_are_whole_numbers(tmp_path):
    fig = learning_curves_figure(_log(tmp_path / "metrics.csv", 3))
    for ax in fig.axes:
        ticks = ax.get_xticks()
        lo, hi = ax.get_xlim()
        shown = ticks[(ticks >= lo) & (ticks <= hi)]
        assert len(shown) >= 2 and np.all(shown == np.round(shown))
    plt.close(fig)


def test_the_selected_epoch_is_marked(tmp_path):
    log = _log(tmp_path / "metrics.csv", 6)
    fig = learning_curves_figure(log, selected_epoch=3)  # the log's 4th epoch, drawn at x = 4
    for ax in fig.axes:
        marks = [line for line in ax.lines if line.get_label() == "selected (epoch 4)"]
        assert len(marks) == 1 and marks[0].get_linestyle() == "--"
        assert list(marks[0].get_xdata()) == [4, 4]
        assert "selected (epoch 4)" in [t.get_text() for t in ax.get_legend().get_texts()]
    plt.close(fig)
    unmarked = learning_curves_figure(log)
    assert not [line for ax in unmarked.axes for line in ax.lines if line.get_label().startswith("selected")]
    plt.close(unmarked)
    assert plot_learning_curves(log, tmp_path / "c.png", selected_epoch=3).stat().st_size > 1000
