"""A small synthetic cohort, prepared once per test session, and a tiny model for fast training tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from isatsleepnet.training.config import TrainConfig

TINY_MODEL = {
    "eeg_filters": 4, "eeg_hidden": 8, "eog_filters": 4, "eog_res_kernel": 5, "eog_res_dilations": [1],
    "feature_dim": 16, "simgate_dim": 8, "cross_heads": 2, "lstm_hidden": 8, "lstm_layers": 1,
    "self_heads": 2, "head_hidden": 16,
}


def tiny_config(**overrides) -> TrainConfig:
    base = dict(max_epochs=2, batch_size=32, accumulate_grad_batches=1, learning_rate=2e-3,
                early_stopping_patience=5, threads=1, model=dict(TINY_MODEL))
    base.update(overrides)
    return TrainConfig(**base)


@pytest.fixture(scope="session")
def synthetic_prepared(tmp_path_factory) -> Path:
    from isatsleepnet.data.prepare import prepare_dataset
    from isatsleepnet.data.prepare_config import PrepareConfig
    from isatsleepnet.data.synthetic import SynthConfig, synthesize

    root = tmp_path_factory.mktemp("cohort")
    synthesize(root / "raw", SynthConfig(layout="sleep-edf", subjects=6, hours=1.5, seed=7), progress=False)
    results = prepare_dataset(root / "raw", root / "prepared", PrepareConfig(dataset="sleep-edf"), progress=False)
    assert {r.status for r in results} == {"prepared"}
    return root / "prepared"
