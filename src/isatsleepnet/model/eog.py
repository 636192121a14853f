"""ODDM-EOG: the ocular dynamics module, with temporal pyramid pooling (TPP).

A *fast* branch reads the first difference of the EOG (rapid eye movements
are steps, which the difference turns into spikes), a *slow* branch the raw
EOG with a 1-s kernel (slow rolling movements). Both are brought to
``n_samples // 4`` steps and mixed by residual blocks of long dilated
convolutions (most of the network's FLOPs; ``FFTConv1d`` when
``use_fast_conv``). TPP then averages to T, T/2, T/4 steps and upsamples each
back to T (linear), so every step sees context at three time scales.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from isatsleepnet.model.config import ModelConfig
from isatsleepnet.model.fastops import make_dropout
from isatsleepnet.model.fftconv import FFTConv1d
from isatsleepnet.model.layers import pool_mean, resample_length, same_stride_padding


class ResidualBlock(nn.Module):
    """Two dilated 'same' convolutions with BN, ReLU and an identity shortcut.

    (batch, channels, L) -> same shape. ``fast`` selects FFTConv1d, which
    holds the same parameters as nn.Conv1d.
    """

    def __init__(self, channels: int, kernel: int, dilation: int, *, fast: bool) -> None:
        super().__init__()
        conv = FFTConv1d if fast else nn.Conv1d
        pad = dilation * (kernel - 1) // 2
        self.conv1 = conv(channels, channels, kernel, padding=pad, dilation=dilation)
        self.norm1 = nn.BatchNorm1d(channels)
        self.conv2 = conv(channels, channels, kernel, padding=pad, dilation=dilation)
        self.norm2 = nn.BatchNorm1d(channels)

    def forward(self, x: Tensor) -> Tensor:
        h = torch.relu(self.norm1(self.conv1(x)))
        return torch.relu(x + self.norm2(self.conv2(h)))


class TemporalPyramidPooling(nn.Module):
    """(batch, C, L) -> (batch, C * len(levels), T): average to T // level, upsample to T."""

    def __init__(self, out_len: int, levels: tuple[int, ...], *, fast: bool = False) -> None:
        super().__init__()
        self.out_len = out_len
        self.levels = levels
        self.fast = fast

    def forward(self, x: Tensor) -> Tensor:
        outs = []
        for level in self.levels:
            pooled = pool_mean(x, max(1, self.out_len // level), fast=self.fast)
            outs.append(resample_length(pooled, self.out_len, fast=self.fast))
        return torch.cat(outs, dim=1)


class ODDMEOG(nn.Module):
    """One EOG channel (batch, n_samples) -> features (batch, T, feature_dim)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        c = config
        self.mid_len = c.eog_len
        k_fast, k_slow = c.scaled_kernel(c.eog_fast_kernel), c.scaled_kernel(c.eog_slow_kernel)
        self.fast = nn.Conv1d(
            1, c.eog_filters, k_fast, stride=c.eog_fast_stride,
            padding=same_stride_padding(k_fast, c.eog_fast_stride),
        )
        self.fast_norm = nn.BatchNorm1d(c.eog_filters)
        self.slow = nn.Conv1d(
            1, c.eog_filters, k_slow, stride=c.eog_slow_stride,
            padding=same_stride_padding(k_slow, c.eog_slow_stride),
        )
        self.slow_norm = nn.BatchNorm1d(c.eog_filters)
        width = 2 * c.eog_filters
        self.blocks = nn.Sequential(*[
            ResidualBlock(width, c.eog_res_kernel, d, fast=c.use_fast_conv) for d in c.eog_res_dilations
        ])
        levels = c.tpp_levels if c.use_tpp else (1,)
        self.tpp = TemporalPyramidPooling(c.seq_len, levels, fast=c.use_fast_conv)
        self.fast_path = c.use_fast_conv
        self.project = nn.Conv1d(width * len(levels), c.feature_dim, 1)
        self.project_norm = nn.BatchNorm1d(c.feature_dim)
        self.drop = make_dropout(c.dropout, fast=c.use_fast_conv)

    def stems(self, x: Tensor) -> Tensor:
        """(batch, n_samples) -> fast and slow branches, (batch, 64, n // 4)."""
        x = x.unsqueeze(1)
        diff = torch.diff(x, dim=-1, prepend=x[..., :1])
        rapid = torch.relu(self.fast_norm(self.fast(diff)))     # (B, 32, ~n/2)
        rolling = torch.relu(self.slow_norm(self.slow(x)))      # (B, 32, ~n/4)
        branches = [resample_length(b, self.mid_len, fast=self.fast_path) for b in (rapid, rolling)]
        return torch.cat(branches, dim=1)

    def forward(self, x: Tensor) -> Tensor:
        """(batch, n_samples) -> (batch, T, feature_dim)."""
        h = self.blocks(self.stems(x))                          # (B, 64, n/4)
        h = self.tpp(h)                                         # (B, 64 * levels, T)
        h = self.drop(torch.relu(self.project_norm(self.project(h))))
        return h.transpose(1, 2).contiguous()                   # (B, T, 128)
