"""Physio-GAN figures: loss curves, real vs generated traces, and Welch PSDs (like the paper's Fig. 2/3)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from isatsleepnet.plots import plt, save_figure

COLOURS = {"real": "#1f4e79", "gan": "#c0392b", "untrained": "#7f8c8d",
           "phase_randomised": "#27ae60", "coloured_noise": "#8e44ad"}


def plot_loss_curve(rows: Sequence[Mapping[str, float]], path: str | Path, title: str = "") -> Path:
    """D and G losses per epoch (left); the statistic constraints, penalties and selection score (right)."""
    epochs = [int(r["epoch"]) for r in rows]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.5))
    for key, label in (("d_loss", "D total"), ("d_adv", "D relativistic"), ("g_adv", "G relativistic")):
        ax1.plot(epochs, [float(r[key]) for r in rows], label=label)
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("loss")
    ax1.legend(fontsize=8)
    for key, label in (("l_spec", "L_spec"), ("l_time", "L_time"), ("r1", "R1"), ("gp", "GP")):
        ax2.plot(epochs, [float(r[key]) for r in rows], label=label)
    fits = [(int(r["epoch"]), float(r["fit"])) for r in rows if r.get("fit") not in (None, "")]
    if fits:
        ax2.plot(*zip(*fits), "k.", ms=4, label="fit (model selection)")
    ax2.set_yscale("log")
    ax2.set_xlabel("epoch")
    ax2.legend(fontsize=8)
    fig.suptitle(title or "Physio-GAN training")
    return save_figure(fig, path)


def plot_examples(real: np.ndarray, generated: np.ndarray, fs: float, path: str | Path, *, n: int = 3,
                  seconds: float | None = 10.0, title: str = "") -> Path:
    """``n`` real (blue) and ``n`` generated (red) z-scored epochs, one pair per row, overlaid."""
    n = int(min(n, len(real), len(generated)))
    length = real.shape[-1] if seconds is None else min(real.shape[-1], int(seconds * fs))
    t = np.arange(length) / fs
    fig, axes = plt.subplots(n, 1, figsize=(10, 1.8 * n), sharex=True, squeeze=False)
    for i, ax in enumerate(axes[:, 0]):
        ax.plot(t, real[i, :length], color=COLOURS["real"], lw=0.7, label="real")
        ax.plot(t, generated[i, :length], color=COLOURS["gan"], lw=0.7, alpha=0.8, label="generated")
        ax.set_ylabel("z")
        ax.set_ylim(-3.3, 3.3)
    axes[0, 0].legend(loc="upper right", fontsize=8, ncol=2)
    axes[-1, 0].set_xlabel("time (s)")
    fig.suptitle(title or "real vs generated")
    return save_figure(fig, path)


def plot_psd(freqs: np.ndarray, psds: Mapping[str, np.ndarray], path: str | Path, *,
             band_diffs: Mapping[str, Mapping[str, float]] | None = None, fmax: float = 30.0, title: str = "") -> Path:
    """Mean Welch PSD (dB) with 25-75 % bands per set, and the relative band-power differences."""
    keep = freqs <= fmax
    ncols = 2 if band_diffs else 1
    fig, axes = plt.subplots(1, ncols, figsize=(6 * ncols, 4), squeeze=False)
    ax = axes[0, 0]
    for name, psd in psds.items():
        db = 10 * np.log10(psd[:, keep] + 1e-12)
        colour = COLOURS.get(name)
        style = "-" if name in ("real", "gan") else "--"
        ax.plot(freqs[keep], 10 * np.log10(psd[:, keep].mean(axis=0) + 1e-12), style, color=colour, label=name, lw=1.4)
        if name in ("real", "gan"):
            lo, hi = np.percentile(db, [25, 75], axis=0)
            ax.fill_between(freqs[keep], lo, hi, color=colour, alpha=0.2, lw=0)
    ax.set_xlabel("frequency (Hz)")
    ax.set_ylabel("PSD (dB, z-scored epochs)")
    ax.set_xlim(0, fmax)
    ax.legend(fontsize=8)
    if band_diffs:
        ax = axes[0, 1]
        names = list(band_diffs)
        bands = list(next(iter(band_diffs.values())))
        width = 0.8 / len(names)
        for i, name in enumerate(names):
            values = [100 * band_diffs[name][b] for b in bands]
            ax.bar(np.arange(len(bands)) + i * width - 0.4 + width / 2, values, width, label=name, color=COLOURS.get(name))
        ax.axhline(0, color="k", lw=0.8)
        ax.set_xticks(np.arange(len(bands)), bands)
        ax.set_ylabel("band power vs real (%)")
        ax.legend(fontsize=8)
    fig.suptitle(title or "Welch PSD, real vs generated")
    return save_figure(fig, path)
