"""The lab's loop on synthetic nights: stage, review, prepare the reviewed epochs, fine-tune on them.

Synthetic recordings and a tiny model trained on them: this shows the files fit together,
it says nothing about staging real sleep.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from isatsleepnet.cli.main import main
from isatsleepnet.data.labels import STAGES
from isatsleepnet.data.readers.hypnogram import read_hypnogram
from isatsleepnet.data.store import PreparedDataset
from isatsleepnet.review.session import Review
from isatsleepnet.training.train import train
from tests.conftest import prepare_synthetic
from tests.training.conftest import TINY_MODEL, tiny_config


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> tuple[Path, Path]:
    """A synthetic cohort of 4 nights (raw and prepared) and a tiny model trained on 3 of them."""
    root = tmp_path_factory.mktemp("loop")
    prepared = prepare_synthetic(root, subjects=4, hours=0.5, seed=11)
    subjects = PreparedDataset(prepared).subjects()
    model = train(prepared, root / "base", config=tiny_config(max_epochs=1), train_subjects=subjects[:2],
                  validation_subjects=[subjects[2]], progress=False)
    return root / "raw", model


def test_reviewed_epochs_become_a_dataset_a_model_is_fine_tuned_on(cohort, tmp_path, capsys):
    raw, model = cohort
    staged = tmp_path / "staged"
    assert main(["stage", str(raw), "--model", str(model), "--out", str(staged), "--quiet", "--no-plots",
                 "--no-report"]) == 0
    tables = sorted(staged.glob("*.hypnogram.csv"))
    assert len(tables) == 4
    reviewed: dict[str, dict[int, str]] = {}
    for n, table in enumerate(tables[:3]):  # three nights reviewed, the fourth not
        with Review.open(table, reviewer="ana") as review:
            choices = {}
            for k, epoch in enumerate(range(0, 40, 2)):  # 20 epochs: set (some to another stage) or accepted
                stage = STAGES[(k + n) % 5] if k % 3 else review.state.stages[epoch]
                review.set_stage(epoch, stage, version=review.version)
                choices[epoch] = stage
            reviewed[review.night.name] = choices
        # the reviewed hypnogram is an ordinary hypnogram
        hypnogram = read_hypnogram(table.with_name(table.name.replace(".hypnogram.csv", ".reviewed.csv")))
        assert [STAGES[c] for c in hypnogram.codes[:40:2]] == list(choices.values())

    out = tmp_path / "prepared"
    assert main(["prepare", "--dataset", "reviewed", "--data-dir", str(staged), "--out", str(out), "--quiet",
                 "--eeg", "EEG Fpz-Cz", "--eeg2", "EEG Pz-Oz", "--eog", "EOG horizontal"]) == 0
    data = PreparedDataset(out)
    assert sorted(data.names) == sorted(reviewed)  # the unreviewed night is not there
    for name, choices in reviewed.items():
        record = data[name]
        kept = dict(zip((np.asarray(record.onsets) // 30).astype(int).tolist(), record.labels.tolist()))
        assert kept == {epoch: STAGES.index(stage) for epoch, stage in choices.items()}  # only reviewed epochs

    tuned = tmp_path / "tuned"
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps({"train": {"max_epochs": 1, "batch_size": 8, "model": TINY_MODEL}}))
    assert main(["train", "--data", str(out), "--out", str(tuned), "--init", str(model), "--config", str(config),
                 "--val-subjects", sorted(reviewed)[0], "--quiet"]) == 0
    assert (tuned / "model.pt").is_file()
    assert json.loads((tuned / "config.json").read_text())["init"] == str(model)
    assert f"fine-tuned from: {model}" in (tuned / "MODEL_CARD.md").read_text()
