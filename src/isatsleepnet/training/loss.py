"""The paper's hybrid loss: class-weighted cross-entropy plus a soft macro-F1 term.

The soft F1 uses softmax probabilities as fractional counts, so the term is
differentiable and pulls on the rare classes (N1) that accuracy ignores.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def soft_macro_f1(logits: torch.Tensor, target: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Mean over the classes present in the batch of the soft F1 score. (batch, C), (batch,) → ()"""
    probs = logits.float().softmax(dim=1)
    onehot = F.one_hot(target, probs.shape[1]).to(probs.dtype)
    tp = (probs * onehot).sum(0)
    fp = (probs * (1 - onehot)).sum(0)
    fn = ((1 - probs) * onehot).sum(0)
    f1 = 2 * tp / (2 * tp + fp + fn + eps)
    present = onehot.sum(0) > 0
    return f1[present].mean()


class HybridLoss(nn.Module):
    """alpha * CE(class-weighted) + (1 - alpha) * (1 - soft macro-F1)."""

    def __init__(self, alpha: float = 0.5, class_weights: torch.Tensor | None = None) -> None:
        super().__init__()
        self.alpha = alpha
        self.register_buffer("class_weights", class_weights if class_weights is not None else None)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        ce = F.cross_entropy(logits.float(), target, weight=self.class_weights)
        if self.alpha >= 1.0:
            return ce
        return self.alpha * ce + (1 - self.alpha) * (1 - soft_macro_f1(logits, target))
