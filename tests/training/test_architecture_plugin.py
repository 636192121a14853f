"""A fifth, test-only architecture registered alone goes through train, stage, export, model-info and fine-tuning.

What it proves: nothing outside an architecture's own module and its table entry
knows which network it is (the issue's "adding one is an entry plus its module").
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from isatsleepnet.cli.main import main
from isatsleepnet.model.architectures import Architecture, register, unregister
from isatsleepnet.model.config import ModelConfigError
from isatsleepnet.model.file import load_model_file


@dataclass(frozen=True)
class TinyConvConfig:
    """A two-layer convolutional stager: the least a registered architecture needs."""

    roles: tuple[str, ...] = ("eeg", "eeg2", "eog")
    n_samples: int = 3000
    sampling_rate: float = 100.0
    n_classes: int = 5
    width: int = 4

    def __post_init__(self) -> None:
        object.__setattr__(self, "roles", tuple(self.roles))
        if self.width < 1:
            raise ModelConfigError(f"tinyconv: width must be positive (got {self.width})")


class TinyConv(nn.Module):
    """(batch, channels, samples) -> (batch, 5)."""

    def __init__(self, config: TinyConvConfig) -> None:
        super().__init__()
        self.config = config
        self.features = nn.Sequential(nn.Conv1d(len(config.roles), config.width, 25, stride=10), nn.ReLU(),
                                      nn.AdaptiveAvgPool1d(4), nn.Flatten())
        self.head = nn.Linear(4 * config.width, config.n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


TINYCONV = Architecture(
    name="tinyconv", title="TinyConv", summary="a test-only two-layer network", reference="none (a test)",
    config=f"{__name__}:TinyConvConfig", network=f"{__name__}:TinyConv",
    inputs="any channels, any rate; one epoch per stage", extractors=("features",), heads=("head",),
)


@pytest.fixture
def tinyconv():
    register(TINYCONV)
    yield TINYCONV
    unregister("tinyconv")


def _train(data: Path, out: Path, *extra: str) -> int:
    return main(["train", "--data", str(data), "--out", str(out), "--architecture", "tinyconv", "--epochs", "2",
                 "--batch-size", "64", "--accumulate", "1", "--lr", "1e-3", "--quiet", *extra])


def test_a_registered_architecture_trains_stages_exports_and_fine_tunes(tinyconv, synthetic_prepared, tmp_path,
                                                                       capsys):
    out = tmp_path / "run"
    assert _train(synthetic_prepared, out, "--model-option", "width=6") == 0, capsys.readouterr().err
    model = load_model_file(out / "model.pt")
    assert model.architecture == "tinyconv"
    assert model.network_config() == TinyConvConfig(roles=tuple(model.roles), width=6)
    assert json.loads((out / "config.json").read_text())["model"] == {"architecture": "tinyconv", "width": 6}

    capsys.readouterr()
    assert main(["model-info", str(out / "model.pt"), "--json"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert card["architecture"]["name"] == "TinyConv" and card["architecture"]["registered_as"] == "tinyconv"
    assert card["architecture"]["differences_from_paper"] == {"width": {"paper": 4, "model": 6}}
    assert card["architecture"]["parameters"] == sum(p.numel() for p in model.build().parameters())

    raw = synthetic_prepared.parent / "raw"
    psg = sorted(raw.glob("*-PSG.edf"))[0]
    staged = tmp_path / "staged"
    assert main(["stage", str(psg), "--model", str(out / "model.pt"), "--out", str(staged), "--no-plots",
                 "--no-report", "--quiet"]) == 0, capsys.readouterr().err
    rows = (staged / (psg.stem + ".hypnogram.csv")).read_text().splitlines()
    assert len(rows) > 100

    pytest.importorskip("onnxruntime")
    onnx_path = tmp_path / "m.onnx"
    assert main(["export", "--model", str(out / "model.pt"), "--onnx", str(onnx_path)]) == 0, capsys.readouterr().err
    staged_onnx = tmp_path / "staged_onnx"
    assert main(["stage", str(psg), "--model", str(onnx_path), "--out", str(staged_onnx), "--no-plots",
                 "--no-report", "--quiet"]) == 0, capsys.readouterr().err
    torch_stages = [r.split(",")[-1] for r in rows]
    onnx_rows = (staged_onnx / (psg.stem + ".hypnogram.csv")).read_text().splitlines()
    assert np.mean([a == b for a, b in zip(torch_stages, [r.split(",")[-1] for r in onnx_rows])]) > 0.99

    tuned = tmp_path / "tuned"
    assert _train(synthetic_prepared, tuned, "--model-option", "width=6", "--init", str(out / "model.pt"),
                  "--freeze", "extractors", "--epochs", "1") == 0, capsys.readouterr().err
    child = load_model_file(tuned / "model.pt")
    base = load_model_file(out / "model.pt")
    for key in ("features.0.weight", "features.0.bias"):  # frozen: as the base model had them
        assert torch.equal(child.state_dict[key], base.state_dict[key])
    assert not torch.equal(child.state_dict["head.weight"], base.state_dict["head.weight"])


def test_a_base_model_of_another_architecture_is_refused_before_any_write(tinyconv, synthetic_prepared, tmp_path,
                                                                         capsys):
    out = tmp_path / "run"
    assert _train(synthetic_prepared, out) == 0
    capsys.readouterr()
    other = tmp_path / "other"
    rc = main(["train", "--data", str(synthetic_prepared), "--out", str(other), "--init", str(out / "model.pt"),
               "--epochs", "1", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "architecture tinyconv (base) vs isatsleepnet (this run; --architecture)" in err
    assert not other.exists() or not any(other.iterdir())


def test_unknown_architecture_and_its_unknown_options_are_refused_in_one_line(tinyconv, synthetic_prepared,
                                                                             tmp_path, capsys):
    rc = main(["train", "--data", str(synthetic_prepared), "--out", str(tmp_path / "a"), "--architecture", "nope"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and err[-1].startswith("isatsleepnet train: error: unknown architecture 'nope'; registered: ")
    rc = _train(synthetic_prepared, tmp_path / "b", "--ablation", "asr")
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and "unknown model option(s) use_asr of tinyconv" in err[-1]
    rc = _train(synthetic_prepared, tmp_path / "c", "--model-size", "small")
    assert rc == 2 and "tinyconv has no size 'small'" in capsys.readouterr().err
    rc = _train(synthetic_prepared, tmp_path / "d", "--context", "5")
    assert rc == 2 and "the context heads read ISATSleepNet's epoch embeddings" in capsys.readouterr().err
    assert dataclasses.asdict(TinyConvConfig())["width"] == 4
