"""`ModelConfig`: every size and switch of ISATSleepNet, with the paper's defaults.

The training code stores ``dataclasses.asdict(config)`` in checkpoints and
rebuilds the model with ``ModelConfig(**d)``, so every field is a plain JSON
value; tuples that come back from JSON as lists are turned into tuples again.

Choices the paper leaves open (documented here once, used by the blocks):

* Time base. The sequence length is ``T = n_samples // 20`` (150 for 30 s at
  100 Hz). NMS-EEG brings its three scale branches to ``n_samples // 5`` and
  two MaxPool(2) steps give T; ODDM-EOG works at ``n_samples // 4`` and its
  pyramid pools to T. Any epoch length / rate therefore works.
* Kernel sizes of the raw-signal convolutions (``eeg_kernels``,
  ``eog_fast_kernel``, ``eog_slow_kernel``) are given at ``kernel_rate`` Hz
  (100, as in the paper) and, with ``scale_kernels=True``, rescaled to
  ``sampling_rate`` so that they span the same time (0.3/0.5/0.7 s ...).
  Strides stay in samples, so sequence lengths depend on ``n_samples`` only.
* ODDM-EOG residual blocks: ``eog_res_dilations`` gives one block per entry,
  each block two dilated ``eog_res_kernel``-tap convolutions (64 channels)
  with BN, ReLU and an identity shortcut. With (1, 2, 4) and 31 taps the model
  has 2.39 M parameters (paper: ~2.35 M) and 1.73 GFLOP per epoch, 1.44 of
  them as PyTorch's FlopCounterMode counts (paper: ~1.6), 80 % of those in
  the residual blocks (see ``network.py``).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

from isatsleepnet.errors import IsatSleepNetError

_ROLE = re.compile(r"^(eeg|eog)[a-z0-9_]*$")


MODEL_SIZES: dict[str, dict[str, Any]] = {
    "paper": {},
    "small": {
        "eeg_filters": 16, "eeg_hidden": 32, "eog_filters": 16, "feature_dim": 64,
        "simgate_dim": 32, "lstm_hidden": 64, "head_hidden": 64,
    },
}
"""Named model sizes, as ModelConfig overrides. ``paper``: the paper's network
(2.39 M parameters). ``small``: every component kept, every width halved
(0.61 M parameters, ~4x fewer FLOPs): about 2x the staging speed on a CPU, for
labs that stage many nights; its accuracy must be measured like any model's."""


def model_size_options(size: str) -> dict[str, Any]:
    """The ModelConfig overrides of a named size (``MODEL_SIZES``)."""
    try:
        return dict(MODEL_SIZES[size])
    except KeyError:
        raise ModelConfigError(f"unknown model size {size!r}; known: {', '.join(MODEL_SIZES)}") from None


class ModelConfigError(IsatSleepNetError, ValueError):
    """A model configuration that cannot build a network (one-line message)."""


class StoredConfig:
    """Base of the networks' frozen configuration dataclasses, stored as JSON beside their weights.

    Why a base: every architecture's configuration is rebuilt with
    ``Config(**json.loads(text))``, and JSON gives lists where the dataclass
    holds tuples; ``__post_init__`` turns them back into tuples, then runs the
    subclass's ``_validate``. ``roles`` (one per input channel) gives
    ``n_channels``.
    """

    roles: tuple[str, ...]

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if isinstance(value, list):
                object.__setattr__(self, f.name, tuple(value))
        self._validate()

    def _validate(self) -> None:
        """Raise :class:`ModelConfigError` for a setting the network cannot be built with."""

    @property
    def n_channels(self) -> int:
        """Channels the input tensor must have (one per role)."""
        return len(self.roles)

    def to_dict(self) -> dict[str, Any]:
        """Every field, as plain JSON values."""
        return dataclasses.asdict(self)  # type: ignore[call-overload]


@dataclass(frozen=True)
class ModelConfig(StoredConfig):
    """Sizes and ablation switches of ISATSleepNet (paper defaults).

    ``roles`` is the order of the input channels: names starting with
    ``eeg`` are EEG (one NMS-EEG each), names starting with ``eog`` are EOG
    (one ODDM-EOG each). At least one EEG role is required.
    """

    # input
    roles: tuple[str, ...] = ("eeg", "eeg2", "eog")
    n_samples: int = 3000
    sampling_rate: float = 100.0
    n_classes: int = 5
    dropout: float = 0.5
    attention_dropout: float = 0.1  # on the cross/self-attention outputs before the residual sum

    # NMS-EEG
    eeg_filters: int = 32
    eeg_kernels: tuple[int, ...] = (30, 50, 70)
    eeg_strides: tuple[int, ...] = (5, 10, 20)
    eeg_hidden: int = 64
    lcr_strength: float = 0.1  # LCR: x * (1 + strength * tanh(p))

    # ODDM-EOG
    eog_filters: int = 32
    eog_fast_kernel: int = 15
    eog_fast_stride: int = 2
    eog_slow_kernel: int = 100
    eog_slow_stride: int = 4
    eog_res_kernel: int = 31
    eog_res_dilations: tuple[int, ...] = (1, 2, 4)
    tpp_levels: tuple[int, ...] = (1, 2, 4)  # pyramid divisors of T

    # kernel sizes above are given at this rate and rescaled to sampling_rate
    kernel_rate: float = 100.0
    scale_kernels: bool = True

    # CMIA and sequence model
    feature_dim: int = 128
    simgate_dim: int = 64
    cross_heads: int = 4
    lstm_hidden: int = 128
    lstm_layers: int = 2
    self_heads: int = 4
    asr_beta: float = 0.5
    asr_temperature: float = 0.1  # initial value of the learnable softmax temperature
    head_hidden: int = 128

    # ablation switches (False replaces the block by its plain alternative)
    use_lcr: bool = True
    use_simgate: bool = True
    use_cross_attention: bool = True
    use_lstm: bool = True
    use_self_attention: bool = True
    use_asr: bool = True
    use_tpp: bool = True
    use_eog: bool = True
    use_fast_conv: bool = True  # FFT convolutions for the long dilated EOG kernels
    # context across epochs (0: the paper's per-epoch network, unchanged; N: a sequence model over
    # N consecutive epochs' embeddings on top of it, see isatsleepnet.model.context)
    context: int = 0
    context_model: str = "bigru"  # or "transformer" (see isatsleepnet.model.context.ContextHead)
    context_hidden: int = 64  # BiGRU hidden units per direction; the transformer's width is twice this
    context_layers: int = 1

    # ----------------------------------------------------------------- derived
    @property
    def eeg_roles(self) -> tuple[str, ...]:
        return tuple(r for r in self.roles if r.startswith("eeg"))

    @property
    def eog_roles(self) -> tuple[str, ...]:
        """EOG roles the network uses (none when ``use_eog`` is False)."""
        return tuple(r for r in self.roles if r.startswith("eog")) if self.use_eog else ()

    @property
    def modalities(self) -> tuple[str, ...]:
        """Roles that get a feature extractor, in input order."""
        return tuple(r for r in self.roles if r in self.eeg_roles or r in self.eog_roles)

    @property
    def seq_len(self) -> int:
        """T, the number of feature vectors per epoch."""
        return self.n_samples // 20

    @property
    def eog_len(self) -> int:
        return self.n_samples // 4

    def scaled_kernel(self, kernel: int) -> int:
        """A kernel size defined at ``kernel_rate`` Hz, expressed at ``sampling_rate``."""
        if not self.scale_kernels:
            return kernel
        return max(1, round(kernel * self.sampling_rate / self.kernel_rate))

    # -------------------------------------------------------------- validation
    def _validate(self) -> None:
        def fail(msg: str) -> None:
            raise ModelConfigError(f"model config: {msg}")

        roles = self.roles
        if not roles or any(not isinstance(r, str) or not _ROLE.match(r) for r in roles):
            fail(f"roles must be names starting with 'eeg' or 'eog' (got {list(roles)})")
        if len(set(roles)) != len(roles):
            fail(f"roles must be distinct (got {list(roles)})")
        if not self.eeg_roles:
            fail(f"at least one EEG role is needed (got {list(roles)})")
        if self.n_samples < 80:
            fail(f"n_samples must be at least 80 (got {self.n_samples})")
        if self.sampling_rate <= 0 or self.kernel_rate <= 0:
            fail("sampling_rate and kernel_rate must be positive")
        if len(self.eeg_kernels) != len(self.eeg_strides) or not self.eeg_kernels:
            fail("eeg_kernels and eeg_strides must have the same, non-zero length")
        if self.eog_res_kernel % 2 != 1:
            fail(f"eog_res_kernel must be odd for 'same' padding (got {self.eog_res_kernel})")
        if any(d < 1 for d in self.eog_res_dilations):
            fail("eog_res_dilations must be positive")
        if not self.tpp_levels or self.tpp_levels[0] != 1 or any(v < 1 for v in self.tpp_levels):
            fail("tpp_levels must start with 1 (the T level) and be positive")
        for name in ("feature_dim", "cross_heads", "self_heads", "lstm_hidden", "lstm_layers", "n_classes"):
            if getattr(self, name) < 1:
                fail(f"{name} must be positive")
        if self.feature_dim % self.cross_heads:
            fail("feature_dim must be divisible by cross_heads")
        if (2 * self.lstm_hidden) % self.self_heads:
            fail("2 * lstm_hidden must be divisible by self_heads")
        if not 0.0 <= self.dropout < 1.0 or not 0.0 <= self.attention_dropout < 1.0:
            fail("dropout rates must be in [0, 1)")
        if not (isinstance(self.context, int) and (self.context == 0 or 3 <= self.context <= 255)):
            fail(f"context must be 0 (per epoch) or a window of 3 to 255 epochs (got {self.context!r})")
        if self.context_hidden < 1 or self.context_layers < 1:
            fail("context_hidden and context_layers must be positive")
        if self.context_model not in ("bigru", "transformer"):
            fail(f"context_model must be bigru or transformer (got {self.context_model!r})")
        if self.context_model == "transformer" and (2 * self.context_hidden) % 4:
            fail("a transformer context needs context_hidden divisible by 2 (4 heads of 2 * context_hidden)")
