"""Every parameter receives a gradient, in the eager and in the fast implementation."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from isatsleepnet.model import ISATSleepNet, ModelConfig

from .helpers import epochs


@pytest.mark.parametrize("fast", [False, True])
def test_gradients_reach_every_parameter(fast: bool) -> None:
    model = ISATSleepNet(ModelConfig(use_fast_conv=fast)).train()
    x = epochs(model.config, 4, seed=11)
    loss = nn.functional.cross_entropy(model(x), torch.tensor([0, 1, 2, 4]))
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    zero = [n for n, p in model.named_parameters() if p.grad is not None and not bool(p.grad.abs().sum() > 0)]
    assert not missing, missing
    assert not zero, zero
    assert all(bool(torch.isfinite(p.grad).all()) for p in model.parameters())
