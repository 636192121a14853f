"""AttnSleep, a published per-epoch baseline: multi-resolution CNN -> AFR -> temporal context encoder -> linear.

Reference: E. Eldele, Z. Chen, C. Liu, M. Wu, C.-K. Kwoh, X. Li and C. Guan,
"An Attention-based Deep Learning Approach for Sleep Stage Classification with
Single-Channel EEG", IEEE Transactions on Neural Systems and Rehabilitation
Engineering 29 (2021) 809-818. The authors' code is
https://github.com/emadeldeen24/AttnSleep; this module is an independent
implementation of the design, written for this project.

One epoch in, one stage out: input (batch, n_channels, n_samples) float32,
channels in ``config.roles`` order (the paper: one EEG channel, Fpz-Cz for
Sleep-EDF, 30 s at 100 Hz); output logits (batch, n_classes), stages W, N1, N2, N3, REM.

The network (published sizes, Sleep-EDF setting)
-----------------------------------------------
* MRCNN, two branches on the raw epoch, concatenated along time:
  high-frequency Conv(64, k 50, s 6) BN GELU, MaxPool(8, 2), Dropout(0.5),
  2 x [Conv(128, k 8) BN GELU], MaxPool(4, 4) -> 64 steps;
  low-frequency Conv(64, k 400, s 50) BN GELU, MaxPool(4, 2), Dropout(0.5),
  2 x [Conv(128, k 7) BN GELU], MaxPool(2, 2) -> 16 steps; Dropout(0.5) on
  the 80-step concatenation. The MRCNN convolutions have no bias (BatchNorm
  follows each).
* AFR: a residual squeeze-and-excitation block, 128 -> 30 channels
  (two 1x1 convolutions with BN, ReLU between, SE with reduction 16, a 1x1
  convolution + BN shortcut, ReLU after the sum).
* TCE: 2 encoder layers on the (30, 80) map, read as 30 tokens of width
  ``d_model`` = 80 (the time axis). In each layer causal convolutions over
  time (kernel 7, 30 -> 30 channels) make the queries, keys and values;
  5-head scaled dot-product attention (dropout 0.1 on its weights) and a
  linear give ``h = q + Dropout(attention)``, then
  ``h + Dropout(FF(LayerNorm(h)))`` with FF = Linear(80, 120) ReLU Dropout
  Linear(120, 80); a LayerNorm closes the encoder.
* Classifier: flatten (30 x 80) -> Linear(2400, 5).

Parameters: 509,825 at the defaults (one channel, 3000 samples; checked by
the tests). The authors' released implementation has 522,805 parameters:
it also creates a query convolution inside each attention module
and a LayerNorm before each attention sub-layer whose results it never uses
(6,490 parameters per layer, no gradient); this module leaves them out. With
the released code's weights loaded (its LayerNorm swapped for PyTorch's, see
below) both give the same logits to 1e-5. A parameter count published in the
paper could not be checked here (its text was not at hand).

Choices the paper leaves open, or where this module differs
-----------------------------------------------------------
* Other sampling rates. The first convolution of each branch (kernel,
  stride and padding, all in raw samples) is given at ``kernel_rate`` Hz (100)
  and, with ``scale_kernels``, rescaled to ``sampling_rate``, so that its
  window (0.5 s / 4 s) and hop (60 ms / 0.5 s) keep their duration and a 30-s
  epoch gives about 80 feature steps at any rate. Everything after works on
  feature sequences and keeps its size.
* ``d_model`` is computed from ``n_samples``, not fixed: it is the MRCNN
  output length ``L`` rounded up to a multiple of ``heads`` (heads must split
  it evenly); the ``d_model - L`` extra steps are zeros appended after the AFR
  (none in the published setting, 3 at 128 Hz x 30 s where L = 77). They
  come last, so the causal convolutions never carry them into the real steps
  (the attention scores, LayerNorms and feed-forward do read them).
* Paddings (not in the paper; the authors' code): every convolution and pool
  after the first pads ``kernel // 2``; the first ones pad 24 and 200 samples,
  rescaled. With them 3750 samples read at the 100-Hz sizes give the 100
  steps of the authors' SHHS setting.
* The attention sub-layer has no LayerNorm in effect (``h = q + ...`` above):
  the authors' code computes one there and discards it; this module follows
  what is computed.
* The SE bottleneck is ``max(1, afr_channels // se_reduction)`` (1 at 30/16).
* LayerNorm is PyTorch's (biased variance, eps 1e-6 under the root); the
  authors' normalises by the unbiased standard deviation plus eps, a factor of
  sqrt(80/79) that the learned gain absorbs.
* More ``roles`` are more input channels of the two first convolutions (an
  option; the paper reads one EEG channel).

Published training (documented defaults of :class:`AttnSleepConfig`; the
project's training loop does not read them yet): Adam, lr 1e-3, betas (0.9,
0.999), weight decay 1e-3 (the authors' config also sets amsgrad), batch 128,
100 epochs, class-weighted cross entropy with the weights of
:func:`class_weights`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from isatsleepnet.model.attnsleep_config import LOSSES, AttnSleepConfig, class_weights

__all__ = ["LOSSES", "AttnSleep", "AttnSleepConfig", "class_weights"]


class _Branch(nn.Sequential):
    """One MRCNN branch: (batch, n_channels, n_samples) -> (batch, cnn_channels, branch length)."""

    def __init__(self, c: AttnSleepConfig, first: tuple[int, int, int], pool: tuple[int, int],
                 conv_kernel: int, out_pool: tuple[int, int]) -> None:
        kernel, stride, padding = first
        layers: list[nn.Module] = [
            nn.Conv1d(c.n_channels, c.filters, kernel, stride=stride, padding=padding, bias=False),
            nn.BatchNorm1d(c.filters), nn.GELU(),
            nn.MaxPool1d(pool[0], pool[1], padding=pool[0] // 2),
            nn.Dropout(c.cnn_dropout),
        ]
        width = c.filters
        for _ in range(2):
            layers += [nn.Conv1d(width, c.cnn_channels, conv_kernel, padding=conv_kernel // 2, bias=False),
                       nn.BatchNorm1d(c.cnn_channels), nn.GELU()]
            width = c.cnn_channels
        layers.append(nn.MaxPool1d(out_pool[0], out_pool[1], padding=out_pool[0] // 2))
        super().__init__(*layers)


class _SqueezeExcite(nn.Module):
    """Channel gates from the time-averaged features: the AFR's recalibration."""

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.down = nn.Linear(channels, hidden, bias=False)
        self.up = nn.Linear(hidden, channels, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        """(batch, channels, L) -> same shape, each channel scaled by its gate in (0, 1)."""
        gate = torch.sigmoid(self.up(torch.relu(self.down(x.mean(dim=2)))))
        return x * gate.unsqueeze(2)


class _AdaptiveRecalibration(nn.Module):
    """AFR: residual SE block mapping cnn_channels -> afr_channels, (batch, C, L) -> (batch, afr_channels, L)."""

    def __init__(self, c: AttnSleepConfig) -> None:
        super().__init__()
        cin, cout = c.cnn_channels, c.afr_channels
        self.body = nn.Sequential(
            nn.Conv1d(cin, cout, 1), nn.BatchNorm1d(cout), nn.ReLU(),
            nn.Conv1d(cout, cout, 1), nn.BatchNorm1d(cout),
            _SqueezeExcite(cout, c.se_hidden),
        )
        self.shortcut: nn.Module = (
            nn.Sequential(nn.Conv1d(cin, cout, 1, bias=False), nn.BatchNorm1d(cout)) if cin != cout
            else nn.Identity()
        )

    def forward(self, x: Tensor) -> Tensor:
        return torch.relu(self.body(x) + self.shortcut(x))


class _CausalConv(nn.Module):
    """Conv1d over time that sees only the present and past steps (left zero padding)."""

    def __init__(self, channels: int, kernel: int) -> None:
        super().__init__()
        self.left = kernel - 1
        self.conv = nn.Conv1d(channels, channels, kernel)

    def forward(self, x: Tensor) -> Tensor:
        """(batch, channels, d_model) -> same shape."""
        return self.conv(F.pad(x, (self.left, 0)))


class _ConvAttention(nn.Module):
    """Multi-head attention whose keys and values are causal convolutions of the input.

    Tokens are the ``afr_channels`` feature maps; each head reads ``d_k``
    consecutive time steps of them.
    """

    def __init__(self, c: AttnSleepConfig) -> None:
        super().__init__()
        self.heads, self.d_k = c.heads, c.d_k
        self.key = _CausalConv(c.afr_channels, c.causal_kernel)
        self.value = _CausalConv(c.afr_channels, c.causal_kernel)
        self.weights_dropout = nn.Dropout(c.dropout)
        self.out = nn.Linear(c.d_model, c.d_model)

    def forward(self, query: Tensor, x: Tensor) -> Tensor:
        """query, x: (batch, tokens, d_model) -> (batch, tokens, d_model)."""
        q = query.unflatten(-1, (self.heads, self.d_k)).transpose(1, 2)   # (B, h, tokens, d_k)
        k = self.key(x).unflatten(-1, (self.heads, self.d_k)).transpose(1, 2)
        v = self.value(x).unflatten(-1, (self.heads, self.d_k)).transpose(1, 2)
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.d_k)
        weights = self.weights_dropout(torch.softmax(scores, dim=-1))
        return self.out((weights @ v).transpose(1, 2).flatten(2))


class _EncoderLayer(nn.Module):
    """One TCE layer: ``h = q + Dropout(attn(q, x))``, then ``h + Dropout(FF(LayerNorm(h)))``, q = causal conv of x."""

    def __init__(self, c: AttnSleepConfig) -> None:
        super().__init__()
        self.query = _CausalConv(c.afr_channels, c.causal_kernel)
        self.attention = _ConvAttention(c)
        self.norm = nn.LayerNorm(c.d_model, eps=1e-6)
        self.feed_forward = nn.Sequential(
            nn.Linear(c.d_model, c.d_ff), nn.ReLU(), nn.Dropout(c.dropout), nn.Linear(c.d_ff, c.d_model),
        )
        self.dropout = nn.Dropout(c.dropout)

    def forward(self, x: Tensor) -> Tensor:
        """(batch, tokens, d_model) -> same shape."""
        q = self.query(x)
        h = q + self.dropout(self.attention(q, x))
        return h + self.dropout(self.feed_forward(self.norm(h)))


class AttnSleep(nn.Module):
    """AttnSleep (Eldele et al., IEEE TNSRE 29, 2021): one epoch -> stage logits.

    Shapes, published setting in brackets: input (batch, n_channels [1],
    n_samples [3000]) float32 -> MRCNN branches (batch, cnn_channels [128],
    high [64] / low [16]) -> concatenated (batch, 128, L [80]) -> AFR (batch,
    afr_channels [30], L), zero-padded to d_model [80] -> TCE, same shape ->
    flattened (batch, 30 * d_model [2400]) -> logits (batch, n_classes [5]).

    509,825 parameters at the defaults (see the module docstring for the
    authors' code's 522,805).

    Parameters
    ----------
    config
        Sizes; the published defaults when omitted.

    Examples
    --------
    >>> model = AttnSleep().eval()
    >>> model(torch.zeros(2, 1, 3000)).shape
    torch.Size([2, 5])
    >>> model.num_parameters()
    509825
    >>> AttnSleep(AttnSleepConfig(roles=("eeg", "eog"), n_samples=3840, sampling_rate=128.0)).config.d_model
    80
    """

    def __init__(self, config: AttnSleepConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or AttnSleepConfig()
        self.high = _Branch(c, c.high_first, c.high_pool, c.high_conv_kernel, c.high_out_pool)
        self.low = _Branch(c, c.low_first, c.low_pool, c.low_conv_kernel, c.low_out_pool)
        self.cnn_dropout = nn.Dropout(c.cnn_dropout)
        self.afr = _AdaptiveRecalibration(c)
        self.encoder = nn.ModuleList(_EncoderLayer(c) for _ in range(c.tce_layers))
        self.encoder_norm = nn.LayerNorm(c.d_model, eps=1e-6)
        self.classifier = nn.Linear(c.afr_channels * c.d_model, c.n_classes)

    def features(self, x: Tensor) -> Tensor:
        """(batch, n_channels, n_samples) -> MRCNN + AFR features (batch, afr_channels, d_model)."""
        self._check_input(x)
        h = self.cnn_dropout(torch.cat([self.high(x), self.low(x)], dim=2))
        h = self.afr(h)
        if self.config.time_padding:
            h = F.pad(h, (0, self.config.time_padding))
        return h

    def forward(self, x: Tensor) -> Tensor:
        """(batch, n_channels, n_samples) -> logits (batch, n_classes)."""
        h = self.features(x)
        for layer in self.encoder:
            h = layer(h)
        return self.classifier(self.encoder_norm(h).flatten(1))

    def _check_input(self, x: Tensor) -> None:
        c = self.config
        if torch.jit.is_tracing():  # shapes are traced tensors there; the exported graph checks its input
            return
        if x.dim() != 3 or x.shape[1] != c.n_channels or x.shape[2] != c.n_samples:
            raise ValueError(
                f"expected input (batch, {c.n_channels}, {c.n_samples}) for roles {list(c.roles)}, "
                f"got {tuple(x.shape)}"
            )

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
