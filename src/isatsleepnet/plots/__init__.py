"""Figures: confusion matrices, learning curves, hypnograms. Every function writes one PNG atomically."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import matplotlib

# Files only, no display needed: Agg, unless a backend is chosen already (MPLBACKEND, as Jupyter sets it,
# or pyplot imported by a Python session that draws Night.plot_hypnogram() on screen): switching then
# would close that session's figures.
if "matplotlib.pyplot" not in sys.modules and not os.environ.get("MPLBACKEND"):
    matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from isatsleepnet.atomic import atomic_path  # noqa: E402


def save_figure(fig, path: str | Path, dpi: int = 120) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format="png")
    plt.close(fig)
    return path
