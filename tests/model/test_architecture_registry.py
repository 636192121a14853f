"""The architecture table: names, configurations, model files that name (or do not name) an architecture."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from isatsleepnet.errors import IsatSleepNetError
from isatsleepnet.model.architectures import (
    ARCHITECTURES,
    DEFAULT_ARCHITECTURE,
    Architecture,
    get_architecture,
    register,
    unregister,
)
from isatsleepnet.model.config import ModelConfig, ModelConfigError
from isatsleepnet.model.file import HASH_KEY, ModelFile, load_model_file, payload_sha256


def test_isatsleepnet_is_the_default_and_builds_the_paper_network():
    arch = get_architecture(None)
    assert arch.name == DEFAULT_ARCHITECTURE == "isatsleepnet" and arch.title == "ISATSleepNet"
    config = arch.make_config({"roles": ["eeg", "eog"]})
    assert isinstance(config, ModelConfig) and config.roles == ("eeg", "eog")
    assert arch.make_config({}, graph="eager").use_fast_conv is False
    assert set(arch.sizes) == {"paper", "small"}


def test_an_unknown_architecture_or_setting_is_one_line():
    with pytest.raises(IsatSleepNetError, match=r"^unknown architecture 'nope'; registered: .*isatsleepnet"):
        get_architecture("nope")
    with pytest.raises(ModelConfigError, match=r"^isatsleepnet: unknown setting\(s\) wings"):
        get_architecture(None).make_config({"wings": 2})
    with pytest.raises(ModelConfigError, match="small"):
        get_architecture(None).size_options("huge")


def test_register_refuses_a_taken_name_and_a_bad_name():
    entry = dataclasses.replace(get_architecture(None), name="copy-of-isn")
    try:
        register(entry)
        with pytest.raises(IsatSleepNetError, match="already registered"):
            register(entry)
        register(entry, replace=True)
    finally:
        unregister("copy-of-isn")
    assert "copy-of-isn" not in ARCHITECTURES
    with pytest.raises(IsatSleepNetError, match="lower-case word"):
        register(dataclasses.replace(entry, name="Two Words"))
    with pytest.raises(IsatSleepNetError, match="cannot be removed"):
        unregister(DEFAULT_ARCHITECTURE)


def _small_file(**fields) -> ModelFile:
    arch = get_architecture(None)
    settings = {"roles": ["eeg"], "n_samples": 300, "sampling_rate": 10.0, "eeg_filters": 4, "eeg_hidden": 8,
                "eog_filters": 4, "feature_dim": 16, "simgate_dim": 8, "cross_heads": 2, "lstm_hidden": 8,
                "lstm_layers": 1, "self_heads": 2, "head_hidden": 16}
    network = arch.build(arch.make_config(settings))
    return ModelFile(model_config=settings, state_dict=network.state_dict(), channels=["EEG"], roles=["eeg"],
                     sampling_rate=10.0, epoch_seconds=30.0, normalize="epoch-zscore", **fields)


def test_a_model_file_records_its_architecture(tmp_path):
    _small_file().save(tmp_path / "m.pt")
    payload = torch.load(tmp_path / "m.pt", weights_only=True)
    assert payload["architecture"] == "isatsleepnet"
    assert load_model_file(tmp_path / "m.pt").architecture == "isatsleepnet"


def test_a_model_file_that_names_no_architecture_loads_as_isatsleepnet(tmp_path):
    """Files written before the table existed have no such field (their checksum covers what they hold)."""
    _small_file().save(tmp_path / "m.pt")
    payload = torch.load(tmp_path / "m.pt", weights_only=True)
    del payload["architecture"]
    payload[HASH_KEY] = payload_sha256(payload)
    torch.save(payload, tmp_path / "old.pt")
    old = load_model_file(tmp_path / "old.pt")
    assert old.architecture == "isatsleepnet"
    x = torch.randn(2, 1, 300)
    assert torch.allclose(old.build("eager")(x), old.build("fused")(x), atol=1e-4)


def test_a_model_file_of_an_unregistered_architecture_is_refused_in_one_line(tmp_path):
    entry = dataclasses.replace(get_architecture(None), name="elsewhere")
    register(entry)
    try:
        _small_file(architecture="elsewhere").save(tmp_path / "m.pt")
    finally:
        unregister("elsewhere")
    with pytest.raises(IsatSleepNetError, match=r"m\.pt: invalid model file: its architecture 'elsewhere' is not "
                                                r"registered in this isatsleepnet"):
        load_model_file(tmp_path / "m.pt")


def test_architectures_command_lists_every_entry_with_inputs_and_weights(capsys):
    from isatsleepnet.cli.main import main

    assert main(["architectures"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("isatsleepnet: ")
    assert "weights with the defaults: 2,393,260" in out
    for name in ARCHITECTURES:
        assert f"\n{name}: " in "\n" + out
    assert "training: learning_rate 5e-06, batch_size 12, optimizer adam, loss generalized-dice" in out


def test_architecture_entries_are_complete():
    for arch in ARCHITECTURES.values():
        assert isinstance(arch, Architecture)
        settings = set(arch.settings())
        assert {"roles", "n_samples", "sampling_rate", "n_classes"} <= settings, arch.name
        assert arch.title and arch.summary and arch.reference and arch.inputs


def test_the_python_api_names_an_architecture_through_its_training_settings():
    import isatsleepnet as isn

    config = isn.training_config("attnsleep", max_epochs=3)
    assert config.model == {"architecture": "attnsleep"} and config.architecture == "attnsleep"
    assert (config.learning_rate, config.batch_size, config.max_epochs) == (1e-3, 128, 3)
    assert (config.optimizer, config.loss, config.loss_alpha) == ("amsgrad", "hybrid", 1.0)
    assert isn.training_config(None).model == {}  # ISATSleepNet: a run made before architectures existed
    with pytest.raises(IsatSleepNetError, match="unknown architecture"):
        isn.training_config("nope")


@pytest.mark.parametrize("name", ["tinysleepnet", "attnsleep", "utime"])
def test_a_baseline_stages_through_its_batch_split_inference_graph_exactly(name):
    from isatsleepnet.model.parallel import SplitBatchInference

    arch = get_architecture(name)
    small = {"tinysleepnet": {"filters": 8, "lstm_hidden": 8}, "attnsleep": {"filters": 8, "d_ff": 16},
             "utime": {"filters": [4, 4, 8, 8], "bottom_filters": 8}}[name]
    torch.manual_seed(0)
    network = arch.build(arch.make_config(small)).eval()
    graph = arch.inference_graph(network)
    assert isinstance(graph, SplitBatchInference)
    shape = (5, 3, 1, 3000) if arch.window_setting else (5, 1, 3000)
    x = torch.randn(*shape)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)  # two slices of the batch, whatever the machine
    try:
        fast = graph(x)
    finally:
        torch.set_num_threads(threads)
    with torch.no_grad():
        assert torch.allclose(fast, network(x), atol=1e-5)
    with pytest.raises(RuntimeError, match="cannot be trained"):
        graph.train()


def test_the_listed_settings_are_the_networks_and_a_papers_training_is_listed_as_training():
    """`architectures --settings` listed AttnSleep's learning_rate and U-Time's loss 'generalized_dice' as settings:
    a --model-option of them changed nothing (and the loss was a value training refuses)."""
    from isatsleepnet.model.architectures import PAPER_TRAINING
    from isatsleepnet.model.catalogue import describe_architectures

    for entry in describe_architectures(settings=True):
        assert not set(entry["settings"]) & set(PAPER_TRAINING), entry["name"]
    by_name = {entry["name"]: entry for entry in describe_architectures()}
    assert by_name["utime"]["training"]["loss"] == "generalized-dice"
    assert by_name["attnsleep"]["training"]["learning_rate"] == 1e-3
