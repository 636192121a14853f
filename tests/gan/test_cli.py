"""`isatsleepnet train-gan`: help, a run on one fold's training subjects, clear errors."""

import argparse
import json

import pytest

from isatsleepnet.cli import train_gan
from isatsleepnet.data.prepare import prepare_dataset
from isatsleepnet.data.prepare_config import PrepareConfig
from isatsleepnet.data.store import PreparedDataset
from isatsleepnet.data.synthetic import SynthConfig, synthesize
from isatsleepnet.errors import IsatSleepNetError
from isatsleepnet.training.folds import Fold, save_folds

TINY = {"gan": {"g_base_channels": 16, "g_upsamplings": 4, "g_spectral_channels": 2, "g_freq_rank": 8,
                "d_channels": [8, 16, 16], "min_steps_per_epoch": 3, "batch_size": 16}}

pytestmark = pytest.mark.usefixtures("one_torch_thread")



def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="isatsleepnet")
    train_gan.add_parser(parser.add_subparsers(dest="command", required=True))
    return parser


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> PreparedDataset:
    root = tmp_path_factory.mktemp("cli-synth")
    synthesize(root / "raw", SynthConfig(layout="sleep-edf", subjects=3, hours=1.5, seed=9), progress=False)
    prepare_dataset(root / "raw", root / "prepared", PrepareConfig(dataset="sleep-edf", sampling_rate=50.0), progress=False)
    return PreparedDataset(root / "prepared")


def test_help_lists_the_options(capsys):
    with pytest.raises(SystemExit):
        _parser().parse_args(["train-gan", "--help"])
    out = capsys.readouterr().out
    for option in ("--data", "--out", "--stage", "--channel", "--epochs", "--batch-size", "--subjects", "--folds-file",
                   "--fold", "--seed", "--config", "--checkpoint-every", "--device", "--quiet", "TRAINING subjects"):
        assert option in out


def test_run_trains_on_the_folds_training_subjects_only(tmp_path, dataset, capsys):
    s = dataset.subjects()
    folds = tmp_path / "folds.json"
    save_folds(folds, [Fold(0, (s[0],), (s[1],), (s[2],))], protocol="kfold", seed=0)
    config = tmp_path / "gan.json"
    config.write_text(json.dumps(TINY))
    args = _parser().parse_args(["train-gan", "--data", str(dataset.root), "--out", str(tmp_path / "gans"),
                                 "--folds-file", str(folds), "--fold", "0", "--channel", "EEG Fpz-Cz",
                                 "--epochs", "2", "--config", str(config), "--checkpoint-every", "1",
                                 "--device", "cpu", "--seed", "3", "--quiet"])
    assert args.run(args) == 0
    out = capsys.readouterr().out
    assert "EEG Fpz-Cz" in out and "C2ST" in out
    folder = tmp_path / "gans" / "eeg-fpz-cz_N1"
    data = json.loads((folder / "data.json").read_text())
    assert data["subjects"] == [s[0]]
    summary = json.loads((tmp_path / "gans" / "quality.json").read_text())
    assert list(summary) == ["eeg-fpz-cz_N1"]
    assert set(summary["eeg-fpz-cz_N1"]["candidates"]) >= {"gan", "phase_randomised", "coloured_noise"}
    assert summary["eeg-fpz-cz_N1"]["report"] == "eeg-fpz-cz_N1/quality.json"
    saved = json.loads((folder / "gan_config.json").read_text())
    assert saved["epochs"] == 2 and saved["seed"] == 3 and saved["g_base_channels"] == 16
    # running the same command again resumes (nothing left to train) and succeeds
    assert args.run(args) == 0


def test_subject_choice_errors(tmp_path, dataset):
    parser = _parser()
    base = ["train-gan", "--data", str(dataset.root), "--out", str(tmp_path / "g")]
    for extra, message in ((["--subjects", "nobody"], "not in"), (["--fold", "0"], "go together"),
                           (["--subjects", dataset.subjects()[0], "--folds-file", "f.json", "--fold", "0"], "either"),
                           (["--channel", "EEG C3"], "not in every training recording")):
        args = parser.parse_args(base + extra)
        with pytest.raises(IsatSleepNetError, match=message):
            args.run(args)
    bad = tmp_path / "bad.json"
    bad.write_text('{"lr_dd": 1}')
    args = parser.parse_args(base + ["--config", str(bad)])
    with pytest.raises(IsatSleepNetError, match="unknown option"):
        args.run(args)


def test_a_resume_checkpoint_with_wrong_types_is_one_line_and_status_2(tmp_path, dataset, capsys):
    """Before: a checkpoint whose ``rows`` is a string gave `unexpected AttributeError` (exit 1)."""
    import torch

    from isatsleepnet.cli.main import main
    from isatsleepnet.gan.train import CHECKPOINT

    config = tmp_path / "gan.json"
    config.write_text(json.dumps(TINY))
    base = ["train-gan", "--data", str(dataset.root), "--out", str(tmp_path / "gans"), "--channel", "EEG Fpz-Cz",
            "--subjects", dataset.subjects()[0], "--config", str(config), "--checkpoint-every", "1",
            "--device", "cpu", "--quiet"]
    assert main([*base, "--epochs", "1"]) == 0
    checkpoint = tmp_path / "gans" / "eeg-fpz-cz_N1" / CHECKPOINT
    torch.save({**torch.load(checkpoint, weights_only=True), "rows": "abc"}, checkpoint)
    capsys.readouterr()
    assert main([*base, "--epochs", "2"]) == 2
    assert capsys.readouterr().err == (
        f"isatsleepnet train-gan: error: {checkpoint}: corrupt checkpoint: rows is not a list of per-epoch records "
        "(names and numbers); use --overwrite (or delete it) to start again\n")


def test_a_negative_seed_is_refused_by_name_before_any_work(tmp_path, dataset, capsys):
    """Before: `train-gan --seed -1` ended with numpy's "expected non-negative integer" as an unexpected error."""
    from isatsleepnet.cli.main import main
    from isatsleepnet.gan.config import GanConfig

    out = tmp_path / "g"
    assert main(["train-gan", "--data", str(dataset.root), "--out", str(out), "--seed", "-1", "--device", "cpu"]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == ("isatsleepnet train-gan: error: --seed must be a whole number "
                                                        "from 0 to 4294967284, not -1")
    assert not out.exists()
    with pytest.raises(IsatSleepNetError, match="^seed= "):
        GanConfig(seed=2**32)


def test_a_refused_run_leaves_no_gan_folder(tmp_path, dataset, capsys, monkeypatch):
    """Before: a run refused for too few epochs of the stage left an empty GAN folder."""
    from isatsleepnet.cli.main import main
    from isatsleepnet.gan import stages

    def too_few(*args, **kwargs):
        raise IsatSleepNetError("only 2 N1 epoch(s) of 'EEG Fpz-Cz' in the training subjects; a GAN needs at least 4")

    monkeypatch.setattr(stages, "train_channel_gan", too_few)
    out = tmp_path / "deeper" / "g"
    assert main(["train-gan", "--data", str(dataset.root), "--out", str(out), "--channel", "EEG Fpz-Cz",
                 "--subjects", dataset.subjects()[0], "--device", "cpu", "--quiet"]) == 2
    assert "a GAN needs at least 4" in capsys.readouterr().err
    assert not out.exists()
