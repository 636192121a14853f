"""Numbers of settings: numpy's are numbers, bools and strings are not, and the value comes back plain."""

from __future__ import annotations

import json

import numpy as np
import pytest

from isatsleepnet.checks import positive_number, whole_number
from isatsleepnet.data.synthetic import SynthConfig
from isatsleepnet.engine import Engine
from isatsleepnet.errors import SettingError
from isatsleepnet.training.config import TrainConfig


@pytest.mark.parametrize("value", [np.int64(3), np.int32(3), np.uint8(3), 3])
def test_numpy_integers_are_whole_numbers_and_come_back_as_ints(value):
    assert whole_number("n", value, least=2) == 3 and type(whole_number("n", value)) is int


@pytest.mark.parametrize("value", [True, "3", 3.0, np.float64(3.0), None, 1])
def test_anything_else_is_one_line_naming_the_setting(value):
    with pytest.raises(SettingError, match=r"^n= must be a whole number of at least 2, not "):
        whole_number("n", value, least=2)


@pytest.mark.parametrize("value", [0, -30, float("nan"), float("inf"), "30", True, None])
def test_a_positive_number_is_finite_and_above_zero(value):
    with pytest.raises(SettingError, match=r"^epoch_seconds= must be a finite number of seconds above 0, not "):
        positive_number("epoch_seconds", value, unit="seconds")
    assert positive_number("x", np.float32(30)) == 30.0


def test_configs_take_numpy_numbers_and_keep_plain_ones_for_json():
    engine = Engine(threads=np.int64(2), workers=np.int64(0), num_nodes=np.int64(1), devices=np.int64(1))
    assert (engine.threads, engine.devices) == (2, 1) and type(engine.threads) is int and type(engine.devices) is int
    synth = SynthConfig(subjects=np.int64(2), hours=np.float32(0.5), seed=np.int64(1))
    assert (type(synth.subjects), type(synth.hours), type(synth.seed)) == (int, float, int)
    config = TrainConfig(max_epochs=np.int64(2), learning_rate=np.float32(1e-3), grad_clip_norm=np.float32(1.0))
    json.dumps([engine.__dict__, synth.__dict__, config.__dict__])  # no numpy scalar left
    with pytest.raises(SettingError, match="^max_epochs= must be a whole number of at least 1, not True"):
        TrainConfig(max_epochs=True)
