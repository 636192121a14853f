"""Each loss term against a known value or property."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from isatsleepnet.gan.losses import (
    EpochStatistics,
    Moments,
    band_matrix,
    d_relativistic_loss,
    g_relativistic_loss,
    gradient_penalty,
    moment_distance,
    r1_penalty,
    spectral_loss,
    temporal_loss,
)


class Linear(nn.Module):
    """D(x) = w·x: its input gradient is w everywhere."""

    def __init__(self, w: torch.Tensor) -> None:
        super().__init__()
        self.w = nn.Parameter(w)

    def forward(self, x):
        return x @ self.w


class Blind(nn.Module):
    """A discriminator that ignores its input."""

    def __init__(self) -> None:
        super().__init__()
        self.b = nn.Parameter(torch.tensor(0.7))

    def forward(self, x):
        return self.b.expand(len(x))


def test_relativistic_losses_are_mirrors():
    real, fake = torch.randn(8), torch.randn(8)
    assert d_relativistic_loss(real, fake).item() == pytest.approx(g_relativistic_loss(fake, real).item())
    same = torch.zeros(4)
    assert d_relativistic_loss(same, same).item() == pytest.approx(math.log(2))
    # D is rewarded when real scores exceed paired fake scores, G when the reverse holds
    assert d_relativistic_loss(same + 5, same) < 0.01 and g_relativistic_loss(same + 5, same) > 4.9


def test_r1_is_zero_for_a_blind_discriminator_and_the_squared_gradient_norm_otherwise():
    x = torch.randn(5, 20, requires_grad=True)
    assert r1_penalty(Blind()(x), x).item() == 0.0
    w = torch.randn(20)
    x = torch.randn(5, 20, requires_grad=True)
    assert r1_penalty(Linear(w)(x), x).item() == pytest.approx(w.pow(2).sum().item(), rel=1e-5)
    # it is differentiable with respect to the discriminator's weights
    d = Linear(w.clone())
    r1_penalty(d(x), x).backward()
    assert torch.allclose(d.w.grad, 2 * d.w.detach())


def test_gradient_penalty_minimum_at_unit_gradient_norm():
    real, fake = torch.randn(6, 30), torch.randn(6, 30)
    unit = torch.randn(30)
    unit /= unit.norm()
    assert gradient_penalty(Linear(unit), real, fake).item() == pytest.approx(0.0, abs=1e-10)
    assert gradient_penalty(Linear(2 * unit), real, fake).item() == pytest.approx(1.0, rel=1e-5)
    assert gradient_penalty(Linear(0.5 * unit), real, fake).item() == pytest.approx(0.25, rel=1e-5)
    assert gradient_penalty(Blind(), real, fake).item() == pytest.approx(1.0)


def _noise(n, length, rng, lowpass=None, spiky=False):
    x = rng.standard_normal((n, length))
    if spiky:
        x = x ** 3
    if lowpass:
        spec = np.fft.rfft(x, axis=1)
        spec[:, int(lowpass * length / 100.0):] *= 0.05
        x = np.fft.irfft(spec, n=length, axis=1)
    x = (x - x.mean(1, keepdims=True)) / x.std(1, keepdims=True)
    return torch.from_numpy(x.astype(np.float32))


def test_statistic_losses_vanish_for_identical_batches_and_grow_with_mismatch():
    rng = np.random.default_rng(0)
    stats = EpochStatistics(1000, 100.0)
    real = _noise(64, 1000, rng, lowpass=20)
    assert spectral_loss(real, real.clone(), stats).item() == pytest.approx(0.0, abs=1e-6)
    assert temporal_loss(real, real.clone(), stats).item() == pytest.approx(0.0, abs=1e-6)
    similar = _noise(64, 1000, rng, lowpass=20)
    other_spectrum = _noise(64, 1000, rng, lowpass=5)
    white = _noise(64, 1000, rng)
    spiky = _noise(64, 1000, rng, lowpass=20, spiky=True)
    near = spectral_loss(real, similar, stats).item()
    assert spectral_loss(real, other_spectrum, stats).item() > 5 * near
    assert spectral_loss(real, white, stats).item() > 5 * near
    near_t = temporal_loss(real, similar, stats).item()
    assert temporal_loss(real, spiky, stats).item() > 3 * near_t  # amplitude distribution (kurtosis, peaks)
    assert temporal_loss(real, white, stats).item() > 3 * near_t  # autocorrelation


def test_statistic_losses_compare_distributions_not_pairs():
    """Two independent draws of one process are close, whatever their sample-by-sample difference."""
    rng = np.random.default_rng(1)
    stats = EpochStatistics(1000, 100.0)
    a, b = _noise(64, 1000, rng, lowpass=20), _noise(64, 1000, rng, lowpass=20)
    zeros = torch.zeros(64, 1000)
    # an L1 between unpaired samples would prefer the all-zero output; the moment losses do not
    assert (a - b).abs().mean() > (a - zeros).abs().mean()
    assert temporal_loss(a, b, stats) < temporal_loss(a, zeros + 1e-3 * torch.randn(64, 1000), stats)


def test_statistic_losses_accept_precomputed_moments_and_pass_gradients():
    rng = np.random.default_rng(2)
    stats = EpochStatistics(800, 100.0)
    real = _noise(32, 800, rng, lowpass=15)
    fake = _noise(16, 800, rng).requires_grad_(True)
    ref = Moments.of(stats.spectral(real))
    assert spectral_loss(ref, fake, stats).item() == pytest.approx(spectral_loss(real, fake, stats).item())
    (spectral_loss(ref, fake, stats) + temporal_loss(real, fake, stats)).backward()
    assert torch.isfinite(fake.grad).all() and fake.grad.abs().sum() > 0
    assert moment_distance(ref, ref).item() == 0.0


def test_band_matrix_averages_bins_into_bands():
    m = band_matrix(3000, 100.0, 1.0)
    assert m.shape == (1501, 50)
    assert torch.allclose(m.sum(0), torch.ones(50))
    assert m[0].sum() == 0  # DC left out
