"""AttnSleep's configuration: the published sizes and training settings, checked on construction.

Kept apart from the network (:mod:`isatsleepnet.model.attnsleep`, which cites the
paper and describes the choices) so that each module holds one job.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from isatsleepnet.model.config import ModelConfigError, StoredConfig

__all__ = ["LOSSES", "AttnSleepConfig", "class_weights"]

_ROLE = re.compile(r"^(eeg|eog)[a-z0-9_]*$")

LOSSES = ("weighted_cross_entropy", "cross_entropy")
"""Loss names :attr:`AttnSleepConfig.loss` accepts (the paper: the weighted one)."""

_CLASS_MU = (2, 3, 2, 1, 2)
"""The authors' per-class factors for W, N1, N2, N3, REM, in units of 1/5."""


def class_weights(counts: Sequence[int]) -> list[float]:
    """AttnSleep's class weights for the cross entropy, from the training set's class counts.

    Why: N1 is rare and hard; the weights raise its loss (and any class much
    rarer than its share) without letting a tiny class dominate. For class k
    with ``M_k`` of ``M`` training epochs and factor ``mu_k`` (2, 3, 2, 1, 2
    fifths for W, N1, N2, N3, REM), ``w_k = max(1, ln(mu_k * M / M_k)) / 5``,
    rounded to 2 decimals, as the authors' code computes them
    (``calc_class_weight``; the paper's equation was not checked here).

    Parameters
    ----------
    counts
        Training epochs per stage, in the order W, N1, N2, N3, REM.

    Returns
    -------
    list of float
        One weight per stage, for ``torch.nn.CrossEntropyLoss(weight=...)``.

    Examples
    --------
    >>> class_weights([8285, 2804, 17799, 5703, 7717])
    [0.2, 0.44, 0.2, 0.2, 0.2]
    """
    if len(counts) != len(_CLASS_MU):
        raise ModelConfigError(f"AttnSleep class weights need 5 counts (W, N1, N2, N3, REM), got {len(counts)}")
    if any(c <= 0 for c in counts):
        raise ModelConfigError(f"AttnSleep class weights need a positive count per stage, got {list(counts)}")
    total, k = float(sum(counts)), len(counts)
    return [round(max(1.0, math.log(mu / k * total / c)) / k, 2) for mu, c in zip(_CLASS_MU, counts)]


def _out_len(length: int, kernel: int, stride: int, padding: int) -> int:
    """Output length of a convolution or pooling (floor mode)."""
    return (length + 2 * padding - kernel) // stride + 1


@dataclass(frozen=True)
class AttnSleepConfig(StoredConfig):
    """Sizes of AttnSleep, with the published defaults (Sleep-EDF: 1 EEG channel, 30 s at 100 Hz).

    Every field is a plain JSON value, so ``AttnSleepConfig(**json.loads(
    json.dumps(dataclasses.asdict(c))))`` rebuilds ``c`` (lists become tuples
    again). Impossible values raise :class:`ModelConfigError` on construction.

    Parameters
    ----------
    roles
        Input channels in order (names starting with ``eeg`` or ``eog``; at
        least one EEG). One per input channel of the first convolutions.
    n_samples, sampling_rate
        Samples per epoch and their rate in Hz; an epoch must be at least as
        long as the low-frequency branch's window (4 s).
    n_classes
        Stages predicted (5: W, N1, N2, N3, REM).
    kernel_rate, scale_kernels
        The ``high_*``/``low_*`` kernel, stride and padding of the first
        convolutions are in samples at ``kernel_rate`` Hz; with
        ``scale_kernels`` they are rescaled to ``sampling_rate``.
    filters, cnn_channels
        Channels after the first convolutions (64) and after the second and
        third (128).
    high_kernel, high_stride, high_padding, high_pool, high_conv_kernel, high_out_pool
        High-frequency branch: first convolution; first (kernel, stride) pool;
        kernel of the two next convolutions; last (kernel, stride) pool.
    low_kernel, low_stride, low_padding, low_pool, low_conv_kernel, low_out_pool
        Low-frequency branch, likewise (``low_conv_kernel`` is 6 in the
        authors' SHHS variant, at 125 Hz without rescaling).
    cnn_dropout
        Dropout in the MRCNN (after the first pools and on the concatenation).
    afr_channels, se_reduction
        Channels the AFR maps to (the paper's ``afr_reduced_cnn_size``, 30)
        and the squeeze-and-excitation reduction.
    tce_layers, heads, d_ff, causal_kernel, dropout
        Encoder layers, attention heads, feed-forward width, kernel of the
        causal convolutions, dropout in the encoder.
    learning_rate, betas, weight_decay, amsgrad, batch_size, epochs, loss
        Published training settings (documented; not read by the network).

    Examples
    --------
    >>> c = AttnSleepConfig()
    >>> c.seq_len, c.d_model, c.d_k
    (80, 80, 16)
    >>> c = AttnSleepConfig(n_samples=3840, sampling_rate=128.0)
    >>> c.branch_lengths, c.d_model, c.time_padding
    ((61, 16), 80, 3)
    """

    # input
    roles: tuple[str, ...] = ("eeg",)
    n_samples: int = 3000
    sampling_rate: float = 100.0
    n_classes: int = 5

    # MRCNN (first convolutions in samples at kernel_rate Hz)
    kernel_rate: float = 100.0
    scale_kernels: bool = True
    filters: int = 64
    cnn_channels: int = 128
    high_kernel: int = 50
    high_stride: int = 6
    high_padding: int = 24
    high_pool: tuple[int, int] = (8, 2)
    high_conv_kernel: int = 8
    high_out_pool: tuple[int, int] = (4, 4)
    low_kernel: int = 400
    low_stride: int = 50
    low_padding: int = 200
    low_pool: tuple[int, int] = (4, 2)
    low_conv_kernel: int = 7
    low_out_pool: tuple[int, int] = (2, 2)
    cnn_dropout: float = 0.5

    # AFR
    afr_channels: int = 30
    se_reduction: int = 16

    # TCE
    tce_layers: int = 2
    heads: int = 5
    d_ff: int = 120
    causal_kernel: int = 7
    dropout: float = 0.1

    # published training (documented defaults)
    learning_rate: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 1e-3
    amsgrad: bool = True
    batch_size: int = 128
    epochs: int = 100
    loss: str = "weighted_cross_entropy"

    # ----------------------------------------------------------------- derived
    def scaled(self, samples: int, minimum: int = 1) -> int:
        """A length in samples at ``kernel_rate`` Hz, expressed at ``sampling_rate``."""
        if not self.scale_kernels:
            return samples
        return max(minimum, round(samples * self.sampling_rate / self.kernel_rate))

    @property
    def high_first(self) -> tuple[int, int, int]:
        """(kernel, stride, padding) of the high-frequency branch's first convolution, at ``sampling_rate``."""
        return self.scaled(self.high_kernel), self.scaled(self.high_stride), self.scaled(self.high_padding, 0)

    @property
    def low_first(self) -> tuple[int, int, int]:
        """(kernel, stride, padding) of the low-frequency branch's first convolution, at ``sampling_rate``."""
        return self.scaled(self.low_kernel), self.scaled(self.low_stride), self.scaled(self.low_padding, 0)

    @property
    def branch_lengths(self) -> tuple[int, int]:
        """Output lengths of the high- and low-frequency branches (0 or less: too short an epoch)."""
        return (
            self._branch_length(self.high_first, self.high_pool, self.high_conv_kernel, self.high_out_pool),
            self._branch_length(self.low_first, self.low_pool, self.low_conv_kernel, self.low_out_pool),
        )

    @property
    def seq_len(self) -> int:
        """L, the MRCNN's output length (80 in the published setting)."""
        return sum(self.branch_lengths)

    @property
    def d_model(self) -> int:
        """The attention width: L rounded up to a multiple of ``heads``."""
        return self.heads * -(-self.seq_len // self.heads)

    @property
    def time_padding(self) -> int:
        """Zero steps appended after the AFR to reach ``d_model``."""
        return self.d_model - self.seq_len

    @property
    def d_k(self) -> int:
        """Width of one attention head."""
        return self.d_model // self.heads

    @property
    def se_hidden(self) -> int:
        """Bottleneck width of the squeeze-and-excitation."""
        return max(1, self.afr_channels // self.se_reduction)

    def _branch_length(
        self, first: tuple[int, int, int], pool: tuple[int, int], conv_kernel: int, out_pool: tuple[int, int]
    ) -> int:
        n = _out_len(self.n_samples, *first)
        for step in ((pool[0], pool[1], pool[0] // 2), (conv_kernel, 1, conv_kernel // 2),
                     (conv_kernel, 1, conv_kernel // 2), (out_pool[0], out_pool[1], out_pool[0] // 2)):
            if n < 1:
                return n
            n = _out_len(n, *step)
        return n

    # -------------------------------------------------------------- validation
    def _validate(self) -> None:
        def fail(msg: str) -> NoReturn:
            raise ModelConfigError(f"AttnSleep config: {msg}")

        roles = self.roles
        if (not isinstance(roles, tuple) or not roles
                or any(not isinstance(r, str) or not _ROLE.match(r) for r in roles)):
            fail(f"roles must be names starting with 'eeg' or 'eog' (got {roles!r})")
        if len(set(roles)) != len(roles):
            fail(f"roles must be distinct (got {list(roles)})")
        if not any(r.startswith("eeg") for r in roles):
            fail(f"at least one EEG role is needed (got {list(roles)})")
        positive = ("n_samples", "n_classes", "filters", "cnn_channels", "high_kernel", "high_stride",
                    "high_conv_kernel", "low_kernel", "low_stride", "low_conv_kernel", "afr_channels",
                    "se_reduction", "tce_layers", "heads", "d_ff", "causal_kernel", "batch_size", "epochs")
        for name in (*positive, "high_padding", "low_padding"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                fail(f"{name} must be an integer (got {value!r})")
        for name in positive:
            if getattr(self, name) < 1:
                fail(f"{name} must be positive (got {getattr(self, name)})")
        if self.n_classes < 2:
            fail(f"n_classes must be at least 2 (got {self.n_classes})")
        if self.high_padding < 0 or self.low_padding < 0:
            fail("high_padding and low_padding must not be negative")
        for name in ("high_pool", "high_out_pool", "low_pool", "low_out_pool"):
            value = getattr(self, name)
            if (not isinstance(value, tuple) or len(value) != 2
                    or any(not isinstance(v, int) or isinstance(v, bool) or v < 1 for v in value)):
                fail(f"{name} must be (kernel, stride), two positive integers (got {value!r})")
        for name in ("sampling_rate", "kernel_rate", "learning_rate"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 or math.isinf(value):
                fail(f"{name} must be a positive number (got {value!r})")
            object.__setattr__(self, name, float(value))
        for name in ("cnn_dropout", "dropout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
                fail(f"{name} must be in [0, 1) (got {value!r})")
        if not isinstance(self.scale_kernels, bool) or not isinstance(self.amsgrad, bool):
            fail("scale_kernels and amsgrad must be true or false")
        if (not isinstance(self.betas, tuple) or len(self.betas) != 2
                or any(isinstance(b, bool) or not isinstance(b, (int, float)) or not 0.0 <= b < 1.0
                       for b in self.betas)):
            fail(f"betas must be two numbers in [0, 1) (got {self.betas!r})")
        wd = self.weight_decay
        if isinstance(wd, bool) or not isinstance(wd, (int, float)) or not 0.0 <= wd < math.inf:
            fail(f"weight_decay must be a non-negative number (got {wd!r})")
        if self.loss not in LOSSES:
            fail(f"loss must be one of {', '.join(LOSSES)} (got {self.loss!r})")
        longest = max(self.high_first[0], self.low_first[0])
        if self.n_samples < longest:  # shorter epochs would only feed the zero padding
            fail(f"n_samples={self.n_samples} is shorter than the longest first convolution "
                 f"({longest} samples at {self.sampling_rate:g} Hz)")
        high, low = self.branch_lengths
        if high < 1 or low < 1:
            fail(f"n_samples={self.n_samples} at {self.sampling_rate:g} Hz is too short for the MRCNN "
                 f"(branch lengths {high}, {low})")


# --------------------------------------------------------------------- modules
