"""The other PSG channels of a synthetic night: chin EMG, respiration, temperature, heart rate, ECG, SpO2.

They fill the montage of a Sleep-EDF or SHHS layout so that `prepare` meets the
channels a real file has; staging reads only the EEG and EOG of
:mod:`isatsleepnet.data.synthetic.signals`.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.signal import fftconvolve

from isatsleepnet.data.synthetic.signals import _gauss, _Grid, _Noise, _table


def chin_emg(stages: np.ndarray, epoch_seconds: float, fs: float, rng: np.random.Generator) -> np.ndarray:
    """Submental EMG (µV): tonic in wake, lower in NREM, atonic with twitches in REM.

    At fs <= 2 Hz this is an amplitude envelope, as in the 1-Hz Sleep-EDF channel.
    """
    grid = _Grid(stages, epoch_seconds)
    level = grid.mix(_table(12, 8, 6, 5, 2.0, 40)) * np.exp(0.25 * grid.slow(rng, 5.0))
    twitch = (rng.random(grid.n) < 0.05) * grid.env[4] * rng.uniform(5, 15, grid.n)
    n = int(round(grid.seconds * fs))
    envelope = grid.to(level + twitch, n, fs)
    if fs <= 2.0:
        return envelope
    return envelope * _Noise(n, fs, rng).band(10.0, 0.45 * fs, 2.0)


def respiration(seconds: float, fs: float, rng: np.random.Generator) -> np.ndarray:
    """Oro-nasal airflow (arbitrary units): ~15 breaths per minute with drifting rate and depth."""
    n = int(round(seconds * fs))
    t = np.arange(n) / fs
    rate = 0.25 + 0.03 * np.sin(2 * np.pi * t / rng.uniform(200, 600)) + rng.normal(0, 0.005, n)
    depth = 200 * (1 + 0.2 * np.sin(2 * np.pi * t / rng.uniform(60, 180)))
    return depth * np.sin(2 * np.pi * np.cumsum(rate) / fs) + rng.normal(0, 10, n)


def temperature(seconds: float, fs: float, rng: np.random.Generator) -> np.ndarray:
    """Rectal temperature (°C) with the nocturnal dip."""
    n = int(round(seconds * fs))
    hours = np.arange(n) / fs / 3600.0
    base = rng.uniform(36.8, 37.2)
    return base - 0.5 * np.sin(np.pi * np.clip(hours / 9.0, 0, 1)) + rng.normal(0, 0.01, n)


def heart_rate(stages: np.ndarray, epoch_seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Heart rate (bpm) per second: slowest in N3, variable in REM and wake."""
    grid = _Grid(stages, epoch_seconds)
    base = rng.uniform(55, 75)
    curve = base + grid.mix(_table(8, 4, 0, -3, 5, 12)) + 2.5 * grid.slow(rng, 20.0)
    return grid.to(curve, int(round(grid.seconds)), 1.0)


def ecg(hr_per_second: np.ndarray, fs: float, rng: np.random.Generator) -> np.ndarray:
    """ECG (mV) with P-QRS-T beats at the given heart rate."""
    n = int(round(hr_per_second.size * fs))
    hr = np.interp(np.arange(n) / fs, np.arange(hr_per_second.size), hr_per_second)
    beat_phase = np.cumsum(hr / 60.0) / fs
    beats = np.flatnonzero(np.diff(np.floor(beat_phase)) > 0)
    impulses = np.zeros(n)
    impulses[beats] = 1.0
    t = np.arange(int(0.8 * fs)) / fs
    template = (0.12 * _gauss(t, 0.1, 0.025) - 0.1 * _gauss(t, 0.22, 0.008) + 1.0 * _gauss(t, 0.24, 0.01)
                - 0.2 * _gauss(t, 0.26, 0.01) + 0.3 * _gauss(t, 0.5, 0.05))
    signal = fftconvolve(impulses, template)[:n]
    return signal + 0.02 * rng.standard_normal(n) + 0.05 * np.sin(2 * np.pi * 0.2 * np.arange(n) / fs)


def spo2(seconds: float, desaturations: list[tuple[float, float, float]], rng: np.random.Generator,
         baseline: float = 96.0) -> np.ndarray:
    """Oxygen saturation (%) per second with dips for ``(start, duration, nadir)`` events."""
    n = int(round(seconds))
    t = np.arange(n, dtype=float)
    drift = gaussian_filter1d(rng.standard_normal(n), 30.0, mode="wrap")
    out = baseline + 0.4 * drift / (drift.std() + 1e-12)
    for start, duration, nadir in desaturations:
        # Falls to the nadir over most of the event, recovers within ~10 s after it.
        dip = np.interp(t, [start, start + 0.7 * duration, start + duration + 10.0], [0.0, 1.0, 0.0], left=0, right=0)
        out -= (baseline - nadir) * dip
    return np.clip(np.round(out, 1), 50.0, 100.0)
