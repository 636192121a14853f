"""Model files: a checksum of the weights, and one-line errors for every way a file can be damaged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from isatsleepnet.errors import IsatSleepNetError
from isatsleepnet.inference.checkpoint import FORMAT, HASH_KEY, ModelFile, load_model_file
from isatsleepnet.inference.predictor import load_predictor
from isatsleepnet.model import ISATSleepNet, ModelConfig
from tests.training.conftest import TINY_MODEL

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CONFIG = {"roles": ["eeg", "eeg2", "eog"], "n_samples": 300, "sampling_rate": 10.0, **TINY_MODEL}


def _model_file(**changes) -> ModelFile:
    torch.manual_seed(0)
    network = ISATSleepNet(ModelConfig(**CONFIG))
    fields = dict(model_config=dict(CONFIG), state_dict=network.state_dict(), channels=["C3", "C4", "EOG"],
                  roles=["eeg", "eeg2", "eog"], sampling_rate=10.0, epoch_seconds=30.0, normalize="epoch-zscore")
    return ModelFile(**{**fields, **changes})


def _saved(tmp_path: Path, **changes) -> Path:
    path = tmp_path / "model.pt"
    _model_file(**changes).save(path)
    return path


def _one_line_error(call, path: Path, *fragments: str) -> str:
    with pytest.raises(IsatSleepNetError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{path}: "), message
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_a_saved_file_carries_its_checksum_and_builds_the_same_network(tmp_path):
    path = _saved(tmp_path)
    payload = torch.load(path, weights_only=True)
    loaded = load_model_file(path)
    assert payload[HASH_KEY] == loaded.weights_sha256() == _model_file().weights_sha256()
    assert "source" not in payload and loaded.source == path
    x = torch.randn(2, 3, 300, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = ISATSleepNet(ModelConfig(**CONFIG)).eval()
        expected.load_state_dict(_model_file().state_dict)
        for fast in (True, False):
            torch.testing.assert_close(loaded.build(fast=fast)(x), expected(x), rtol=1e-4, atol=1e-5)
    assert loaded.build(fast=False).config.use_fast_conv is False


def test_flipped_bytes_in_the_weights_are_refused(tmp_path):
    path = _saved(tmp_path)
    weights = _model_file().state_dict
    name = max(weights, key=lambda k: weights[k].numel())
    raw = bytearray(path.read_bytes())
    at = raw.find(weights[name].numpy().tobytes())
    assert at > 0
    raw[at + 17] ^= 0x40  # one bit of one weight: the file still unpickles, the weights are wrong
    path.write_bytes(bytes(raw))
    _one_line_error(lambda: load_model_file(path), path, "corrupt model file: its weights do not match their checksum")
    _one_line_error(lambda: load_predictor(path, threads=1), path, "do not match their checksum")


def test_a_file_written_before_the_checksum_still_loads(tmp_path):
    path = _saved(tmp_path)
    payload = torch.load(path, weights_only=True)
    del payload[HASH_KEY]
    torch.save(payload, path)
    loaded = load_model_file(path)
    assert loaded.weights_sha1() == _model_file().weights_sha1()
    assert isinstance(loaded.build(), ISATSleepNet)


def test_truncated_and_foreign_files(tmp_path):
    path = _saved(tmp_path)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    _one_line_error(lambda: load_model_file(path), path, "not a readable model file (truncated or corrupt")
    path.write_bytes(b"")
    _one_line_error(lambda: load_model_file(path), path, "empty or truncated")
    torch.save({"format": "something else"}, path)
    _one_line_error(lambda: load_model_file(path), path, "not an ISATSleepNet model file")


def test_missing_unexpected_and_misshapen_weights(tmp_path):
    weights = _model_file().state_dict
    first = sorted(weights)[0]
    cases = {
        "missing": {k: v for k, v in weights.items() if k != first},
        "unexpected": {**weights, "extra.weight": torch.zeros(3)},
        "wrong shape": {**weights, first: torch.zeros(*weights[first].shape, 2)},
    }
    for problem, state in cases.items():
        path = _saved(tmp_path, state_dict=state)
        model_file = load_model_file(path)  # the checksum matches: the file was written like this
        named = "extra.weight" if problem == "unexpected" else first
        _one_line_error(model_file.build, path, "its weights do not fit the network", problem, named)
        _one_line_error(lambda: load_predictor(path, threads=1), path, problem)


def test_an_incomplete_file(tmp_path):
    path = _saved(tmp_path)
    payload = torch.load(path, weights_only=True)
    del payload["channels"]
    torch.save(payload, path)
    _one_line_error(lambda: load_model_file(path), path, "incomplete model file: no channels")
    payload["channels"], payload["state_dict"] = ["C3"], [1, 2]
    torch.save(payload, path)
    _one_line_error(lambda: load_model_file(path), path, "corrupt model file: state_dict is not a mapping")


def test_an_unknown_or_invalid_model_config(tmp_path):
    path = _saved(tmp_path, model_config={**CONFIG, "warp_drive": True})
    _one_line_error(lambda: load_model_file(path), path, "unknown setting(s) warp_drive")
    path = _saved(tmp_path, model_config={**CONFIG, "roles": ["ecg"]})
    _one_line_error(lambda: load_model_file(path), path, "roles must be names starting with 'eeg' or 'eog'")


def test_non_finite_weights_are_never_written_nor_loaded(tmp_path):
    weights = _model_file().state_dict
    name = next(k for k, v in weights.items() if v.is_floating_point() and v.numel() > 1)
    poisoned = {**weights, name: weights[name].clone().index_fill_(0, torch.tensor([0]), float("nan"))}
    target = tmp_path / "model.pt"
    _one_line_error(lambda: _model_file(state_dict=poisoned).save(target), target, "not written", "NaN", name)
    assert not target.exists()
    # a file from elsewhere (no checksum) with a NaN weight
    payload = {"format": FORMAT, "version": 1, **{k: v for k, v in vars(_model_file(state_dict=poisoned)).items()
                                                 if k != "source"}}
    torch.save(payload, target)
    _one_line_error(lambda: load_model_file(target), target, "non-finite weights", name)
    assert np.isnan(torch.load(target, weights_only=True)["state_dict"][name].numpy()).any()


def test_what_is_written_can_be_read_back(tmp_path):
    """NumPy values in the metadata are written as plain numbers; an object a weights-only load would refuse
    is not written at all (a file that cannot be loaded again is never made)."""
    path = _saved(tmp_path, training={"epochs": np.int64(3), "scores": np.array([0.5, 0.25])},
                  metrics={"validation": {"macro_f1": np.float32(0.75)}}, sampling_rate=np.float64(10.0))
    loaded = load_model_file(path)
    assert loaded.training == {"epochs": 3, "scores": [0.5, 0.25]} and type(loaded.training["epochs"]) is int
    assert loaded.metrics == {"validation": {"macro_f1": 0.75}} and type(loaded.sampling_rate) is float
    target = tmp_path / "other.pt"
    _one_line_error(lambda: _model_file(training={"data": tmp_path}).save(target), target, "not written",
                    "training.data (PosixPath)")
    assert not target.exists()
