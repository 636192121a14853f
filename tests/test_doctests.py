"""The Examples in the docstrings of these modules run, and say what they print."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "isatsleepnet.data.signal",
    "isatsleepnet.data.channels",
    "isatsleepnet.data.epochs",
    "isatsleepnet.data.readers.edf_header",
    "isatsleepnet.data.input_profile",
    "isatsleepnet.data.synthetic.marker",
    "isatsleepnet.inference.input_check",
    "isatsleepnet.locking",
]


@pytest.mark.parametrize("name", MODULES)
def test_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0, f"{name} has no examples"
