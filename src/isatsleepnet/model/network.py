"""`ISATSleepNet`: per-modality extractors -> CMIA -> BiLSTM -> self-attention -> ASR -> classifier.

Input (batch, n_channels, n_samples), channels in ``config.roles`` order, in
µV (or z-scored per epoch: the BatchNorm right after the first convolutions
absorbs the input scale). Output: logits (batch, n_classes), stages in the
order W, N1, N2, N3, REM.

At the paper's sizes (3 channels, 3000 samples) the network has 2.39 M
parameters and does 1.73 GFLOP per epoch forward (2 per multiply-add; LSTM
and attention counted), 66 % of it in the EOG residual convolutions (79 % of
the 1.44 GFLOP that PyTorch's stock FlopCounterMode sees); the fast path
executes 0.68 GFLOP. See ``isatsleepnet.model.flops``.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor, nn

from isatsleepnet.model.asr import AttractorStateRectifier
from isatsleepnet.model.cmia import CrossModalInteraction, SelfAttentionBlock, SequenceEncoder
from isatsleepnet.model.config import ModelConfig
from isatsleepnet.model.eeg import NMSEEG
from isatsleepnet.model.eog import ODDMEOG
from isatsleepnet.model.fastops import make_dropout, make_linear


class ISATSleepNet(nn.Module):
    """The sleep-staging network.

    ``config.use_fast_conv`` picks the implementation: the fast path (FFT
    convolutions, oneDNN matmuls, batched cross-modal projections) or the
    eager reference. Both compute the same function with the same state_dict
    keys and shapes, so weights move between them freely (``with_fast_conv``).
    """

    def __init__(self, config: ModelConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or ModelConfig()
        self.input_index = {role: i for i, role in enumerate(config.roles)}
        self.eeg = nn.ModuleDict({role: NMSEEG(config) for role in config.eeg_roles})
        self.eog = nn.ModuleDict({role: ODDMEOG(config) for role in config.eog_roles})
        self.cmia = CrossModalInteraction(config, config.modalities)
        self.sequence = SequenceEncoder(config)
        width, fast = 2 * config.lstm_hidden, config.use_fast_conv
        self.self_attention: nn.Module = (
            SelfAttentionBlock(width, config.self_heads, config.attention_dropout, fast=fast)
            if config.use_self_attention else nn.Identity()
        )
        self.asr: nn.Module = (
            AttractorStateRectifier(width, config.n_classes, config.asr_beta, config.asr_temperature)
            if config.use_asr else nn.Identity()
        )
        self.head = nn.Sequential(
            make_linear(width, config.head_hidden, fast=fast),
            nn.ReLU(),
            make_dropout(config.dropout, fast=fast),
            make_linear(config.head_hidden, config.n_classes, fast=fast),
        )

    def extractor(self, role: str) -> nn.Module:
        return self.eeg[role] if role in self.eeg else self.eog[role]

    def features(self, x: Tensor) -> list[Tensor]:
        """(batch, n_channels, n_samples) -> one (batch, T, feature_dim) per used modality."""
        self._check_input(x)
        return [self.extractor(role)(x[:, self.input_index[role]]) for role in self.config.modalities]

    def sequence_states(self, x: Tensor) -> Tensor:
        """(batch, n_channels, n_samples) -> rectified states (batch, T, 2 * lstm_hidden)."""
        h = self.cmia(self.features(x))           # (B, T, 128)
        h = self.sequence(h)                      # (B, T, 256)
        h = self.self_attention(h)                # (B, T, 256)
        return self.asr(h)                        # (B, T, 256)

    def forward(self, x: Tensor) -> Tensor:
        """(batch, n_channels, n_samples) -> logits (batch, n_classes)."""
        return self.head(self.embed(x))

    def embed(self, x: Tensor) -> Tensor:
        """(batch, n_channels, n_samples) -> the epoch's embedding (batch, 2 * lstm_hidden), the head's input."""
        return self.sequence_states(x).mean(dim=1)

    def logits_and_embedding(self, x: Tensor) -> Tensor:
        """(batch, n_classes + 2 * lstm_hidden): logits then embedding, in one pass (what a context model reads)."""
        e = self.embed(x)
        return torch.cat([self.head(e), e], dim=1)

    # ------------------------------------------------------------------ helpers
    def _check_input(self, x: Tensor) -> None:
        c = self.config
        if x.dim() != 3 or x.shape[1] != c.n_channels or x.shape[2] != c.n_samples:
            raise ValueError(
                f"expected input (batch, {c.n_channels}, {c.n_samples}) for roles {list(c.roles)}, "
                f"got {tuple(x.shape)}"
            )

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def with_fast_conv(self, enabled: bool = True) -> ISATSleepNet:
        """A copy of this model using (or not) the FFT convolutions, same weights and mode."""
        other = ISATSleepNet(dataclasses.replace(self.config, use_fast_conv=enabled))
        other.load_state_dict(self.state_dict())
        param = next(self.parameters())
        return other.to(device=param.device, dtype=param.dtype).train(self.training)

    def fuse_for_inference(self, *, split_batch: bool = True) -> nn.Module:
        """An eval-only copy with BatchNorm/LCR folded and FFT kernel spectra cached.

        Its forward runs under inference_mode and, with ``split_batch`` on a
        multi-threaded CPU, runs one slice of the batch per core. See
        ``isatsleepnet.model.fast.fuse_for_inference``; it cannot be trained.
        """
        from isatsleepnet.model.fast import fuse_for_inference

        return fuse_for_inference(self, split_batch=split_batch)

    @torch.no_grad()
    def predict_proba(self, x: Tensor) -> Tensor:
        """Class probabilities (batch, n_classes), in the model's current mode."""
        return torch.softmax(self(x), dim=-1)
