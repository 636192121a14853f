"""train() and cross_validate() refuse a setting object of the wrong type in one line that says how to make it."""

from __future__ import annotations

import pytest

from isatsleepnet.augment.config import AugmentConfig
from isatsleepnet.engine import Engine
from isatsleepnet.errors import SettingError
from isatsleepnet.gan.config import GanConfig
from isatsleepnet.training.arguments import check_setting_objects
from isatsleepnet.training.config import TrainConfig


@pytest.mark.parametrize(("name", "value", "message"), [
    ("config", {"max_epochs": 1}, r"^config= takes a TrainConfig, not dict: make one with isn\.training_config\("),
    ("engine", {"device": "cpu"}, r"^engine= takes an Engine, not dict: make one with isatsleepnet\.engine\.Engine\("),
    ("augment", "gan", r"^augment= takes an AugmentConfig, not str: make one with .*AugmentConfig\(mode="),
    ("gan", TrainConfig(), r"^gan= takes a GanConfig, not TrainConfig: make one with .*GanConfig\("),
])
def test_a_wrong_setting_object_is_one_line(name, value, message):
    with pytest.raises(SettingError, match=message) as info:
        check_setting_objects(**{name: value})
    assert "\n" not in str(info.value)


def test_the_right_objects_and_none_pass():
    check_setting_objects(config=TrainConfig(), engine=Engine(device="cpu"), augment=AugmentConfig(), gan=GanConfig())
    check_setting_objects(config=None, engine=None, augment=None, gan=None)
