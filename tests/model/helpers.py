"""Helpers for the model tests: a small config, seeded µV-scale inputs, BN calibration."""

from __future__ import annotations

import dataclasses

import torch

from isatsleepnet.model import ISATSleepNet, ModelConfig

# A reduced network (same structure, small widths) for tests that train.
SMALL = dict(
    n_samples=1500, eeg_filters=8, eeg_hidden=16, eog_filters=8, eog_res_kernel=9,
    feature_dim=32, simgate_dim=16, cross_heads=2, lstm_hidden=32, self_heads=2, head_hidden=32,
)


def small_config(**overrides: object) -> ModelConfig:
    return dataclasses.replace(ModelConfig(**SMALL), **overrides)  # type: ignore[arg-type]


def epochs(config: ModelConfig, batch: int, seed: int = 0, scale: float = 30.0) -> torch.Tensor:
    """Seeded µV-scale input (batch, channels, samples)."""
    g = torch.Generator().manual_seed(seed)
    return scale * torch.randn(batch, config.n_channels, config.n_samples, generator=g)


def calibrated(model: ISATSleepNet, seed: int = 1) -> ISATSleepNet:
    """Give BatchNorm/LCR/ASR non-trivial values so that equivalence tests mean something."""
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(epochs(model.config, 8, seed=seed))
        g = torch.Generator().manual_seed(seed)
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm1d):
                module.weight.copy_(0.5 + torch.rand(module.weight.shape, generator=g))
                module.bias.copy_(0.2 * torch.randn(module.bias.shape, generator=g))
        for name, p in model.named_parameters():
            if name.endswith("lcr.p"):
                p.copy_(torch.randn(p.shape, generator=g))
        # scale the classifier so that logits are O(1), not O(0.1)
        model.head[-1].weight.mul_(10.0)
    return model.eval()
