"""Each ablation switch builds, runs, and removes (or not) the parameters it should."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from isatsleepnet.model import ISATSleepNet, ModelConfig
from isatsleepnet.model.asr import AttractorStateRectifier
from isatsleepnet.model.eeg import LCR

from .helpers import epochs, small_config

BASE = small_config()
BASE_PARAMS = ISATSleepNet(BASE).num_parameters()

SWITCHES = {
    # switch: expected parameter change (None: must shrink, number: exact change)
    "use_lcr": -2 * 3 * BASE.eeg_filters,
    "use_simgate": None,
    "use_cross_attention": None,
    "use_lstm": None,
    "use_self_attention": None,
    "use_asr": -(BASE.n_classes * 2 * BASE.lstm_hidden + 1),
    "use_tpp": -(2 * 2 * BASE.eog_filters * BASE.feature_dim),
    "use_eog": None,
    "use_fast_conv": 0,
}


@pytest.mark.parametrize("switch", list(SWITCHES))
def test_switch_builds_runs_and_changes_parameters(switch: str) -> None:
    config = dataclasses.replace(BASE, **{switch: False})
    model = ISATSleepNet(config)
    change = model.num_parameters() - BASE_PARAMS
    expected = SWITCHES[switch]
    if expected is None:
        assert change < 0, switch
    else:
        assert change == expected, (switch, change)
    model.train()
    out = model(epochs(config, 3))
    assert out.shape == (3, 5)
    out.sum().backward()
    model.eval()
    with torch.no_grad():
        assert bool(torch.isfinite(model(epochs(config, 2))).all())


def test_switches_remove_their_modules() -> None:
    assert not any(isinstance(m, LCR) for m in ISATSleepNet(dataclasses.replace(BASE, use_lcr=False)).modules())
    assert not any(isinstance(m, AttractorStateRectifier)
                   for m in ISATSleepNet(dataclasses.replace(BASE, use_asr=False)).modules())
    no_cross = ISATSleepNet(dataclasses.replace(BASE, use_cross_attention=False))
    assert len(no_cross.cmia.attention) == 0 and len(no_cross.cmia.gates) == 0
    no_gate = ISATSleepNet(dataclasses.replace(BASE, use_simgate=False))
    assert len(no_gate.cmia.attention) == 6 and len(no_gate.cmia.gates) == 0
    assert ISATSleepNet(dataclasses.replace(BASE, use_lstm=False)).sequence.lstm is None


def test_without_eog_the_eog_channel_is_ignored() -> None:
    config = dataclasses.replace(BASE, use_eog=False)
    model = ISATSleepNet(config).eval()
    assert len(model.eog) == 0 and config.n_channels == 3
    x = epochs(config, 2)
    y = x.clone()
    y[:, config.roles.index("eog")] = 1e3 * torch.randn(2, config.n_samples)
    with torch.no_grad():
        torch.testing.assert_close(model(x), model(y))
    full = ISATSleepNet(BASE).eval()
    with torch.no_grad():
        assert (full(x) - full(y)).abs().max() > 1e-4


def test_single_modality_has_no_cross_attention() -> None:
    model = ISATSleepNet(ModelConfig(roles=("eeg",)))
    assert len(model.cmia.pairs) == 0 and len(model.cmia.attention) == 0
    assert model(epochs(model.config, 2)).shape == (2, 5)
