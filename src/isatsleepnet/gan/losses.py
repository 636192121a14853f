"""Physio-GAN losses: relativistic pairing, R1, gradient penalty, and the two statistic constraints.

Adversarial part (SPEC): the discriminator minimises ``softplus(D(fake) - D(real))``
and the generator its mirror ``softplus(D(real) - D(fake))`` over paired
samples; R1 = E‖∇ₓD(x)‖² on real data (applied as λ/2 · R1, λ = 10); the
gradient penalty E(‖∇D(x̂)‖ − 1)² on random interpolates x̂ (weight 5).

Statistic constraints (our reading of L_spec and L_time): real and generated
epochs are unpaired random draws, so an L1 between a real and a generated
spectrum or waveform would only pull every output toward the average (for
waveforms: toward zero). Both constraints therefore compare *distributions*
through batch moments of per-epoch features:

* L_spec: per-epoch log power in ``band_hz``-wide bands from 0 to Nyquist
  (magnitude spectrum by FFT); loss = mean |mean_real − mean_gen| + mean
  |std_real − std_gen| over bands. It fixes the average spectral shape and how
  much it varies between epochs (the latter stops spectral mode collapse).
* L_time: per-epoch log std, skewness, log kurtosis, peak-to-peak / std, line
  length / std, variability of the 1-s RMS envelope (bursts versus stationary
  noise) and the autocorrelation at a set of lags; same moment distance.

Both are 0 for identical batches and grow with a spectral or amplitude
mismatch. During training the real moments are computed once over all GAN
training epochs (a less noisy target than one batch).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F


def d_relativistic_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """Discriminator side: mean softplus(D(fake) − D(real)) over pairs (B,) → scalar."""
    return F.softplus(fake_scores - real_scores).mean()


def g_relativistic_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """Generator side, the mirror: mean softplus(D(real) − D(fake))."""
    return F.softplus(real_scores - fake_scores).mean()


def _input_gradient(scores: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
    (grad,) = torch.autograd.grad(scores.sum(), inputs, create_graph=True, allow_unused=True)
    return torch.zeros_like(inputs) if grad is None else grad


def r1_penalty(real_scores: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """E‖∇ₓD(x)‖² on real data; ``real`` must require grad and ``real_scores`` come from it."""
    grad = _input_gradient(real_scores, real)
    return grad.flatten(1).pow(2).sum(dim=1).mean()


def gradient_penalty(
    discriminator: torch.nn.Module,
    real: torch.Tensor,
    fake: torch.Tensor,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """E(‖∇D(x̂)‖ − 1)² on x̂ = α·real + (1 − α)·fake, α ~ U(0, 1) per sample."""
    alpha = torch.rand(len(real), *([1] * (real.dim() - 1)), generator=generator).to(real.device)
    mixed = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
    grad = _input_gradient(discriminator(mixed), mixed)
    return (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()


@dataclass(frozen=True)
class Moments:
    """Mean and standard deviation over a batch of per-epoch features, each (K,)."""

    mean: torch.Tensor
    std: torch.Tensor

    @classmethod
    def of(cls, features: torch.Tensor) -> Moments:
        """(B, K) features → their batch moments."""
        return cls(features.mean(dim=0), features.std(dim=0, unbiased=False))

    def to(self, device: torch.device | str) -> Moments:
        return Moments(self.mean.to(device), self.std.to(device))


def moment_distance(real: Moments, fake: Moments) -> torch.Tensor:
    """mean |Δmean| + mean |Δstd| over features (0 when the moments agree)."""
    return (real.mean - fake.mean).abs().mean() + (real.std - fake.std).abs().mean()


def band_matrix(n_samples: int, fs: float, band_hz: float) -> torch.Tensor:
    """(F, n_bands) averaging matrix from rfft bins to ``band_hz``-wide bands (DC left out)."""
    freqs = torch.fft.rfftfreq(n_samples, d=1.0 / fs)
    n_bands = max(int((fs / 2) // band_hz), 1)
    index = torch.clamp((freqs / band_hz).floor().long(), max=n_bands - 1)
    matrix = torch.zeros(len(freqs), n_bands)
    matrix[torch.arange(1, len(freqs)), index[1:]] = 1.0
    counts = matrix.sum(dim=0, keepdim=True)
    keep = counts.squeeze(0) > 0
    return (matrix / counts.clamp(min=1))[:, keep]


class EpochStatistics(torch.nn.Module):
    """Per-epoch spectral and temporal features of epochs (B, n_samples) sampled at ``fs``."""

    def __init__(
        self,
        n_samples: int,
        fs: float,
        *,
        band_hz: float = 1.0,
        lags_s: tuple[float, ...] = (0.01, 0.02, 0.04, 0.08, 0.15, 0.3, 0.6),
        envelope_s: float = 1.0,
    ) -> None:
        super().__init__()
        self.n_samples = n_samples
        self.register_buffer("bands", band_matrix(n_samples, fs, band_hz), persistent=False)
        lags = sorted({int(round(s * fs)) for s in lags_s} - {0})
        self.lags = [k for k in lags if k < n_samples]
        self.window = max(int(round(envelope_s * fs)), 2)

    def spectral(self, x: torch.Tensor) -> torch.Tensor:
        """(B, N) → (B, n_bands) log band power."""
        power = torch.fft.rfft(x, dim=-1).abs().pow(2) / x.shape[-1]
        return torch.log(power @ self.bands + 1e-8)

    def temporal(self, x: torch.Tensor) -> torch.Tensor:
        """(B, N) → (B, 6 + n_lags) amplitude and autocorrelation features."""
        xc = x - x.mean(dim=-1, keepdim=True)
        var = xc.pow(2).mean(dim=-1) + 1e-8
        sd = var.sqrt()
        feats = [
            0.5 * torch.log(var),
            xc.pow(3).mean(dim=-1) / sd.pow(3),
            torch.log(xc.pow(4).mean(dim=-1) / var.pow(2) + 1e-8),
            (x.amax(dim=-1) - x.amin(dim=-1)) / sd / 6.0,
            xc.diff(dim=-1).abs().mean(dim=-1) / sd,
        ]
        n_win = x.shape[-1] // self.window
        if n_win >= 2:
            rms = xc[:, : n_win * self.window].reshape(len(x), n_win, self.window).pow(2).mean(-1).add(1e-8)
            feats.append(0.5 * torch.log(rms).std(dim=-1))
        else:
            feats.append(torch.zeros_like(var))
        for k in self.lags:
            feats.append((xc[:, :-k] * xc[:, k:]).mean(dim=-1) / var)
        return torch.stack(feats, dim=1)


def spectral_loss(real: torch.Tensor | Moments, fake: torch.Tensor, stats: EpochStatistics) -> torch.Tensor:
    """L_spec: moment distance of log band powers; ``real`` is a batch or precomputed moments."""
    ref = real if isinstance(real, Moments) else Moments.of(stats.spectral(real))
    return moment_distance(ref, Moments.of(stats.spectral(fake)))


def temporal_loss(real: torch.Tensor | Moments, fake: torch.Tensor, stats: EpochStatistics) -> torch.Tensor:
    """L_time: moment distance of amplitude/autocorrelation features."""
    ref = real if isinstance(real, Moments) else Moments.of(stats.temporal(real))
    return moment_distance(ref, Moments.of(stats.temporal(fake)))
