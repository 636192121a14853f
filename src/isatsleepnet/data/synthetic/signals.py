"""Continuous synthetic EEG/EOG (µV) carrying the cues that AASM scoring relies on.

Signals are generated for the whole night at once: each stage has an envelope that is
smoothed across epoch boundaries, so the cues of neighbouring stages blend near a
transition instead of switching at the exact second an epoch starts. Rhythms are
spectrally shaped noise (one inverse FFT per component) and graphoelements
(spindles, K-complexes, eye movements, ...) are Poisson events, so an 8-h night takes
seconds rather than minutes.

Cues per stage: W alpha (posterior), beta, blinks and saccades; N1 theta, slow rolling
eye movements, vertex sharp waves; N2 spindles and K-complexes; N3 high-amplitude
0.5-2 Hz delta over 25-60 % of the epoch; REM low-amplitude mixed EEG, sawtooth waves
and rapid eye movements.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
import scipy.fft as sfft
from scipy.ndimage import gaussian_filter1d, uniform_filter1d
from scipy.signal import butter, lfilter, sawtooth
from scipy.special import expit, ndtr

from isatsleepnet.data.signal import resample
from isatsleepnet.data.synthetic.hypnogram import MOVEMENT, deep_n3_mask

ENV_FS = 2.0
"""Hz: grid of the stage envelopes, gains and event rates (interpolated to each signal)."""
SMOOTH_SECONDS = 20.0
"""Width of the window that blends stage envelopes across epoch boundaries."""
_N_KINDS = 6  # W, N1, N2, N3, REM, movement


def _table(w: float, n1: float, n2: float, n3: float, rem: float, mt: float = 0.0) -> np.ndarray:
    return np.array([w, n1, n2, n3, rem, mt], dtype=float)


# µV rms of each EEG component per stage (frontal channel, before the subject's scale).
_PINK = _table(6, 8, 10, 10, 7, 10)
_BROWN = _table(5, 8, 11, 13, 6, 90)
_THETA = _table(2, 10, 5, 4, 7)
_BETA = _table(3.5, 2, 1.5, 1, 2.5, 5)
_MUSCLE = _table(4, 2.5, 1.5, 1.2, 0.7, 25)
_ALPHA = _table(16, 3, 1, 1, 2.5)
# Slow oscillation: peak amplitude (µV) while present, and fraction of time present.
_DELTA_PEAK = _table(0, 35, 45, 62, 0)
_DELTA_DUTY_MAX = _table(0, 0.05, 0.15, 0, 0)  # drawn uniformly below this; N3: 30-62 %
# Events per minute.
_SPINDLES = _table(0, 0.3, 6.0, 2.0, 0)
_K_COMPLEXES = _table(0, 0.1, 1.5, 0.5, 0)
_VERTEX = _table(0, 3.0, 0.4, 0, 0)
_SAWTOOTH = _table(0, 0, 0, 0, 1.5)
_BLINKS = _table(14, 1.0, 0, 0, 0)
_SACCADES = _table(18, 0.5, 0, 0, 0)
_REM_BURSTS = _table(0, 0, 0, 0, 3.0)
_ROLLING = _table(10, 45, 6, 0, 6)  # µV rms of slow rolling eye movements


@dataclass(frozen=True)
class SubjectProfile:
    """Per-subject physiology, so that a model has to generalise across people."""

    amplitude: float = 1.0
    """Overall EEG gain (skull thickness, electrode impedance)."""
    alpha_freq: float = 10.0
    alpha_amp: float = 1.0
    delta_amp: float = 1.0
    spindle_freq: float = 13.0
    noise: float = 2.0
    """µV rms of white measurement noise."""
    eog_amp: float = 1.0
    n3_propensity: float = 1.0
    fragmentation: float = 1.0

    @classmethod
    def draw(cls, rng: np.random.Generator) -> SubjectProfile:
        """A random subject."""
        return cls(
            amplitude=rng.uniform(0.8, 1.25),
            alpha_freq=rng.uniform(8.5, 11.5),
            alpha_amp=rng.uniform(0.7, 1.4),
            delta_amp=rng.uniform(0.85, 1.3),
            spindle_freq=rng.uniform(12.0, 14.5),
            noise=rng.uniform(0.5, 2.0),
            eog_amp=rng.uniform(0.8, 1.25),
            n3_propensity=rng.uniform(0.6, 1.4),
            fragmentation=rng.uniform(0.6, 1.5),
        )

    def for_night(self, rng: np.random.Generator) -> SubjectProfile:
        """The same subject on another night: electrode placement and state vary a little."""
        return replace(
            self,
            amplitude=self.amplitude * rng.uniform(0.95, 1.05),
            alpha_freq=float(np.clip(self.alpha_freq + rng.normal(0, 0.15), 8.3, 11.7)),
            alpha_amp=self.alpha_amp * rng.uniform(0.9, 1.1),
            delta_amp=self.delta_amp * rng.uniform(0.95, 1.05),
            noise=self.noise * rng.uniform(0.9, 1.1),
        )


# ---------------------------------------------------------------- building blocks


class _Grid:
    """Stage envelopes on the ENV_FS grid, and interpolation to a signal's sample times."""

    def __init__(self, stages: np.ndarray, epoch_seconds: float) -> None:
        stages = np.asarray(stages)
        per_epoch = int(round(epoch_seconds * ENV_FS))
        kind = np.where(stages == MOVEMENT, 5, stages).astype(int)
        self.kind = kind
        onehot = np.zeros((_N_KINDS, stages.size))
        onehot[kind, np.arange(stages.size)] = 1.0
        self.n = stages.size * per_epoch
        self.seconds = stages.size * epoch_seconds
        self.per_epoch = per_epoch
        width = max(1, int(SMOOTH_SECONDS * ENV_FS))
        self.env = uniform_filter1d(np.repeat(onehot, per_epoch, axis=1), width, axis=1, mode="nearest")
        self.stages = stages

    def mix(self, table: np.ndarray) -> np.ndarray:
        """Per-stage values blended by the envelopes."""
        return table @ self.env

    def slow(self, rng: np.random.Generator, seconds: float) -> np.ndarray:
        """Unit-variance Gaussian process correlated over ``seconds`` (waxing and waning)."""
        sigma = seconds * ENV_FS
        pad = int(8 * sigma) + 1  # long enough to normalise even a one-epoch recording
        x = gaussian_filter1d(rng.standard_normal(self.n + 2 * pad), sigma)
        return x[pad:pad + self.n] / (x.std() + 1e-12)

    def to(self, curve: np.ndarray, n: int, fs: float) -> np.ndarray:
        """Interpolate a grid curve to ``n`` samples at ``fs``."""
        return np.interp(np.arange(n) / fs, np.arange(self.n) / ENV_FS, curve)

    def events(self, rate_per_min: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Event times (s) of an inhomogeneous Poisson process."""
        counts = rng.poisson(np.maximum(rate_per_min, 0.0) / 60.0 / ENV_FS)
        starts = np.repeat(np.arange(self.n) / ENV_FS, counts)
        return np.sort(starts + rng.uniform(0, 1 / ENV_FS, starts.size))


class _Noise:
    """Spectrally shaped Gaussian noise of one length and rate (one inverse FFT each)."""

    def __init__(self, n: int, fs: float, rng: np.random.Generator) -> None:
        self.n, self.fs, self.rng = n, fs, rng
        self.m = sfft.next_fast_len(n, real=True)
        self.f = np.fft.rfftfreq(self.m, 1.0 / fs)

    def shaped(self, gain: np.ndarray) -> np.ndarray:
        spec = self.rng.standard_normal(self.f.size) + 1j * self.rng.standard_normal(self.f.size)
        x = sfft.irfft(spec * gain, n=self.m, workers=-1)[: self.n]
        return x / (x.std() + 1e-12)

    def band(self, lo: float, hi: float, edge: float = 0.3) -> np.ndarray:
        f = self.f
        return self.shaped(expit((f - lo) / edge) * expit((hi - f) / edge))

    def peak(self, f0: float, width: float) -> np.ndarray:
        return self.shaped(np.exp(-0.5 * ((self.f - f0) / width) ** 2))

    def colored(self, exponent: float, lo: float = 0.3, hi: float = 40.0) -> np.ndarray:
        f = self.f
        gain = np.maximum(f, lo) ** (-exponent / 2) * expit((f - lo) / 0.1)
        return self.shaped(gain * expit((min(hi, 0.45 * self.fs) - f) / 2.0))


def _render(n: int, fs: float, times: np.ndarray, seconds: float,
            wave: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Sum of event waveforms; ``wave`` maps a (events, samples) time matrix to µV."""
    out = np.zeros(n)
    length = int(round(seconds * fs))
    start = np.round(times * fs).astype(int)
    if start.size == 0:
        return out
    idx = start[:, None] + np.arange(length)[None, :]
    values = wave(np.arange(length)[None, :] / fs)
    keep = idx < n
    np.add.at(out, idx[keep], np.broadcast_to(values, idx.shape)[keep])
    return out


def _gauss(t: np.ndarray, mu: float | np.ndarray, sigma: float | np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * ((t - mu) / sigma) ** 2)


def _resample(x: np.ndarray, fs_from: float, fs_to: float, n_to: int) -> np.ndarray:
    if fs_from == fs_to:
        return x[:n_to]
    y = resample(x, fs_from, fs_to)
    return np.pad(y, (0, max(0, n_to - y.size)), mode="edge")[:n_to]


# ---------------------------------------------------------------- EEG and EOG


def simulate_channels(
    stages: np.ndarray,
    epoch_seconds: float,
    rates: dict[str, float],
    profile: SubjectProfile,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Continuous signals (µV) for the roles in ``rates`` (role -> sampling rate, Hz).

    Roles: ``eeg`` (frontal/central, like Fpz-Cz or C4-A1), ``eeg2`` (posterior, like
    Pz-Oz or C3-A2), ``eog`` (horizontal or left EOG) and optionally ``eog2`` (right EOG:
    eye movements mirrored, blinks and EEG pick-up in phase). Each signal has exactly
    ``len(stages) * epoch_seconds * rate`` samples. Movement epochs (-1) get artefacts.
    """
    unknown = set(rates) - {"eeg", "eeg2", "eog", "eog2"}
    if unknown:
        raise ValueError(f"unknown signal roles {sorted(unknown)}")
    grid = _Grid(stages, epoch_seconds)
    fs = float(max(rates.values()))
    n = int(round(grid.seconds * fs))
    noise = _Noise(n, fs, rng)
    scale = profile.amplitude

    def gain(table: np.ndarray, jitter: float = 0.0, seconds: float = 4.0) -> np.ndarray:
        curve = grid.mix(table)
        if jitter:
            curve = curve * np.exp(jitter * grid.slow(rng, seconds) - jitter**2 / 2)
        return grid.to(curve, n, fs)

    eeg = np.zeros(n)
    eeg2 = np.zeros(n)
    # Broadband background: independent per channel, steeper (browner) in deep sleep.
    for x, g in ((eeg, 1.0), (eeg2, 0.8)):
        x += g * scale * gain(_PINK) * noise.colored(1.0)
        x += g * scale * gain(_BROWN) * noise.colored(2.0)
        x += g * scale * gain(_BETA, 0.3) * noise.band(15.0, 25.0, 1.0)
        x += g * gain(_MUSCLE * profile.noise / 2.0, 0.4) * noise.band(20.0, 0.45 * fs, 2.0)

    # Alpha: eyes-closed wake, posterior; suppressed while the eyes are open.
    eyes_open = ndtr(1.5 * grid.slow(rng, 15.0) - 0.8)  # in bed, eyes mostly closed
    alpha_curve = grid.mix(_ALPHA * profile.alpha_amp) * (1.0 - 0.75 * eyes_open * grid.env[0])
    alpha_curve *= np.exp(0.35 * grid.slow(rng, 2.0))
    alpha = grid.to(alpha_curve, n, fs) * noise.peak(profile.alpha_freq, 0.45) * scale
    eeg2 += alpha
    eeg += 0.35 * alpha

    theta = scale * gain(_THETA, 0.3) * noise.band(4.0, 7.0, 0.4)
    eeg += theta
    eeg2 += 0.8 * theta

    delta = _slow_waves(grid, n, fs, profile, rng)
    eeg += delta
    eeg2 += 0.6 * delta

    graphs = _graphoelements(grid, n, fs, profile, rng)
    eeg += graphs["frontal"]
    eeg2 += graphs["posterior"]

    for x in (eeg, eeg2):
        x += profile.noise * rng.standard_normal(n)

    eye, blinks, background = _eye_signals(grid, n, fs, profile, eyes_open, rng, noise)
    common = blinks + background + 0.35 * eeg  # frontal EEG (slow waves, K-complexes) reaches the EOG
    eeg += 0.5 * blinks + 0.12 * eye  # and eye artefacts reach the frontal EEG

    out: dict[str, np.ndarray] = {}
    n_role = {role: int(round(grid.seconds * r)) for role, r in rates.items()}
    if "eog" in rates:
        x = eye + common + profile.noise * rng.standard_normal(n)
        out["eog"] = _resample(x, fs, rates["eog"], n_role["eog"])
    if "eog2" in rates:
        x = -eye + common + profile.noise * rng.standard_normal(n)
        out["eog2"] = _resample(x, fs, rates["eog2"], n_role["eog2"])
    if "eeg" in rates:
        out["eeg"] = _resample(eeg, fs, rates["eeg"], n_role["eeg"])
    if "eeg2" in rates:
        out["eeg2"] = _resample(eeg2, fs, rates["eeg2"], n_role["eeg2"])
    return {role: out[role] for role in rates}


def _slow_waves(grid: _Grid, n: int, fs: float, profile: SubjectProfile, rng: np.random.Generator) -> np.ndarray:
    """0.5-2 Hz waves of constant-ish amplitude, present over a drawn fraction of each epoch.

    A constant-envelope oscillator (rather than filtered noise) guarantees the
    >75 µV peak-to-peak waves that define N3 whenever the gate is open.
    """
    stages = grid.stages
    duty = rng.uniform(0.0, 1.0, stages.size) * _DELTA_DUTY_MAX[grid.kind]
    # R&K stage 4 (middle of long N3 runs) has the most delta: 50-62 %, stage 3 30-45 %.
    n3_duty = np.where(deep_n3_mask(stages), rng.uniform(0.5, 0.62, stages.size), rng.uniform(0.3, 0.45, stages.size))
    duty = np.where(stages == 3, n3_duty, duty)
    # Open the gate on exactly that fraction of each epoch (where a slow random process is
    # highest): N3 is defined per epoch, so every N3 epoch must really meet the criterion.
    level = grid.slow(rng, 0.7).reshape(stages.size, grid.per_epoch)
    ranks = level.argsort(axis=1).argsort(axis=1)
    gate = (ranks >= np.round((1.0 - duty) * grid.per_epoch)[:, None]).ravel().astype(float)
    amp = grid.mix(_DELTA_PEAK) * profile.delta_amp * profile.amplitude * gate
    amp *= np.exp(0.12 * grid.slow(rng, 3.0))
    freq = np.exp(rng.uniform(np.log(0.7), np.log(1.4)) + 0.35 * grid.slow(rng, 1.5))
    freq = np.clip(freq, 0.5, 2.0)
    phase = 2 * np.pi * np.cumsum(grid.to(freq, n, fs)) / fs
    # A small second harmonic makes the waves asymmetric like real slow oscillations.
    return grid.to(amp, n, fs) * (np.cos(phase) + 0.15 * np.cos(2 * phase + 0.7))


def _graphoelements(grid: _Grid, n: int, fs: float, profile: SubjectProfile,
                    rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Spindles, K-complexes, vertex sharp waves and sawtooth waves."""
    scale = profile.amplitude
    kc_times = grid.events(grid.mix(_K_COMPLEXES), rng)
    follow = kc_times[rng.random(kc_times.size) < 0.4] + 0.5  # spindles often ride on K-complexes
    sp_times = np.sort(np.concatenate([grid.events(grid.mix(_SPINDLES), rng), follow]))
    k = sp_times.size
    dur = rng.uniform(0.5, 2.0, (k, 1))
    f = np.clip(profile.spindle_freq + rng.normal(0, 0.5, (k, 1)), 11.0, 16.0)
    amp = rng.uniform(15, 35, (k, 1)) * scale
    ph = rng.uniform(0, 2 * np.pi, (k, 1))
    spindles = _render(n, fs, sp_times, 2.0, lambda t: amp * np.where(
        t < dur, np.sin(np.pi * t / dur) ** 2, 0.0) * np.sin(2 * np.pi * f * t + ph))

    k = kc_times.size
    a = rng.uniform(60, 120, (k, 1)) * scale
    kcs = _render(n, fs, kc_times, 1.5, lambda t: a * (
        0.15 * _gauss(t, 0.15, 0.05) - _gauss(t, 0.45, 0.09) + 0.55 * _gauss(t, 0.85, 0.17)))

    v_times = grid.events(grid.mix(_VERTEX), rng)
    va = rng.uniform(40, 80, (v_times.size, 1)) * scale
    vertex = _render(n, fs, v_times, 0.6, lambda t: va * (0.3 * _gauss(t, 0.33, 0.06) - _gauss(t, 0.18, 0.035)))

    s_times = grid.events(grid.mix(_SAWTOOTH), rng)
    k = s_times.size
    sdur = rng.uniform(1.0, 3.0, (k, 1))
    sf = rng.uniform(2.0, 5.0, (k, 1))
    sa = rng.uniform(20, 40, (k, 1)) * scale
    saw = _render(n, fs, s_times, 3.0, lambda t: sa * np.where(
        t < sdur, np.sqrt(np.abs(np.sin(np.pi * t / sdur))), 0.0) * sawtooth(2 * np.pi * sf * t, 0.25))

    return {
        "frontal": spindles + kcs - vertex + saw,
        "posterior": 0.7 * spindles + 0.5 * kcs - 0.4 * vertex + 0.6 * saw,
    }


def _eye_signals(grid: _Grid, n: int, fs: float, profile: SubjectProfile, eyes_open: np.ndarray,
                 rng: np.random.Generator, noise: _Noise) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Horizontal eye movements (opposite on left/right EOG), blinks and EOG background."""
    g = profile.eog_amp
    wake = grid.env[0]
    open_rate = 0.3 + 1.4 * eyes_open * wake + (1.0 - wake)  # blinks/saccades cluster with open eyes

    # Saccades (wake) and rapid eye movements (REM bursts of 2-6), as steps in eye position.
    sac = grid.events(grid.mix(_SACCADES) * open_rate, rng)
    rem_density = np.exp(0.8 * grid.slow(rng, 20.0) - 0.32)  # phasic vs tonic REM
    bursts = grid.events(grid.mix(_REM_BURSTS) * rem_density, rng)
    per_burst = rng.integers(2, 7, bursts.size)
    gaps = np.cumsum(rng.uniform(0.25, 0.9, per_burst.sum()))
    first = np.repeat(np.cumsum(per_burst) - per_burst, per_burst)
    rems = np.repeat(bursts, per_burst) + gaps - gaps[first]
    times = np.concatenate([sac, rems])
    targets = np.concatenate([rng.normal(0, 70, sac.size), rng.normal(0, 130, rems.size)])
    order = np.argsort(times)
    times, targets = times[order], targets[order]
    steps = np.diff(np.concatenate([[0.0], targets]))
    position = np.zeros(n)
    idx = np.round(times * fs).astype(int)
    keep = idx < n
    np.add.at(position, idx[keep], steps[keep])
    position = np.cumsum(position)
    width = max(1, int(0.04 * fs))
    position = uniform_filter1d(uniform_filter1d(position, width), width)  # ~80 ms saccade rise

    b, a = butter(1, 0.3, "highpass", fs=fs)  # AC coupling: deflections decay back within ~1 s
    rolling = grid.to(grid.mix(_ROLLING) * np.exp(0.3 * grid.slow(rng, 10.0)), n, fs) * noise.band(0.15, 0.5, 0.05)
    eye = g * (lfilter(b, a, position) + rolling)

    blink_times = grid.events(grid.mix(_BLINKS) * open_rate, rng)
    ba = rng.uniform(60, 180, (blink_times.size, 1)) * g
    blinks = _render(n, fs, blink_times, 0.6, lambda t: ba * np.where(
        t < 0.12, _gauss(t, 0.12, 0.04), _gauss(t, 0.12, 0.09)))
    background = grid.to(grid.mix(_table(6, 6, 5, 5, 5, 150)), n, fs) * noise.colored(1.5)
    return eye, blinks, background
