"""`evaluate` refuses, before any work and leaving nothing, what would mislead or overwrite another run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from isatsleepnet.cli.main import main
from isatsleepnet.data.store import write_manifest, write_recording
from isatsleepnet.errors import IsatSleepNetError, SettingError
from isatsleepnet.inference.evaluate import evaluate_model
from isatsleepnet.model import ISATSleepNet, ModelConfig
from isatsleepnet.model.file import ModelFile
from tests.training.conftest import TINY_MODEL
from tests.training.tiny_store import CHANNELS, ROLES

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CONFIG = {"roles": list(ROLES), "n_samples": 300, "sampling_rate": 10.0, **TINY_MODEL}


@pytest.fixture
def data(tmp_path) -> Path:
    """Subjects S0 (trained on) and S9 (unseen), one 12-epoch night each, prepared as sleep-edf."""
    root = tmp_path / "prep"
    rng = np.random.default_rng(0)
    for subject in ("S0", "S9"):
        labels = (np.arange(12) % 5).astype(np.int8)
        write_recording(root, f"{subject}-night1", rng.normal(0, 20, (12, 3, 300)).astype(np.float32), labels,
                        np.arange(12) * 30.0, {"subject": subject, "night": 1, "sampling_rate": 10.0,
                                               "channels": CHANNELS, "roles": ROLES, "epoch_seconds": 30.0,
                                               "dataset": "sleep-edf"})
    write_manifest(root)
    return root


@pytest.fixture
def model(tmp_path, data) -> Path:
    """A tiny model file trained (as its record says) on S0 of ``data``, with the small size's settings."""
    torch.manual_seed(0)
    path = tmp_path / "m" / "model.pt"
    ModelFile(model_config=dict(CONFIG), state_dict=ISATSleepNet(ModelConfig(**CONFIG)).state_dict(),
              channels=list(CHANNELS), roles=list(ROLES), sampling_rate=10.0, epoch_seconds=30.0,
              normalize="epoch-zscore",
              training={"data": str(data.resolve()), "train_subjects": ["S0"], "validation_subjects": [],
                        "augment": "none", "config": {"model": {"context": 0, "width": 8}, "seed": 0}}).save(path)
    return path


def _evaluate(model: Path, data: Path, out: Path, *extra: str) -> int:
    return main(["evaluate", "--model", str(model), "--data", str(data), "--out", str(out), "--quiet",
                 "--device", "cpu", *extra])


def test_a_papers_protocol_for_other_data_is_refused_before_any_work(model, data, tmp_path, capsys):
    """Before: `evaluate --protocol shhs` on Sleep-EDF data put the paper's SHHS numbers beside the run."""
    out = tmp_path / "e4"
    assert _evaluate(model, data, out, "--subjects", "S9", "--protocol", "shhs") == 2
    assert capsys.readouterr().err == (f"isatsleepnet evaluate: error: --protocol shhs: the paper's shhs numbers "
                                       f"are for shhs data, and {data} was prepared as sleep-edf; leave out "
                                       "--protocol\n")
    assert not out.exists()
    with pytest.raises(SettingError, match="protocol= shhs"):
        evaluate_model(model, data, out, subjects=["S9"], protocol="shhs", progress=False)
    assert not out.exists()


def test_without_a_protocol_the_report_says_so_in_words(model, data, tmp_path, capsys):
    """Before: "The paper reports no numbers for protocol None"."""
    out = tmp_path / "e2"
    assert _evaluate(model, data, out, "--subjects", "S9") == 0
    text = (out / "report.md").read_text()
    assert "protocol None" not in text and "No evaluation protocol was named" in text
    assert "| ISATSleepNet paper (" not in text
    recorded = json.loads((out / "metrics.json").read_text())["model"]
    assert recorded["file"] == str(model) and recorded["train"]["model"] == {"context": 0, "width": 8}


@pytest.mark.parametrize("marker", ["folds.json", "config.json", "model.pt"])
def test_an_out_that_holds_another_run_is_refused_and_left_as_it_was(model, data, tmp_path, capsys, marker):
    """Before: `evaluate --out cvC` silently replaced the cv run's metrics.json and report.md."""
    run = tmp_path / "cvC"
    run.mkdir()
    (run / marker).write_text("{}")
    (run / "metrics.json").write_text('{"the": "cv run"}')
    assert _evaluate(model, data, run, "--subjects", "S9") == 2
    err = capsys.readouterr().err
    assert err.startswith(f"isatsleepnet evaluate: error: {run} holds ") and f"({marker})" in err
    assert err.endswith("choose another --out\n") and len(err.splitlines()) == 1
    assert sorted(p.name for p in run.iterdir()) == sorted([marker, "metrics.json"])
    assert (run / "metrics.json").read_text() == '{"the": "cv run"}'


def test_a_batch_size_below_one_is_refused_by_name(model, data, tmp_path, capsys):
    """Before: `--batch-size 0` ended with "unexpected ValueError: range() arg 3 must not be zero"."""
    out = tmp_path / "e"
    assert _evaluate(model, data, out, "--subjects", "S9", "--batch-size", "0") == 2
    assert capsys.readouterr().err == ("isatsleepnet evaluate: error: --batch-size must be a whole number of at "
                                       "least 1, not 0\n")
    assert not out.exists()
    with pytest.raises(SettingError, match="^batch_size= "):
        evaluate_model(model, data, out, batch_size=0, progress=False)


def test_a_leakage_refusal_leaves_no_folder(model, data, tmp_path, capsys):
    """Before: evaluating on the training subject was refused, but left an empty e1/."""
    out = tmp_path / "deep" / "e1"
    assert _evaluate(model, data, out, "--subjects", "S0") == 2
    assert "trained or selected on subject(s) S0" in capsys.readouterr().err
    assert not out.exists()
    with pytest.raises(IsatSleepNetError, match="S0"):
        evaluate_model(model, data, out, subjects=["S0"], progress=False)
    assert not out.exists()
