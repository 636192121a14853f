"""U-Time: a fully convolutional U-Net over a window of epochs, one stage per epoch out.

Reference: M. Perslev, M. H. Jensen, S. Darkner, P. J. Jennum and C. Igel,
"U-Time: A Fully Convolutional Network for Time Series Segmentation Applied to
Sleep Staging", Advances in Neural Information Processing Systems 32
(NeurIPS 2019), pp. 4415-4426, arXiv:1910.11162.

Written for this project from the paper's description, as a baseline to
compare ISATSleepNet with; details the paper leaves open were checked against
the authors' released Keras code (github.com/perslev/U-Time), none of which is
copied here.

The published network reads T = 35 consecutive 30-s epochs of one EEG channel
at 100 Hz as one signal of 105,000 samples:

* encoder: four blocks of two Conv1d (kernel 5, dilation 2) each followed by
  the activation and BatchNorm, 16, 32, 64 and 128 filters, each block ending
  in MaxPool of 10, 8, 6 and 4;
* bottom: two such convolutions (256 filters, no dilation);
* decoder, mirroring the encoder: nearest-neighbour upsampling by the pool
  size, a convolution whose kernel is the pool size (+ activation + BN), the
  encoder block's output concatenated (skip), two convolutions (kernel 5);
* dense segmentation: a 1x1 convolution to the 5 classes with tanh, a score
  at every sample;
* segment classifier: the scores averaged over each epoch's samples (average
  pooling of width n_samples), then a 1x1 convolution: logits per epoch.

Choices of this implementation:

* Window length not divisible by the pool product (10 * 8 * 6 * 4 = 1920;
  35 * 3000 = 105,000 is not): the signal is zero-padded, half on each side
  (the odd sample on the right), to the next multiple (105,600), so every
  pooling is exact and the skips need no cropping; the dense scores are
  cropped back to the window before the segment classifier, so padded samples
  never enter an epoch's average. (The authors' code instead pools without
  padding, crops the skips to the shorter upsampled maps and zero-pads the
  dense scores; no parameter depends on either choice.)
* ``activation`` is ReLU as this project's reading of the paper; the authors'
  released settings use ELU (``activation="elu"``).
* The segment classifier is one 1x1 convolution, returning logits (the
  softmax belongs to the loss). The authors' later code stacks two.
* Kernel sizes and pools are in samples, not tied to the sampling rate: the
  authors resample every recording to one fixed rate first (100 Hz in the
  published setting used here; their current default settings use 128 Hz).
  At 128 Hz the network runs unchanged, its receptive field then spanning
  100/128 of the time it spans at 100 Hz.

Parameters: 1,187,539 at the published sizes (one channel, 100 Hz; 657,136
in encoder and bottom, 530,288 in the decoder, 85 + 30 in the two
classifiers). A figure of ~1.1 M has been quoted for the paper; it could not
be checked against the paper's text when this was written. The layer list
above, which is that of the authors' released code with its default
settings, gives 1.19 M (1,190,963 counting BatchNorm's running statistics as
Keras does); padding and cropping add no parameters.

Published training (in ``UTimeConfig``, not applied by this module): Adam,
learning rate 5e-6, batch 12 windows, generalized dice loss.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from isatsleepnet.model.config import ModelConfigError, StoredConfig

_ROLE = re.compile(r"^[a-z][a-z0-9_]*$")
_ACTIVATIONS = ("relu", "elu")
_DENSE_ACTIVATIONS = ("tanh", "none")
_LOSSES = ("generalized_dice", "cross_entropy")


@dataclass(frozen=True)
class UTimeConfig(StoredConfig):
    """Sizes of U-Time and its published training settings (defaults: the paper).

    Every field is a plain JSON value (tuples come back from JSON as lists and
    are turned into tuples again), so ``UTimeConfig(**json.loads(s))``
    rebuilds a configuration stored with ``dataclasses.asdict``.

    Parameters
    ----------
    roles
        The input channels, in order (published: one EEG channel); more roles
        mean more input channels of the first convolution.
    n_samples, sampling_rate
        One epoch: samples and Hz (published: 3000 at 100 Hz).
    n_classes
        Stages (W, N1, N2, N3, REM).
    sequence_length
        Epochs per window (published T = 35). The network accepts any window
        length; this is the one training should cut.
    filters, pools
        Encoder blocks: filters and the max-pool after each (the decoder
        mirrors them).
    bottom_filters
        Filters of the two convolutions at the bottom.
    kernel_size, dilation
        Kernel of every non-1x1 convolution except the decoder's upsampling
        ones (whose kernel is the pool size); the encoder's dilation.
    activation
        After every convolution, before its BatchNorm: ``relu`` or ``elu``.
    dense_activation
        Of the dense per-sample scores: ``tanh`` (published) or ``none``.
    learning_rate, batch_size, loss
        Published training settings (Adam, 5e-6, 12 windows, generalized dice
        loss); documented defaults for a training loop, not used by the
        network.

    Examples
    --------
    >>> c = UTimeConfig()
    >>> c.pool_product, c.window_samples(), c.window_padding()
    (1920, 105000, (300, 300))
    >>> UTimeConfig(sampling_rate=128.0, n_samples=3840).window_padding()
    (0, 0)
    """

    # input
    roles: tuple[str, ...] = ("eeg",)
    n_samples: int = 3000
    sampling_rate: float = 100.0
    n_classes: int = 5
    sequence_length: int = 35

    # U-Net
    filters: tuple[int, ...] = (16, 32, 64, 128)
    pools: tuple[int, ...] = (10, 8, 6, 4)
    bottom_filters: int = 256
    kernel_size: int = 5
    dilation: int = 2
    activation: str = "relu"
    dense_activation: str = "tanh"

    # published training (documented defaults; the network does not use them)
    learning_rate: float = 5e-6
    batch_size: int = 12
    loss: str = "generalized_dice"

    # ----------------------------------------------------------------- derived
    @property
    def pool_product(self) -> int:
        """Total down-sampling of the encoder; the padded window is a multiple of it."""
        return math.prod(self.pools)

    def window_samples(self, length: int | None = None) -> int:
        """Samples of a window of ``length`` epochs (default ``sequence_length``)."""
        return (self.sequence_length if length is None else length) * self.n_samples

    def window_padding(self, length: int | None = None) -> tuple[int, int]:
        """Zeros added (left, right) to a window of ``length`` epochs to reach a multiple of ``pool_product``."""
        samples = self.window_samples(length)
        total = -samples % self.pool_product
        return total // 2, total - total // 2

    # -------------------------------------------------------------- validation
    def _validate(self) -> None:
        def fail(msg: str) -> None:
            raise ModelConfigError(f"utime config: {msg}")

        def positive_int(value: Any) -> bool:
            return isinstance(value, int) and not isinstance(value, bool) and value >= 1

        roles = self.roles
        if not isinstance(roles, tuple) or not roles or any(not (isinstance(r, str) and _ROLE.match(r)) for r in roles):
            fail(f"roles must be one or more lower-case names such as 'eeg' (got {roles!r})")
        if len(set(roles)) != len(roles):
            fail(f"roles must be distinct (got {list(roles)})")
        for name in ("n_samples", "n_classes", "sequence_length", "bottom_filters", "kernel_size", "dilation",
                     "batch_size"):
            value = getattr(self, name)
            if not positive_int(value):
                fail(f"{name} must be a positive integer (got {value!r})")
        if not self.sampling_rate > 0:
            fail(f"sampling_rate must be positive (got {self.sampling_rate!r})")
        if not isinstance(self.filters, tuple) or not isinstance(self.pools, tuple) or not self.pools:
            fail("filters and pools must be non-empty lists")
        if len(self.filters) != len(self.pools):
            fail(f"filters and pools must have the same length (got {len(self.filters)} and {len(self.pools)})")
        if any(not positive_int(v) for v in self.filters) or any(not positive_int(v) for v in self.pools):
            fail(f"filters and pools must be positive integers (got {list(self.filters)} and {list(self.pools)})")
        if self.activation not in _ACTIVATIONS:
            fail(f"activation must be one of {', '.join(_ACTIVATIONS)} (got {self.activation!r})")
        if self.dense_activation not in _DENSE_ACTIVATIONS:
            fail(f"dense_activation must be one of {', '.join(_DENSE_ACTIVATIONS)} (got {self.dense_activation!r})")
        if not self.learning_rate > 0:
            fail(f"learning_rate must be positive (got {self.learning_rate!r})")
        if self.loss not in _LOSSES:
            fail(f"loss must be one of {', '.join(_LOSSES)} (got {self.loss!r})")


def _activation(name: str) -> nn.Module:
    return nn.ELU() if name == "elu" else nn.ReLU()


def _convs(in_channels: int, out_channels: int, kernel: int, dilation: int, activation: str,
           n: int = 2) -> nn.Sequential:
    """``n`` times Conv1d ("same") -> activation -> BatchNorm, the U-Time unit."""
    layers: list[nn.Module] = []
    for i in range(n):
        layers += [
            nn.Conv1d(in_channels if i == 0 else out_channels, out_channels, kernel, dilation=dilation, padding="same"),
            _activation(activation),
            nn.BatchNorm1d(out_channels),
        ]
    return nn.Sequential(*layers)


class _UpBlock(nn.Module):
    """Decoder level: upsample by ``scale`` (nearest) + conv(kernel ``scale``), concatenate the skip, two convs."""

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int, scale: int, kernel: int,
                 activation: str) -> None:
        super().__init__()
        self.up = nn.Sequential(
            nn.Upsample(scale_factor=scale, mode="nearest"),
            nn.ConstantPad1d(((scale - 1) // 2, scale // 2), 0.0),   # "same" for an even kernel, extra on the right
            nn.Conv1d(in_channels, out_channels, scale),
            _activation(activation),
            nn.BatchNorm1d(out_channels),
        )
        self.fuse = _convs(skip_channels + out_channels, out_channels, kernel, 1, activation)

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        """(batch, in, n / scale), skip (batch, skip, n) -> (batch, out, n)."""
        return self.fuse(torch.cat([skip, self.up(x)], dim=1))


class UTime(nn.Module):
    """U-Time (Perslev et al., NeurIPS 2019): a window of epochs in, one stage per epoch out.

    Shapes
    ------
    input
        ``(batch, L, channels, n_samples)`` float32: L consecutive epochs,
        channels in ``config.roles`` order, µV or z-scored. Any L >= 1;
        ``config.sequence_length`` (35) is the published window.
    output
        Logits ``(batch, L, n_classes)``, stages W, N1, N2, N3, REM.

    The epochs are joined into one signal ``(batch, channels, L * n_samples)``,
    zero-padded to a multiple of ``config.pool_product`` (see
    ``UTimeConfig.window_padding``), segmented densely by ``encoder``,
    ``bottom``, ``decoder`` and ``dense`` (``dense_scores``: one score per
    class and sample), cropped back to the window, averaged over each epoch
    and classified by ``head`` (a 1x1 convolution). Being convolutional, the
    network treats every window alone.

    Parameters
    ----------
    config
        Sizes; ``UTimeConfig()`` (the default) is the published network,
        1,187,539 parameters.

    Examples
    --------
    >>> import torch
    >>> model = UTime(UTimeConfig()).eval()
    >>> sum(p.numel() for p in model.parameters())
    1187539
    >>> model(torch.zeros(1, 3, 1, 3000)).shape   # 1 window of 3 epochs
    torch.Size([1, 3, 5])
    """

    def __init__(self, config: UTimeConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or UTimeConfig()
        widths = (c.n_channels, *c.filters)
        self.encoder = nn.ModuleList(
            _convs(widths[i], widths[i + 1], c.kernel_size, c.dilation, c.activation) for i in range(len(c.filters))
        )
        self.pools = nn.ModuleList(nn.MaxPool1d(p) for p in c.pools)
        self.bottom = _convs(c.filters[-1], c.bottom_filters, c.kernel_size, 1, c.activation)
        ups: list[_UpBlock] = []
        in_channels = c.bottom_filters
        for width, pool in zip(reversed(c.filters), reversed(c.pools)):
            ups.append(_UpBlock(in_channels, width, width, pool, c.kernel_size, c.activation))
            in_channels = width
        self.decoder = nn.ModuleList(ups)
        self.dense = nn.Sequential(
            nn.Conv1d(c.filters[0], c.n_classes, 1),
            nn.Tanh() if c.dense_activation == "tanh" else nn.Identity(),
        )
        self.head = nn.Conv1d(c.n_classes, c.n_classes, 1)

    def dense_scores(self, x: Tensor) -> Tensor:
        """(batch, L, channels, n_samples) -> per-sample class scores (batch, n_classes, L * n_samples)."""
        self._check_input(x)
        batch, length, channels, samples = x.shape
        h = x.permute(0, 2, 1, 3).reshape(batch, channels, length * samples)
        left, right = self.config.window_padding(length)
        h = F.pad(h, (left, right))
        skips = []
        for block, pool in zip(self.encoder, self.pools):
            h = block(h)
            skips.append(h)
            h = pool(h)
        h = self.bottom(h)
        for up, skip in zip(self.decoder, reversed(skips)):
            h = up(h, skip)
        return self.dense(h)[..., left:left + length * samples]

    def forward(self, x: Tensor) -> Tensor:
        """(batch, L, channels, n_samples) -> logits (batch, L, n_classes)."""
        self._check_input(x)
        batch, length, _, samples = x.shape
        scores = self.dense_scores(x)
        per_epoch = scores.reshape(batch, -1, length, samples).mean(dim=-1)   # average pool over each epoch
        return self.head(per_epoch).transpose(1, 2)

    def _check_input(self, x: Tensor) -> None:
        c = self.config
        if x.dim() != 4 or x.shape[1] < 1 or x.shape[2] != c.n_channels or x.shape[3] != c.n_samples:
            raise ValueError(
                f"expected input (batch, L, {c.n_channels}, {c.n_samples}) for roles {list(c.roles)}, "
                f"got {tuple(x.shape)}"
            )

    @torch.no_grad()
    def predict_proba(self, x: Tensor) -> Tensor:
        """Class probabilities (batch, L, n_classes), in the model's current mode."""
        return torch.softmax(self(x), dim=-1)
