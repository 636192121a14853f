"""U-Time baseline: shapes, padding, parameter count, gradients, configuration checks and round trip."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from torch import nn

from isatsleepnet.model.config import ModelConfigError
from isatsleepnet.model.utime import UTime, UTimeConfig

# The published network (one EEG channel, 100 Hz, 35 epochs) as this module builds it. ~1.1 M has
# been quoted for the paper (not checked against its text); the authors' released layer list with its
# default settings gives the same 1.19 M (1,190,963 with BatchNorm's running statistics, as Keras counts).
PUBLISHED_PARAMETERS = 1_187_539


def _windows(config: UTimeConfig, batch: int, length: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return 30.0 * torch.randn(batch, length, config.n_channels, config.n_samples, generator=g)


def test_published_defaults() -> None:
    c = UTimeConfig()
    assert c.roles == ("eeg",) and c.sequence_length == 35
    assert (c.n_samples, c.sampling_rate, c.n_classes) == (3000, 100.0, 5)
    assert c.filters == (16, 32, 64, 128) and c.pools == (10, 8, 6, 4) and c.bottom_filters == 256
    assert (c.kernel_size, c.dilation, c.dense_activation) == (5, 2, "tanh")
    assert (c.learning_rate, c.batch_size, c.loss) == (5e-6, 12, "generalized_dice")


def test_window_padding_reaches_a_multiple_of_the_pools() -> None:
    c = UTimeConfig()
    assert c.pool_product == 1920
    assert c.window_padding() == (300, 300)                     # 105,000 -> 105,600
    assert c.window_padding(3) == (300, 300)                    # 9,000 -> 9,600
    assert c.window_padding(1) == (420, 420)                    # 3,000 -> 3,840
    assert UTimeConfig(filters=(16,), pools=(7,)).window_padding(1) == (1, 2)   # 3,000 -> 3,003, odd sample right
    assert UTimeConfig(n_samples=3840, sampling_rate=128.0).window_padding() == (0, 0)


@pytest.mark.parametrize(
    "overrides, length",
    [
        ({}, 35),                                                  # published
        ({"roles": ("eeg", "eog")}, 35),                           # two input channels
        ({"sampling_rate": 128.0, "n_samples": 3840}, 35),         # 128 Hz, 30 s (no padding needed)
        ({"sequence_length": 3}, 3),                               # short window
    ],
)
def test_output_shape(overrides: dict, length: int) -> None:
    config = UTimeConfig(**overrides)
    model = UTime(config).eval()
    x = _windows(config, 1, length)
    with torch.no_grad():
        out = model(x)
        scores = model.dense_scores(x)
    assert out.shape == (1, length, 5) and out.dtype == torch.float32
    assert bool(torch.isfinite(out).all())
    assert scores.shape == (1, 5, length * config.n_samples)   # padding cropped off again
    assert bool(scores.abs().max() <= 1.0)                      # tanh


def test_segment_classifier_averages_each_epoch() -> None:
    model = UTime(UTimeConfig(sequence_length=3)).eval()
    x = _windows(model.config, 1, 3, seed=3)
    with torch.no_grad():
        per_epoch = model.dense_scores(x).reshape(1, 5, 3, 3000).mean(dim=-1)
        assert torch.allclose(model(x), model.head(per_epoch).transpose(1, 2), atol=1e-6)


def test_parameter_count() -> None:
    model = UTime()
    assert sum(p.numel() for p in model.parameters()) == PUBLISHED_PARAMETERS
    assert sum(p.numel() for p in model.decoder.parameters()) == 530_288
    # each extra channel adds one first-layer kernel per filter (16 * 5)
    two = UTime(UTimeConfig(roles=("eeg", "eog")))
    assert sum(p.numel() for p in two.parameters()) == PUBLISHED_PARAMETERS + 16 * 5


def test_gradients_reach_every_parameter() -> None:
    config = UTimeConfig(sequence_length=3)
    model = UTime(config).train()
    logits = model(_windows(config, 2, 3, seed=5))
    target = torch.tensor([[0, 1, 2], [3, 4, 2]])
    nn.functional.cross_entropy(logits.reshape(-1, 5), target.reshape(-1)).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    zero = [n for n, p in model.named_parameters() if p.grad is not None and not bool(p.grad.abs().sum() > 0)]
    assert not missing, missing
    assert not zero, zero
    assert all(bool(torch.isfinite(p.grad).all()) for p in model.parameters())


def test_wrong_input_shape_is_refused() -> None:
    model = UTime()
    with pytest.raises(ValueError, match=r"\(batch, L, 1, 3000\)"):
        model(torch.zeros(1, 3000))
    with pytest.raises(ValueError, match="roles"):
        model(torch.zeros(1, 3, 1, 2999))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"roles": ()}, "roles"),
        ({"roles": ("eeg", "eeg")}, "distinct"),
        ({"n_samples": 0}, "n_samples"),
        ({"sampling_rate": -1.0}, "sampling_rate"),
        ({"sequence_length": 0}, "sequence_length"),
        ({"filters": (16, 32)}, "same length"),
        ({"pools": ()}, "non-empty"),
        ({"pools": (10, 8, 0, 4)}, "positive integers"),
        ({"kernel_size": 0}, "kernel_size"),
        ({"dilation": 0}, "dilation"),
        ({"activation": "gelu"}, "activation"),
        ({"dense_activation": "softmax"}, "dense_activation"),
        ({"loss": "dice"}, "loss"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"batch_size": 0}, "batch_size"),
    ],
)
def test_invalid_configs_raise_one_line_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(ModelConfigError, match=message) as info:
        UTimeConfig(**kwargs)
    assert "\n" not in str(info.value)


def test_json_round_trip_turns_lists_back_into_tuples() -> None:
    c = UTimeConfig(roles=("eeg", "eog"), n_samples=3840, sampling_rate=128.0, sequence_length=5,
                    filters=(8, 16, 32), pools=(8, 6, 4), activation="elu")
    d = json.loads(json.dumps(dataclasses.asdict(c)))
    assert isinstance(d["roles"], list) and isinstance(d["pools"], list)
    back = UTimeConfig(**d)
    assert back == c and isinstance(back.filters, tuple) and isinstance(back.pools, tuple)
    assert UTimeConfig(**json.loads(json.dumps(UTimeConfig().to_dict()))) == UTimeConfig()
