"""Shapes of every block and of the whole network, for several channel sets and epoch lengths."""

from __future__ import annotations

import pytest
import torch

from isatsleepnet.model import ISATSleepNet, ModelConfig
from isatsleepnet.model.asr import AttractorStateRectifier
from isatsleepnet.model.cmia import CrossModalInteraction, SelfAttentionBlock, SequenceEncoder, SimGate
from isatsleepnet.model.eeg import LCR, NMSEEG
from isatsleepnet.model.eog import ODDMEOG, ResidualBlock, TemporalPyramidPooling

from .helpers import epochs

LENGTHS = [(3000, 100.0), (3750, 125.0), (1500, 50.0), (2999, 100.0)]


@pytest.mark.parametrize("n_samples, rate", LENGTHS)
@pytest.mark.parametrize("fast", [False, True])
def test_extractors_give_t_steps(n_samples: int, rate: float, fast: bool) -> None:
    c = ModelConfig(n_samples=n_samples, sampling_rate=rate, use_fast_conv=fast)
    x = torch.randn(2, n_samples)
    eeg, eog = NMSEEG(c).eval(), ODDMEOG(c).eval()
    assert eeg.scales(x).shape == (2, 96, n_samples // 5)
    assert eog.stems(x).shape == (2, 64, n_samples // 4)
    with torch.no_grad():
        assert eeg(x).shape == (2, n_samples // 20, 128)
        assert eog(x).shape == (2, n_samples // 20, 128)


def test_small_blocks() -> None:
    x = torch.randn(2, 64, 750)
    assert ResidualBlock(64, 31, 4, fast=True)(x).shape == x.shape
    assert ResidualBlock(64, 31, 2, fast=False)(x).shape == x.shape
    assert TemporalPyramidPooling(150, (1, 2, 4))(x).shape == (2, 192, 150)
    assert TemporalPyramidPooling(37, (1, 2, 4))(x).shape == (2, 192, 37)
    assert LCR(64)(x).shape == x.shape
    h = torch.randn(2, 150, 128)
    gate = SimGate(128, 64)(h, torch.randn(2, 150, 128))
    assert gate.shape == (2, 150, 1) and bool(((gate >= 0) & (gate <= 1)).all())
    assert SequenceEncoder(ModelConfig())(h).shape == (2, 150, 256)
    assert SequenceEncoder(ModelConfig(use_lstm=False))(h).shape == (2, 150, 256)
    s = torch.randn(2, 150, 256)
    assert SelfAttentionBlock(256, 4, 0.1)(s).shape == s.shape
    assert AttractorStateRectifier(256, 5)(s).shape == s.shape


@pytest.mark.parametrize("modalities", [("eeg", "eeg2", "eog"), ("eeg", "eog"), ("eeg",)])
def test_cmia_pairs_and_shape(modalities: tuple[str, ...]) -> None:
    c = ModelConfig(roles=modalities)
    cmia = CrossModalInteraction(c, modalities)
    m = len(modalities)
    assert len(cmia.attention) == m * (m - 1) == len(cmia.gates)
    feats = [torch.randn(2, 150, 128) for _ in modalities]
    assert cmia(feats).shape == (2, 150, 128)


@pytest.mark.parametrize("roles", [("eeg", "eeg2", "eog"), ("eeg", "eog"), ("eeg",), ("eog", "eeg")])
@pytest.mark.parametrize("n_samples, rate", LENGTHS[:3])
def test_network_logits(roles: tuple[str, ...], n_samples: int, rate: float) -> None:
    c = ModelConfig(roles=roles, n_samples=n_samples, sampling_rate=rate)
    model = ISATSleepNet(c).eval()
    with torch.no_grad():
        out = model(epochs(c, 2))
    assert out.shape == (2, 5) and bool(torch.isfinite(out).all())
    assert model.sequence_states(epochs(c, 1)).shape == (1, n_samples // 20, 256)


def test_wrong_input_shape_is_a_clear_error() -> None:
    model = ISATSleepNet(ModelConfig(roles=("eeg", "eog")))
    with pytest.raises(ValueError, match=r"\(batch, 2, 3000\)"):
        model(torch.randn(1, 3, 3000))
    with pytest.raises(ValueError, match="3000"):
        model(torch.randn(1, 2, 2999))
