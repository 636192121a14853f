"""TinySleepNet: a small CNN per 30-s epoch, then a unidirectional LSTM over a window of epochs.

Reference: A. Supratak and Y. Guo, "TinySleepNet: An Efficient Deep Learning
Model for Sleep Stage Scoring based on Raw Single-Channel EEG", 42nd Annual
International Conference of the IEEE Engineering in Medicine & Biology Society
(EMBC), 2020, pp. 641-644, doi:10.1109/EMBC44109.2020.9176741.

Written for this project from the paper's description, as a baseline to
compare ISATSleepNet with; details the paper leaves open (padding, biases,
BatchNorm settings) were checked against the authors' released TensorFlow
code (github.com/akaraspt/tinysleepnet), none of which is copied here.

The published network, at the sampling rate Fs (100 Hz, 30-s epochs of
3000 samples):

* per epoch: Conv1d(128, kernel Fs/2, stride Fs/16) + BN + ReLU,
  MaxPool(8), Dropout(0.5), three times Conv1d(128, kernel 8) + BN + ReLU,
  MaxPool(4), Flatten, Dropout(0.5);
* over a window of L = 20 epochs: one unidirectional LSTM layer of 128
  units, Dropout(0.5), a linear layer to the 5 stages at every epoch.

Only the first convolution is tied to Fs (kernel ``int(Fs / 2)``, stride
``int(Fs / 16)``, as the authors' code computes them); after it the feature
rate is ~16 Hz at any Fs, so the pools and the kernel 8 stay in steps.

Choices of this implementation (the paper leaves them to its TensorFlow code):

* "same" padding as TensorFlow does it (output length ``ceil(n / stride)``,
  the extra padding sample on the right); max-pooling pads with -inf, so a
  padded position never wins. At 100 Hz the epoch becomes 500 -> 63 -> 16
  steps, a 2048-wide feature per epoch.
* The convolutions have no bias (BatchNorm follows each); BatchNorm uses
  TensorFlow's ``momentum=0.99`` (PyTorch 0.01) and ``eps=1e-3``.
* The LSTM state starts at zero in every window and is not carried from one
  window to the next (the authors' training loop carried it across the
  consecutive windows of a night). Windows are thereby independent: they can
  be sampled, shuffled and staged alone; the cost is that the first epochs of
  a window see less past context.

Parameters: 1,516,421 at the published sizes (one channel, 100 Hz), of which
1,115,136 are the LSTM's. PyTorch's LSTM keeps two bias vectors per gate where
TensorFlow keeps one, so the same network in the authors' TensorFlow code has
512 fewer (1,515,909). The paper's own parameter figure could not be checked
when this was written (secondary tables quote "~1.3 M"; unverified, and below
this layer list's count, whose LSTM alone has 1.1 M parameters).

Published training (in ``TinySleepNetConfig``, not applied by this module):
Adam, learning rate 1e-4, 15 windows of 20 epochs per batch, cross entropy
weighted 1, 1.5, 1, 1, 1 (W, N1, N2, N3, REM), L2 penalty 1e-3 on the
convolution kernels, signal augmentation (each night's signal shifted by up
to +-10 % of an epoch) and sequence augmentation (a random number of epochs
skipped at the start of each night's windows); the authors' code also clips
the gradients' global norm to 5.
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
_LOSSES = ("weighted_cross_entropy", "cross_entropy")


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _same_padding(length: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's "same" padding (left, right): output length ``ceil(length / stride)``."""
    out = _ceil_div(length, stride)
    total = max((out - 1) * stride + kernel - length, 0)
    return total // 2, total - total // 2


@dataclass(frozen=True)
class TinySleepNetConfig(StoredConfig):
    """Sizes of TinySleepNet and its published training settings (defaults: the paper).

    Every field is a plain JSON value (tuples come back from JSON as lists and
    are turned into tuples again), so ``TinySleepNetConfig(**json.loads(s))``
    rebuilds a configuration stored with ``dataclasses.asdict``.

    Parameters
    ----------
    roles
        The input channels, in order (published: one EEG channel). More roles
        mean more input channels of the first convolution.
    n_samples, sampling_rate
        One epoch: samples and Hz (published: 3000 at 100 Hz).
    n_classes
        Stages (W, N1, N2, N3, REM).
    sequence_length
        Epochs per window (published L = 20). The network accepts any window
        length; this is the one training should cut.
    filters
        Channels of the four convolutions.
    first_kernel_seconds, first_stride_seconds
        First convolution's kernel and stride as fractions of Fs (Fs/2, Fs/16),
        rounded down to samples as the authors' code does.
    first_pool, conv_kernel, n_convs, second_pool
        The rest of the CNN, in feature steps.
    lstm_hidden
        LSTM units.
    dropout
        The three dropout layers' rate.
    learning_rate, batch_size, loss, class_weights, weight_decay, grad_clip_norm, shift_fraction, skip_sequences
        Published training settings (Adam); documented defaults for a training
        loop, not used by the network. ``weight_decay`` is the L2 factor on the
        convolution kernels (``TinySleepNet.regularized_parameters``), as
        ``weight_decay * sum(w ** 2) / 2`` added to the loss.

    Examples
    --------
    >>> c = TinySleepNetConfig()
    >>> c.first_kernel, c.first_stride, c.feature_steps, c.feature_dim
    (50, 6, 16, 2048)
    >>> TinySleepNetConfig(sampling_rate=128.0, n_samples=3840).first_kernel
    64
    """

    # input
    roles: tuple[str, ...] = ("eeg",)
    n_samples: int = 3000
    sampling_rate: float = 100.0
    n_classes: int = 5
    sequence_length: int = 20

    # per-epoch CNN
    filters: int = 128
    first_kernel_seconds: float = 0.5      # Fs / 2
    first_stride_seconds: float = 0.0625   # Fs / 16
    first_pool: int = 8
    conv_kernel: int = 8
    n_convs: int = 3
    second_pool: int = 4

    # sequence model
    lstm_hidden: int = 128
    dropout: float = 0.5

    # published training (documented defaults; the network does not use them)
    learning_rate: float = 1e-4
    batch_size: int = 15
    loss: str = "weighted_cross_entropy"
    class_weights: tuple[float, ...] = (1.0, 1.5, 1.0, 1.0, 1.0)
    weight_decay: float = 1e-3
    grad_clip_norm: float = 5.0
    shift_fraction: float = 0.1
    skip_sequences: bool = True

    # ----------------------------------------------------------------- derived
    @property
    def first_kernel(self) -> int:
        """Samples of the first convolution's kernel (``int(Fs / 2)``: 50 at 100 Hz)."""
        return int(math.floor(self.sampling_rate * self.first_kernel_seconds + 1e-9))

    @property
    def first_stride(self) -> int:
        """Samples of the first convolution's stride (``int(Fs / 16)``: 6 at 100 Hz)."""
        return int(math.floor(self.sampling_rate * self.first_stride_seconds + 1e-9))

    @property
    def feature_steps(self) -> int:
        """Time steps left after the CNN ("same" padding: 3000 -> 500 -> 63 -> 16)."""
        steps = _ceil_div(self.n_samples, max(self.first_stride, 1))
        steps = _ceil_div(steps, self.first_pool)
        return _ceil_div(steps, self.second_pool)

    @property
    def feature_dim(self) -> int:
        """Width of one epoch's flattened CNN feature, the LSTM's input."""
        return self.filters * self.feature_steps

    # -------------------------------------------------------------- validation
    def _validate(self) -> None:
        def fail(msg: str) -> None:
            raise ModelConfigError(f"tinysleepnet config: {msg}")

        roles = self.roles
        if not isinstance(roles, tuple) or not roles or any(not (isinstance(r, str) and _ROLE.match(r)) for r in roles):
            fail(f"roles must be one or more lower-case names such as 'eeg' (got {roles!r})")
        if len(set(roles)) != len(roles):
            fail(f"roles must be distinct (got {list(roles)})")
        for name in ("n_samples", "n_classes", "sequence_length", "filters", "first_pool", "conv_kernel",
                     "second_pool", "lstm_hidden", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                fail(f"{name} must be a positive integer (got {value!r})")
        if not isinstance(self.n_convs, int) or isinstance(self.n_convs, bool) or self.n_convs < 0:
            fail(f"n_convs must be a non-negative integer (got {self.n_convs!r})")
        if not self.sampling_rate > 0:
            fail(f"sampling_rate must be positive (got {self.sampling_rate!r})")
        if self.first_kernel < 1 or self.first_stride < 1:
            fail(f"first_kernel_seconds and first_stride_seconds must give at least one sample at "
                 f"{self.sampling_rate:g} Hz (got {self.first_kernel} and {self.first_stride})")
        if self.first_stride > self.first_kernel:
            fail(f"the first stride ({self.first_stride}) must not exceed its kernel ({self.first_kernel})")
        if self.n_samples < self.first_kernel:
            fail(f"n_samples ({self.n_samples}) is shorter than the first kernel ({self.first_kernel})")
        if not 0.0 <= self.dropout < 1.0:
            fail(f"dropout must be in [0, 1) (got {self.dropout!r})")
        if not self.learning_rate > 0:
            fail(f"learning_rate must be positive (got {self.learning_rate!r})")
        if self.loss not in _LOSSES:
            fail(f"loss must be one of {', '.join(_LOSSES)} (got {self.loss!r})")
        if len(self.class_weights) != self.n_classes or any(not w > 0 for w in self.class_weights):
            fail(f"class_weights must be {self.n_classes} positive numbers (got {list(self.class_weights)})")
        if not self.weight_decay >= 0 or not self.grad_clip_norm >= 0:
            fail("weight_decay and grad_clip_norm must be non-negative")
        if not 0.0 <= self.shift_fraction < 1.0:
            fail(f"shift_fraction must be in [0, 1) (got {self.shift_fraction!r})")


class _SameConv1d(nn.Conv1d):
    """Conv1d with TensorFlow's "same" padding (any stride), no bias."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int = 1) -> None:
        super().__init__(in_channels, out_channels, kernel, stride=stride, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        left, right = _same_padding(x.shape[-1], self.kernel_size[0], self.stride[0])
        return super().forward(F.pad(x, (left, right)))


class _SameMaxPool1d(nn.Module):
    """MaxPool1d(size, stride=size) with "same" padding by -inf (a padded position never wins)."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def forward(self, x: Tensor) -> Tensor:
        left, right = _same_padding(x.shape[-1], self.size, self.size)
        if left or right:
            x = F.pad(x, (left, right), value=float("-inf"))
        return F.max_pool1d(x, self.size, self.size)

    def extra_repr(self) -> str:
        return f"size={self.size}"


def _conv_bn_relu(in_channels: int, out_channels: int, kernel: int, stride: int = 1) -> list[nn.Module]:
    return [
        _SameConv1d(in_channels, out_channels, kernel, stride),
        nn.BatchNorm1d(out_channels, eps=1e-3, momentum=0.01),
        nn.ReLU(),
    ]


class TinySleepNet(nn.Module):
    """TinySleepNet (Supratak & Guo, EMBC 2020): a window of epochs in, one stage per epoch out.

    Shapes
    ------
    input
        ``(batch, L, channels, n_samples)`` float32: L consecutive epochs,
        channels in ``config.roles`` order, µV or z-scored (BatchNorm follows
        the first convolution). Any L >= 1; ``config.sequence_length`` (20)
        is the published window.
    output
        Logits ``(batch, L, n_classes)``, stages W, N1, N2, N3, REM.

    The CNN (``cnn``) reads each epoch alone, ``(batch * L, channels,
    n_samples) -> (batch * L, feature_dim)``; the LSTM (``lstm``) runs over
    the L epochs of each window from a zero state (nothing is carried between
    windows), then dropout and ``head``, a linear layer per epoch.

    Parameters
    ----------
    config
        Sizes; ``TinySleepNetConfig()`` (the default) is the published network,
        1,516,421 parameters.

    Examples
    --------
    >>> import torch
    >>> model = TinySleepNet(TinySleepNetConfig()).eval()
    >>> sum(p.numel() for p in model.parameters())
    1516421
    >>> model(torch.zeros(2, 3, 1, 3000)).shape   # 2 windows of 3 epochs
    torch.Size([2, 3, 5])
    """

    def __init__(self, config: TinySleepNetConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or TinySleepNetConfig()
        layers: list[nn.Module] = [
            *_conv_bn_relu(c.n_channels, c.filters, c.first_kernel, c.first_stride),
            _SameMaxPool1d(c.first_pool),
            nn.Dropout(c.dropout),
        ]
        for _ in range(c.n_convs):
            layers += _conv_bn_relu(c.filters, c.filters, c.conv_kernel)
        layers += [_SameMaxPool1d(c.second_pool), nn.Flatten(), nn.Dropout(c.dropout)]
        self.cnn = nn.Sequential(*layers)
        self.lstm = nn.LSTM(c.feature_dim, c.lstm_hidden, num_layers=1, batch_first=True)
        self.dropout = nn.Dropout(c.dropout)
        self.head = nn.Linear(c.lstm_hidden, c.n_classes)

    def epoch_features(self, x: Tensor) -> Tensor:
        """(batch, L, channels, n_samples) -> the CNN's per-epoch features (batch, L, feature_dim)."""
        self._check_input(x)
        batch, length = x.shape[:2]
        h = self.cnn(x.reshape(batch * length, *x.shape[2:]))
        return h.reshape(batch, length, -1)

    def forward(self, x: Tensor) -> Tensor:
        """(batch, L, channels, n_samples) -> logits (batch, L, n_classes)."""
        h, _ = self.lstm(self.epoch_features(x))   # zero initial state: windows are independent
        return self.head(self.dropout(h))

    def regularized_parameters(self) -> list[nn.Parameter]:
        """The convolution kernels the published L2 penalty (``config.weight_decay``) applies to."""
        return [m.weight for m in self.cnn.modules() if isinstance(m, nn.Conv1d)]

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
