"""The setting objects :func:`~isatsleepnet.training.train.train` and
:func:`~isatsleepnet.training.cv.cross_validate` take, checked before any work.

Why: ``config``, ``engine``, ``augment`` and ``gan`` are dataclasses whose fields are read deep
inside training; a dict (a config file's table, say) given instead reached them as
``AttributeError: 'dict' object has no attribute 'init'``. One line names the argument and
says how to make the object.
"""

from __future__ import annotations

from typing import Any

from isatsleepnet.augment.config import AugmentConfig
from isatsleepnet.engine import Engine
from isatsleepnet.errors import SettingError
from isatsleepnet.gan.config import GanConfig
from isatsleepnet.training.config import TrainConfig

SETTING_OBJECTS: dict[str, tuple[type, str]] = {
    "config": (TrainConfig, "isn.training_config(None, max_epochs=..., ...) (None: ISATSleepNet's own "
                            "architecture; or an architecture's name)"),
    "engine": (Engine, "isatsleepnet.engine.Engine(device=..., ...)"),
    "augment": (AugmentConfig, "isatsleepnet.augment.config.AugmentConfig(mode=..., ...)"),
    "gan": (GanConfig, "isatsleepnet.gan.config.GanConfig(...)"),
}
"""Argument -> (the class it takes, how to make one)."""


def check_setting_objects(**given: Any) -> None:
    """Refuse, in one line, an argument of :data:`SETTING_OBJECTS` that is neither None nor its class.

    Examples
    --------
    >>> check_setting_objects(config=None, engine=Engine(device="cpu"), augment=None, gan=None)
    >>> check_setting_objects(config={"max_epochs": 1})
    Traceback (most recent call last):
    ...
    isatsleepnet.errors.SettingError: config= takes a TrainConfig, not dict: make one with isn.training_config(None, max_epochs=..., ...) (None: ISATSleepNet's own architecture; or an architecture's name)
    """
    for name, value in given.items():
        kind, how = SETTING_OBJECTS[name]
        if value is not None and not isinstance(value, kind):
            article = "an" if kind.__name__[0] in "AEIOU" else "a"
            raise SettingError(name, f"takes {article} {kind.__name__}, not {type(value).__name__}: make one with {how}")
