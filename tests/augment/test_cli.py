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
