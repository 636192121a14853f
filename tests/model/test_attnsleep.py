"""AttnSleep baseline: configuration, shapes, parameter count, gradients, determinism, ONNX export."""

from __future__ import annotations

import dataclasses
import doctest
import json

import pytest
import torch

from isatsleepnet.model import ModelConfigError, attnsleep
from isatsleepnet.model.attnsleep import AttnSleep, AttnSleepConfig, class_weights

PUBLISHED_PARAMETERS = 509_825


def _input(config: AttnSleepConfig, batch: int = 2, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return 30.0 * torch.randn(batch, config.n_channels, config.n_samples, generator=g)


def test_published_defaults() -> None:
    c = AttnSleepConfig()
    assert (c.roles, c.n_samples, c.sampling_rate, c.n_classes) == (("eeg",), 3000, 100.0, 5)
    assert c.high_first == (50, 6, 24) and c.low_first == (400, 50, 200)
    assert c.branch_lengths == (64, 16) and (c.seq_len, c.d_model, c.d_k, c.time_padding) == (80, 80, 16, 0)
    assert (c.afr_channels, c.se_hidden, c.tce_layers, c.heads, c.d_ff, c.causal_kernel) == (30, 1, 2, 5, 120, 7)
    assert (c.learning_rate, c.betas, c.weight_decay, c.batch_size, c.epochs) == (1e-3, (0.9, 0.999), 1e-3, 128, 100)
    assert c.loss == "weighted_cross_entropy"


def test_first_convolutions_scale_with_the_sampling_rate() -> None:
    c = AttnSleepConfig(n_samples=3840, sampling_rate=128.0)
    assert c.high_first == (64, 8, 31) and c.low_first == (512, 64, 256)
    assert (c.seq_len, c.d_model, c.time_padding) == (77, 80, 3)
    assert (AttnSleepConfig(heads=3).d_model, AttnSleepConfig(heads=3).time_padding) == (81, 1)
    # the authors' SHHS setting: 125 Hz read with the 100-Hz sizes, kernel 6 in the low branch -> d_model 100
    shhs = AttnSleepConfig(n_samples=3750, sampling_rate=125.0, scale_kernels=False, low_conv_kernel=6)
    assert shhs.high_first == (50, 6, 24) and (shhs.seq_len, shhs.d_model) == (100, 100)


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"roles": ("eeg", "eog")},
        {"n_samples": 3840, "sampling_rate": 128.0},
        {"heads": 3},  # L = 80 steps padded to d_model = 81
    ],
    ids=["published", "two-roles", "128Hz", "padded-heads"],
)
def test_output_shapes(overrides: dict) -> None:
    c = AttnSleepConfig(**overrides)
    model = AttnSleep(c)
    x = _input(c, batch=3)
    assert model.features(x).shape == (3, c.afr_channels, c.d_model)
    assert c.d_model % c.heads == 0 and c.d_model >= c.seq_len
    logits = model(x)
    assert logits.shape == (3, 5) and logits.dtype == torch.float32 and torch.isfinite(logits).all()


def test_a_wrong_input_shape_is_refused() -> None:
    with pytest.raises(ValueError, match=r"expected input \(batch, 2, 3000\)"):
        AttnSleep(AttnSleepConfig(roles=("eeg", "eog")))(torch.zeros(1, 1, 3000))


def test_parameter_count_is_the_documented_one() -> None:
    model = AttnSleep()
    assert model.num_parameters() == PUBLISHED_PARAMETERS
    assert f"{PUBLISHED_PARAMETERS:,}" in AttnSleep.__doc__ and f"{PUBLISHED_PARAMETERS:,}" in attnsleep.__doc__

    def count(module: torch.nn.Module) -> int:
        return sum(p.numel() for p in module.parameters())

    # MRCNN branches, AFR, TCE (2 layers + final norm), classifier
    assert count(model.high) + count(model.low) == 398_720
    assert count(model.afr) == 8_880
    assert sum(count(layer) for layer in model.encoder) + count(model.encoder_norm) == 90_220
    assert count(model.classifier) == 2400 * 5 + 5


def test_gradients_reach_every_parameter() -> None:
    model = AttnSleep(AttnSleepConfig(roles=("eeg", "eog"))).train()
    x = _input(model.config, batch=8)
    target = torch.arange(8) % 5
    torch.nn.functional.cross_entropy(model(x), target).backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing


def test_eval_mode_is_deterministic() -> None:
    model = AttnSleep().eval()
    x = _input(model.config, batch=4)
    with torch.no_grad():
        first, second = model(x), model(x)
        assert torch.equal(first, second)
        assert torch.allclose(model(x[:1]), first[:1], atol=1e-5)  # an epoch's logits do not depend on its batch
        model.train()
        assert not torch.equal(model(x), first)  # dropout is active in training


@pytest.mark.parametrize(
    "overrides",
    [
        {"roles": ()},
        {"roles": ("eog",)},
        {"roles": ("eeg", "eeg")},
        {"roles": ("EEG",)},
        {"n_samples": 0},
        {"n_samples": 300},  # too short for the 4-s low-frequency window
        {"n_samples": 3000.0},
        {"sampling_rate": 0.0},
        {"n_classes": 1},
        {"heads": 0},
        {"afr_channels": 0},
        {"high_pool": (8,)},
        {"low_out_pool": (2, 0)},
        {"high_padding": -1},
        {"cnn_dropout": 1.0},
        {"dropout": -0.1},
        {"betas": (0.9, 1.0)},
        {"learning_rate": 0.0},
        {"weight_decay": -1e-3},
        {"batch_size": 0},
        {"loss": "focal"},
        {"scale_kernels": 1},
    ],
)
def test_config_refuses_impossible_values(overrides: dict) -> None:
    with pytest.raises(ModelConfigError) as info:
        AttnSleepConfig(**overrides)
    assert "\n" not in str(info.value) and str(info.value).startswith("AttnSleep config: ")


def test_config_round_trips_through_json() -> None:
    for c in (AttnSleepConfig(),
              AttnSleepConfig(roles=("eeg", "eog"), n_samples=3840, sampling_rate=128.0, high_pool=(6, 2))):
        d = json.loads(json.dumps(dataclasses.asdict(c)))
        assert isinstance(d["roles"], list) and isinstance(d["betas"], list)
        back = AttnSleepConfig(**d)
        assert back == c and isinstance(back.roles, tuple) and isinstance(back.high_pool, tuple)
    assert AttnSleepConfig(sampling_rate=128).sampling_rate == 128.0  # an integer rate from JSON


def test_class_weights() -> None:
    # N1 (rare) gets the largest weight; no weight below 1/5
    assert class_weights([8285, 2804, 17799, 5703, 7717]) == [0.2, 0.44, 0.2, 0.2, 0.2]
    assert class_weights([10, 10, 10, 10, 10]) == [0.2, 0.22, 0.2, 0.2, 0.2]  # N1: ln(3/5 * 50 / 10) = ln 3 > 1
    with pytest.raises(ModelConfigError):
        class_weights([1, 2, 3])
    with pytest.raises(ModelConfigError):
        class_weights([1, 0, 3, 4, 5])


def test_docstring_examples_run() -> None:
    result = doctest.testmod(attnsleep, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning", "ignore:Constant folding")
def test_onnx_export_matches_torch(tmp_path) -> None:
    pytest.importorskip("onnx")
    pytest.importorskip("onnxscript")
    ort = pytest.importorskip("onnxruntime")
    model = AttnSleep().eval()
    path = tmp_path / "attnsleep.onnx"
    # the TorchScript exporter: 2 s here, the dynamo one (what onnx_backend uses) 7-10 s, too slow for this file
    torch.onnx.export(model, (_input(model.config),), str(path), input_names=["x"], output_names=["logits"],
                      dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}}, dynamo=False)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    x = _input(model.config, batch=3, seed=1)  # another batch size than the example's
    got = session.run(None, {"x": x.numpy()})[0]
    with torch.no_grad():
        expected = model(x).numpy()
    assert got.shape == (3, 5)
    assert abs(got - expected).max() < 1e-4
