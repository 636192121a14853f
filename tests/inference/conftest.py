"""Fixtures of the staging tests: the session's tiny model, its synthetic nights, and a one-thread predictor."""

from __future__ import annotations

from pathlib import Path

import pytest

from isatsleepnet.inference.predictor import load_predictor
from tests.inference import trained_model


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return trained_model(tmp_path_factory.getbasetemp())[0]


@pytest.fixture(scope="module")
def synthetic_raw(tmp_path_factory) -> Path:
    return trained_model(tmp_path_factory.getbasetemp())[1]


@pytest.fixture(scope="module")
def predictor(model):
    import torch

    threads = torch.get_num_threads()
    yield load_predictor(model, threads=1)  # one thread: no spinning against other work on a shared CPU
    torch.set_num_threads(threads)
