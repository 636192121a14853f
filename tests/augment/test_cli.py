"""`isatsleepnet augment`: help and a run that augments only a fold's training subjects."""

import argparse

import numpy as np
import pytest

from isatsleepnet.cli import augment
from isatsleepnet.data.prepare import prepare_dataset
from isatsleepnet.data.prepare_config import PrepareConfig
from isatsleepnet.data.store import PreparedDataset
from isatsleepnet.data.synthetic import SynthConfig, synthesize
from isatsleepnet.training.folds import Fold, save_folds


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="isatsleepnet")
    augment.add_parser(parser.add_subparsers(dest="command", required=True))
    return parser


def test_help_lists_the_options(capsys):
    with pytest.raises(SystemExit):
        _parser().parse_args(["augment", "--help"])
    out = capsys.readouterr().out
    for option in ("--data", "--gan", "--out", "--mode", "--subjects", "--folds-file", "--fold", "--seed", "NEW"):
        assert option in out


def test_run_augments_only_the_training_subjects(tmp_path, capsys):
    synthesize(tmp_path / "raw", SynthConfig(layout="sleep-edf", subjects=3, hours=1.0, seed=4), progress=False)
    prepare_dataset(tmp_path / "raw", tmp_path / "prep", PrepareConfig(dataset="sleep-edf", sampling_rate=50.0), progress=False)
    source = PreparedDataset(tmp_path / "prep")
    s = source.subjects()
    save_folds(tmp_path / "folds.json", [Fold(0, (s[0],), (s[1],), (s[2],))], protocol="kfold", seed=0)
    args = _parser().parse_args(["augment", "--data", str(source.root), "--out", str(tmp_path / "aug"),
                                 "--mode", "transforms", "--folds-file", str(tmp_path / "folds.json"), "--fold", "0",
                                 "--seed", "1", "--quiet"])
    assert args.run(args) == 0
    out = capsys.readouterr().out
    assert "1 recording(s) augmented, 2 carried over unchanged" in out
    aug = PreparedDataset(tmp_path / "aug")
    for rec in aug:  # validation and test subjects stay real
        assert rec.real.all() == (rec.subject != s[0])
        assert np.array_equal(rec.epochs[rec.real], source[rec.name].epochs)


def test_a_refused_run_leaves_no_folder_and_an_interrupted_one_is_continued(tmp_path, capsys, monkeypatch):
    """Before: `--mode gan` without `--gan` left an empty --out behind, and the rerun of an interrupted run was
    refused ("already holds a dataset")."""
    from isatsleepnet.augment import balance
    from isatsleepnet.cli.main import main

    synthesize(tmp_path / "raw", SynthConfig(layout="sleep-edf", subjects=3, hours=0.5, seed=4), progress=False)
    prepare_dataset(tmp_path / "raw", tmp_path / "prep", PrepareConfig(dataset="sleep-edf", sampling_rate=50.0),
                    progress=False)
    base = ["augment", "--data", str(tmp_path / "prep"), "--out", str(tmp_path / "aug"), "--quiet"]
    for argv, problem in ((["--mode", "gan"], "--mode gan needs --gan (or use --mode transforms)"),
                          (["--mode", "transforms", "--stage-cap", "nan"],
                           "--stage-cap must be a finite number of at least 0, not nan"),
                          (["--mode", "transforms", "--seed", "-1"], "--seed must be a whole number of at least 0, not -1"),
                          (["--mode", "transforms", "--target-ratio", "1e6"], "--target-ratio 1e+06 would make ")):
        assert main([*base, *argv]) == 2
        assert capsys.readouterr().err.strip().startswith(f"isatsleepnet augment: error: {problem}")
        assert not (tmp_path / "aug").exists()

    written = balance.augment_recording

    def interrupted_after_one(rec, out, **kwargs):
        if (out / "recordings").is_dir() and any((out / "recordings").iterdir()):
            raise KeyboardInterrupt
        return written(rec, out, **kwargs)

    monkeypatch.setattr(balance, "augment_recording", interrupted_after_one)
    run = [*base, "--mode", "transforms", "--target-ratio", "3"]
    assert main(run) == 130
    assert "interrupted; run the same command again to continue" in capsys.readouterr().err
    monkeypatch.setattr(balance, "augment_recording", written)
    assert main(run) == 0
    assert "3 recording(s) augmented, 0 carried over unchanged" in capsys.readouterr().out
    assert main([*run[:4], str(tmp_path / "whole"), *run[5:]]) == 0
    for rec in PreparedDataset(tmp_path / "whole"):
        again = PreparedDataset(tmp_path / "aug")[rec.name]
        assert np.array_equal(again.epochs, rec.epochs) and np.array_equal(again.origins, rec.origins)
