"""Model files: a checksum of every field, checked values, and one-line errors for every way a file can be damaged."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from isatsleepnet.cli.main import main
from isatsleepnet.data.store import write_manifest, write_recording
from isatsleepnet.errors import IsatSleepNetError
from isatsleepnet.model.file import (
    FORMAT,
    HASH_KEY,
    VERSION,
    WEIGHTS_HASH_KEY,
    ModelFile,
    load_model_file,
    payload_sha256,
)
from isatsleepnet.inference.predictor import load_predictor
from isatsleepnet.model import ISATSleepNet, ModelConfig
from tests.training.conftest import TINY_MODEL
from tests.training.tiny_store import CHANNELS, ROLES

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


DELETE = object()


def _edit(path: Path, *, resign: bool = False, **changes) -> Path:
    """Change fields of a saved file in place (DELETE removes one); ``resign`` recomputes its checksum,
    as a file written with those values (by another tool, or a forger) would carry."""
    payload = torch.load(path, weights_only=True)
    for key, value in changes.items():
        if value is DELETE:
            del payload[key]
        else:
            payload[key] = value
    if resign:
        payload[HASH_KEY] = payload_sha256(payload)
    torch.save(payload, path)
    return path


def _as_version_1(path: Path, *, checksum: bool) -> Path:
    """The file as format version 1 wrote it: the weights checksum only, or (before that) none."""
    payload = torch.load(path, weights_only=True)
    del payload[HASH_KEY]
    payload["version"] = 1
    if checksum:
        payload[WEIGHTS_HASH_KEY] = load_model_file(path).weights_sha256()
    torch.save(payload, path)
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
    assert payload["version"] == VERSION == 2 and payload[HASH_KEY] == payload_sha256(payload)
    assert WEIGHTS_HASH_KEY not in payload
    assert "source" not in payload and loaded.source == path
    x = torch.randn(2, 3, 300, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = ISATSleepNet(ModelConfig(**CONFIG)).eval()
        expected.load_state_dict(_model_file().state_dict)
        for graph in ("eager", "fast", "fused"):
            torch.testing.assert_close(loaded.build(graph)(x), expected(x), rtol=1e-4, atol=1e-5)
    assert loaded.build("eager").config.use_fast_conv is False
    with pytest.raises(IsatSleepNetError, match="unknown graph 'quick'"):
        loaded.build("quick")


def test_flipped_bytes_in_the_weights_are_refused(tmp_path):
    path = _saved(tmp_path)
    weights = _model_file().state_dict
    name = max(weights, key=lambda k: weights[k].numel())
    raw = bytearray(path.read_bytes())
    at = raw.find(weights[name].numpy().tobytes())
    assert at > 0
    raw[at + 17] ^= 0x40  # one bit of one weight: the file still unpickles, the weights are wrong
    path.write_bytes(bytes(raw))
    mismatch = f"{path}: corrupt model file: its weights or metadata do not match their checksum"
    assert _one_line_error(lambda: load_model_file(path), path) == mismatch
    assert _one_line_error(lambda: load_predictor(path, threads=1), path) == mismatch


EDITS = {
    "normalize": "bogus",
    "sampling_rate": 20.0,
    "epoch_seconds": 15.0,
    "channels": ["C4", "C3", "EOG"],
    "roles": ["eeg2", "eeg", "eog"],
    "stages": ["W", "N1", "N2", "N3", "R"],
    "training": {"synthetic_recordings": 0},
    "metrics": {"validation": {"macro_f1": 0.99}},
    "model_config": {**CONFIG, "dropout": 0.1},
    "isatsleepnet_version": "9.9",
    "saved": "2001-01-01T00:00:00+00:00",
}


@pytest.mark.parametrize("field", [*EDITS, "training (removed)", "metrics (removed)", "stages (removed)"])
def test_an_edited_field_is_refused_whatever_it_is(tmp_path, field):
    """The checksum covers every field: an edited normalize once made `evaluate` skip normalisation."""
    path = _saved(tmp_path, training={"synthetic_recordings": 3}, metrics={"validation": {"macro_f1": 0.4}})
    name = field.removesuffix(" (removed)")
    _edit(path, **{name: DELETE if field.endswith("(removed)") else EDITS[name]})
    assert _one_line_error(lambda: load_model_file(path), path) == \
        f"{path}: corrupt model file: its weights or metadata do not match their checksum"


def test_weights_sha1_is_the_identity_of_the_network_only(tmp_path):
    """Folders of predictions are claimed by weights_sha1: metadata such as metrics must not change it."""
    first = load_model_file(_saved(tmp_path))
    other = load_model_file(_saved(tmp_path / "b", metrics={"validation": {"macro_f1": 0.5}}, training={"x": 1}))
    digest = hashlib.sha1(json.dumps(CONFIG, sort_keys=True, default=str).encode())
    for name in sorted(first.state_dict):
        digest.update(name.encode())
        digest.update(first.state_dict[name].numpy().tobytes())
    assert first.weights_sha1() == other.weights_sha1() == digest.hexdigest()


def test_a_file_of_this_version_without_its_checksum_is_refused(tmp_path):
    path = _edit(_saved(tmp_path), **{HASH_KEY: DELETE})
    assert _one_line_error(lambda: load_model_file(path), path) == (
        f"{path}: corrupt model file: it has no checksum (a model file of format version 2 always carries one)")


def test_files_of_version_1_load_with_or_without_their_weights_checksum(tmp_path):
    """Version 1 hashed model_config and weights; files before that had no checksum: both still load."""
    for checksum in (True, False):
        path = _as_version_1(_saved(tmp_path / str(checksum)), checksum=checksum)
        loaded = load_model_file(path)
        assert loaded.weights_sha1() == _model_file().weights_sha1()
        assert isinstance(loaded.build(), ISATSleepNet)
    path = _as_version_1(_saved(tmp_path / "flipped"), checksum=True)
    name = min(_model_file().state_dict)
    _edit(path, state_dict={**_model_file().state_dict, name: _model_file().state_dict[name] + 1})
    assert _one_line_error(lambda: load_model_file(path), path) == \
        f"{path}: corrupt model file: its weights do not match their checksum"
    # the field checks apply to every version: an old file with an edited normalisation is refused too
    path = _edit(_as_version_1(_saved(tmp_path / "bogus"), checksum=False), normalize="bogus")
    assert _one_line_error(lambda: load_model_file(path), path) == \
        f"{path}: invalid model file: normalize is 'bogus', not one of epoch-zscore, none"


@pytest.mark.parametrize("version", ["2", 2.0, True, -1])
def test_a_version_that_is_not_a_whole_number(tmp_path, version):
    path = _edit(_saved(tmp_path), version=version)
    assert _one_line_error(lambda: load_model_file(path), path) == \
        f"{path}: corrupt model file: its format version is {version!r}, not a whole number"


INVALID = [
    ({"normalize": "bogus"}, "normalize is 'bogus', not one of epoch-zscore, none"),
    ({"sampling_rate": float("nan")}, "sampling_rate is nan, not a finite number above 0"),
    ({"sampling_rate": float("inf")}, "sampling_rate is inf, not a finite number above 0"),
    ({"sampling_rate": 0.0}, "sampling_rate is 0, not a finite number above 0"),
    ({"epoch_seconds": -30.0}, "epoch_seconds is -30, not a finite number above 0"),
    ({"epoch_seconds": float("nan")}, "epoch_seconds is nan, not a finite number above 0"),
    ({"epoch_seconds": 15.0}, ("its 15-s epochs at 10 Hz are 150 samples, but its network takes 300 "
                               "(model_config n_samples)")),
    ({"epoch_seconds": 30.05}, "30.05-s epochs at 10 Hz are 300.5 samples, not a whole number"),
    ({"sampling_rate": 20.0, "epoch_seconds": 15.0},
     "model_config sampling_rate is 10, not the file's sampling_rate 20"),
    ({"channels": ["C3", "C4"]}, "it has 3 role(s) (eeg, eeg2, eog) for 2 channel(s) (C3, C4)"),
    ({"channels": []}, "channels is [], not a non-empty list of names"),
    ({"channels": ["C3", "", "EOG"]}, "channels is ['C3', '', 'EOG'], not a non-empty list of names"),
    ({"roles": [], "channels": []}, "channels is [], not a non-empty list of names"),
    ({"roles": ["eeg", "eeg2", 3]}, "roles is ['eeg', 'eeg2', 3], not a non-empty list of names"),
    ({"roles": ["eeg2", "eeg", "eog"]}, ("model_config roles ['eeg', 'eeg2', 'eog'] are not the file's roles "
                                         "['eeg2', 'eeg', 'eog']")),
    ({"stages": ["W", "N1", "N2", "N3", "R"]}, ("stages is ['W', 'N1', 'N2', 'N3', 'R'], not the five AASM stages "
                                                "W, N1, N2, N3, REM")),
    ({"stages": ["W", "N1", "N2", "N3"]}, ("stages is ['W', 'N1', 'N2', 'N3'], not the five AASM stages "
                                           "W, N1, N2, N3, REM")),
    ({"model_config": {**CONFIG, "n_samples": 300.0}}, "model_config n_samples is 300.0, not a whole number above 0"),
    ({"model_config": {**CONFIG, "n_classes": 4}}, "model_config n_classes is 4, not 5 (the AASM stages)"),
]


@pytest.mark.parametrize("changes, problem", INVALID)
def test_every_field_is_checked_and_such_a_file_is_never_written(tmp_path, changes, problem):
    """A file carrying these values with a valid checksum (written by another tool) is refused when loaded
    (before: NaN gave `unexpected ValueError`, inf `unexpected OverflowError`); save() refuses to write it."""
    path = _edit(_saved(tmp_path), resign=True, **changes)
    assert _one_line_error(lambda: load_model_file(path), path) == f"{path}: invalid model file: {problem}"
    target = tmp_path / "new.pt"
    assert _one_line_error(lambda: _model_file(**changes).save(target), target) == f"{target}: not written: {problem}"
    assert not target.exists()


@pytest.mark.parametrize("changes, problem", [INVALID[0], INVALID[1], INVALID[2], INVALID[6]])
def test_stage_refuses_an_invalid_model_file_with_one_line_and_status_2(tmp_path, capsys, changes, problem):
    """Before: ``model file: unknown normalisation 'bogus'`` per recording (no file name, exit 1)."""
    path = _edit(_saved(tmp_path), resign=True, **changes)
    rc = main(["stage", "--model", str(path), "--out", str(tmp_path / "out"), str(tmp_path / "night.edf")])
    assert rc == 2
    assert capsys.readouterr().err == f"isatsleepnet stage: error: {path}: invalid model file: {problem}\n"


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
    path = _saved(tmp_path, model_config={**CONFIG, "roles": ["ecg"]}, roles=["ecg"], channels=["ECG"])
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


# -- the model file against the data it is evaluated on -----------------------------------------------------


def _store(root: Path, *, fs: float = 10.0, seconds: float = 30.0, channels: list[str] = CHANNELS) -> Path:
    """A prepared store of one subject (S9) with one 12-epoch night at ``fs`` Hz in ``seconds``-s epochs."""
    n = round(fs * seconds)
    rng = np.random.default_rng(0)
    labels = (np.arange(12) % 5).astype(np.int8)
    write_recording(root, "S9-night1", rng.normal(0, 20, (12, len(channels), n)).astype(np.float32), labels,
                    np.arange(12) * seconds, {"subject": "S9", "night": 1, "sampling_rate": fs,
                                              "channels": channels, "roles": ROLES[: len(channels)],
                                              "epoch_seconds": seconds})
    write_manifest(root)
    return root


def _evaluate(model: Path, data: Path, out: Path) -> int:
    return main(["evaluate", "--model", str(model), "--data", str(data), "--out", str(out), "--quiet",
                 "--device", "cpu"])


@pytest.fixture
def model_for_store(tmp_path) -> Path:
    """A model file of the tiny network that reads the tiny store's channels at 10 Hz."""
    return _saved(tmp_path / "model", channels=list(CHANNELS))


@pytest.mark.parametrize("kind", ["rate", "epoch", "channels"])
def test_evaluate_refuses_data_the_model_cannot_read(model_for_store, tmp_path, capsys, kind):
    """Before: ``unexpected ValueError: expected input (batch, 3, 300) ..., got (64, 3, 384)`` (exit 1)."""
    data = {"rate": lambda root: _store(root, fs=12.8), "epoch": lambda root: _store(root, seconds=15.0),
            "channels": lambda root: _store(root, channels=["EEG Fpz-Cz", "EEG C4", "EOG horizontal"])}[kind](
        tmp_path / "data")
    recording = data / "recordings" / "S9-night1"
    expected = {
        "rate": f"{model_for_store}: works at 10 Hz, 30-s epochs; {recording} was prepared at 12.8 Hz: "
                "prepare it again with --sampling-rate 10",
        "epoch": f"{model_for_store}: works at 10 Hz, 30-s epochs; {recording} was prepared in 15-s epochs: "
                 "prepare it again with --epoch-seconds 30",
        "channels": f"{model_for_store}: reads the channels EEG Fpz-Cz, EEG Pz-Oz, EOG horizontal; {recording} "
                    "lacks EEG Pz-Oz (it has EEG Fpz-Cz, EEG C4, EOG horizontal)",
    }[kind]
    assert _evaluate(model_for_store, data, tmp_path / "out") == 2
    assert capsys.readouterr().err == f"isatsleepnet evaluate: error: {expected}\n"
    assert not (tmp_path / "out" / "predictions").exists()


def test_evaluate_refuses_an_edited_model_file_and_runs_on_an_intact_one(model_for_store, tmp_path, capsys):
    """An edited normalize once evaluated without normalisation (13.7 % instead of 33 %, exit 0)."""
    data = _store(tmp_path / "data")
    assert _evaluate(model_for_store, data, tmp_path / "good") == 0  # the control: the same data, the intact file
    assert "12 epochs: accuracy" in capsys.readouterr().out
    _edit(model_for_store, normalize="bogus")
    assert _evaluate(model_for_store, data, tmp_path / "edited") == 2
    assert capsys.readouterr().err == (f"isatsleepnet evaluate: error: {model_for_store}: corrupt model file: its "
                                       "weights or metadata do not match their checksum\n")
