"""What a model's training inputs looked like, and whether a new recording looks alike.

A network outputs five stage probabilities for any input, including an amplifier's
noise, a recording in the wrong unit or EEG unlike anything it was trained on; the
numbers then look as confident as ever. This module keeps a compact description of
the training epochs (:class:`InputProfile`, a few quantiles of a few features per
channel, stored in the model file) so that staging can say when a recording lies
outside it (:func:`assess`).

Features, per epoch and channel, on µV signals: the log10 standard deviation
(amplitude) and the log10 absolute power (µV²) in the delta (0.5-4 Hz), theta
(4-8), alpha (8-12), sigma (12-16) and beta (16-30 Hz) bands, from a Welch
periodogram with 4-s Hann segments. Absolute rather than relative powers: a
recording in the wrong unit or with a different amplifier gain is foreign input
too, even though the network's per-epoch z-score hides it from the network.

The rule (:func:`assess`): the *range* of a channel feature is the training's
central 99 % (quantiles 0.5 % to 99.5 %) widened on each side by
:data:`MARGIN` x its interquartile range, which absorbs the sampling noise of the
extreme quantiles of a small training set and the ordinary differences between
one person and the next. A recording is flagged when, for any channel feature,
more than :data:`THRESHOLD` of its epochs fall outside that range.

Calibrated with ``benchmarks/bench_input_check.py`` (10 synthetic cohorts, profiles
of K subjects, every other subject's whole night assessed): no false alarm in 170
held-out nights for K >= 3 (5 in 80 for K = 2), while the real night SC4001 warns
against all 40 profiles (52-59 % of its epochs outside, for a 25 % threshold). On
1-h nights (7 seeds), a margin of 0.5 IQR gave 7-14 % false alarms for K = 2 to 4,
1 IQR 0-4 %, while SC4001 kept 46-55 % of its epochs outside.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from isatsleepnet.errors import IsatSleepNetError

BANDS: dict[str, tuple[float, float]] = {
    "delta": (0.5, 4.0), "theta": (4.0, 8.0), "alpha": (8.0, 12.0), "sigma": (12.0, 16.0), "beta": (16.0, 30.0),
}
FEATURES: tuple[str, ...] = ("amplitude", *BANDS)
QUANTILES: tuple[float, ...] = (0.005, 0.025, 0.25, 0.5, 0.75, 0.975, 0.995)
MARGIN = 1.0
"""Range widening on each side, in interquartile ranges of the training feature."""
THRESHOLD = 0.25
"""Fraction of a recording's epochs outside the range, for one channel feature, that flags it."""
MAX_EPOCHS = 20000
"""Epochs sampled for a profile in all (memory and time stay flat however many nights)."""
PER_RECORDING = (8, 200)
"""Fewest and most epochs sampled from one recording."""
ASSESSED_EPOCHS = 600
"""A recording is assessed on at most this many of its epochs, spread evenly (a 22-h night: ~0.5 s)."""
SHOWN = 3
"""Channel features named in a warning, worst first."""

_SEGMENT_S = 4.0
_CHUNK = 256
_FLOOR = 1e-12  # a flat channel (zero power) gets log10 = -12, far outside any range, instead of -inf


def _describe(feature: str) -> str:
    return "an amplitude (standard deviation)" if feature == "amplitude" else f"{feature} power"


def epoch_features(epochs: np.ndarray, fs: float) -> np.ndarray:
    """Log10 amplitude and band powers of every epoch and channel, shape (n, channels, len(FEATURES)).

    Parameters
    ----------
    epochs
        µV, shape (n_epochs, n_channels, n_samples); computed in chunks, so a whole
        night of float32 epochs costs little beyond its own memory.
    fs
        Sampling rate in Hz.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> f = epoch_features(rng.normal(0, 10, (4, 2, 3000)), 100.0)
    >>> f.shape, round(float(f[0, 0, 0]), 1)  # log10 of a 10-µV standard deviation
    ((4, 2, 6), 1.0)
    """
    from scipy import signal  # on first use: ~0.4 s of start-up that `stage --help` need not pay

    epochs = np.asarray(epochs)
    if epochs.ndim != 3:
        raise IsatSleepNetError(f"epochs must be (n, channels, samples), got shape {epochs.shape}")
    nperseg = min(int(round(_SEGMENT_S * fs)), epochs.shape[-1])
    out = np.empty((*epochs.shape[:2], len(FEATURES)), dtype=np.float64)
    for i in range(0, len(epochs), _CHUNK):
        x = np.asarray(epochs[i : i + _CHUNK], dtype=np.float64)
        freqs, psd = signal.welch(x, fs, nperseg=nperseg, axis=-1)
        df = freqs[1] - freqs[0]
        out[i : i + len(x), :, 0] = np.log10(np.maximum(x.std(axis=-1), _FLOOR))
        for k, (lo, hi) in enumerate(BANDS.values(), start=1):
            band = (freqs >= lo) & (freqs < hi)
            out[i : i + len(x), :, k] = np.log10(np.maximum(psd[..., band].sum(axis=-1) * df, _FLOOR))
    return out


def sample_indices(n_real: int, n_recordings: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of the real epochs to profile from one recording.

    Every recording gives ``MAX_EPOCHS / n_recordings`` epochs, kept within
    :data:`PER_RECORDING`, spread at random over the night.
    """
    lo, hi = PER_RECORDING
    k = min(n_real, max(lo, min(hi, math.ceil(MAX_EPOCHS / max(n_recordings, 1)))))
    return np.sort(rng.choice(n_real, size=k, replace=False)) if k < n_real else np.arange(n_real)


@dataclass(frozen=True)
class InputProfile:
    """Quantiles of each feature of each channel over (a sample of) the training epochs.

    ``values`` has shape (channels, features, quantiles).
    """

    channels: tuple[str, ...]
    sampling_rate: float
    values: np.ndarray
    n_epochs: int
    n_recordings: int
    features: tuple[str, ...] = FEATURES
    quantiles: tuple[float, ...] = QUANTILES

    @classmethod
    def from_features(cls, features: np.ndarray, channels: Sequence[str], sampling_rate: float,
                      n_recordings: int) -> InputProfile:
        """The profile of a feature array (n, channels, features) from :func:`epoch_features`."""
        if features.ndim != 3 or features.shape[1] != len(channels) or len(features) == 0:
            raise IsatSleepNetError(f"an input profile needs epochs of {len(channels)} channel(s); "
                                    f"got features of shape {features.shape}")
        values = np.quantile(features, QUANTILES, axis=0).transpose(1, 2, 0)
        return cls(tuple(channels), float(sampling_rate), values, int(len(features)), int(n_recordings))

    @classmethod
    def from_recordings(cls, recordings: Sequence[Any], channels: Sequence[str], *, seed: int = 0) -> InputProfile:
        """Profile the real epochs of prepared recordings (``PreparedRecording``), ``channels`` in order.

        Examples
        --------
        >>> from isatsleepnet.data.store import PreparedDataset  # doctest: +SKIP
        >>> recs = list(PreparedDataset("prepared/edf20"))  # doctest: +SKIP
        >>> InputProfile.from_recordings(recs, recs[0].channels).n_epochs  # doctest: +SKIP
        20000
        """
        if not recordings:
            raise IsatSleepNetError("an input profile needs at least one recording")
        rng = np.random.default_rng(seed)
        fs = recordings[0].sampling_rate
        parts = []
        for rec in recordings:
            missing = [c for c in channels if c not in rec.channels]
            if missing:
                raise IsatSleepNetError(f"{rec.path}: no channel {', '.join(map(repr, missing))} for the input profile")
            real = np.flatnonzero(rec.real)
            if len(real) == 0:
                continue
            rows = real[sample_indices(len(real), len(recordings), rng)]
            cols = [rec.channels.index(c) for c in channels]
            parts.append(epoch_features(np.asarray(rec.epochs[rows])[:, cols], rec.sampling_rate))
        if not parts:
            raise IsatSleepNetError("an input profile needs real epochs; the recordings hold none")
        return cls.from_features(np.concatenate(parts), channels, fs, len(parts))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data (lists and numbers), as stored in a model file."""
        return {
            "channels": list(self.channels),
            "sampling_rate": self.sampling_rate,
            "features": list(self.features),
            "quantiles": list(self.quantiles),
            "values": np.round(self.values, 6).tolist(),
            "n_epochs": self.n_epochs,
            "n_recordings": self.n_recordings,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> InputProfile:
        """The inverse of :meth:`to_dict`; a one-line error when the data do not describe a profile."""
        try:
            profile = cls(tuple(d["channels"]), float(d["sampling_rate"]), np.asarray(d["values"], dtype=np.float64),
                          int(d["n_epochs"]), int(d["n_recordings"]), tuple(d["features"]), tuple(d["quantiles"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise IsatSleepNetError(f"model file: unreadable input profile ({type(exc).__name__}: {exc})") from None
        expected = (len(profile.channels), len(profile.features), len(profile.quantiles))
        if profile.values.shape != expected:
            raise IsatSleepNetError(f"model file: input profile values have shape {profile.values.shape}, "
                                    f"expected {expected}")
        return profile

    def quantile(self, q: float) -> np.ndarray:
        """The (channels, features) values of one stored quantile."""
        return self.values[:, :, self.quantiles.index(q)]

    def ranges(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds (channels, features) of the rule of :func:`assess`."""
        iqr = self.quantile(0.75) - self.quantile(0.25)
        return self.quantile(0.005) - MARGIN * iqr, self.quantile(0.995) + MARGIN * iqr


def outside_fractions(profile: InputProfile, epochs: np.ndarray, fs: float) -> np.ndarray:
    """Fraction of the epochs outside the profile's range, per (channel, feature)."""
    epochs = np.asarray(epochs)
    if epochs.ndim != 3 or epochs.shape[1] != len(profile.channels):
        raise IsatSleepNetError(f"the model's input profile has {len(profile.channels)} channel(s); "
                                f"the epochs have shape {epochs.shape}")
    if len(epochs) == 0:
        return np.zeros((len(profile.channels), len(profile.features)))
    if len(epochs) > ASSESSED_EPOCHS:  # evenly over the night: the fractions to ~2 %, in a quarter of the time
        epochs = epochs[np.linspace(0, len(epochs) - 1, ASSESSED_EPOCHS).round().astype(int)]
    features = epoch_features(epochs, fs)
    lo, hi = profile.ranges()
    return ((features < lo) | (features > hi)).mean(axis=0)


def assess(profile: InputProfile, epochs: np.ndarray, fs: float) -> list[str]:
    """Warnings (empty when none) that the epochs lie outside the training inputs.

    Parameters
    ----------
    profile
        The model's :class:`InputProfile`.
    epochs
        µV, (n_epochs, channels, samples), channels in the profile's order.
    fs
        Sampling rate of ``epochs`` in Hz.

    Returns
    -------
    list of str
        Nothing when every channel feature has at most :data:`THRESHOLD` of the
        epochs outside its range; otherwise one line saying so, then one line for
        each of the :data:`SHOWN` worst channel features.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> train = rng.normal(0, 20, (200, 1, 3000))
    >>> profile = InputProfile.from_features(epoch_features(train, 100.0), ["EEG Fpz-Cz"], 100.0, 1)
    >>> assess(profile, rng.normal(0, 20, (50, 1, 3000)), 100.0)
    []
    >>> assess(profile, rng.normal(0, 200, (50, 1, 3000)), 100.0)[1]
    'EEG Fpz-Cz: 100 % of epochs have an amplitude (standard deviation) outside the range of the training data'
    """
    fractions = outside_fractions(profile, epochs, fs)
    flagged = np.argwhere(fractions > THRESHOLD)
    if len(flagged) == 0:
        return []
    order = sorted(map(tuple, flagged), key=lambda cf: -fractions[cf])
    lines = [f"the recording is unlike the model's training data ({len(order)} of {fractions.size} channel "
             f"features have over {100 * THRESHOLD:.0f} % of epochs outside the training range): "
             "its stages may be wrong without the confidence showing it"]
    for c, f in order[:SHOWN]:
        lines.append(f"{profile.channels[c]}: {100 * fractions[c, f]:.0f} % of epochs have "
                     f"{_describe(profile.features[f])} outside the range of the training data")
    return lines
