"""ModelConfig: defaults, derived sizes, validation and the checkpoint round trip."""

from __future__ import annotations

import dataclasses
import json

import pytest

from isatsleepnet.model import ModelConfig, ModelConfigError


def test_paper_defaults() -> None:
    c = ModelConfig()
    assert c.roles == ("eeg", "eeg2", "eog")
    assert (c.n_samples, c.sampling_rate, c.n_classes, c.dropout) == (3000, 100.0, 5, 0.5)
    assert (c.feature_dim, c.lstm_hidden, c.lstm_layers, c.self_heads, c.simgate_dim) == (128, 128, 2, 4, 64)
    assert c.seq_len == 150 and c.eog_len == 750
    assert all(getattr(c, f.name) for f in dataclasses.fields(c) if f.name.startswith("use_"))


def test_roles_split_into_modalities() -> None:
    c = ModelConfig(roles=("eog", "eeg"))
    assert c.eeg_roles == ("eeg",) and c.eog_roles == ("eog",) and c.modalities == ("eog", "eeg")
    no_eog = ModelConfig(roles=("eeg", "eog"), use_eog=False)
    assert no_eog.modalities == ("eeg",) and no_eog.n_channels == 2


def test_json_round_trip_turns_lists_back_into_tuples() -> None:
    c = ModelConfig(roles=("eeg", "eog"), n_samples=3750, sampling_rate=125.0, use_tpp=False)
    d = json.loads(json.dumps(dataclasses.asdict(c)))
    assert isinstance(d["roles"], list)
    back = ModelConfig(**d)
    assert back == c and isinstance(back.roles, tuple) and isinstance(back.eog_res_dilations, tuple)


def test_kernels_scale_with_sampling_rate() -> None:
    assert ModelConfig(sampling_rate=125.0).scaled_kernel(30) == 38
    assert ModelConfig(sampling_rate=125.0, scale_kernels=False).scaled_kernel(30) == 30
    assert ModelConfig().scaled_kernel(100) == 100


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"roles": ("eog",)}, "EEG"),
        ({"roles": ("eeg", "eeg")}, "distinct"),
        ({"roles": ("eeg", "emg")}, "starting with"),
        ({"roles": ()}, "starting with"),
        ({"n_samples": 40}, "n_samples"),
        ({"eog_res_kernel": 30}, "odd"),
        ({"feature_dim": 130}, "divisible"),
        ({"dropout": 1.0}, "dropout"),
        ({"tpp_levels": (2, 4)}, "tpp_levels"),
    ],
)
def test_invalid_configs_raise_one_line_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(ModelConfigError, match=message) as info:
        ModelConfig(**kwargs)
    assert "\n" not in str(info.value)
    assert isinstance(info.value, ValueError)
