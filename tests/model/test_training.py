"""The network can learn: it memorises 64 fixed random epochs, and at paper size a few steps lower the loss."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from isatsleepnet.model import ISATSleepNet, ModelConfig

from .helpers import epochs, small_config


@pytest.mark.parametrize("fast", [True, False])
def test_overfits_64_fixed_epochs(fast: bool) -> None:
    config = small_config(dropout=0.0, attention_dropout=0.0, use_fast_conv=fast)
    model = ISATSleepNet(config).train()
    x, y = epochs(config, 64, seed=7), torch.arange(64) % 5
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    first = None
    for step in range(60):
        opt.zero_grad()
        logits = model(x)
        loss = nn.functional.cross_entropy(logits, y)
        first = loss.item() if first is None else first
        accuracy = (logits.argmax(1) == y).float().mean().item()
        if accuracy == 1.0:
            break
        loss.backward()
        opt.step()
    assert accuracy == 1.0, f"train accuracy {accuracy:.2f} after {step + 1} steps"
    assert loss.item() < first


def test_paper_size_steps_lower_the_loss() -> None:
    model = ISATSleepNet(ModelConfig()).train()
    x, y = epochs(model.config, 8, seed=9), torch.arange(8) % 5
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(6):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.eval()
    assert losses[-1] < 0.8 * losses[0], losses
