"""TinySleepNet baseline: shapes, parameter count, gradients, configuration checks and round trip."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from torch import nn

from isatsleepnet.model.config import ModelConfigError
from isatsleepnet.model.tinysleepnet import TinySleepNet, TinySleepNetConfig

# The published network (one EEG channel, 100 Hz, 3000 samples) as this module builds it.
# The paper's own figure could not be checked here (secondary tables quote ~1.3 M, unverified);
# the authors' TensorFlow layer list gives 1,515,909: 512 fewer, since TensorFlow's LSTM has
# one bias vector per gate where PyTorch's has two.
PUBLISHED_PARAMETERS = 1_516_421
LSTM_PARAMETERS = 1_115_136   # 4 * 128 * (2048 + 128) weights + 2 * 4 * 128 biases


def _windows(config: TinySleepNetConfig, batch: int, length: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return 30.0 * torch.randn(batch, length, config.n_channels, config.n_samples, generator=g)


def test_published_defaults() -> None:
    c = TinySleepNetConfig()
    assert c.roles == ("eeg",) and (c.n_samples, c.sampling_rate, c.n_classes) == (3000, 100.0, 5)
    assert c.sequence_length == 20 and (c.filters, c.lstm_hidden, c.dropout) == (128, 128, 0.5)
    assert (c.first_kernel, c.first_stride) == (50, 6)
    assert (c.first_pool, c.conv_kernel, c.n_convs, c.second_pool) == (8, 8, 3, 4)
    assert (c.feature_steps, c.feature_dim) == (16, 2048)   # 3000 -> 500 -> 63 -> 16 steps ("same" padding)
    assert (c.learning_rate, c.batch_size, c.weight_decay) == (1e-4, 15, 1e-3)
    assert c.class_weights == (1.0, 1.5, 1.0, 1.0, 1.0)


def test_first_kernel_and_stride_follow_the_sampling_rate() -> None:
    c = TinySleepNetConfig(sampling_rate=128.0, n_samples=3840)
    assert (c.first_kernel, c.first_stride, c.feature_steps) == (64, 8, 15)   # Fs/2, Fs/16; 3840 -> 480 -> 60 -> 15
    c = TinySleepNetConfig(sampling_rate=256.0, n_samples=7680)
    assert (c.first_kernel, c.first_stride) == (128, 16)


@pytest.mark.parametrize(
    "overrides, length",
    [
        ({}, 20),                                                  # published
        ({"roles": ("eeg", "eog")}, 20),                           # two input channels
        ({"sampling_rate": 128.0, "n_samples": 3840}, 20),         # 128 Hz, 30 s
        ({"sequence_length": 3}, 3),                               # short window
    ],
)
def test_output_shape(overrides: dict, length: int) -> None:
    config = TinySleepNetConfig(**overrides)
    model = TinySleepNet(config).eval()
    with torch.no_grad():
        out = model(_windows(config, 2, length))
    assert out.shape == (2, length, 5) and out.dtype == torch.float32
    assert bool(torch.isfinite(out).all())
    assert model.epoch_features(_windows(config, 1, length)).shape == (1, length, config.feature_dim)


def test_parameter_count() -> None:
    model = TinySleepNet()
    assert sum(p.numel() for p in model.parameters()) == PUBLISHED_PARAMETERS
    assert sum(p.numel() for p in model.lstm.parameters()) == LSTM_PARAMETERS
    # each extra channel adds one first-layer kernel per filter (128 * 50)
    two = TinySleepNet(TinySleepNetConfig(roles=("eeg", "eog")))
    assert sum(p.numel() for p in two.parameters()) == PUBLISHED_PARAMETERS + 128 * 50


def test_gradients_reach_every_parameter() -> None:
    config = TinySleepNetConfig(sequence_length=3)
    model = TinySleepNet(config).train()
    logits = model(_windows(config, 2, 3, seed=5))
    target = torch.tensor([[0, 1, 2], [3, 4, 2]])
    weight = torch.tensor(config.class_weights)
    loss = nn.functional.cross_entropy(logits.reshape(-1, 5), target.reshape(-1), weight=weight)
    loss = loss + config.weight_decay * sum((w ** 2).sum() / 2 for w in model.regularized_parameters())
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    zero = [n for n, p in model.named_parameters() if p.grad is not None and not bool(p.grad.abs().sum() > 0)]
    assert not missing, missing
    assert not zero, zero
    assert all(bool(torch.isfinite(p.grad).all()) for p in model.parameters())
    assert len(model.regularized_parameters()) == 4


def test_windows_are_independent() -> None:
    """The LSTM starts from zero in every window: a window's stages do not depend on its batch mates."""
    config = TinySleepNetConfig(sequence_length=3)
    model = TinySleepNet(config).eval()
    x = _windows(config, 2, 3, seed=2)
    with torch.no_grad():
        assert torch.allclose(model(x)[1:], model(x[1:]), atol=1e-5)


def test_wrong_input_shape_is_refused() -> None:
    model = TinySleepNet()
    with pytest.raises(ValueError, match=r"\(batch, L, 1, 3000\)"):
        model(torch.zeros(2, 1, 3000))
    with pytest.raises(ValueError, match="roles"):
        model(torch.zeros(1, 3, 2, 3000))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"roles": ()}, "roles"),
        ({"roles": ("eeg", "eeg")}, "distinct"),
        ({"roles": ("EEG Fpz-Cz",)}, "lower-case"),
        ({"n_samples": 20}, "shorter than the first kernel"),
        ({"n_samples": 0}, "n_samples"),
        ({"sampling_rate": 0.0}, "sampling_rate"),
        ({"sampling_rate": 10.0}, "at least one sample"),
        ({"first_stride_seconds": 1.0}, "must not exceed"),
        ({"filters": 0}, "filters"),
        ({"n_convs": -1}, "n_convs"),
        ({"sequence_length": 0}, "sequence_length"),
        ({"dropout": 1.0}, "dropout"),
        ({"class_weights": (1.0, 1.5)}, "class_weights"),
        ({"loss": "focal"}, "loss"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"shift_fraction": 1.5}, "shift_fraction"),
    ],
)
def test_invalid_configs_raise_one_line_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(ModelConfigError, match=message) as info:
        TinySleepNetConfig(**kwargs)
    assert "\n" not in str(info.value)


def test_json_round_trip_turns_lists_back_into_tuples() -> None:
    c = TinySleepNetConfig(roles=("eeg", "eog"), n_samples=3840, sampling_rate=128.0, sequence_length=10,
                           class_weights=(1.0, 2.0, 1.0, 1.0, 1.0))
    d = json.loads(json.dumps(dataclasses.asdict(c)))
    assert isinstance(d["roles"], list) and isinstance(d["class_weights"], list)
    back = TinySleepNetConfig(**d)
    assert back == c and isinstance(back.roles, tuple) and isinstance(back.class_weights, tuple)
    assert TinySleepNetConfig(**json.loads(json.dumps(TinySleepNetConfig().to_dict()))) == TinySleepNetConfig()
