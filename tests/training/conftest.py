"""A small synthetic cohort, prepared once per test session, and a tiny model for fast training tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from isatsleepnet.training.config import TrainConfig
from tests.conftest import prepare_synthetic

TINY_MODEL = {
    "eeg_filters": 4, "eeg_hidden": 8, "eog_filters": 4, "eog_res_kernel": 5, "eog_res_dilations": [1],
    "feature_dim": 16, "simgate_dim": 8, "cross_heads": 2, "lstm_hidden": 8, "lstm_layers": 1,
    "self_heads": 2, "head_hidden": 16,
}


def tiny_config(**overrides) -> TrainConfig:
    base = dict(max_epochs=2, batch_size=32, accumulate_grad_batches=1, learning_rate=2e-3,
                early_stopping_patience=5, model=dict(TINY_MODEL))
    base.update(overrides)
    return TrainConfig(**base)


@pytest.fixture(scope="session")
def synthetic_prepared(tmp_path_factory) -> Path:
    return prepare_synthetic(tmp_path_factory.mktemp("cohort"), subjects=6, hours=1.5, seed=7)
