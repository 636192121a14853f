"""NMS-EEG: the multi-scale EEG feature extractor, with its LCR rescaling.

Three parallel convolutions read the raw epoch at three time scales (kernels
of 0.3, 0.5 and 0.7 s with strides 5, 10 and 20 samples at 100 Hz). The
coarse branches are brought to the finest length ``n_samples // 5`` (linear
interpolation; the paper says "pooled", which for a shorter sequence can only
mean resampled up) so that the two MaxPool(2) steps end at ``T = n // 20``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from isatsleepnet.model.config import ModelConfig
from isatsleepnet.model.fastops import make_dropout, make_maxpool2
from isatsleepnet.model.layers import resample_length, same_stride_padding


class LCR(nn.Module):
    """Learnable channel rescale ``x * (1 + strength * tanh(p))``.

    The bounded factor (0.9..1.1 by default) lets training re-weight the 96
    scale channels after BatchNorm without undoing the normalisation.
    """

    def __init__(self, channels: int, strength: float = 0.1) -> None:
        super().__init__()
        self.strength = strength
        self.p = nn.Parameter(torch.zeros(channels))

    def scale(self) -> Tensor:
        """The per-channel factor, shape (channels,)."""
        return 1.0 + self.strength * torch.tanh(self.p)

    def forward(self, x: Tensor) -> Tensor:
        """(batch, channels, L) -> same shape."""
        return x * self.scale()[:, None]


class NMSEEG(nn.Module):
    """One EEG channel (batch, n_samples) -> features (batch, T, feature_dim)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        c = config
        self.mid_len = c.n_samples // 5
        self.fast_path = c.use_fast_conv
        self.branches = nn.ModuleList()
        for kernel, stride in zip(c.eeg_kernels, c.eeg_strides):
            k = c.scaled_kernel(kernel)
            self.branches.append(
                nn.Conv1d(1, c.eeg_filters, k, stride=stride, padding=same_stride_padding(k, stride))
            )
        width = c.eeg_filters * len(c.eeg_kernels)
        self.norm_in = nn.BatchNorm1d(width)
        self.lcr: nn.Module = LCR(width, c.lcr_strength) if c.use_lcr else nn.Identity()
        self.drop_in = make_dropout(c.dropout, fast=c.use_fast_conv)
        self.pool = make_maxpool2(fast=c.use_fast_conv)
        self.conv2 = nn.Conv1d(width, c.eeg_hidden, 3, padding=1)
        self.conv3 = nn.Conv1d(c.eeg_hidden, c.feature_dim, 3, padding=1)
        self.norm_out = nn.BatchNorm1d(c.feature_dim)
        self.drop_out = make_dropout(c.dropout, fast=c.use_fast_conv)

    def scales(self, x: Tensor) -> Tensor:
        """(batch, n_samples) -> the concatenated scale branches (batch, 96, n // 5)."""
        x = x.unsqueeze(1)
        return torch.cat(
            [resample_length(branch(x), self.mid_len, fast=self.fast_path) for branch in self.branches], dim=1
        )

    def forward(self, x: Tensor) -> Tensor:
        """(batch, n_samples) -> (batch, T, feature_dim)."""
        h = self.scales(x)                                         # (B, 96, n/5)
        h = self.drop_in(torch.relu(self.lcr(self.norm_in(h))))
        h = torch.relu(self.conv2(self.pool(h)))                   # (B, 64, n/10)
        h = torch.relu(self.conv3(self.pool(h)))                   # (B, 128, T)
        h = self.drop_out(self.norm_out(h))
        return h.transpose(1, 2).contiguous()                      # (B, T, 128)
