"""`isatsleepnet demo`: synth → prepare → cv → report → staging a subject no fold saw."""

from __future__ import annotations

import json

import pytest

from isatsleepnet.cli.main import main


def test_demo_runs_end_to_end_and_stages_a_held_out_night(tmp_path, capsys):
    out = tmp_path / "demo"
    args = ["demo", "--out", str(out), "--n-subjects", "4", "--folds", "2", "--hours", "1", "--epochs", "1",
            "--threads", "1", "--quiet"]
    assert main(args) == 0
    stdout = capsys.readouterr().out

    # the held-out subject (index 4) is outside the prepared cohort, so no fold saw it
    prepared_subjects = {p.name[:5] for p in (out / "prepared" / "recordings").iterdir()}
    assert prepared_subjects == {"SC400", "SC401", "SC402", "SC403"}
    folds = json.loads((out / "run" / "folds.json").read_text())["folds"]
    every_role = {s for f in folds for role in ("train", "validation", "test") for s in f[role]}
    assert "SC404" not in every_role
    assert sorted(p.name for p in (out / "heldout").iterdir())[0].startswith("SC404")

    assert (out / "run" / "report.md").is_file() and (out / "run" / "metrics.json").is_file()
    staged = out / "staged"
    for suffix in (".hypnogram.csv", ".hypnogram.png", ".hypnodensity.png", ".report.html", ".sleep_stats.json"):
        assert (staged / f"SC4041E0-PSG{suffix}").is_file(), suffix
    stats = json.loads((staged / "SC4041E0-PSG.sleep_stats.json").read_text())
    assert stats["expert"]["agreement"] is not None  # the synthetic hypnogram was found and compared
    assert str(staged / "SC4041E0-PSG.report.html") in stdout
    assert str(out / "run" / "report.md") in stdout
    assert "held-out night SC4041E0-PSG: accuracy" in stdout

    # a rerun reuses everything (prepared store, finished folds) and stages again
    assert main(args) == 0
    assert "demo finished" in capsys.readouterr().out


def test_demo_refuses_fewer_subjects_than_folds(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "d"), "--n-subjects", "2", "--folds", "3"]) == 2
    assert "at least as many --n-subjects as folds" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--epochs", "0"], "--epochs must be a whole number of at least 1, not 0"),
    (["--seed", "-1"], "--seed must be non-negative, got -1"),
    (["--jobs", "0"], "--jobs must be a whole number of at least 1, not 0"),
    (["--hours", "nan"], "--hours must be a finite number of hours, not nan"),
    (["--n-subjects", "100"], "--n-subjects must be at most 99"),
])
def test_every_argument_is_checked_before_any_file_is_written(tmp_path, capsys, monkeypatch, argv, message):
    """Before: `demo --epochs 0` synthesised and prepared 7 subjects (12 s, 118 MB) before refusing --epochs,
    and left that --out behind."""
    from isatsleepnet.data import synthetic

    def no_synthesis(*args, **kwargs):
        raise AssertionError("synthesised before the arguments were checked")

    monkeypatch.setattr(synthetic, "synthesize", no_synthesis)
    out = tmp_path / "d"
    assert main(["demo", "--out", str(out), *argv]) == 2
    err = capsys.readouterr().err.splitlines()[-1]
    assert err.startswith("isatsleepnet demo: error: ") and message in err
    assert not out.exists()


def test_the_api_names_its_own_keywords(tmp_path):
    from isatsleepnet.api.demo import run_demo
    from isatsleepnet.errors import SettingError

    with pytest.raises(SettingError, match="^epochs= must be a whole number of at least 1"):
        run_demo(tmp_path / "d", epochs=0)
    assert not (tmp_path / "d").exists()
