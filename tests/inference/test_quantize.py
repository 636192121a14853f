"""`export --int8`: a statically quantised model, calibrated on the model's own inputs, that stages like its float one."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from isatsleepnet.cli.main import main  # noqa: E402
from isatsleepnet.inference.int8_cpu import int8_support  # noqa: E402
from isatsleepnet.inference.onnx_backend import METADATA_KEY, OnnxRunner  # noqa: E402
from isatsleepnet.inference.onnx_file import metadata_entries  # noqa: E402
from isatsleepnet.inference.predictor import load_predictor  # noqa: E402
from isatsleepnet.inference.quantize import CLEAR_MARGIN, RUN_EPOCHS, _run_starts, quantize_onnx  # noqa: E402
from tests.inference import trained_model, write_night  # noqa: E402


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> tuple[Path, Path, Path, Path]:
    """(model.pt, its float ONNX export, its int8 export calibrated on its training data, the raw nights)."""
    model, raw = trained_model(tmp_path_factory.getbasetemp())
    folder = tmp_path_factory.mktemp("int8")
    assert main(["export", "--model", str(model), "--onnx", str(folder / "float.onnx")]) == 0
    assert main(["export", "--model", str(model), "--onnx", str(folder / "int8.onnx"), "--int8"]) == 0
    return model, folder / "float.onnx", folder / "int8.onnx", raw


def _metadata(path: Path) -> dict:
    return json.loads(dict(metadata_entries(path.read_bytes()))[METADATA_KEY])


def _stages(path: Path) -> list[str]:
    with path.open() as f:
        return [row["stage"] for row in csv.DictReader(f)]


def test_the_int8_file_holds_integer_convolutions_and_says_how_it_was_made(models, capsys):
    import onnx

    model, float_path, int8_path, _ = models
    ops = {node.op_type for node in onnx.load(str(int8_path)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops and "Softmax" in ops  # Softmax stays float32
    assert "DynamicQuantizeLSTM" in ops and "LSTM" not in ops  # the BiLSTM: int8 weights, dynamic activations
    weights = [t for t in onnx.load(str(int8_path)).graph.initializer if t.data_type == onnx.TensorProto.INT8]
    assert weights  # int8 weights, not only quantised activations
    meta, float_meta = _metadata(int8_path), _metadata(float_path)
    q = meta["quantization"]
    assert q["float_weights_sha1"] == float_meta["weights_sha1"] != meta["weights_sha1"]  # its own identity
    assert q["calibration"]["epochs"] == 320 and "training data" in q["calibration"]["source"]
    assert 0.9 <= q["agreement_with_float"] <= 1.0 and 0 <= q["max_probability_difference"] < 0.5
    # clear epochs: the float model's stage leads by 0.1 or more (this barely trained model may have none)
    assert 0 <= q["clear_epochs"] <= 320 and (q["agreement_on_clear_epochs"] is None) == (q["clear_epochs"] == 0)
    assert q["clear_margin"] == CLEAR_MARGIN  # the card names the margin the record was counted with
    assert main(["model-info", str(int8_path)]) == 0
    card = capsys.readouterr().out
    assert "## Quantisation" in card and f"{100 * q['agreement_with_float']:.2f} %" in card
    assert ("leads the next by 0.1 or more in probability" in card) == (q["clear_epochs"] > 0)  # the line: test_card
    assert card.rstrip().splitlines()[-1] == int8_support().describe()  # this CPU's integer path, last
    assert main(["model-info", str(int8_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["int8_on_this_cpu"]["instructions"] == int8_support().instructions
    assert main(["model-info", str(float_path)]) == 0
    out = capsys.readouterr().out
    assert "Quantisation" not in out and "int8 on this CPU" not in out
    assert int8_path.stat().st_size < 0.6 * float_path.stat().st_size


def test_an_int8_model_on_a_cpu_without_a_fast_integer_path_warns(models, monkeypatch, caplog):
    from isatsleepnet.inference import int8_cpu

    monkeypatch.setattr(int8_cpu, "cpu_flags", lambda: {"sse2", "sse41"})
    monkeypatch.setattr(int8_cpu, "_WARNED", set())
    _, float_path, int8_path, _ = models
    with caplog.at_level(logging.WARNING, logger="isatsleepnet"):
        OnnxRunner(float_path, threads=1)
        assert not caplog.records  # a float32 model: nothing to say
        OnnxRunner(int8_path, threads=1)
    assert [r.getMessage() for r in caplog.records] == [f"{int8_path}: " + int8_support({"sse2"}).describe()]


def test_the_int8_model_stages_like_the_float_one(models, write_edf, tmp_path):
    _, float_path, int8_path, _ = models
    night = write_night(write_edf, tmp_path / "n.edf", 40, seed=8)
    stages = {}
    for name, path in (("float", float_path), ("int8", int8_path)):
        assert main(["stage", str(night), "--model", str(path), "--out", str(tmp_path / name), "--no-plots",
                     "--no-report", "--threads", "1", "--quiet"]) == 0
        stages[name] = _stages(tmp_path / name / "n.hypnogram.csv")
    same = np.mean([a == b for a, b in zip(stages["float"], stages["int8"])])
    assert len(stages["int8"]) == 40 and same >= 0.9
    summary = json.loads((tmp_path / "int8" / "n.sleep_stats.json").read_text())
    assert summary["model"]["backend"] == "onnx"


def test_calibration_on_named_recordings(models, tmp_path, capsys):
    model, _, _, raw = models
    out = tmp_path / "cal.onnx"
    night = sorted(raw.glob("*PSG.edf"))[0]
    assert main(["export", "--model", str(model), "--onnx", str(out), "--int8", "--calibrate", str(night),
                 "--calibration-epochs", "64"]) == 0
    wrote, cpu = capsys.readouterr().out.strip().splitlines()[-2:]
    assert wrote.startswith(f"wrote {out} (int8, ") and "on 64 calibration epochs: " in wrote
    clear = _metadata(out)["quantization"]["clear_epochs"]
    assert wrote.endswith(" clear epochs (float32's stage leading by 0.1 or more)") == (clear > 0)
    assert cpu == int8_support().describe()
    assert _metadata(out)["quantization"]["calibration"] == {"source": night.name, "epochs": 64, "runs": 2}


@pytest.mark.parametrize("argv, problem", [
    (["--calibrate", "x.edf"], "--calibrate calibrates an int8 model: give --int8 too"),
    (["--int8", "--calibration-epochs", "0"], "--calibration-epochs must be a whole number of at least 1, not 0"),
])
def test_wrong_settings_are_one_line(models, tmp_path, capsys, argv, problem):
    model = models[0]
    assert main(["export", "--model", str(model), "--onnx", str(tmp_path / "m.onnx"), *argv]) == 2
    assert capsys.readouterr().err.strip() == f"isatsleepnet export: error: {problem}"
    assert not (tmp_path / "m.onnx").exists()


def test_without_its_training_data_the_model_asks_for_recordings(models, tmp_path, capsys):
    from isatsleepnet.model.file import load_model_file

    model_file = load_model_file(models[0])
    model_file.training = {**model_file.training, "data": str(tmp_path / "gone")}
    model_file.save(tmp_path / "moved.pt")
    assert main(["export", "--model", str(tmp_path / "moved.pt"), "--onnx", str(tmp_path / "m.onnx"), "--int8"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("isatsleepnet export: error: --calibrate is needed: the model's training data (") and \
        err.endswith("gone) is not on this machine; name recordings like the ones it will stage")
    assert not (tmp_path / "m.onnx").exists()


def test_a_training_data_path_recorded_relative_says_so(tmp_path, monkeypatch):
    """Models trained before paths were recorded absolute hold the --data they were given ("prep")."""
    from isatsleepnet.errors import IsatSleepNetError
    from isatsleepnet.inference.quantize import training_data_of

    (tmp_path / "prep").mkdir()
    training = {"data": "prep", "train_subjects": ["s1"]}
    monkeypatch.chdir(tmp_path)
    assert training_data_of(training) == Path("prep")
    monkeypatch.chdir(tmp_path.parent)
    with pytest.raises(IsatSleepNetError, match=r"by a relative path \(prep\), not found from this directory; "
                                                r"run from the directory it was trained in"):
        training_data_of(training)


def test_an_int8_model_is_not_quantised_twice(models, tmp_path):
    from isatsleepnet.errors import IsatSleepNetError
    from isatsleepnet.inference.quantize import CalibrationRun

    int8_path = models[2]
    run = CalibrationRun(np.zeros((4, 3, 3000), np.float32), np.arange(4))
    with pytest.raises(IsatSleepNetError, match="already quantised"):
        quantize_onnx(int8_path, tmp_path / "again.onnx", [run], source="zeros")
    assert load_predictor(int8_path, threads=1).meta["quantization"]["method"].startswith("int8 static")


def test_int8_logits_do_not_depend_on_the_cores(models):
    """The int8 LSTM quantises each run's inputs with one scale, so a run's slice changes the numbers a little:
    the slices are fixed by the epochs' order, never by which core is free, and one staging equals another."""
    from isatsleepnet.inference.onnx_backend import EPOCHS_PER_RUN, OnnxRunner

    one, two = OnnxRunner(models[2], threads=1), OnnxRunner(models[2], threads=2)
    config = one.metadata()["model_config"]
    shape = (3 * EPOCHS_PER_RUN + 3, len(config["roles"]), config["n_samples"])
    x = np.random.default_rng(2).normal(0, 1, shape).astype(np.float32)
    np.testing.assert_array_equal(two.logits(x), one.logits(x))
    np.testing.assert_array_equal(two.logits(x), two.logits(x))


def test_runs_spread_over_the_recording():
    assert _run_starts(10, 3) == [0] and _run_starts(0, 3) == []
    starts = _run_starts(1000, 4)
    assert starts[0] == 0 and starts[-1] == 1000 - RUN_EPOCHS and len(starts) == 4
