"""Signal conditioning: the project's one resampler, and optional band-pass and notch filters.

Why exact rates: an EDF channel's rate is samples per data record / record
duration, an exact rational number (3001 samples per 30 s, 17361 per 100 s).
Approximating the ratio to the model's rate makes a 24-h night drift by
seconds, until epochs hold samples of their neighbours. Here every rate is a
:class:`~fractions.Fraction`, polyphase filtering uses the exact up/down
factors, and a span is read from an input sample whose time lies on the
output grid, so output sample ``k`` is at time ``k / fs_out`` exactly. Only
when the exact factors are huge (over :data:`MAX_POLYPHASE_FACTOR`, which no
real recorder produces) is the signal low-passed and interpolated at the exact
output times instead.

scipy.signal is imported on first use: it takes ~0.4 s, and staging a
recording already at the model's rate needs none of it.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from fractions import Fraction

import numpy as np

Rate = Fraction | float | int
MAX_POLYPHASE_FACTOR = 200_000
"""Largest up or down factor filtered by polyphase (a filter of 20 x this many taps, 32 MB at most)."""
SETTLE_SECONDS = 2.0
"""Extra input read on each side of a span, so that the resampling filter's edges settle outside it."""


def exact(value: Rate | str) -> Fraction:
    """A number as an exact fraction; floats are read as the decimal they print as (100.033 -> 100033/1000)."""
    if isinstance(value, Fraction):
        return value
    if isinstance(value, (int, np.integer)):
        return Fraction(int(value))
    if isinstance(value, str):
        return Fraction(value.strip())
    if not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {value}")
    return Fraction(repr(float(value)))


def exact_rate(value: Rate | str) -> Fraction:
    """A sampling rate as an exact, positive fraction."""
    rate = exact(value)
    if rate <= 0:
        raise ValueError(f"a sampling rate must be positive, got {value}")
    return rate


def factors(fs_in: Rate, fs_out: Rate) -> tuple[int, int]:
    """Exact polyphase factors (up, down) with fs_out / fs_in = up / down, in lowest terms."""
    ratio = exact_rate(fs_out) / exact_rate(fs_in)
    return ratio.numerator, ratio.denominator


@functools.lru_cache(maxsize=8)
def _polyphase_filter(up: int, down: int) -> np.ndarray:
    """scipy.signal.resample_poly's own default filter, designed once per factor pair."""
    from scipy import signal as sps

    max_rate = max(up, down)
    half_len = 10 * max_rate
    h = sps.firwin(2 * half_len + 1, 1.0 / max_rate, window=("kaiser", 5.0))
    return h  # resample_poly scales it by up itself


def resample(x: np.ndarray, fs_in: Rate, fs_out: Rate) -> np.ndarray:
    """Anti-aliased resampling of a whole signal: ``x[0]`` and the output's sample 0 are at the same time.

    Parameters
    ----------
    x : numpy.ndarray
        One channel, sample ``j`` at time ``j / fs_in``.
    fs_in, fs_out : Fraction or float
        Rates in Hz; floats are taken as the decimal they print as.

    Returns
    -------
    numpy.ndarray
        ``ceil(len(x) * fs_out / fs_in)`` samples, sample ``k`` at time ``k / fs_out``.

    Examples
    --------
    >>> import numpy as np
    >>> from fractions import Fraction
    >>> y = resample(np.ones(3001 * 4), Fraction(3001, 30), 100)
    >>> len(y)
    12000
    """
    x = np.asarray(x, dtype=np.float64)
    up, down = factors(fs_in, fs_out)
    if up == down:
        return x
    if max(up, down) <= MAX_POLYPHASE_FACTOR:
        from scipy import signal as sps

        return sps.resample_poly(x, up, down, window=_polyphase_filter(up, down))
    n_out = math.ceil(len(x) * up / down)
    return _interpolate(x, exact_rate(fs_in), exact_rate(fs_out), 0,
                       np.arange(n_out, dtype=np.float64) * float(Fraction(down, up)))


def _interpolate(x: np.ndarray, fs_in: Fraction, fs_out: Fraction, j0: int, positions: np.ndarray) -> np.ndarray:
    """Samples of ``x`` (its sample 0 is input sample ``j0``) at input positions ``positions``.

    The fallback for huge exact factors: low-pass below the lower Nyquist
    frequency, raise the rate by a small integer factor so that the band is
    oversampled at least 8 times, then interpolate cubically at exact times.
    """
    from scipy import signal as sps
    from scipy.interpolate import CubicSpline

    low = min(fs_in, fs_out)
    if fs_out < fs_in:
        sos = sps.butter(8, 0.45 * float(fs_out), btype="lowpass", fs=float(fs_in), output="sos")
        x = sps.sosfiltfilt(sos, x)
    oversample = max(1, math.ceil(8 * float(low) / float(fs_in)))
    if oversample > 1:
        x = sps.resample_poly(x, oversample, 1)
    grid = (np.arange(len(x), dtype=np.float64) / oversample)
    spline = CubicSpline(grid, x, extrapolate=False)
    out = spline(positions - j0)
    return np.nan_to_num(out, nan=0.0)


def resample_span(
    read: Callable[[int, int], np.ndarray],
    n_in: int,
    fs_in: Rate,
    fs_out: Rate,
    start: Fraction | float,
    n_out: int,
    *,
    t0: Fraction | float = 0,
) -> np.ndarray:
    """``n_out`` output samples at times ``start + k / fs_out`` of a channel read piece by piece.

    Parameters
    ----------
    read : callable
        ``read(j0, j1)`` returns input samples ``j0 <= j < j1`` (0 <= j0 <= j1 <= n_in).
    n_in : int
        Input samples available.
    fs_in, fs_out : Fraction or float
        Exact rates in Hz.
    start : Fraction or float
        Time of the first output sample, seconds.
    n_out : int
        Output samples wanted.
    t0 : Fraction or float
        Time of input sample 0 (an EDF+D segment's start), seconds.

    Returns
    -------
    numpy.ndarray
        float64, ``n_out`` samples; shorter when the input ends first (the caller decides).

    Only the input the span needs is read (plus :data:`SETTLE_SECONDS` each
    side); the result equals the same samples of :func:`resample` applied to
    the whole channel, up to the filter's settling at the span's edges.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(1000.0)
    >>> y = resample_span(lambda a, b: x[a:b], len(x), 100, 100, 2.5, 10)
    >>> y[:3]
    array([250., 251., 252.])
    """
    fs_in, fs_out = exact_rate(fs_in), exact_rate(fs_out)
    start, t0 = exact(start), exact(t0)
    up, down = factors(fs_in, fs_out)
    # at least the polyphase filter's half length, so that a span equals the whole signal's resampling
    settle = max(Fraction(SETTLE_SECONDS), Fraction(10 * max(up, down) + 1, up) / fs_in + 2 / fs_in)
    first_in = (start - t0) * fs_in  # input position of the first output sample (may be fractional)
    last_in = (start + Fraction(n_out) / fs_out - t0) * fs_in
    want_lo = max(0, math.floor(first_in - settle * fs_in))
    want_hi = min(n_in, math.ceil(last_in + settle * fs_in) + 1)
    if up == down and first_in.denominator == 1:  # same rate, on the grid: a plain slice
        j = int(first_in)
        return np.asarray(read(j, min(n_in, j + n_out)), dtype=np.float64)
    # polyphase output i of x[j0:] lies at t0 + j0 / fs_in + i / fs_out: choose j0 so that start is one of them
    c = (t0 - start) * fs_out * down  # need j0 * up + c = 0 (mod down)
    if max(up, down) <= MAX_POLYPHASE_FACTOR and c.denominator == 1:
        residue = (-int(c) * pow(up, -1, down)) % down if down > 1 else 0
        j0 = want_lo - ((want_lo - residue) % down)  # the aligned input sample at or before want_lo
        pad = max(0, -j0)  # before the data: zeros, as resample_poly pads at a signal's start
        x = np.asarray(read(j0 + pad, want_hi), dtype=np.float64)
        if pad:
            x = np.concatenate([np.zeros(pad), x])
        y = resample(x, fs_in, fs_out)
        i0 = (start - t0 - Fraction(j0) / fs_in) * fs_out
        assert i0.denominator == 1 and i0 >= 0, (i0, j0)
        i0 = int(i0)
        valid = math.ceil((Fraction(want_hi) / fs_in + t0 - start) * fs_out)
        # output samples past the input's end would be the filter's fade-out: never return them
        return y[i0: i0 + min(n_out, max(valid, 0))]
    x = np.asarray(read(want_lo, want_hi), dtype=np.float64)
    positions = np.array([float(first_in + Fraction(k) * fs_in / fs_out) for k in range(n_out)]) if n_out < 64 else \
        float(first_in) + np.arange(n_out, dtype=np.float64) * float(fs_in / fs_out)
    keep = positions <= want_hi - 1 + 1e-9
    return _interpolate(x, fs_in, fs_out, want_lo, positions[keep])


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
