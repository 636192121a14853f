"""Training losses: the paper's hybrid loss, and the generalized Dice loss U-Time trains with.

The hybrid loss is class-weighted cross-entropy plus a soft macro-F1 term; the
soft F1 uses softmax probabilities as fractional counts, so the term is
differentiable and pulls on the rare classes (N1) that accuracy ignores.
The generalized Dice loss (Sudre et al., DLMIA 2017; U-Time's, Perslev et al.
2019) is an overlap loss with each class weighted by its inverse squared count
in the batch, so rare stages weigh as much as common ones.
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


def generalized_dice_loss(logits: torch.Tensor, target: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """1 - 2 sum_c w_c sum_i p_ic g_ic / sum_c w_c sum_i (p_ic + g_ic), w_c = 1 / (sum_i g_ic)^2. (batch, C), (batch,) → ()

    Classes absent from the batch get weight 0 (their inverse squared count is infinite).

    Examples
    --------
    >>> target = torch.tensor([0, 0, 1])
    >>> round(float(generalized_dice_loss(torch.eye(5)[target] * 50, target)), 4)   # right and sure
    0.0
    >>> round(float(generalized_dice_loss(torch.zeros(3, 5), target)), 4)          # uniform: 1 - 2 * 0.2 / 1.2
    0.6667
    """
    probs = logits.float().softmax(dim=1)
    onehot = F.one_hot(target, probs.shape[1]).to(probs.dtype)
    counts = onehot.sum(0)
    weights = torch.where(counts > 0, 1.0 / counts.clamp(min=1.0) ** 2, torch.zeros_like(counts))
    overlap = (weights * (probs * onehot).sum(0)).sum()
    total = (weights * (probs + onehot).sum(0)).sum()
    return 1 - 2 * overlap / (total + eps)


class GeneralizedDiceLoss(nn.Module):
    """The generalized Dice loss over the stages of a batch (see :func:`generalized_dice_loss`)."""

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return generalized_dice_loss(logits, target)


def make_loss(name: str, alpha: float = 0.5, class_weights: torch.Tensor | None = None) -> nn.Module:
    """The training loss a run names (``TrainConfig.loss``): ``"hybrid"`` or ``"generalized-dice"``."""
    if name == "generalized-dice":
        return GeneralizedDiceLoss()
    return HybridLoss(alpha, class_weights)
