"""Figures that hold: numbers a run or a staging reports must mean what they seem to.

1. Model selection on a validation set that lacks stages is noise: `cv` and
   `train` draw validation subjects covering every stage when they can, record
   it, and warn before training about what a validation set still lacks.
2. Sleep statistics of a recording much longer than a night say which window they cover.
3. README's Python example loads the model its demo command writes.
"""

from __future__ import annotations

import doctest
import json
import re
from pathlib import Path

import numpy as np
import pytest

from isatsleepnet import STAGES
from isatsleepnet.data.store import PreparedDataset, write_manifest, write_recording
from isatsleepnet.training import coverage
from isatsleepnet.training.coverage import RARE_EPOCHS, draw_validation, subject_stage_counts, validation_warnings
from isatsleepnet.training.folds import load_folds, make_folds, save_folds, training_split

ROOT = Path(__file__).resolve().parents[2]
CHANNELS = ["EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal"]
W, N1, N2, N3, REM = range(5)

# S0 and S4 alone hold N3; S3 holds a handful of N1 epochs. With kfold 3 and seed 0 the
# plain seeded draws validate fold 0 on S3 and fold 1 on S5 (no N3: the rule picks S0 or S4
# instead, keeping the other for training), and fold 2 tests S0 and S4: no draw can cover N3.
LABELS = {
    "S0": [W, N1, N2, N3, REM] * 6,
    "S1": [W, N1, N2, REM] * 6,
    "S2": [W, N1, N2, REM] * 6,
    "S3": [W, N2, REM] * 12 + [N1] * 4,
    "S4": [W, N1, N2, N3, REM] * 6,
    "S5": [W, N1, N2, REM] * 6,
}


def _write_store(root: Path, labels: dict[str, list[int]] = LABELS, fs: float = 10.0) -> PreparedDataset:
    """A prepared store with the given stages per subject (one night each), learnable by a tiny network."""
    rng = np.random.default_rng(0)
    t = np.arange(int(30 * fs)) / fs
    for subject, stages in labels.items():
        y = np.array(stages, dtype=np.int8)
        x = rng.normal(0, 10, (len(y), 3, len(t))) + 25 * np.sin(2 * np.pi * (0.5 + 0.8 * y[:, None, None]) * t)
        write_recording(root, f"{subject}-night1", x.astype(np.float32), y, np.arange(len(y)) * 30.0,
                        {"subject": subject, "night": 1, "sampling_rate": fs, "channels": CHANNELS,
                         "roles": ["eeg", "eeg2", "eog"], "epoch_seconds": 30.0})
    write_manifest(root)
    return PreparedDataset(root)


def _counts() -> dict[str, np.ndarray]:
    return {s: np.bincount(np.array(y), minlength=5) for s, y in LABELS.items()}


def test_coverage_doctests() -> None:
    assert doctest.testmod(coverage).failed == 0


def test_the_validation_draw_covers_every_stage_when_the_training_subjects_allow_it() -> None:
    train = ["S0", "S1", "S3", "S4"]  # fold 0's non-test subjects
    plain = draw_validation(train, 0.1, 0)
    assert plain.validation == ("S3",) and plain.stages is None  # the seeded draw of earlier versions
    draw = draw_validation(train, 0.1, 0, _counts())
    assert draw.validation in (("S0",), ("S4",)) and draw.redrawn
    assert draw.stages == STAGES
    assert {"S0", "S4"} & set(draw.fit)  # training keeps N3
    assert draw == draw_validation(train, 0.1, 0, _counts())  # deterministic
    # where the seeded draw covers every stage it stays
    everything = {s: np.ones(5) for s in train}
    assert draw_validation(train, 0.1, 0, everything).validation == plain.validation
    assert not draw_validation(train, 0.1, 0, everything).redrawn


def test_folds_json_records_coverage_and_old_files_still_load(tmp_path: Path) -> None:
    subjects = sorted(LABELS)
    folds = make_folds(subjects, "kfold", n_folds=3, seed=0, stage_counts=_counts())
    plain = make_folds(subjects, "kfold", n_folds=3, seed=0)
    assert [f.test for f in folds] == [f.test for f in plain]  # the rule never touches test subjects
    for fold, before in zip(folds, plain):
        assert not set(fold.validation) & set(fold.test)
        assert set(fold.train) | set(fold.validation) == set(before.train) | set(before.validation)
    assert [f.validation_redrawn for f in folds] == [True, True, False]
    assert folds[0].validation_stages == folds[1].validation_stages == STAGES
    assert folds[2].validation_stages == ("W", "N1", "N2", "REM")
    save_folds(tmp_path / "folds.json", folds, protocol="kfold", seed=0)
    saved = json.loads((tmp_path / "folds.json").read_text())["folds"]
    assert saved[0]["validation_stages"] == list(STAGES) and saved[0]["validation_redrawn"] is True
    assert load_folds(tmp_path / "folds.json", subjects) == folds
    # a folds.json from before the rule: no coverage keys; it loads, and is written back without nulls
    old = {"protocol": "kfold", "seed": 0,
           "folds": [{k: v for k, v in f.items() if not k.startswith("validation_")} for f in saved]}
    (tmp_path / "old.json").write_text(json.dumps(old))
    loaded = load_folds(tmp_path / "old.json", subjects)
    assert [f.validation for f in loaded] == [f.validation for f in folds] and loaded[0].validation_stages is None
    save_folds(tmp_path / "again.json", loaded, protocol="kfold", seed=0)
    assert "null" not in (tmp_path / "again.json").read_text()


def test_warnings_name_missing_and_rare_stages() -> None:
    lines = validation_warnings(np.array([96, 9, 0, 0, 0]), "fold 2: ")
    assert lines[0] == "fold 2: the validation recordings hold no N2, N3, REM epochs: model selection cannot see them"
    assert lines[1].startswith(f"fold 2: the validation recordings hold fewer than {RARE_EPOCHS} epochs of N1 (9)")
    assert validation_warnings(np.array([RARE_EPOCHS] * 5)) == []


def test_train_prefers_a_covering_validation_subject_and_warns(tmp_path: Path, monkeypatch, caplog) -> None:
    from isatsleepnet.training import context
    from isatsleepnet.training.train import SPLIT_FILE, train

    data = _write_store(tmp_path / "store")
    assert {s: list(c) for s, c in subject_stage_counts(data).items()} == {s: list(c) for s, c in _counts().items()}
    plain = training_split(data, seed=0, validation_fraction=0.2, cover_stages=False)
    split = training_split(data, seed=0, validation_fraction=0.2)
    assert set(STAGES) - {STAGES[i] for s in plain.validation for i in set(LABELS[s])}  # the seeded draw lacks one
    assert split.validation_stages == STAGES and split.validation_redrawn
    trained: list = []
    monkeypatch.setattr(context, "train_with_context", lambda data, fold, out, *a, **k: trained.append(fold) or out / "x")
    train(data, tmp_path / "run", validation_subjects=["S3"], progress=False)
    err = caplog.text  # warnings of the isatsleepnet logger (stderr under the command line, "warning: " before each)
    assert [r.levelname for r in caplog.records if "validation recordings" in r.message] == ["WARNING", "WARNING"]
    assert "the validation recordings hold no N3 epochs: model selection cannot see them" in err
    assert f"the validation recordings hold fewer than {RARE_EPOCHS} epochs of N1 (4)" in err
    assert trained  # the warning came before training
    # a default draw records its coverage in split.json; a run folder from before split.json keeps the plain draw
    from isatsleepnet.training.config import TrainConfig

    config = TrainConfig(validation_fraction=0.2)
    train(data, tmp_path / "new", config=config, progress=False)
    assert json.loads((tmp_path / "new" / SPLIT_FILE).read_text())["validation"] == list(split.validation)
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "config.json").write_text((tmp_path / "new" / "config.json").read_text())
    train(data, tmp_path / "old", config=config, progress=False)
    assert trained[-1].validation == plain.validation
    train(data, tmp_path / "old", config=config, progress=False)  # and keeps it, now that it has a split.json
    assert trained[-1].validation == plain.validation
    assert json.loads((tmp_path / "old" / SPLIT_FILE).read_text())["cover_stages"] is False
    train(data, tmp_path / "new", config=config, progress=False)
    assert trained[-1].validation == split.validation


def test_cv_records_coverage_and_warns_before_training(tmp_path: Path, caplog) -> None:
    from isatsleepnet.training.cv import cross_validate
    from tests.training.conftest import tiny_config

    data = _write_store(tmp_path / "store")
    run = tmp_path / "run"
    cross_validate(data.root, run, protocol="kfold", n_folds=3, config=tiny_config(max_epochs=1), only_fold=2,
                   progress=False)
    err = caplog.text
    assert "fold 2: the validation recordings hold no N3 epochs: model selection cannot see them" in err
    assert "fold 0:" not in err  # only the folds this command trains
    saved = json.loads((run / "folds.json").read_text())["folds"]
    assert [f["validation_redrawn"] for f in saved] == [True, True, False]
    assert saved[0]["validation_stages"] == list(STAGES)
    assert saved[2]["validation_stages"] == ["W", "N1", "N2", "REM"]
    report = (run / "report.md").read_text()
    assert "fold 2: its validation subjects hold only W, N1, N2, REM epochs" in report
    # a run whose folds.json predates the rule resumes with its folds unchanged
    old = {**json.loads((run / "folds.json").read_text())}
    old["folds"] = [{k: v for k, v in f.items() if k not in ("validation_stages", "validation_redrawn")}
                    for f in old["folds"]]
    (run / "folds.json").write_text(json.dumps(old))
    before = (run / "folds.json").read_text()
    cross_validate(data.root, run, protocol="kfold", n_folds=3, config=tiny_config(max_epochs=1), only_fold=2,
                   progress=False, resume=True)
    assert (run / "folds.json").read_text() == before


# 2. statistics over a window much longer than a night say so --------------------------------------------------


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    from tests.inference import trained_model

    return trained_model(tmp_path_factory.getbasetemp())[0]


def _long_recording(write_edf, path: Path, gap_hours: float) -> Path:
    """Four 30-s epochs of data, the last two ``gap_hours`` after the first two (an EDF+D): a window that long,
    staged in a second."""
    from tests.inference import make_discontinuous, write_night

    psg = write_night(write_edf, path, 4, fs=60.0, annotations=[(0.0, 0.0, "start")])
    return make_discontinuous(psg, 2, gap_hours * 3600.0)


def test_statistics_of_a_window_longer_than_a_night_say_which_window(write_edf, tiny_model, tmp_path, capsys):
    from isatsleepnet.inference.sleep_stats import LONG_WINDOW_HOURS
    from tests.robustness import run_cli

    psg = _long_recording(write_edf, tmp_path / "long.edf", 17.0)
    code, out, err = run_cli(["stage", psg, "--model", tiny_model, "--out", tmp_path / "whole", "--no-plots",
                              "--threads", "1", "--quiet"], capsys)
    assert code == 0, err
    summary = json.loads((tmp_path / "whole" / "long.sleep_stats.json").read_text())
    note = summary["recording"]["window_note"]
    assert note.startswith("the sleep statistics cover the whole recording, 17.0 h from ")
    assert f"much longer than a night (over {LONG_WINDOW_HOURS:g} h)" in note
    assert "--trim" in note and "--lights" in note and "--start/--end" in note
    assert summary["recording"]["window_hours"] == pytest.approx(17.0 + 2 / 60, abs=1e-4)
    assert note in summary["notes"]  # the JSON, the report's notes, `note:` lines, Night.notes
    assert f"long: {note}" in out  # beside the TST of the terminal summary
    assert f"note: long.edf: {note}" in err
    html = (tmp_path / "whole" / "long.report.html").read_text()
    assert html.count("the sleep statistics cover the whole recording, 17.0 h") == 2  # by the table, in the notes
    # the note names the clock times when the file has them, elapsed time otherwise
    start = summary["recording"]["start"]
    if start:
        assert f"from {start.replace('T', ' ')} to " in note

    # narrowed to a night: no note
    code, out, err = run_cli(["stage", psg, "--model", tiny_model, "--out", tmp_path / "night", "--end", "120",
                              "--no-plots", "--no-report", "--threads", "1", "--quiet"], capsys)
    assert code == 0, err
    summary = json.loads((tmp_path / "night" / "long.sleep_stats.json").read_text())
    assert summary["recording"]["window_note"] is None and "cover" not in out


def test_a_long_window_chosen_by_an_option_names_the_option_and_the_api_carries_it(write_edf, tiny_model, tmp_path):
    import isatsleepnet as isn

    psg = _long_recording(write_edf, tmp_path / "long.edf", 20.0)
    night = isn.load_model(tiny_model, threads=1).stage(psg, start=0.0, end=30 * 3600.0)
    [note] = [n for n in night.notes if "sleep statistics cover" in n]
    assert note.startswith("the sleep statistics cover the window --start/--end chose, 20.0 h ")
    assert night.summary["recording"]["window_note"] == note
    assert night.sleep_statistics()["time_in_bed_min"] == pytest.approx(20 * 60 + 2)


def test_long_window_note_without_a_clock_gives_elapsed_time() -> None:
    from isatsleepnet.inference import sleep_stats

    assert doctest.testmod(sleep_stats).failed == 0
    note = sleep_stats.long_window_note((3600.0, 20 * 3600.0), None, "--lights")
    assert note.startswith("the sleep statistics cover the window --lights chose, 19.0 h from +1:00:00 to +20:00:00 "
                           "of the recording")
    assert sleep_stats.long_window_note((0.0, sleep_stats.LONG_WINDOW_HOURS * 3600.0), None) is None


# 3. README's Python example loads what its demo command writes ----------------------------------------------------


def _code_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```[a-z]*\n(.*?)^```", markdown, flags=re.S | re.M)


def test_readme_from_python_loads_the_model_the_readme_demo_writes() -> None:
    from isatsleepnet.training.cv import fold_dir
    from isatsleepnet.training.fit import MODEL_FILE

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    demos = [m for block in _code_blocks(readme) for m in re.findall(r"^isatsleepnet demo --out (\S+)\s*$", block, re.M)]
    assert len(demos) == 1, demos
    from_python = readme.split("## From Python", 1)[1].split("\n## ", 1)[0]
    [loaded] = [m for block in _code_blocks(from_python) for m in re.findall(r'load_model\("([^"]+)"\)', block)]
    out = demos[0]
    assert loaded.startswith(f"{out}/run/"), (out, loaded)
    assert Path(loaded) == fold_dir(Path(out) / "run", 0) / MODEL_FILE  # where the demo's fold 0 model lands
    # the same path in the API's guide and the package docstring
    import isatsleepnet

    assert f'load_model("{loaded}")' in (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    assert f'load_model("{loaded}")' in isatsleepnet.__doc__
