"""Configurations check themselves as they are made, and say what is wrong in the caller's words.

Each configuration dataclass is frozen and refuses a bad value on construction with one line
that names the setting (``.settings``): ``str(error)`` spells it as the Python keyword
(``learning_rate=``), :func:`isatsleepnet.cli.flags.message` as the flag (``--lr``).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
from typing import Any

import pytest

from isatsleepnet.augment.config import AugmentConfig
from isatsleepnet.cli.flags import CONFIG_FILE_ONLY, flag, message
from isatsleepnet.data.synthetic import SynthConfig
from isatsleepnet.engine import Engine
from isatsleepnet.errors import IsatSleepNetError
from isatsleepnet.gan.config import GanConfig
from isatsleepnet.training.config import TrainConfig

NAN = float("nan")

BAD: list[tuple[type, dict[str, Any], str]] = [
    (TrainConfig, {"learning_rate": NAN}, "learning_rate"),
    (TrainConfig, {"learning_rate": "fast"}, "learning_rate"),
    (TrainConfig, {"weight_decay": -0.1}, "weight_decay"),
    (TrainConfig, {"batch_size": 0}, "batch_size"),
    (TrainConfig, {"batch_size": "16"}, "batch_size"),
    (TrainConfig, {"accumulate_grad_batches": 0}, "accumulate_grad_batches"),
    (TrainConfig, {"lr_step_start": -1}, "lr_step_start"),
    (TrainConfig, {"lr_step_size": 0}, "lr_step_size"),
    (TrainConfig, {"lr_gamma": 0}, "lr_gamma"),
    (TrainConfig, {"max_epochs": 2.5}, "max_epochs"),
    (TrainConfig, {"early_stopping_patience": -1}, "early_stopping_patience"),
    (TrainConfig, {"loss": "focal"}, "loss"),
    (TrainConfig, {"loss_alpha": 1.5}, "loss_alpha"),
    (TrainConfig, {"class_weighted": "yes"}, "class_weighted"),
    (TrainConfig, {"optimizer": "sgd"}, "optimizer"),
    (TrainConfig, {"grad_clip_norm": 0.0}, "grad_clip_norm"),
    (TrainConfig, {"normalize": "max"}, "normalize"),
    (TrainConfig, {"balanced_sampling": 1}, "balanced_sampling"),
    (TrainConfig, {"channels": []}, "channels"),
    (TrainConfig, {"validation_fraction": 1.0}, "validation_fraction"),
    (TrainConfig, {"max_train_batches": 0}, "max_train_batches"),
    (TrainConfig, {"seed": -1}, "seed"),
    (TrainConfig, {"seed": 2**32}, "seed"),
    (TrainConfig, {"tensorboard": None}, "tensorboard"),
    (TrainConfig, {"context_epochs": 0}, "context_epochs"),
    (TrainConfig, {"context_learning_rate": 0.0}, "context_learning_rate"),
    (TrainConfig, {"init": " "}, "init"),
    (TrainConfig, {"init": "m.pt", "init_sha256": 5}, "init_sha256"),
    (TrainConfig, {"freeze": "head", "init": "m.pt"}, "freeze"),
    (TrainConfig, {"model": "small"}, "model"),
    (TrainConfig, {"model": {"architecture": "tinysleepnet", "context": 5}}, "context"),
    (Engine, {"device": "gpu"}, "device"),
    (Engine, {"devices": "two"}, "devices"),
    (Engine, {"num_nodes": 0}, "num_nodes"),
    (Engine, {"precision": "64-true"}, "precision"),
    (Engine, {"threads": 0}, "threads"),
    (Engine, {"workers": -1}, "workers"),
    (GanConfig, {"stage": "S1"}, "stage"),
    (GanConfig, {"epochs": 0}, "epochs"),
    (GanConfig, {"batch_size": "32"}, "batch_size"),
    (GanConfig, {"g_upsamplings": 0}, "g_upsamplings"),
    (GanConfig, {"d_channels": ()}, "d_channels"),
    (GanConfig, {"d_kernel": 0}, "d_kernel"),
    (GanConfig, {"checkpoint_every": 0}, "checkpoint_every"),
    (GanConfig, {"holdout_fraction": 1.0}, "holdout_fraction"),
    (GanConfig, {"lr_g": 0.0}, "lr_g"),
    (GanConfig, {"lr_d": NAN}, "lr_d"),
    (GanConfig, {"clip": -1.0}, "clip"),
    (AugmentConfig, {"mode": "mixup"}, "mode"),
    (AugmentConfig, {"stage": "S1"}, "stage"),
    (AugmentConfig, {"target_ratio": 0.9}, "target_ratio"),
    (AugmentConfig, {"stage_cap": -0.1}, "stage_cap"),
    (AugmentConfig, {"stage_cap": "all"}, "stage_cap"),
    (SynthConfig, {"layout": "mass"}, "layout"),
    (SynthConfig, {"subjects": 0}, "subjects"),
    (SynthConfig, {"subjects": 101}, "subjects"),
    (SynthConfig, {"nights": 3}, "nights"),
    (SynthConfig, {"hours": 0.001}, "hours"),
    (SynthConfig, {"hours": NAN}, "hours"),
    (SynthConfig, {"hours": 49.0}, "hours"),
    (SynthConfig, {"seed": -1}, "seed"),
    (SynthConfig, {"profusion": True}, "profusion"),
]
CLASSES = (TrainConfig, Engine, GanConfig, AugmentConfig, SynthConfig)


def _ids(case: tuple[type, dict[str, Any], str]) -> str:
    return f"{case[0].__name__}-{'-'.join(f'{k}={v!r}' for k, v in case[1].items())}"


@pytest.mark.parametrize("cls, values, setting", BAD, ids=[_ids(case) for case in BAD])
def test_a_bad_value_is_refused_on_construction_naming_its_setting(cls, values, setting):
    with pytest.raises(IsatSleepNetError) as info:
        cls(**values)
    error = info.value
    assert error.settings[0] == setting
    text = str(error)
    assert "\n" not in text and text.startswith(f"{setting}=") and "--" not in text
    assert message(error).startswith((f"{flag(setting)} ", f"{flag(setting)}:")) and f"{setting}=" not in message(error)


@pytest.mark.parametrize("cls, values, setting", BAD[:: 7], ids=[_ids(case) for case in BAD[:: 7]])
def test_replace_checks_the_copy_as_construction_does(cls, values, setting):
    with pytest.raises(IsatSleepNetError) as info:
        dataclasses.replace(cls(), **values)
    assert info.value.settings[0] == setting


@pytest.mark.parametrize("cls", CLASSES)
def test_the_defaults_are_valid_and_the_instance_is_frozen(cls):
    config = cls()  # checked as it was made: there is no validate() to call, nor to forget
    assert not hasattr(config, "validate")
    name = dataclasses.fields(cls)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(config, name, getattr(config, name))


def test_no_configuration_has_a_validate_method_to_forget():
    from isatsleepnet.data.prepare_config import PrepareConfig
    from isatsleepnet.inference.options import StageOptions, StageResult
    from isatsleepnet.model.config import ModelConfig

    assert [cls.__name__ for cls in (*CLASSES, PrepareConfig, StageOptions, StageResult, ModelConfig)
            if hasattr(cls, "validate")] == []


def test_the_edges_of_each_range_are_accepted():
    TrainConfig(weight_decay=0.0, validation_fraction=0.0, loss_alpha=1.0, lr_gamma=1.0, early_stopping_patience=0,
                seed=2**32 - 1, max_train_batches=1, lr_step_start=0, freeze="encoder", init="m.pt")
    Engine(devices="2", precision="bf16-mixed", threads=1, workers=0, device="cuda")
    Engine(device="cuda:0", devices=1)
    GanConfig(holdout_fraction=0.0, epochs=1, d_channels=[8])
    AugmentConfig(mode="gan", target_ratio=1.0, stage_cap=0.0)
    SynthConfig(layout="shhs", subjects=101, nights=2, hours=30 / 3600, profusion=True)
    SynthConfig(hours=48.0)


def test_lists_from_a_file_become_the_tuples_a_gan_config_holds():
    config = GanConfig(d_channels=[8, 16], betas=[0.5, 0.9])
    assert config.d_channels == (8, 16) and config.betas == (0.5, 0.9)


def test_both_front_ends_spell_the_settings_of_a_message_naming_several():
    with pytest.raises(IsatSleepNetError) as info:
        Engine(device="cuda:1", devices="2")
    assert info.value.settings == ("device", "devices")
    assert str(info.value) == "device= cuda:1 names one GPU; devices= 2 asks for several (use device= cuda devices= N)"
    assert message(info.value) == ("--device cuda:1 names one GPU; --devices 2 asks for several "
                                   "(use --device cuda --devices N)")
    with pytest.raises(IsatSleepNetError) as info:
        TrainConfig(freeze="encoder")
    assert info.value.settings == ("freeze", "init")
    assert message(info.value).startswith("--freeze encoder needs --init MODEL.pt")


def _command_line_flags() -> set[str]:
    """Every option string of the commands that build these configurations."""
    parser = argparse.ArgumentParser()
    subparsers = parser.add_subparsers()
    for name in ("train", "cv", "train_gan", "augment", "synth", "demo"):
        importlib.import_module(f"isatsleepnet.cli.{name}").add_parser(subparsers)
    return {option for sub in subparsers.choices.values() for action in sub._actions
            for option in action.option_strings}


def test_every_setting_a_check_names_is_spelled_as_a_real_flag_or_a_file_setting():
    """A flag that no command has would send the user looking for it: the table says where each lives."""
    flags = _command_line_flags()
    for _cls, _values, setting in BAD:
        spelled = flag(setting)
        assert spelled in flags or setting in CONFIG_FILE_ONLY, f"{setting} is spelled {spelled}, no such flag"


@pytest.mark.parametrize(("name", "content", "words"), [
    ("settings", b"x", "settings: not valid JSON (Expecting value"),  # no suffix: read as JSON, named so
    ("train.toml", b"x =", "train.toml: not valid TOML ("),
    ("train.json", b"\xff\xfe", "train.json: not a text file (a config file is TOML or JSON in UTF-8)"),
    ("train.json", b"[1, 2]", "train.json: a config file holds settings (a JSON object), not list"),
])
def test_a_config_file_that_cannot_be_read_is_one_line(tmp_path, name, content, words):
    from isatsleepnet.config import read_config_file

    (tmp_path / name).write_bytes(content)
    with pytest.raises(IsatSleepNetError) as caught:
        read_config_file(tmp_path / name, "train")
    assert str(caught.value).startswith(f"{tmp_path / name}: ") and words in str(caught.value)
    assert "\n" not in str(caught.value) and "  " not in str(caught.value)
