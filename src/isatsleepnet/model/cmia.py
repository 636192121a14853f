"""CMIA: similarity-gated cross-modal attention (SMCI + SimGate), fusion, BiLSTM, self-attention.

Shapes: every modality arrives as (batch, T, D) with D = feature_dim; the
fused sequence is (batch, T, D), the BiLSTM output (batch, T, 2 * hidden).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from isatsleepnet.model.attention import MultiHeadAttention
from isatsleepnet.model.config import ModelConfig
from isatsleepnet.model.fastops import linear, make_dropout, make_linear


def pair_key(target: str, source: str) -> str:
    return f"{target}_from_{source}"


class SimGate(nn.Module):
    """Per-step gate ``scale * (cos(target_state, source_state) + 1) / 2``, shape (batch, T, 1).

    Each modality is projected to a small state (Linear + LayerNorm); where
    the two agree the cross-modal message passes, where they disagree it is
    damped. ``scale`` (learnable, starts at 1) sets the overall strength.
    """

    def __init__(self, dim: int, state_dim: int, *, fast: bool = False) -> None:
        super().__init__()
        self.target_proj = nn.Sequential(make_linear(dim, state_dim, fast=fast), nn.LayerNorm(state_dim))
        self.source_proj = nn.Sequential(make_linear(dim, state_dim, fast=fast), nn.LayerNorm(state_dim))
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, target: Tensor, source: Tensor) -> Tensor:
        return self.from_projections(self.target_proj[0](target), self.source_proj[0](source))

    def from_projections(self, target: Tensor, source: Tensor) -> Tensor:
        """The gate from the two Linear outputs (before their LayerNorms)."""
        cos = F.cosine_similarity(self.target_proj[1](target), self.source_proj[1](source), dim=-1)
        return (self.scale * (cos + 1.0) / 2.0).unsqueeze(-1)


class CrossModalInteraction(nn.Module):
    """SMCI over all ordered modality pairs, then concatenation and a Linear to D.

    M modalities (batch, T, D) each -> (batch, T, D). Each modality becomes
    ``feat + dropout(sum over sources of gate * cross_attention)``. With one
    modality, or ``use_cross_attention=False``, there are no pairs and the
    features go straight to the fusion Linear; ``use_simgate=False`` sets every
    gate to 1.
    """

    def __init__(self, config: ModelConfig, modalities: tuple[str, ...]) -> None:
        super().__init__()
        dim, fast = config.feature_dim, config.use_fast_conv
        self.modalities = modalities
        self.pairs = (
            [(t, s) for t in modalities for s in modalities if t != s] if config.use_cross_attention else []
        )
        self.attention = nn.ModuleDict(
            {pair_key(t, s): MultiHeadAttention(dim, config.cross_heads, fast=fast) for t, s in self.pairs}
        )
        gated = self.pairs if config.use_simgate else []
        self.gates = nn.ModuleDict({pair_key(t, s): SimGate(dim, config.simgate_dim, fast=fast) for t, s in gated})
        self.drop = make_dropout(config.attention_dropout, fast=fast)
        self.fuse = make_linear(len(modalities) * dim, dim, fast=fast)
        self.fast = fast

    def forward(self, features: list[Tensor]) -> Tensor:
        """list of M (batch, T, D) in ``modalities`` order -> (batch, T, D)."""
        if self.fast and self.pairs:
            return self._forward_packed(features)
        by_role = dict(zip(self.modalities, features))
        mixed = []
        for target in self.modalities:
            feat = by_role[target]
            message = None
            for t, source in self.pairs:
                if t != target:
                    continue
                key = pair_key(t, source)
                part = self.attention[key](feat, by_role[source])
                if key in self.gates:
                    part = self.gates[key](feat, by_role[source]) * part
                message = part if message is None else message + part
            mixed.append(feat if message is None else feat + self.drop(message))
        return self.fuse(torch.cat(mixed, dim=-1))

    def _packed_weights(self, role: str) -> tuple[Tensor, Tensor, dict[tuple[str, str, str], slice]]:
        """Every projection that reads modality ``role``, stacked into one (out, D) weight.

        Slots: ("q", t, s) for pairs with ``role`` as target, ("kv", t, s) as
        source, and ("gt"/"gs", t, s) for the SimGate projections.
        """
        parts: list[tuple[tuple[str, str, str], nn.Linear]] = []
        for t, s in self.pairs:
            key = pair_key(t, s)
            if t == role:
                parts.append((("q", t, s), self.attention[key].q_proj))
                if key in self.gates:
                    parts.append((("gt", t, s), self.gates[key].target_proj[0]))
            if s == role:
                parts.append((("kv", t, s), self.attention[key].kv_proj))
                if key in self.gates:
                    parts.append((("gs", t, s), self.gates[key].source_proj[0]))
        slots, start = {}, 0
        for slot, lin in parts:
            slots[slot] = slice(start, start + lin.out_features)
            start += lin.out_features
        weight = torch.cat([lin.weight for _, lin in parts])
        bias = torch.cat([lin.bias for _, lin in parts])
        return weight, bias, slots

    def _forward_packed(self, features: list[Tensor]) -> Tensor:
        """Same function as the loop in ``forward``, with fewer and larger products.

        One matmul per modality computes all its query/key/value/gate
        projections; per target, the gated messages of all its sources go
        through one matmul with the concatenated output projections
        (gate * (o W + b) = (gate * o) W + gate * b).
        """
        by_role = dict(zip(self.modalities, features))
        parts: dict[tuple[str, str, str], Tensor] = {}
        for role in self.modalities:
            weight, bias, slots = self._packed_weights(role)
            # split, not slicing: its backward is one concatenation, where every
            # slice's backward would zero-fill a full-size gradient buffer
            sizes = [where.stop - where.start for where in slots.values()]
            pieces = linear(by_role[role], weight, bias).split(sizes, dim=-1)
            parts.update(zip(slots, pieces))

        def part(kind: str, t: str, s: str) -> Tensor:
            return parts[(kind, t, s)]

        mixed = []
        for target in self.modalities:
            inputs, weights, bias = [], [], None
            for t, s in self.pairs:
                if t != target:
                    continue
                key = pair_key(t, s)
                attn = self.attention[key]
                out = attn.attend(part("q", t, s), part("kv", t, s))
                b = attn.out_proj.bias
                if key in self.gates:
                    gate = self.gates[key].from_projections(part("gt", t, s), part("gs", t, s))
                    out, b = gate * out, gate * b
                inputs.append(out)
                weights.append(attn.out_proj.weight)
                bias = b if bias is None else bias + b
            feat = by_role[target]
            message = linear(torch.cat(inputs, dim=-1), torch.cat(weights, dim=1)) + bias
            mixed.append(feat + self.drop(message))
        return self.fuse(torch.cat(mixed, dim=-1))


class SequenceEncoder(nn.Module):
    """(batch, T, D) -> (batch, T, 2 * hidden): a BiLSTM, or one Linear when ``use_lstm`` is off."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.lstm: nn.LSTM | None = None
        self.linear: nn.Linear | None = None
        if config.use_lstm:
            self.lstm = nn.LSTM(
                config.feature_dim, config.lstm_hidden, num_layers=config.lstm_layers,
                batch_first=True, bidirectional=True,
            )
        else:
            self.linear = make_linear(config.feature_dim, 2 * config.lstm_hidden, fast=config.use_fast_conv)

    def forward(self, x: Tensor) -> Tensor:
        if self.lstm is not None:
            return self.lstm(x)[0]
        assert self.linear is not None
        return self.linear(x)


class SelfAttentionBlock(nn.Module):
    """Multi-head self-attention with a residual and LayerNorm: (batch, T, E) -> same."""

    def __init__(self, dim: int, heads: int, dropout: float, *, fast: bool = False) -> None:
        super().__init__()
        self.attention = MultiHeadAttention(dim, heads, fast=fast)
        self.drop = make_dropout(dropout, fast=fast)
        self.norm = nn.LayerNorm(dim)

    def forward(self, h: Tensor) -> Tensor:
        return self.norm(h + self.drop(self.attention(h, h)))
