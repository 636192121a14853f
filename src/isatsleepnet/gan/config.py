"""Settings of one Physio-GAN run, with the SPEC's defaults.

A file given by ``--config`` holds these fields (a ``[gan]`` table or top-level
keys); command-line flags override it; the resolved settings are saved beside
the generator so that it can be rebuilt and sampled without the training data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from isatsleepnet import STAGES
from isatsleepnet.errors import SettingError

_AT_LEAST_ONE = ("epochs", "batch_size", "noise_dim", "g_base_channels", "g_upsamplings", "g_spectral_channels",
                 "g_freq_rank", "g_gain_bins", "d_kernel", "g_every", "reg_every", "lr_step", "checkpoint_every",
                 "min_steps_per_epoch")
"""Whole-number settings of at least 1 (sizes, counts and intervals)."""
MAX_SEED = 2**32 - 1 - 11
"""The largest ``seed``: numpy and scikit-learn take seeds below 2**32, and the run derives ``seed + 11``."""


@dataclass(frozen=True)
class GanConfig:
    """Hyper-parameters of Physio-GAN (one GAN per channel and stage).

    ``d_augment`` shows the discriminator randomly shifted, time-reversed and
    partly blanked copies of both real and generated batches (not in the SPEC;
    a limited-data remedy: with a few dozen real epochs the discriminator
    otherwise memorises them and the generator drifts).

    ``select_every`` > 0 scores the generator every that many epochs against
    the training statistics and keeps the best one (0: keep the last).

    ``init_spectrum`` starts the generator's frequency stage at the training
    epochs' mean spectrum (see :meth:`Generator.init_spectrum`).

    ``reg_every`` > 1 applies R1 and the gradient penalty on every k-th
    discriminator step with k times their weight (lazy regularisation: the same
    penalty in expectation, at a fraction of the double-backpropagation cost
    that dominates a CPU step).

    ``epochs`` counts passes over the stage's training epochs; an epoch is at
    least ``min_steps_per_epoch`` discriminator steps so that StepLR(30, 0.5)
    means a comparable amount of training whether a stage has 58 or 50 000
    epochs. ``holdout_fraction`` of the real epochs is kept out of GAN training
    for the quality report (at least ``min_holdout_epochs``, at most
    ``max_holdout_epochs``) when at least ``min_train_epochs`` remain for training.
    """

    stage: str = "N1"
    epochs: int = 100
    batch_size: int = 32
    min_steps_per_epoch: int = 20
    noise_dim: int = 100
    clip: float = 3.0
    # generator
    g_base_channels: int = 64
    g_upsamplings: int = 5
    g_spectral_channels: int = 4
    g_freq_rank: int = 64
    g_gain_bins: int = 15
    g_deimage: bool = True  # take the transposed-convolution lines (k * fs / 2**upsamplings) out of the draft
    init_spectrum: bool = True
    # discriminator
    d_channels: tuple[int, ...] = (16, 32, 32, 64, 64)
    d_kernel: int = 7
    d_augment: bool = True
    # optimisation (SPEC)
    lr_g: float = 1e-4
    lr_d: float = 4e-4
    betas: tuple[float, float] = (0.0, 0.9)
    lr_step: int = 30
    lr_gamma: float = 0.5
    g_every: int = 3
    reg_every: int = 2
    r1_weight: float = 10.0
    gp_weight: float = 5.0
    spec_weight_start: float = 0.01
    spec_weight_end: float = 0.2
    time_weight: float = 0.5
    band_hz: float = 1.0
    envelope_seconds: float = 1.0
    autocorr_lags_s: tuple[float, ...] = (0.01, 0.02, 0.04, 0.08, 0.15, 0.3, 0.6)
    # bookkeeping
    seed: int = 0
    checkpoint_every: int = 5
    select_every: int = 5
    divergence_limit: float = 1e4
    max_train_epochs: int = 20000
    holdout_fraction: float = 0.25
    min_holdout_epochs: int = 10
    max_holdout_epochs: int = 200
    min_train_epochs: int = 32

    def __post_init__(self) -> None:
        """Raise :class:`SettingError` naming the first setting that cannot work.

        Why on construction: a GAN run takes hours; a setting it cannot use should stop it
        before the data are read, and a saved generator's settings are checked as they load.
        """
        for f in fields(self):  # JSON and TOML give lists where the settings hold tuples
            if isinstance(getattr(self, f.name), list):
                object.__setattr__(self, f.name, tuple(getattr(self, f.name)))
        if self.stage not in STAGES:
            raise SettingError("stage", f"must be one of {', '.join(STAGES)}, not {self.stage!r}")
        for name in _AT_LEAST_ONE:
            value = getattr(self, name)
            if not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
                raise SettingError(name, f"must be a whole number of at least 1, not {value!r}")
        if not (isinstance(self.seed, int) and not isinstance(self.seed, bool) and 0 <= self.seed <= MAX_SEED):
            raise SettingError("seed", f"must be a whole number from 0 to {MAX_SEED}, not {self.seed!r}")
        if not (isinstance(self.d_channels, tuple) and self.d_channels):
            raise SettingError("d_channels", f"must give the channels of at least one layer, not {self.d_channels!r}")
        if not (_is_number(self.holdout_fraction) and 0.0 <= self.holdout_fraction < 1.0):
            raise SettingError("holdout_fraction", f"must be a number in [0, 1), not {self.holdout_fraction!r}")
        for name in ("lr_g", "lr_d", "clip"):
            value = getattr(self, name)
            if not (_is_number(value) and math.isfinite(value) and value > 0):
                raise SettingError(name, f"must be a finite number above 0, not {value!r}")

    def spec_weight(self, epoch: int, ramp_epochs: int | None = None) -> float:
        """L_spec weight of training epoch ``epoch`` (0-based): linear ramp start → end.

        The ramp spans ``ramp_epochs`` (default: ``epochs``); later epochs keep the end
        weight, so a run continued with a larger budget keeps the schedule it began with.
        """
        span = self.epochs if ramp_epochs is None else ramp_epochs
        if span <= 1:
            return self.spec_weight_end
        t = min(max(epoch / (span - 1), 0.0), 1.0)
        return self.spec_weight_start + t * (self.spec_weight_end - self.spec_weight_start)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
