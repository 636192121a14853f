import json

import numpy as np
import pytest

from isatsleepnet.cli.main import main
from isatsleepnet.errors import IsatSleepNetError
from isatsleepnet.training.compare import comparison_table
from isatsleepnet.evaluation.metrics import compute_metrics


def _run(folder, accuracy_noise, model=None, augment=None):
    folder.mkdir()
    rng = np.random.default_rng(0)
    y = rng.integers(0, 5, 200)
    pred = np.where(rng.random(200) < accuracy_noise, y, (y + 1) % 5)
    (folder / "metrics.json").write_text(json.dumps({"pooled": compute_metrics(y, pred), "n_folds_evaluated": 3}))
    config = {"protocol": "kfold", "train": {"model": model or {}}}
    if augment:
        config["augment"] = augment
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_table_lists_each_run_and_what_sets_it_apart(tmp_path):
    a = _run(tmp_path / "base", 0.9)
    b = _run(tmp_path / "no-asr", 0.7, model={"use_asr": False})
    c = _run(tmp_path / "gan", 0.8, augment={"mode": "gan", "stage": "N1", "target_ratio": 1.15, "stage_cap": 0.8})
    json_path = c / "config.json"
    json_path.write_text(json.dumps({**json.loads(json_path.read_text()), "gan": {"epochs": 100, "stage": "N1"}}))
    d = _run(tmp_path / "old", 0.8, augment="transforms")  # a bare mode string is read too
    e = _run(tmp_path / "ctx", 0.85, model={"context": 21, "use_asr": False})
    table = comparison_table([a, b, c, d, e]).splitlines()
    assert table[0].startswith("| run | augment | context | setting |") and len(table) == 7
    assert "| base | none | 0 | paper defaults | 3 | 200 |" in table[2]
    assert "| no-asr | none | 0 | use_asr=False |" in table[3]
    assert "| gan | gan (N1, 100 GAN epochs) | 0 | paper defaults |" in table[4]
    assert "| old | transforms | 0 | paper defaults |" in table[5]
    assert "| ctx | none | 21 | use_asr=False |" in table[6]
    acc = [float(row.split("|")[7]) for row in table[2:5]]
    assert acc[0] > acc[2] > acc[1]


def test_cli_writes_the_table_and_missing_runs_fail(tmp_path, capsys):
    a = _run(tmp_path / "base", 0.9)
    assert main(["compare", str(a), "--out", str(tmp_path / "t.md")]) == 0
    assert (tmp_path / "t.md").read_text() == capsys.readouterr().out.split("written to")[0]
    with pytest.raises(IsatSleepNetError, match="no metrics.json"):
        comparison_table([tmp_path / "nothing"])


def test_a_named_model_size_is_shown_by_name(tmp_path):
    from isatsleepnet.model import MODEL_SIZES

    run = _run(tmp_path / "small", 0.8, model={**MODEL_SIZES["small"], "use_asr": False})
    assert "| small | none | 0 | size=small, use_asr=False |" in comparison_table([run])
