"""`isatsleepnet export` refuses, before any work, an --onnx or a setting that would lose a file or fail late."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from isatsleepnet.cli.main import main


@pytest.fixture
def model(tmp_path, monkeypatch) -> Path:
    """A stand-in model.pt (a zip, as torch.save writes); loading or exporting it fails the test: checks come first."""
    path = tmp_path / "m" / "model.pt"
    path.parent.mkdir()
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("model/data.pkl", b"weights")
    import isatsleepnet.model.file as model_file

    def no_work(*args, **kwargs):
        raise AssertionError("the model was loaded before the settings were checked")

    monkeypatch.setattr(model_file, "load_model_file", no_work)
    monkeypatch.chdir(tmp_path)
    return path


def _refused(argv: list[str], capsys) -> str:
    assert main(["export", *argv]) == 2
    return capsys.readouterr().err.strip().removeprefix("isatsleepnet export: error: ")


def test_the_model_file_itself_is_never_the_onnx_file(model, tmp_path, capsys):
    before = model.read_bytes()
    (tmp_path / "link.onnx").symlink_to(model)
    os.link(model, tmp_path / "hard.onnx")
    for onnx in ("m/model.pt", "m/../m/model.pt", str(model), "link.onnx", "hard.onnx"):
        assert _refused(["--model", "m/model.pt", "--onnx", onnx], capsys) == (
            f"--onnx {Path(onnx)} is the model file itself: writing it would replace the model; name another file")
    assert model.read_bytes() == before


def test_onnx_must_be_a_dot_onnx_file_and_not_a_pytorch_model(model, tmp_path, capsys):
    (tmp_path / "other.pt").write_bytes(model.read_bytes())
    assert _refused(["--model", "m/model.pt", "--onnx", "other.pt"], capsys) == (
        "--onnx must end in .onnx (any other name is read as a PyTorch model file), not other.pt")
    (tmp_path / "old.onnx").write_bytes(model.read_bytes())
    assert _refused(["--model", "m/model.pt", "--onnx", "old.onnx"], capsys) == (
        "--onnx old.onnx is a PyTorch model file; writing it would replace the model")
    assert (tmp_path / "old.onnx").read_bytes() == model.read_bytes()


def test_a_folder_is_refused_by_its_name_before_the_export(model, tmp_path, capsys):
    (tmp_path / "out.onnx").mkdir()
    for folder in ("m", "out.onnx"):
        assert _refused(["--model", "m/model.pt", "--onnx", folder], capsys) == (
            f"--onnx {folder} is a folder; name the .onnx file to write")
    assert not list(tmp_path.rglob(".tmp-*"))


@pytest.mark.parametrize("argv, problem", [
    (["--tolerance", "-1"], "--tolerance must be a finite probability difference of at least 0, not -1.0"),
    (["--tolerance", "nan"], "--tolerance must be a finite probability difference of at least 0, not nan"),
    (["--opset", "3"], "--opset must be 18 to 25 (the opsets the exporter writes), not 3"),
    (["--opset", "99"], "--opset must be 18 to 25 (the opsets the exporter writes), not 99"),
    (["--int8", "--calibrate", "nope.edf"], "nope.edf: file not found"),
    (["--int8", "--calibrate", "m"], "m: a folder, not a recording"),
])
def test_settings_are_checked_before_the_export(model, tmp_path, capsys, argv, problem):
    assert _refused(["--model", "m/model.pt", "--onnx", "out.onnx", *argv], capsys) == problem
    assert not (tmp_path / "out.onnx").exists()
