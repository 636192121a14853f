"""Physiology-aware transforms: new epochs of a stage made from a real epoch of that stage.

Why: copying minority-stage epochs teaches a network nothing new, while noise
alone can erase the cues that define a stage. Each transform *adds* the cue
that scoring rules name for the stage, with random frequency, timing and
amplitude, then applies mild generic perturbations:

* W: alpha rhythm ≈9.5 Hz (9-10 Hz), waxing and waning, on the EEG channels;
* N1 (used only when no GAN fills N1): a theta burst (4-7 Hz) on the EEG and
  slow rolling eye movements (0.1-0.5 Hz) on the EOG;
* N2: one to three sleep spindles ≈14 Hz (12.5-15 Hz), 0.5-1.5 s, on the EEG;
* N3: delta 0.5-1 Hz (narrow-band noise) on the EEG, a weaker copy on the EOG
  (frontal slow waves reach the EOG electrodes);
* REM: rapid-eye-movement steps on the EOG (fast rise, hold, return; 2-6 per
  epoch) with a weak copy on the EEG, and the EEG damped (× 0.8-0.95);
* then for every stage: scaling by 1 ± 3 %, an offset (± 2 % of the channel's
  standard deviation), 0.3 % Gaussian noise and a mild time-warp (≤ 1 %
  stretch, the same for all channels).

All channels of an epoch change consistently: added rhythms share their
timing and phase across EEG channels, and the time-warp is common. Amplitudes
are relative to each channel's standard deviation, so units and devices do not
matter. Input and output: one epoch ``x`` (n_channels, n_samples) in µV.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from isatsleepnet import STAGES

Transform = Callable[[np.ndarray, float, Sequence[str], np.random.Generator], np.ndarray]


def channel_roles(channels: Sequence[str], roles: Sequence[str] | None = None) -> list[str]:
    """Role of each channel, ``"eog"`` or ``"eeg"``: from the store's meta ``roles`` or the channel names."""
    if roles and len(roles) == len(channels):
        return ["eog" if "eog" in str(r).lower() else "eeg" for r in roles]
    return ["eog" if "eog" in c.lower() or c.upper().startswith(("E1", "E2", "LOC", "ROC")) else "eeg" for c in channels]


def _std(x: np.ndarray) -> np.ndarray:
    return np.maximum(x.std(axis=-1), 1e-6)


def _masks(roles: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    eog = np.array([r == "eog" for r in roles])
    return ~eog, eog


def _burst(n: int, fs: float, centre: float, duration: float) -> np.ndarray:
    """A Hann envelope of ``duration`` s centred at ``centre`` s (zeros elsewhere)."""
    t = np.arange(n) / fs
    u = (t - centre) / duration + 0.5
    return np.where((u >= 0) & (u <= 1), np.sin(np.pi * np.clip(u, 0, 1)) ** 2, 0.0)


def _narrowband(n: int, fs: float, lo: float, hi: float, rng: np.random.Generator) -> np.ndarray:
    """Unit-std Gaussian noise restricted to ``lo``-``hi`` Hz."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1.0 / fs)
    spectrum[(freqs < lo) | (freqs > hi)] = 0.0
    y = np.fft.irfft(spectrum, n=n)
    return y / max(y.std(), 1e-12)


def add_alpha(x: np.ndarray, fs: float, roles: Sequence[str], rng: np.random.Generator) -> np.ndarray:
    """W: a waxing-waning alpha rhythm (9-10 Hz) on the EEG channels."""
    n = x.shape[-1]
    t = np.arange(n) / fs
    f = rng.uniform(9.0, 10.0)
    envelope = 0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(0.05, 0.3) * t + rng.uniform(0, 2 * np.pi))
    wave = envelope * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
    eeg, _ = _masks(roles)
    out = x.copy()
    out[eeg] += rng.uniform(0.3, 0.6) * np.sqrt(2) * _std(x[eeg])[:, None] * wave
    return out


def add_theta_and_slow_eyes(x: np.ndarray, fs: float, roles: Sequence[str], rng: np.random.Generator) -> np.ndarray:
    """N1: a theta burst (4-7 Hz) on the EEG and slow rolling eye movements on the EOG."""
    n = x.shape[-1]
    seconds = n / fs
    t = np.arange(n) / fs
    eeg, eog = _masks(roles)
    out = x.copy()
    duration = rng.uniform(2.0, min(6.0, seconds))
    theta = _burst(n, fs, rng.uniform(duration / 2, seconds - duration / 2), duration) * \
        np.sin(2 * np.pi * rng.uniform(4.0, 7.0) * t + rng.uniform(0, 2 * np.pi))
    out[eeg] += rng.uniform(0.4, 0.8) * _std(x[eeg])[:, None] * theta
    if eog.any():
        rolling = np.sin(2 * np.pi * rng.uniform(0.1, 0.5) * t + rng.uniform(0, 2 * np.pi))
        out[eog] += rng.uniform(0.5, 1.0) * _std(x[eog])[:, None] * rolling
    return out


def add_spindles(x: np.ndarray, fs: float, roles: Sequence[str], rng: np.random.Generator) -> np.ndarray:
    """N2: one to three spindles (12.5-15 Hz, 0.5-1.5 s) at random times, the same on every EEG channel."""
    n = x.shape[-1]
    seconds = n / fs
    t = np.arange(n) / fs
    added = np.zeros(n)
    for _ in range(rng.integers(1, 4)):
        duration = rng.uniform(0.5, 1.5)
        centre = rng.uniform(duration / 2, seconds - duration / 2)
        added += _burst(n, fs, centre, duration) * np.sin(2 * np.pi * rng.uniform(12.5, 15.0) * t + rng.uniform(0, 2 * np.pi))
    eeg, _ = _masks(roles)
    out = x.copy()
    out[eeg] += rng.uniform(0.6, 1.2) * _std(x[eeg])[:, None] * added
    return out


def add_delta(x: np.ndarray, fs: float, roles: Sequence[str], rng: np.random.Generator) -> np.ndarray:
    """N3: delta (0.5-1 Hz narrow-band noise) on the EEG, a weaker copy on the EOG."""
    wave = _narrowband(x.shape[-1], fs, 0.5, 1.0, rng)
    eeg, eog = _masks(roles)
    gain = rng.uniform(0.3, 0.6)
    out = x.copy()
    out[eeg] += gain * _std(x[eeg])[:, None] * wave
    out[eog] += 0.4 * gain * _std(x[eog])[:, None] * wave
    return out


def rem_eye_movements(x: np.ndarray, fs: float, roles: Sequence[str], rng: np.random.Generator) -> np.ndarray:
    """REM: rapid-eye-movement steps on the EOG (weak copy on the EEG); EEG damped by 5-20 %."""
    n = x.shape[-1]
    seconds = n / fs
    t = np.arange(n) / fs
    moves = np.zeros(n)
    for _ in range(rng.integers(2, 7)):
        start = rng.uniform(0.0, seconds - 1.0)
        hold = rng.uniform(0.2, 1.0)
        rise = rng.uniform(0.03, 0.1)
        step = 0.5 * (np.tanh((t - start) / rise) - np.tanh((t - start - hold) / rise))
        moves += rng.choice([-1.0, 1.0]) * rng.uniform(1.0, 2.0) * step
    eeg, eog = _masks(roles)
    out = x.copy()
    out[eeg] *= rng.uniform(0.8, 0.95)
    if eog.any():
        out[eog] += _std(x[eog])[:, None] * moves
    out[eeg] += 0.15 * _std(x[eeg])[:, None] * moves
    return out


STAGE_TRANSFORMS: dict[str, Transform] = {
    "W": add_alpha,
    "N1": add_theta_and_slow_eyes,
    "N2": add_spindles,
    "N3": add_delta,
    "REM": rem_eye_movements,
}


@dataclass(frozen=True)
class GenericPerturbation:
    """The mild perturbations applied after every stage transform."""

    scale: float = 0.03
    offset: float = 0.02
    noise: float = 0.003
    warp: float = 0.01

    def __call__(self, x: np.ndarray, fs: float, rng: np.random.Generator) -> np.ndarray:
        c, n = x.shape
        sd = _std(x)[:, None]
        y = time_warp(x, rng.uniform(-self.warp, self.warp), rng)
        y = y * rng.uniform(1 - self.scale, 1 + self.scale, (c, 1))
        y = y + rng.uniform(-self.offset, self.offset, (c, 1)) * sd
        return y + rng.standard_normal((c, n)) * self.noise * sd


def time_warp(x: np.ndarray, stretch: float, rng: np.random.Generator) -> np.ndarray:
    """Resample every channel at smoothly warped times: the local rate varies by up to ``stretch``.

    The warp is a half-sine speed change over the epoch, so the first and last
    samples stay put and no channel shifts against another.
    """
    n = x.shape[-1]
    if stretch == 0:
        return x.copy()
    u = np.arange(n, dtype=np.float64)
    phase = rng.uniform(0, np.pi)
    shift = stretch * n / np.pi * (np.cos(phase) - np.cos(phase + np.pi * u / (n - 1))) \
        - stretch * n / np.pi * (np.cos(phase) - np.cos(phase + np.pi)) * u / (n - 1)
    positions = np.clip(u + shift, 0, n - 1)
    return np.stack([np.interp(positions, u, ch) for ch in x])


def transform_epoch(
    x: np.ndarray,
    stage: str,
    fs: float,
    roles: Sequence[str],
    rng: np.random.Generator,
    generic: GenericPerturbation = GenericPerturbation(),
) -> np.ndarray:
    """A new epoch of ``stage`` from the real epoch ``x`` (n_channels, n_samples) µV → same shape, float32."""
    if stage not in STAGE_TRANSFORMS:
        raise ValueError(f"no transform for stage {stage!r}; stages are {STAGES}")
    y = STAGE_TRANSFORMS[stage](np.asarray(x, dtype=np.float64), fs, roles, rng)
    return generic(y, fs, rng).astype(np.float32)
