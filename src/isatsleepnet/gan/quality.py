"""How close generated epochs are to real ones, and whether the GAN beats trivial generators.

Everything is measured on z-scored epochs (the GAN's own scale), so powers are
relative to each epoch's variance. Numbers per candidate (GAN, untrained GAN,
baselines), each against a *reference* set of real epochs:

* ``band_power_rel_diff``: (mean band power of candidate − of reference) /
  of reference, for delta 0.5–4, theta 4–8, alpha 8–12, sigma 12–16, beta 16–30 Hz
  (Welch PSD, 4-s Hann windows);
* ``log_psd_distance_db``: mean |Δ| of the mean Welch PSD in dB over 0.5–30 Hz;
* ``c2st_accuracy``: a classifier-two-sample test. A standardised logistic
  regression on log-PSD (2-Hz bins, 0–30 Hz) and amplitude features learns
  real-vs-candidate on some folds and is scored on the others (repeated
  stratified k-fold, equal numbers of both); 0.5 means indistinguishable.

Baselines built from the GAN's *training* epochs (the data the GAN saw):
``phase_randomised`` (each epoch's exact amplitude spectrum with random
phases — matches spectra by construction, loses bursts and waveform shape) and
``coloured_noise`` (Gaussian noise with the mean amplitude spectrum).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from scipy import signal, stats

BANDS: dict[str, tuple[float, float]] = {
    "delta": (0.5, 4.0), "theta": (4.0, 8.0), "alpha": (8.0, 12.0), "sigma": (12.0, 16.0), "beta": (16.0, 30.0),
}
PSD_RANGE = (0.5, 30.0)


def welch_psd(x: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """(n, N) → (frequencies (F,), PSD (n, F)) with 4-s Hann windows (or the whole epoch if shorter)."""
    nperseg = int(min(x.shape[-1], round(4 * fs)))
    freqs, psd = signal.welch(np.asarray(x, dtype=np.float64), fs=fs, nperseg=nperseg, axis=-1)
    return freqs, psd


def band_powers(freqs: np.ndarray, psd: np.ndarray) -> dict[str, np.ndarray]:
    """Per-epoch power (n,) in each band of :data:`BANDS`."""
    df = freqs[1] - freqs[0]
    return {name: psd[:, (freqs >= lo) & (freqs < hi)].sum(axis=1) * df for name, (lo, hi) in BANDS.items()}


def relative_band_differences(freqs: np.ndarray, reference: np.ndarray, candidate: np.ndarray) -> dict[str, float]:
    ref, cand = band_powers(freqs, reference), band_powers(freqs, candidate)
    return {b: float((cand[b].mean() - ref[b].mean()) / max(ref[b].mean(), 1e-12)) for b in BANDS}


def log_psd_distance(freqs: np.ndarray, reference: np.ndarray, candidate: np.ndarray) -> float:
    """Mean |difference| of the mean PSDs in dB over :data:`PSD_RANGE`."""
    keep = (freqs >= PSD_RANGE[0]) & (freqs <= PSD_RANGE[1])
    ref = 10 * np.log10(reference[:, keep].mean(axis=0) + 1e-12)
    cand = 10 * np.log10(candidate[:, keep].mean(axis=0) + 1e-12)
    return float(np.abs(ref - cand).mean())


def epoch_features(x: np.ndarray, fs: float) -> np.ndarray:
    """(n, N) → (n, K) features of the two-sample classifier: log PSD in 2-Hz bins up to 30 Hz + amplitude shape."""
    freqs, psd = welch_psd(x, fs)
    edges = np.arange(0.0, min(30.0, fs / 2) + 1e-9, 2.0)
    spec = [np.log(psd[:, (freqs >= lo) & (freqs < hi)].mean(axis=1) + 1e-12) for lo, hi in zip(edges[:-1], edges[1:])]
    xc = x - x.mean(axis=1, keepdims=True)
    sd = xc.std(axis=1) + 1e-12
    d1 = np.diff(xc, axis=1)
    d2 = np.diff(d1, axis=1)
    mobility = d1.std(axis=1) / sd
    complexity = (d2.std(axis=1) / (d1.std(axis=1) + 1e-12)) / (mobility + 1e-12)
    win = max(int(round(fs)), 2)
    n_win = x.shape[1] // win
    rms = np.sqrt((xc[:, : n_win * win].reshape(len(x), n_win, win) ** 2).mean(axis=2) + 1e-12)
    shape = [stats.skew(xc, axis=1), np.log(stats.kurtosis(xc, axis=1, fisher=False) + 1e-12),
             np.ptp(xc, axis=1) / sd, mobility, complexity, np.log(rms).std(axis=1)]
    return np.column_stack(spec + shape)


def c2st_accuracy(real: np.ndarray, candidate: np.ndarray, fs: float, *, seed: int = 0,
                  folds: int = 5, repeats: int = 5) -> dict[str, float]:
    """Held-out accuracy of a real-vs-candidate classifier (mean and std over folds); 0.5 is best."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import RepeatedStratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    n = min(len(real), len(candidate))
    rng = np.random.default_rng(seed)
    a = real[rng.choice(len(real), n, replace=False)]
    b = candidate[rng.choice(len(candidate), n, replace=False)]
    features = np.nan_to_num(epoch_features(np.concatenate([a, b]), fs), nan=0.0, posinf=0.0, neginf=0.0)
    labels = np.r_[np.zeros(n), np.ones(n)]
    k = int(min(folds, n))
    if k < 2:
        return {"mean": float("nan"), "std": float("nan"), "n_per_class": n}
    splitter = RepeatedStratifiedKFold(n_splits=k, n_repeats=repeats, random_state=seed)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
    # One BLAS thread: these fits are tiny, and multi-threaded OpenBLAS made them ~8x slower on a busy 2-core machine.
    with threadpool_limits(limits=1, user_api="blas"):
        scores = cross_val_score(model, features, labels, cv=splitter, scoring="accuracy")
    return {"mean": float(scores.mean()), "std": float(scores.std()), "n_per_class": n}


def phase_randomised(x: np.ndarray, rng: np.random.Generator, clip: float) -> np.ndarray:
    """Each epoch's amplitude spectrum with uniformly random phases, z-scored and clipped like real epochs."""
    spectrum = np.fft.rfft(x, axis=-1)
    phases = np.exp(2j * np.pi * rng.random(spectrum.shape))
    phases[:, 0] = 1.0
    y = np.fft.irfft(np.abs(spectrum) * phases, n=x.shape[-1], axis=-1)
    return _zclip(y, clip)


def coloured_noise(x: np.ndarray, n: int, rng: np.random.Generator, clip: float) -> np.ndarray:
    """``n`` Gaussian epochs whose expected amplitude spectrum is the mean one of ``x``."""
    amplitude = np.sqrt((np.abs(np.fft.rfft(x, axis=-1)) ** 2).mean(axis=0))
    white = np.fft.rfft(rng.standard_normal((n, x.shape[-1])), axis=-1)
    y = np.fft.irfft(white * amplitude, n=x.shape[-1], axis=-1)
    return _zclip(y, clip)


def _zclip(y: np.ndarray, clip: float) -> np.ndarray:
    y = (y - y.mean(axis=-1, keepdims=True)) / (y.std(axis=-1, keepdims=True) + 1e-12)
    return np.clip(y, -clip, clip).astype(np.float32)


def compare(reference: np.ndarray, candidate: np.ndarray, fs: float, *, seed: int = 0) -> dict[str, Any]:
    """The metrics of one candidate set (n, N) against the reference real epochs (m, N)."""
    freqs, ref_psd = welch_psd(reference, fs)
    _, cand_psd = welch_psd(candidate, fs)
    return {
        "n": int(len(candidate)),
        "log_psd_distance_db": log_psd_distance(freqs, ref_psd, cand_psd),
        "band_power_rel_diff": relative_band_differences(freqs, ref_psd, cand_psd),
        "mean_abs_band_rel_diff": float(np.mean(np.abs(list(relative_band_differences(freqs, ref_psd, cand_psd).values())))),
        "c2st_accuracy": c2st_accuracy(reference, candidate, fs, seed=seed),
    }


def baselines(training: np.ndarray, n: int, *, seed: int, clip: float) -> dict[str, np.ndarray]:
    """The trivial generators built from the GAN's training epochs, ``n`` epochs each."""
    rng = np.random.default_rng(seed)
    pick = training[rng.choice(len(training), n, replace=len(training) < n)]
    return {"phase_randomised": phase_randomised(pick, rng, clip), "coloured_noise": coloured_noise(training, n, rng, clip)}


def quality_report(reference: np.ndarray, candidates: dict[str, np.ndarray], fs: float, *, seed: int = 0) -> dict[str, Any]:
    """Metrics of every candidate against ``reference`` and which baselines the GAN beats.

    ``candidates`` maps names (``"gan"`` and baselines) to (n, N) z-scored epochs.
    """
    results = {name: compare(reference, x, fs, seed=seed) for name, x in candidates.items()}
    report: dict[str, Any] = {"metrics": results}
    if "gan" in results:
        gan = results["gan"]
        report["gan_better_than"] = {
            name: {
                "log_psd_distance": gan["log_psd_distance_db"] < r["log_psd_distance_db"],
                "band_power": gan["mean_abs_band_rel_diff"] < r["mean_abs_band_rel_diff"],
                "c2st": abs(gan["c2st_accuracy"]["mean"] - 0.5) < abs(r["c2st_accuracy"]["mean"] - 0.5),
            }
            for name, r in results.items() if name != "gan"
        }
    return report


QUALITY_JSON = "quality.json"
QUALITY_TIME_PNG = "quality_time.png"
QUALITY_PSD_PNG = "quality_psd.png"


def write_quality(
    folder: str | Path,
    *,
    reference: np.ndarray,
    training: np.ndarray,
    generated: np.ndarray,
    fs: float,
    clip: float,
    seed: int,
    reference_note: str,
    extra: dict[str, np.ndarray] | None = None,
    header: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """quality.json and the two figures in ``folder``; returns the report.

    ``reference``: real epochs the metrics compare against; ``training``: the
    GAN's training epochs (source of the baselines, and a real-vs-real row when
    they differ from the reference); ``generated`` and ``extra`` (e.g. the
    untrained generator) hold at least as many epochs as the candidates use.
    """
    from isatsleepnet.atomic import atomic_write_text
    from isatsleepnet.plots.gan import plot_examples, plot_psd

    folder = Path(folder)
    n = int(min(len(generated), max(len(reference), 100)))
    candidates: dict[str, np.ndarray] = {"gan": generated[:n], **baselines(training, n, seed=seed, clip=clip)}
    for name, x in (extra or {}).items():
        candidates[name] = x[:n]
    if training.shape != reference.shape or not np.array_equal(training, reference):
        candidates["real_training"] = training  # real vs real: the best a generator can hope for
    report = {
        **(header or {}),
        "sampling_rate": fs,
        "reference": reference_note,
        "n_reference": int(len(reference)),
        "n_candidate": n,
        "bands_hz": BANDS,
        **quality_report(reference, candidates, fs, seed=seed),
    }
    atomic_write_text(folder / QUALITY_JSON, json.dumps(report, indent=2) + "\n")
    title = f"{(header or {}).get('channel', '')} {(header or {}).get('stage', '')}".strip()
    plot_examples(reference, generated, fs, folder / QUALITY_TIME_PNG, n=3,
                  title=f"{title}: real (blue) vs Physio-GAN (red), first 10 s")
    freqs, _ = welch_psd(reference[:1], fs)
    psds = {"real": welch_psd(reference, fs)[1], "gan": welch_psd(generated[:n], fs)[1]}
    for name in ("phase_randomised", "coloured_noise"):
        psds[name] = welch_psd(candidates[name], fs)[1]
    diffs = {name: report["metrics"][name]["band_power_rel_diff"] for name in ("gan", "phase_randomised", "coloured_noise")}
    plot_psd(freqs, psds, folder / QUALITY_PSD_PNG, band_diffs=diffs, title=f"{title}: Welch PSD 0-30 Hz (mean, 25-75 %)")
    return report
