"""Physio-GAN discriminator: strided spectrally-normalised convolutions, self-attention, score.

Why: spectral normalisation and LayerNorm (no BatchNorm) keep the critic
Lipschitz-friendly, which the R1 and gradient penalties assume (BatchNorm would
couple the samples whose gradients they measure); self-attention over the
downsampled time axis lets the score depend on where bursts occur relative to
each other across the 30 s. A minibatch-standard-deviation feature before the
last FC lets the critic see a collapsed (too uniform) batch. Pooling over time
makes it accept any epoch length.

Shapes: x (B, n_samples) or (B, 1, n_samples) → score (B,).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


class SelfAttention1d(nn.Module):
    """SAGAN-style attention over time; starts as the identity (gamma = 0). (B, C, T) → (B, C, T)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        inner = max(channels // 8, 4)
        self.query = spectral_norm(nn.Conv1d(channels, inner, 1))
        self.key = spectral_norm(nn.Conv1d(channels, inner, 1))
        self.value = spectral_norm(nn.Conv1d(channels, channels, 1))
        self.gamma = nn.Parameter(torch.zeros(1))
        self.scale = inner ** -0.5

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.query(x), self.key(x), self.value(x)
        attn = torch.softmax(torch.einsum("bct,bcs->bts", q, k) * self.scale, dim=-1)
        return x + self.gamma * torch.einsum("bcs,bts->bct", v, attn)


class Discriminator(nn.Module):
    """Realness score of epochs ``(B, n_samples)`` → ``(B,)`` (unbounded logits)."""

    def __init__(self, n_samples: int, *, channels: tuple[int, ...] = (16, 32, 32, 64, 64), kernel: int = 7) -> None:
        super().__init__()
        self.n_samples = n_samples
        layers: list[nn.Module] = []
        c_in = 1
        for i, c_out in enumerate(channels):
            layers.append(spectral_norm(nn.Conv1d(c_in, c_out, kernel, stride=2, padding=kernel // 2)))
            if i > 0:
                layers.append(nn.GroupNorm(1, c_out))  # LayerNorm over (channels, time)
            layers.append(nn.LeakyReLU(0.2))
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.attention = SelfAttention1d(c_in)
        self.head = nn.Sequential(
            spectral_norm(nn.Linear(2 * c_in + 1, c_in)),
            nn.LeakyReLU(0.2),
            spectral_norm(nn.Linear(c_in, 1)),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            x = x.unsqueeze(1)
        h = self.attention(self.features(x))
        pooled = torch.cat([h.mean(dim=-1), h.amax(dim=-1)], dim=1)
        if len(h) > 1:
            batch_std = h.std(dim=0).mean().expand(len(h), 1)
        else:
            batch_std = h.new_zeros(len(h), 1)
        return self.head(torch.cat([pooled, batch_std], dim=1)).squeeze(1)
