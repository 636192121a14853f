"""ASR, the attractor-state rectifier: pull the sequence toward a learned stage prototype."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class AttractorStateRectifier(nn.Module):
    """(batch, T, E) -> (batch, T, E): ``h + beta * (s + beta * (a - s) - h)``.

    ``s`` is the time-mean state, ``a`` the attractor mixture chosen by
    ``softmax(cos(s, attractor_k) / temperature)`` over one learnable
    attractor per stage. The temperature is learnable (stored as its log so
    that it stays positive); beta is fixed (0.5 in the paper).
    """

    def __init__(self, dim: int, n_attractors: int, beta: float = 0.5, temperature: float = 0.1) -> None:
        super().__init__()
        self.beta = beta
        self.attractors = nn.Parameter(torch.randn(n_attractors, dim) / math.sqrt(dim))
        self.log_temperature = nn.Parameter(torch.tensor(math.log(temperature)))

    def attractor_weights(self, state: Tensor) -> Tensor:
        """(batch, E) mean state -> (batch, n_attractors) softmax weights."""
        cos = F.cosine_similarity(state.unsqueeze(1), self.attractors.unsqueeze(0), dim=-1)
        return torch.softmax(cos / self.log_temperature.exp(), dim=-1)

    def forward(self, h: Tensor) -> Tensor:
        state = h.mean(dim=1, keepdim=True)                                   # (B, 1, E)
        target = (self.attractor_weights(state.squeeze(1)) @ self.attractors).unsqueeze(1)
        beta = self.beta
        return h + beta * (state + beta * (target - state) - h)
