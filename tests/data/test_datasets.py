"""The table of datasets: every entry usable, every list of datasets read from it, and a new one added.

The worked example (``mylab``, the one of docs/architecture.md "Adding a dataset")
registers a lab's own dataset, with its own file finder below, prepares synthetic
recordings of it with ``isatsleepnet prepare --dataset mylab`` and runs one fold of
``isatsleepnet cv --protocol mylab``, without touching any other file.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
from pathlib import Path

import numpy as np
import pytest

from isatsleepnet.cli import cv as cv_cli
from isatsleepnet.cli import evaluate as evaluate_cli
from isatsleepnet.cli import prepare as prepare_cli
from isatsleepnet.cli.main import main
from isatsleepnet.data.datasets import (
    DATASETS,
    KFOLD,
    ROLES,
    Dataset,
    get_dataset,
    help_lines,
    protocols,
    register_dataset,
    unregister_dataset,
)
from isatsleepnet.references import resolve
from isatsleepnet.data.prepare_config import PrepareConfig
from isatsleepnet.data.sources import RecordingSource, files_under
from isatsleepnet.data.store import PreparedDataset
from isatsleepnet.data.synthetic import SubjectProfile, simulate_channels, simulate_hypnogram
from isatsleepnet.errors import DataError, IsatSleepNetError
from isatsleepnet.training.folds import make_folds
from tests.training.conftest import TINY_MODEL


# --------------------------------------------------------------------------- the table
@pytest.mark.parametrize("entry", list(DATASETS.values()), ids=list(DATASETS))
def test_every_entry_names_functions_that_exist(entry: Dataset) -> None:
    assert DATASETS[entry.name] is entry and get_dataset(entry.name) is entry
    for ref in (entry.find, entry.reader, entry.stages):
        if ref is not None:
            assert callable(resolve(ref))
    assert set(entry.channels) <= set(ROLES)
    assert "\n" not in entry.description and entry.description.strip()
    if entry.download is not None:  # written beside this table; resolved once its module exists
        module, _, function = entry.download.partition(":")
        if importlib.util.find_spec(module) is not None:
            assert callable(resolve(entry.download))
    assert entry.download is not None or entry.access or entry.name in ("sleep-edf", "edf", "reviewed", "npz")


def test_the_table_holds_the_papers_protocols_and_sleep_telemetry() -> None:
    assert list(DATASETS) == ["sleep-edf-20", "sleep-edf-78", "sleep-edf-st", "sleep-edf", "shhs", "edf", "reviewed",
                              "npz"]
    assert len({name.lower() for name in DATASETS}) == len(DATASETS)
    assert protocols() == ["sleep-edf-20", "sleep-edf-78", "sleep-edf-st", "shhs"]
    assert protocols(kfold=True)[-1] == KFOLD
    assert [get_dataset(n).folds for n in ("sleep-edf-20", "sleep-edf-78", "sleep-edf-st")] == [20, 10, 10]
    assert get_dataset("shhs").test_fraction == 0.3 and get_dataset("shhs").protocol.startswith("70/30")
    assert "ours" in get_dataset("sleep-edf-st").description
    assert "sleepdata.org" in get_dataset("shhs").access
    assert {get_dataset(n).download for n in ("sleep-edf-20", "sleep-edf-78", "sleep-edf-st")} == {
        "isatsleepnet.data.download_sleep_edf:public_files"}


def test_unknown_names_and_bad_entries_are_one_line_errors() -> None:
    with pytest.raises(IsatSleepNetError, match=r"^unknown dataset 'sleep-edf-99'; known: sleep-edf-20, ") as info:
        get_dataset("sleep-edf-99")
    assert "\n" not in str(info.value)
    with pytest.raises(IsatSleepNetError, match="already registered"):
        register_dataset(Dataset("shhs", "again", find="isatsleepnet.data.datasets_shhs:find"))
    with pytest.raises(IsatSleepNetError, match="already registered"):
        register_dataset(Dataset(KFOLD, "a protocol's name", find="isatsleepnet.data.datasets_shhs:find"))
    with pytest.raises(IsatSleepNetError, match="'module:function'"):
        Dataset("mine", "mine", find="isatsleepnet.data.datasets_shhs.find")
    with pytest.raises(IsatSleepNetError, match="unknown channel role"):
        Dataset("mine", "mine", find="m:f", channels={"emg": ("Chin",)})
    with pytest.raises(IsatSleepNetError, match="either folds or a test fraction"):
        Dataset("mine", "mine", find="m:f", folds=5, test_fraction=0.2)
    with pytest.raises(IsatSleepNetError, match="has no nothing_here"):
        resolve("isatsleepnet.data.datasets_shhs:nothing_here")
    with pytest.raises(IsatSleepNetError, match="cannot import"):
        resolve("isatsleepnet.no_such_module:find")
    with pytest.raises(IsatSleepNetError, match="unknown protocol 'edf9'"):
        make_folds(["a", "b", "c"], "edf9")
    with pytest.raises(IsatSleepNetError, match="no evaluation protocol for dataset 'edf'"):
        make_folds(["a", "b", "c"], "edf")


def _parser(module) -> argparse.ArgumentParser:  # noqa: ANN001 - a cli module
    parser = argparse.ArgumentParser(prog="isatsleepnet")
    module.add_parser(parser.add_subparsers())
    return parser


def _choices(module, flag: str) -> list[str]:  # noqa: ANN001
    sub = _parser(module)._subparsers._group_actions[0].choices  # noqa: SLF001 - argparse keeps them there
    (parser,) = sub.values()
    (action,) = [a for a in parser._actions if flag in a.option_strings]  # noqa: SLF001
    return list(action.choices)


def test_help_and_choices_come_from_the_table() -> None:
    assert _choices(prepare_cli, "--dataset") == list(DATASETS)
    assert _choices(cv_cli, "--protocol") == protocols(kfold=True)
    assert _choices(evaluate_cli, "--protocol") == protocols()
    text = " ".join(prepare_cli.description().split())
    for line in help_lines():
        assert " ".join(line.split()) in text
    cv_text = cv_cli.description()
    for name in protocols():
        assert re.search(rf"^  {re.escape(name)} +{re.escape(get_dataset(name).protocol)}$", cv_text, re.M)


def test_a_frozen_prepare_config_checks_itself_when_made_and_replaced() -> None:
    import dataclasses

    config = PrepareConfig(dataset="sleep-edf-st")
    assert config.trims and config.channels()["eeg"] == ["EEG Fpz-Cz"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.trim = False  # type: ignore[misc]
    with pytest.raises(IsatSleepNetError, match="must lie below Nyquist"):
        dataclasses.replace(config, notch=60.0, sampling_rate=100.0)
    with pytest.raises(IsatSleepNetError, match="unknown dataset 'mylab'"):
        PrepareConfig(dataset="mylab")


# --------------------------------------------------------------------------- a worked example: mylab
_NIGHT = re.compile(r"^(?P<subject>P\d\d)_N(?P<night>\d)$")


def find_mylab(data_dir: Path, config: PrepareConfig) -> tuple[list[RecordingSource], list[DataError]]:
    """mylab's nights: ``P01_N1.edf`` with its stages in ``P01_N1_stages.csv`` beside it."""
    sources, errors = [], []
    for psg in files_under(data_dir, (".edf",)):
        m = _NIGHT.match(psg.stem)
        if m is None:
            continue
        stages = psg.with_name(f"{psg.stem}_stages.csv")
        if not stages.is_file():
            errors.append(DataError(psg, f"no {stages.name} beside it"))
            continue
        sources.append(RecordingSource(psg.stem, psg, stages, m["subject"], int(m["night"]), config.dataset))
    return sources, errors


MYLAB = Dataset(
    "mylab", "our lab's nights: P01_N1.edf with P01_N1_stages.csv (AASM codes 0-4)",
    find=f"{__name__}:find_mylab",
    channels={"eeg": ("C4-M1", "C4-A1"), "eog": ("E1-M2",)},
    stage_codes="aasm",  # the CSVs hold bare 0-4 codes, 4 = REM
    folds=3,
)


@pytest.fixture
def mylab():
    register_dataset(MYLAB)
    yield MYLAB
    unregister_dataset("mylab")


def _write_mylab(raw: Path, write_edf, subjects: int, hours: float = 1.0) -> None:  # noqa: ANN001
    raw.mkdir(parents=True)
    for s in range(1, subjects + 1):
        rng = np.random.default_rng(s)
        profile = SubjectProfile.draw(rng)
        stages = simulate_hypnogram(int(hours * 120), rng, epoch_seconds=30.0,
                                    n3_propensity=profile.n3_propensity, fragmentation=profile.fragmentation)
        signals = simulate_channels(stages, 30.0, {"eeg": 128.0, "eog": 128.0}, profile, rng)
        # C4-A1 is the second spelling the entry accepts for its eeg role
        write_edf(raw / f"P{s:02d}_N1.edf", [("C4-A1", signals["eeg"], 128.0, "uV"),
                                              ("E1-M2", signals["eog"], 128.0, "uV")])
        (raw / f"P{s:02d}_N1_stages.csv").write_text("stage\n" + "\n".join(str(int(c)) for c in stages) + "\n")
    (raw / "P99_N1.edf").write_bytes((raw / "P01_N1.edf").read_bytes())  # its stages were never exported


def test_a_new_dataset_is_one_entry_prepared_and_cross_validated(mylab, tmp_path, write_edf, capsys) -> None:
    _write_mylab(tmp_path / "raw", write_edf, subjects=3)
    assert "mylab" in protocols()
    code = main(["prepare", "--dataset", "mylab", "--data-dir", str(tmp_path / "raw"),
                 "--out", str(tmp_path / "prepared"), "--quiet"])
    out, err = capsys.readouterr()
    assert code == 1  # P99 failed, alone, in one line
    assert "error: P99_N1.edf: no P99_N1_stages.csv beside it" in err and "Traceback" not in err
    assert "3 new, 0 skipped, 1 failed" in out
    data = PreparedDataset(tmp_path / "prepared")
    assert data.subjects() == ["P01", "P02", "P03"]
    record = data["P01_N1"]
    assert record.channels == ["C4-A1", "E1-M2"] and record.meta["roles"] == ["eeg", "eog"]
    assert record.meta["dataset"] == "mylab" and not record.meta["trimmed"]
    assert record.meta["stage_counts"]["REM"] > 0  # 4 read as AASM REM, the entry's stage_codes
    assert json.loads((tmp_path / "prepared" / "prepare_config.json").read_text())["dataset"] == "mylab"

    config = tmp_path / "tiny.json"
    config.write_text(json.dumps({"max_epochs": 1, "batch_size": 16, "accumulate_grad_batches": 1,
                                  "model": TINY_MODEL}))
    code = main(["cv", "--data", str(tmp_path / "prepared"), "--out", str(tmp_path / "run"), "--protocol", "mylab",
                 "--fold", "0", "--config", str(config), "--max-train-batches", "2", "--quiet"])
    assert code == 0, capsys.readouterr().err
    folds = json.loads((tmp_path / "run" / "folds.json").read_text())
    assert folds["protocol"] == "mylab" and len(folds["folds"]) == 3  # the entry's folds
    assert sorted(s for f in folds["folds"] for s in f["test"]) == ["P01", "P02", "P03"]


def test_unregistered_the_dataset_is_gone(mylab) -> None:
    unregister_dataset("mylab")
    try:
        assert "mylab" not in DATASETS and "mylab" not in protocols()
        with pytest.raises(IsatSleepNetError, match="unknown dataset 'mylab'"):
            unregister_dataset("mylab")
    finally:
        register_dataset(MYLAB)  # for the fixture to remove
