"""Context across epochs: the sequence head, its windows at the ends and at gaps, two-phase training, staging."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from isatsleepnet.data.store import PreparedDataset
from isatsleepnet.engine import Engine
from isatsleepnet.errors import IsatSleepNetError
from isatsleepnet.inference.predict import predict_prepared
from isatsleepnet.inference.predictor import load_predictor
from isatsleepnet.model import ISATSleepNet, ModelConfig
from isatsleepnet.model.context import ContextHead, apply_context, build_network
from isatsleepnet.model.context_plan import runs_of, window_starts
from isatsleepnet.model.file import load_model_file
from isatsleepnet.training import context as context_module
from isatsleepnet.training.context import (
    CONTEXT_DIR,
    ENCODER_DIR,
    train_with_context,
    training_windows,
)
from isatsleepnet.training.folds import Fold
from tests.training.conftest import TINY_MODEL, tiny_config

CONFIG = dict(TINY_MODEL, roles=("eeg", "eeg2", "eog"), n_samples=3000)


def test_context_zero_is_the_papers_network_and_context_adds_only_a_head():
    plain = build_network(ModelConfig(**CONFIG))
    assert type(plain) is ISATSleepNet and not hasattr(plain, "context")
    with_context = build_network(ModelConfig(**CONFIG, context=7))
    extra = set(with_context.state_dict()) - set(plain.state_dict())
    assert extra and all(k.startswith("context.") for k in extra)
    assert set(plain.state_dict()) <= set(with_context.state_dict())


@pytest.mark.parametrize("kind", ["bigru", "transformer"])
def test_a_new_context_head_leaves_the_epoch_logits_unchanged(kind):
    head = ContextHead(ModelConfig(**CONFIG, context=5, context_model=kind))
    embeddings, logits = torch.randn(3, 5, 16), torch.randn(3, 5, 5)
    torch.testing.assert_close(head(embeddings, logits), logits)
    torch.nn.init.normal_(head.out.weight)  # once trained, its view depends on the neighbours
    moved = embeddings.clone()
    moved[:, 4] = torch.randn(3, 16)  # another last epoch (a constant shift would vanish in the LayerNorm)
    assert not torch.allclose(head(moved, logits)[:, 0], head(embeddings, logits)[:, 0])


def test_an_unknown_context_model_is_one_line():
    from isatsleepnet.model.config import ModelConfigError

    with pytest.raises(ModelConfigError, match="context_model must be bigru or transformer"):
        ModelConfig(**CONFIG, context=5, context_model="lstm")


def test_windows_cover_the_ends_and_never_cross_a_gap():
    head = ContextHead(ModelConfig(**CONFIG, context=3))
    torch.nn.init.normal_(head.out.weight)  # a head that reads its neighbours
    outputs = torch.randn(9, 5 + 16)
    index = np.array([0, 1, 2, 3, 4, 10, 11, 20, 21])
    together = apply_context(head, outputs, index, 3)
    assert together.shape == (9, 5)
    for start, stop in runs_of(index):  # each run alone gives the same: nothing leaks over a gap
        torch.testing.assert_close(together[start:stop], apply_context(head, outputs[start:stop], index[start:stop], 3))
    # the first epoch is read in the window 0..2, the last of the first run in 2..4
    assert window_starts(5, 3).tolist() == [0, 0, 1, 2, 2]
    alone = head(outputs[None, 0:3, 5:], outputs[None, 0:3, :5])[0]
    torch.testing.assert_close(together[0], alone[0])
    changed = outputs.clone()
    changed[5:] += 10.0  # another run: the first run's outputs do not move
    torch.testing.assert_close(apply_context(head, changed, index, 3)[:5], together[:5])


def test_training_windows_stride_half_a_window_and_keep_short_runs():
    class F:
        def __init__(self, index):
            self.index = np.asarray(index)

    windows = training_windows([F(range(10)), F([0, 1, 5, 6, 7])], 4)
    assert windows.tolist() == [[0, 0, 4], [0, 2, 4], [0, 4, 4], [0, 6, 4], [1, 0, 2], [1, 2, 3]]


@pytest.fixture(scope="module")
def context_run(synthetic_prepared, tmp_path_factory):
    data = PreparedDataset(synthetic_prepared)
    subjects = data.subjects()
    fold = Fold(0, tuple(subjects[:3]), tuple(subjects[3:4]), tuple(subjects[4:]))
    config = tiny_config(max_epochs=1, context_epochs=3, model={**TINY_MODEL, "context": 5})
    out = tmp_path_factory.mktemp("context") / "run"
    model = train_with_context(data, fold, out, config, progress=False, engine=Engine(threads=1))
    return data, fold, config, out, model


def test_two_phases_make_one_model_file_with_its_encoder(context_run):
    data, fold, config, out, model = context_run
    assert (out / ENCODER_DIR / "model.pt").is_file() and (out / CONTEXT_DIR / "last.pt").is_file()
    model_file, encoder = load_model_file(model), load_model_file(out / ENCODER_DIR / "model.pt")
    assert model_file.model_config["context"] == 5 and "context" not in encoder.model_config
    for key, value in encoder.state_dict.items():  # phase 2 never changed the frozen encoder
        assert torch.equal(model_file.state_dict[key], value)
    info = model_file.training["context"]
    assert info["window"] == 5 and info["encoder_weights_sha1"] == encoder.weights_sha1()
    assert "validation" in model_file.metrics


def test_staging_with_context_stages_every_epoch_and_differs_from_the_encoder(context_run):
    data, fold, config, out, model = context_run
    recording = next(r for r in data if r.subject in fold.test)
    with_context = predict_prepared(load_predictor(model, threads=1), recording)
    encoder = predict_prepared(load_predictor(out / ENCODER_DIR / "model.pt", threads=1), recording)
    assert with_context.shape == encoder.shape == (int(recording.real.sum()), 5)
    np.testing.assert_allclose(with_context.sum(1), 1.0, atol=1e-9)
    assert np.abs(with_context - encoder).max() > 1e-4  # the head learnt something from the neighbours


def test_a_killed_context_training_resumes_to_the_same_model(context_run, tmp_path, monkeypatch):
    data, fold, config, out, model = context_run
    again = tmp_path / "again"
    (again / ENCODER_DIR).mkdir(parents=True)
    (again / ENCODER_DIR / "model.pt").write_bytes((out / ENCODER_DIR / "model.pt").read_bytes())
    real_log = context_module._log
    calls = []

    def killed_after_first_epoch(path, rows):
        real_log(path, rows)
        calls.append(len(rows))
        if len(rows) == 2:
            raise KeyboardInterrupt  # after epoch 1's log, before its checkpoint: epoch 1 runs again

    monkeypatch.setattr(context_module, "_log", killed_after_first_epoch)
    with pytest.raises(KeyboardInterrupt):
        train_with_context(data, fold, again, config, progress=False, engine=Engine(threads=1))
    monkeypatch.setattr(context_module, "_log", real_log)
    resumed = load_model_file(train_with_context(data, fold, again, config, progress=False, engine=Engine(threads=1)))
    uninterrupted = load_model_file(model)
    for key, value in uninterrupted.state_dict.items():
        assert torch.equal(resumed.state_dict[key], value), key


def test_a_context_model_exports_to_onnx_and_stages_the_same_without_torch(context_run, tmp_path):
    """The ONNX file holds the encoder and the head; staging through ONNX Runtime gives torch's probabilities."""
    import subprocess
    import sys

    from isatsleepnet.inference.onnx_backend import export_onnx

    data, fold, config, out, model = context_run
    info = export_onnx(load_model_file(model), tmp_path / "m.onnx")
    assert info["max_probability_difference"] < 1e-4
    recording = next(r for r in data if r.subject in fold.test)
    via_onnx = predict_prepared(load_predictor(tmp_path / "m.onnx", threads=1), recording)
    via_torch = predict_prepared(load_predictor(model, threads=1), recording)
    assert np.abs(via_onnx - via_torch).max() < 1e-4
    code = ("import sys, numpy as np; from isatsleepnet.inference.predictor import load_predictor; "
            f"p = load_predictor({str(tmp_path / 'm.onnx')!r}, threads=1); "
            "print(p.context, p.probabilities(np.zeros((7, 3, 3000), np.float32)).shape, 'torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ["5", "(7,", "5)", "False"], done.stderr[-2000:]
    # its int8 form: both entries (epochs, windows) calibrated on the feeds staging sends
    from isatsleepnet.inference.quantize import calibration_from_training, quantize_onnx

    runs = calibration_from_training(load_predictor(tmp_path / "m.onnx", threads=1), 320)
    summary = quantize_onnx(tmp_path / "m.onnx", tmp_path / "q.onnx", runs, source="training data", threads=1)
    via_int8 = predict_prepared(load_predictor(tmp_path / "q.onnx", threads=1), recording)
    assert summary["agreement"] >= 0.9 and (via_int8.argmax(1) == via_onnx.argmax(1)).mean() >= 0.9


def test_stage_evaluate_and_the_api_run_a_context_model(context_run, tmp_path):
    import isatsleepnet as isn
    from isatsleepnet.inference.evaluate import evaluate_model
    from isatsleepnet.inference.options import StageOptions
    from isatsleepnet.inference.stage import stage_recording

    data, fold, config, out, model = context_run
    test_subject = fold.test[0]
    psg = sorted((data.root.parent / "raw").rglob(f"*{test_subject[-2:]}*PSG.edf"))[0]
    predictor = load_predictor(model, threads=1)
    result = stage_recording(psg, predictor, tmp_path / "staged", StageOptions(plots=False, report=False))
    night = isn.load_model(model, threads=1).stage(psg)
    assert result.status == "staged" and len(night) == result.n_epochs > 100
    csv_rows = (tmp_path / "staged" / f"{psg.stem}.hypnogram.csv").read_text().splitlines()[1:]
    assert [row.split(",")[2] for row in csv_rows] == list(night.stages)  # the first and last epochs too
    metrics = evaluate_model(model, data.root, tmp_path / "eval", subjects=list(fold.test), progress=False)
    assert metrics["pooled"]["n_epochs"] == sum(int(r.real.sum()) for r in data if r.subject in fold.test)


def test_train_with_augmentation_an_ablation_and_context_from_the_command_line(synthetic_prepared, tmp_path):
    """Augmentation and ablations shape phase 1 (single epochs); phase 2 reads real windows only."""
    import json
    from dataclasses import asdict

    from isatsleepnet.cli.main import main

    config = tmp_path / "train.json"
    config.write_text(json.dumps({"train": asdict(tiny_config(max_epochs=1, context_epochs=2))}))
    out = tmp_path / "run"
    code = main(["train", "--data", str(synthetic_prepared), "--out", str(out), "--config", str(config),
                 "--train-subjects", "SC400,SC401,SC402", "--val-subjects", "SC403", "--augment", "transforms",
                 "--ablation", "asr", "--context", "5", "--context-model", "transformer", "--quiet", "--threads", "1"])
    assert code == 0
    model_file, encoder = load_model_file(out / "model.pt"), load_model_file(out / ENCODER_DIR / "model.pt")
    assert model_file.model_config["context"] == 5 and model_file.model_config["context_model"] == "transformer"
    assert model_file.model_config["use_asr"] is False and encoder.model_config["use_asr"] is False
    assert encoder.training["augment"] == "transforms" and encoder.training["synthetic_train_epochs"] > 0
    assert (out / "MODEL_CARD.md").is_file() and "context" in (out / "MODEL_CARD.md").read_text().lower()
