"""`isatsleepnet.export`: the export of the command line, from Python; settings refused before any work."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

import isatsleepnet as isn  # noqa: E402
from isatsleepnet.inference.onnx_backend import METADATA_KEY  # noqa: E402
from isatsleepnet.inference.onnx_file import metadata_entries  # noqa: E402


def test_a_float_export_from_python_stages_as_the_model_does(model, synthetic_raw, tmp_path, caplog):
    info = isn.export(model, tmp_path / "m.onnx")
    assert info["path"] == str(tmp_path / "m.onnx") and info["int8"] is False and info["quantization"] is None
    assert info["bytes"] == (tmp_path / "m.onnx").stat().st_size and info["opset"] == 20  # the exporter's default (torch 2.13)
    assert 0 <= info["max_probability_difference"] <= 1e-4
    night = sorted(synthetic_raw.glob("*PSG.edf"))[0]
    by_torch = isn.load_model(model, threads=1).stage(night, end=600)
    by_onnx = isn.load_model(tmp_path / "m.onnx", threads=1).stage(night, end=600)
    assert list(by_onnx.stages) == list(by_torch.stages)
    assert np.abs(by_onnx.probabilities - by_torch.probabilities).max() < 1e-4


def test_an_int8_export_from_python_calibrates_on_one_recording_given_as_a_string(model, synthetic_raw, tmp_path):
    night = sorted(synthetic_raw.glob("*PSG.edf"))[0]
    info = isn.export(str(model), str(tmp_path / "q.onnx"), int8=True, calibrate=str(night), calibration_epochs=32)
    q = info["quantization"]
    assert info["int8"] is True and q["epochs"] == 32 and q["source"] == night.name and 0.5 <= q["agreement"] <= 1
    meta = json.loads(dict(metadata_entries((tmp_path / "q.onnx").read_bytes()))[METADATA_KEY])
    assert meta["quantization"]["calibration"] == {"source": night.name, "epochs": 32, "runs": 1}
    assert meta["quantization"]["agreement_with_float"] == q["agreement"]


@pytest.mark.parametrize("kwargs, problem", [
    ({"int8": "yes"}, "int8= must be True or False, not 'yes'"),
    ({"calibrate": "night.edf"}, "calibrate= calibrates an int8 model: give int8= too"),
    ({"int8": True, "calibrate": []}, "calibrate= names no recording"),
    ({"int8": True, "calibration_epochs": 0}, "calibration_epochs= must be a whole number of at least 1, not 0"),
    ({"int8": True, "calibration_epochs": 1.5}, "calibration_epochs= must be a whole number of at least 1, not 1.5"),
    ({"opset": "18"}, "opset= must be a whole number, not '18'"),
    ({"opset": 3}, "opset= must be 18 to 25 (the opsets the exporter writes), not 3"),
    ({"tolerance": float("nan")}, "tolerance= must be a finite probability difference of at least 0, not nan"),
    ({"tolerance": True}, "tolerance= must be a finite probability difference of at least 0, not True"),
    ({"int8": True, "calibrate": ["gone.edf"]}, "gone.edf: file not found"),
])
def test_settings_are_refused_before_the_model_is_read(tmp_path, monkeypatch, kwargs, problem):
    import isatsleepnet.model.file as model_files

    def no_work(*args, **kw):
        raise AssertionError("the model was read before the settings were checked")

    monkeypatch.setattr(model_files, "load_model_file", no_work)
    monkeypatch.chdir(tmp_path)
    Path("model.pt").write_bytes(b"PK\x03\x04")
    with pytest.raises(isn.IsatSleepNetError) as caught:
        isn.export("model.pt", "m.onnx", **kwargs)
    assert str(caught.value) == problem
    assert not Path("m.onnx").exists()


def test_the_target_is_never_the_model(tmp_path):
    (tmp_path / "model.pt").write_bytes(b"PK\x03\x04")
    with pytest.raises(isn.SettingError, match="is the model file itself"):
        isn.export(tmp_path / "model.pt", tmp_path / "model.pt")
    with pytest.raises(isn.SettingError, match="must end in .onnx"):
        isn.export(tmp_path / "model.pt", tmp_path / "model.pth")
    assert (tmp_path / "model.pt").read_bytes() == b"PK\x03\x04"
