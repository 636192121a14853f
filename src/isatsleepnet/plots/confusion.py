"""Row-normalised confusion matrix, counts in brackets."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from isatsleepnet import STAGES
from isatsleepnet.plots import plt, save_figure


def plot_confusion_matrix(cm: np.ndarray, path: str | Path, title: str = "Confusion matrix") -> Path:
    cm = np.asarray(cm, dtype=np.float64)
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(5.2, 4.6))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(STAGES)):
        for j in range(len(STAGES)):
            color = "white" if norm[i, j] > 0.6 else "black"
            ax.text(j, i, f"{norm[i, j]:.2f}\n({int(cm[i, j])})", ha="center", va="center", fontsize=8, color=color)
    ax.set_xticks(range(len(STAGES)), STAGES)
    ax.set_yticks(range(len(STAGES)), STAGES)
    ax.set_xlabel("predicted")
    ax.set_ylabel("expert")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="fraction of the expert's stage")
    return save_figure(fig, path)
