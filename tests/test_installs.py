"""The plain install stages without torch; what needs torch says so in one line.

The torch-free tests run a second environment: a virtual environment holding only
``pip install -e .`` (no extras), named by ``ISATSLEEPNET_PLAIN_PYTHON`` (its python).
``.ci/run`` makes one; elsewhere they are skipped with the reason.
"""

from __future__ import annotations

import csv
import os
import subprocess
from pathlib import Path

import pytest

from isatsleepnet.cli.main import main
from isatsleepnet.errors import IsatSleepNetError
from isatsleepnet.installs import INTEROP_EXTRA, TRAIN_EXTRA, is_training_module_missing, needs_training, require_training
from tests.inference import trained_model, write_night

ROOT = Path(__file__).resolve().parents[1]


def test_a_missing_training_package_is_one_line_naming_the_extra(monkeypatch, capsys):
    import isatsleepnet.cli.train as train_cli

    def without_lightning(args):
        raise ModuleNotFoundError("No module named 'lightning'", name="lightning")

    monkeypatch.setattr(train_cli, "run", without_lightning)
    assert main(["train", "--data", "d", "--out", "o"]) == 2
    assert capsys.readouterr().err.strip() == f"isatsleepnet train: error: `train` needs PyTorch, which the staging " \
                                              f"install leaves out: {TRAIN_EXTRA}"
    assert not is_training_module_missing(ModuleNotFoundError("No module named 'yasa'", name="yasa"))
    assert is_training_module_missing(ModuleNotFoundError("x", name="torch.nn"))


def test_require_training_passes_here_and_names_the_extra_when_missing(monkeypatch, tmp_path):
    require_training("`train`")  # this environment has torch
    import torch

    import isatsleepnet.installs as installs

    torch.save({"weights": torch.zeros(2)}, tmp_path / "m.pt")
    (tmp_path / "night.edf").write_bytes(b"0       not a model")
    monkeypatch.setattr(installs.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(installs.NeedsTraining, match=r"m.pt: a .pt model needs PyTorch, .*\[train\]'; use its ONNX"):
        installs.require_training_for_model(tmp_path / "m.pt")
    # before: "a .pt model needs PyTorch" for any file not named .onnx, an EDF given as --model included
    with pytest.raises(IsatSleepNetError, match=r"night.edf: not a model file \(an ONNX model from `isatsleepnet "
                                                r"export`, or a .pt model from `train` or `cv`\)$"):
        installs.require_training_for_model(tmp_path / "night.edf")
    assert "pip install 'isatsleepnet[train]'" in str(needs_training("`cv`"))


def test_a_folder_or_an_empty_file_as_model_says_what_it_is(tmp_path, capsys):
    from isatsleepnet.inference.predictor import load_predictor

    with pytest.raises(IsatSleepNetError, match=r": a folder, not a model file$"):
        load_predictor(tmp_path)
    assert main(["model-info", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip().endswith(f"{tmp_path}: a folder, not a model file")
    (tmp_path / "empty.onnx").write_bytes(b"")
    with pytest.raises(IsatSleepNetError, match=r"empty.onnx: an empty file, not an ONNX model$"):
        load_predictor(tmp_path / "empty.onnx")


# ---------------------------------------------------------------------------- the plain environment
@pytest.fixture(scope="module")
def plain_python() -> Path:
    value = os.environ.get("ISATSLEEPNET_PLAIN_PYTHON")
    if not value:
        pytest.skip("no torch-free environment: set ISATSLEEPNET_PLAIN_PYTHON to the python of a venv with "
                    "`pip install -e .` (.ci/run makes one)")
    python = Path(value)
    if not python.is_file():
        pytest.fail(f"ISATSLEEPNET_PLAIN_PYTHON={value}: no such python")
    return python


def _plain(python: Path, *argv: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["MPLBACKEND"] = "Agg"
    return subprocess.run([str(python), *argv], capture_output=True, text=True, timeout=600, cwd=cwd, env=env)


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> tuple[Path, Path]:
    pytest.importorskip("onnxscript")
    model = trained_model(tmp_path_factory.getbasetemp())[0]
    onnx_path = tmp_path_factory.mktemp("plain") / "tiny.onnx"
    assert main(["export", "--model", str(model), "--onnx", str(onnx_path)]) == 0
    return model, onnx_path


def _stages(path: Path) -> list[str]:
    with path.open() as f:
        return [row["stage"] for row in csv.DictReader(f)]


def test_the_plain_install_has_no_torch_and_stages_as_torch_does(plain_python, exported, write_edf, tmp_path):
    model, onnx_path = exported
    probe = _plain(plain_python, "-c", "import importlib.util as u, isatsleepnet; "
                   "print([m for m in ('torch', 'lightning', 'onnxscript', 'onnx', 'sklearn', 'pandas', 'mne') if u.find_spec(m)], "
                   "isatsleepnet.__file__)",
                   cwd=tmp_path)
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.startswith("[] ") and str(ROOT / "src") in probe.stdout  # this checkout, without torch,
    # the onnx package, scikit-learn, pandas or MNE (the [train] and [interop] extras)
    night = write_night(write_edf, tmp_path / "night.edf", 20, seed=4)
    done = _plain(plain_python, "-m", "isatsleepnet.cli.main", "stage", str(night), "--model", str(onnx_path),
                  "--out", "plain", "--threads", "1", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert main(["stage", str(night), "--model", str(model), "--out", str(tmp_path / "torch"), "--threads", "1",
                 "--quiet"]) == 0
    plain, torch = _stages(tmp_path / "plain" / "night.hypnogram.csv"), _stages(tmp_path / "torch" / "night.hypnogram.csv")
    assert len(plain) == 20 and plain == torch
    # the Python API and model-info too
    api = _plain(plain_python, "-c", f"import isatsleepnet as isn; n = isn.load_model({str(onnx_path)!r}, threads=1)"
                 f".stage({str(night)!r}); print(','.join(n.stages))\n"
                 "for bridge in (n.to_dataframe, n.to_mne_annotations):\n"
                 "    try: bridge()\n"
                 "    except isn.IsatSleepNetError as e: print(e)", cwd=tmp_path)
    assert api.returncode == 0, api.stderr
    stages, dataframe, annotations = api.stdout.strip().splitlines()
    assert stages.split(",") == plain
    assert dataframe == f"Night.to_dataframe needs pandas, which the staging install leaves out: {INTEROP_EXTRA}"
    assert annotations.startswith("Night.to_mne_annotations needs mne, ") and annotations.endswith(INTEROP_EXTRA)
    training = _plain(plain_python, "-c", "import isatsleepnet as isn\n"  # before: ModuleNotFoundError: sklearn
                      "for call in (lambda: isn.train('p', 'o'), lambda: isn.cross_validate('p', 'o'),\n"
                      f"             lambda: isn.export({str(model)!r}, 'm.onnx')):\n"
                      "    try: call()\n"
                      "    except isn.IsatSleepNetError as e: print(e)", cwd=tmp_path)
    assert training.returncode == 0, training.stderr
    assert training.stdout.splitlines() == [f"isatsleepnet.{name} needs PyTorch, which the staging install leaves "
                                            f"out: {TRAIN_EXTRA}" for name in ("train", "cross_validate")] + [
        f"`export` needs PyTorch, which the staging install leaves out: {TRAIN_EXTRA}"]
    assert not (tmp_path / "m.onnx").exists()
    info = _plain(plain_python, "-m", "isatsleepnet.cli.main", "model-info", str(onnx_path), cwd=tmp_path)
    assert info.returncode == 0 and "EEG Fpz-Cz" in info.stdout, info.stderr


@pytest.mark.parametrize("argv", [
    ["train", "--data", "prepared", "--out", "run"],
    ["export", "--model", "MODEL", "--onnx", "m.onnx"],
    ["stage", "NIGHT", "--model", "MODEL", "--out", "o"],
    ["architectures"],  # before: "isatsleepnet.model.context:build_network: cannot import ... (No module named 'torch')"
])
def test_what_needs_torch_says_so_in_one_line_in_the_plain_install(plain_python, exported, write_edf, tmp_path, argv):
    model, _ = exported
    night = write_night(write_edf, tmp_path / "night.edf", 2)
    argv = [{"MODEL": str(model), "NIGHT": str(night)}.get(a, a) for a in argv]
    (tmp_path / "prepared").mkdir()
    done = _plain(plain_python, "-m", "isatsleepnet.cli.main", *argv, cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith(f"isatsleepnet {argv[0]}: error: ") and line.count(TRAIN_EXTRA) == 1, line
    assert not (tmp_path / "run").exists()
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())  # nothing staged
    # one line, beside the note a loaded machine gets (the suite itself, or other jobs, can load it)
    assert [x for x in done.stderr.strip().splitlines() if ": note: this machine is busy" not in x] == [line]
