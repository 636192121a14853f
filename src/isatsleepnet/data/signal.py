"""Signal conditioning: resampling to one rate, optional band-pass and notch filters.

scipy.signal is imported on first use: it takes ~0.4 s, and staging a
recording already at the model's rate needs none of it.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np


def resample(x: np.ndarray, fs_in: float, fs_out: float) -> np.ndarray:
    """Polyphase resampling (anti-aliased) by the rational ratio fs_out / fs_in."""
    if abs(fs_in - fs_out) < 1e-9:
        return x
    from scipy import signal as sps

    ratio = Fraction(fs_out / fs_in).limit_denominator(1000)
    return sps.resample_poly(x, ratio.numerator, ratio.denominator)


def bandpass(x: np.ndarray, fs: float, low: float, high: float, order: int = 4) -> np.ndarray:
    """Zero-phase Butterworth band-pass (a high-pass when ``low`` is 0)."""
    from scipy import signal as sps

    if low <= 0:
        sos = sps.butter(order, high, btype="lowpass", fs=fs, output="sos")
    else:
        sos = sps.butter(order, [low, high], btype="bandpass", fs=fs, output="sos")
    return sps.sosfiltfilt(sos, x)


def notch(x: np.ndarray, fs: float, freq: float, quality: float = 30.0) -> np.ndarray:
    from scipy import signal as sps

    b, a = sps.iirnotch(freq, quality, fs=fs)
    return sps.filtfilt(b, a, x)
