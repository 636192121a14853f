"""ONNX export and the onnx staging backend: same probabilities as torch within 1e-4."""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from isatsleepnet import STAGES  # noqa: E402
from isatsleepnet.errors import IsatSleepNetError  # noqa: E402
from isatsleepnet.inference.options import StageOptions  # noqa: E402
from isatsleepnet.inference.predictor import load_predictor  # noqa: E402
from isatsleepnet.inference.stage import stage_recording  # noqa: E402
from tests.inference import trained_model, write_night  # noqa: E402


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> tuple[Path, Path]:
    """(model.pt, model.onnx) exported through the CLI."""
    from isatsleepnet.cli.export import add_parser

    model = trained_model(tmp_path_factory.getbasetemp())[0]
    onnx_path = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    args = parser.parse_args(["export", "--model", str(model), "--onnx", str(onnx_path)])
    assert args.run(args) == 0
    return model, onnx_path


@pytest.fixture(scope="module")
def predictors(exported):
    import torch

    threads = torch.get_num_threads()
    model, onnx_path = exported
    yield load_predictor(model, threads=1), load_predictor(onnx_path, threads=1)
    torch.set_num_threads(threads)


def test_torch_and_onnx_give_the_same_probabilities(predictors):
    torch_p, onnx_p = predictors
    assert (torch_p.backend, onnx_p.backend) == ("torch", "onnx")
    rng = np.random.default_rng(3)
    epochs = rng.normal(0, 30, (70, 3, 3000)).astype(np.float32)  # more than one batch, a partial last one
    a, b = torch_p.probabilities(epochs, 32), onnx_p.probabilities(epochs, 32)
    assert np.abs(a - b).max() < 1e-4
    np.testing.assert_allclose(b.sum(axis=1), 1.0, atol=1e-6)
    # the raw outputs too, which a near-uniform softmax could hide
    x = epochs[:8]
    from isatsleepnet.inference.predictor import normalize_epochs

    la = np.asarray(torch_p._logits(normalize_epochs(x, torch_p.normalize)))
    lb = np.asarray(onnx_p._logits(normalize_epochs(x, onnx_p.normalize)))
    assert np.abs(la - lb).max() < 1e-4 * max(1.0, float(np.abs(la).max()))
    assert float(np.ptp(la, axis=1).mean()) > 0.1  # logits that differ between stages: a meaningful comparison


def test_onnx_file_carries_the_model_metadata(exported, predictors):
    _, onnx_p = predictors
    assert onnx_p.inputs.roles == ("eeg", "eeg2", "eog")
    assert onnx_p.inputs.channels == ("EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal")
    assert onnx_p.inputs.sampling_rate == 100.0 and onnx_p.normalize == "epoch-zscore"
    assert onnx_p.meta["stages"] == list(STAGES)


def test_stage_with_the_onnx_backend_matches_torch(write_edf, predictors, tmp_path):
    psg = write_night(write_edf, tmp_path / "n.edf", 12)
    rows = {}
    for predictor in predictors:
        out = tmp_path / predictor.backend
        stage_recording(psg, predictor, out, StageOptions(plots=False, report=False))
        with (out / "n.hypnogram.csv").open() as f:
            rows[predictor.backend] = list(csv.DictReader(f))
        summary = json.loads((out / "n.sleep_stats.json").read_text())
        assert summary["model"]["backend"] == predictor.backend
    p = {k: np.array([[float(r[f"p_{s}"]) for s in STAGES] for r in v]) for k, v in rows.items()}
    assert len(p["onnx"]) == 12 and np.abs(p["torch"] - p["onnx"]).max() < 1e-4


def test_onnx_backend_does_not_import_torch(exported):
    """Starting torch costs seconds; staging from an .onnx file must not need it."""
    code = (
        "import sys; from isatsleepnet.inference.predictor import load_predictor; "
        f"p = load_predictor({str(exported[1])!r}, threads=1); "
        "import numpy as np; p.probabilities(np.zeros((2, 3, 3000), np.float32)); "
        "print('torch' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_backend_errors(exported, tmp_path):
    _, onnx_path = exported
    with pytest.raises(IsatSleepNetError, match="runs on the onnx backend"):
        load_predictor(onnx_path, backend="torch")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not onnx")
    with pytest.raises(IsatSleepNetError, match="not a readable ONNX model"):
        load_predictor(junk)


def test_onnx_backend_with_a_pt_model_exports_on_the_fly(exported, monkeypatch, capsys):
    """The wiring only: the export itself is the one the `exported` fixture ran (it takes ~30 s)."""
    import shutil

    from isatsleepnet.inference import onnx_backend

    model, onnx_path = exported
    calls = []

    def fake_export(model_file, out, **kwargs):
        calls.append(out)
        shutil.copyfile(onnx_path, out)

    monkeypatch.setattr(onnx_backend, "export_onnx", fake_export)
    predictor = load_predictor(model, backend="onnx", threads=1)
    assert predictor.backend == "onnx" and len(calls) == 1 and not calls[0].parent.exists()
    assert "exporting model.pt to ONNX for this run" in capsys.readouterr().err
