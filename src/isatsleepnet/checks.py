"""A setting's number checked once, whatever number type the caller holds.

Why: a Python caller passes numpy scalars (``np.int64`` from an array, ``np.float32``) as readily
as ``int`` and ``float``; a check written as ``isinstance(value, int)`` refuses them with a message
that contradicts itself ("must be a whole number, not np.int64(1)"). Whole numbers are
:class:`numbers.Integral`, real numbers :class:`numbers.Real`; ``bool`` is neither here (``True``
is no count and no length), nor is a string of digits. The checked value comes back as a plain
``int`` or ``float``, so that it is written to JSON and passed to torch like any other.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from isatsleepnet.errors import SettingError


def is_whole(value: Any) -> bool:
    """Whether ``value`` is a whole number (``int``, a numpy integer), not a bool.

    Examples
    --------
    >>> import numpy as np
    >>> is_whole(3), is_whole(np.int64(3)), is_whole(True), is_whole(3.0), is_whole("3")
    (True, True, False, False, False)
    """
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_real(value: Any) -> bool:
    """Whether ``value`` is a real number (``int``, ``float``, a numpy number), not a bool.

    Examples
    --------
    >>> import numpy as np
    >>> is_real(30), is_real(np.float32(30)), is_real(float("nan")), is_real(False), is_real("30")
    (True, True, True, False, False)
    """
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def whole_number(setting: str, value: Any, *, least: int | None = None) -> int:
    """``value`` as an ``int``; a one-line :class:`SettingError` naming ``setting`` when it is not
    a whole number (of at least ``least``).

    Examples
    --------
    >>> import numpy as np
    >>> whole_number("seed", np.int64(7), least=0)
    7
    >>> whole_number("n_folds", "3", least=2)
    Traceback (most recent call last):
    ...
    isatsleepnet.errors.SettingError: n_folds= must be a whole number of at least 2, not '3'
    """
    if not is_whole(value) or (least is not None and value < least):
        wanted = "a whole number" if least is None else f"a whole number of at least {least}"
        raise SettingError(setting, f"must be {wanted}, not {value!r}")
    return int(value)


def positive_number(setting: str, value: Any, *, unit: str = "") -> float:
    """``value`` as a ``float``; a one-line :class:`SettingError` naming ``setting`` unless it is a
    finite real number above 0 (``unit`` words the message: "a number of seconds").

    Examples
    --------
    >>> positive_number("epoch_seconds", 30, unit="seconds")
    30.0
    >>> positive_number("epoch_seconds", float("nan"), unit="seconds")
    Traceback (most recent call last):
    ...
    isatsleepnet.errors.SettingError: epoch_seconds= must be a finite number of seconds above 0, not nan
    """
    if not is_real(value) or not math.isfinite(value) or not value > 0:
        raise SettingError(setting, f"must be a finite number{' of ' + unit if unit else ''} above 0, not {value!r}")
    return float(value)
