import json

import numpy as np
import pytest

from isatsleepnet.cli.main import main
from isatsleepnet.errors import IsatSleepNetError
from isatsleepnet.evaluation.metrics import compute_metrics
from isatsleepnet.evaluation.predictions import RecordingPrediction
from isatsleepnet.evaluation.report import run_metrics
from isatsleepnet.training.compare import compare_runs, comparison_markdown, comparison_table
from isatsleepnet.training.folds import Fold, save_folds


def _run(folder, accuracy_noise, model=None, augment=None):
    """A run folder as `evaluate` makes it, reduced to what compare reads: pooled metrics, no folds.json."""
    folder.mkdir()
    rng = np.random.default_rng(0)
    y = rng.integers(0, 5, 200)
    pred = np.where(rng.random(200) < accuracy_noise, y, (y + 1) % 5)
    (folder / "metrics.json").write_text(json.dumps({"pooled": compute_metrics(y, pred), "n_folds_evaluated": 3}))
    config = {"protocol": "kfold", "train": {"model": model or {}}}
    if augment:
        config["augment"] = augment
    (folder / "config.json").write_text(json.dumps(config))
    return folder


# a cv run: 4 folds of 3 subjects, one night each, 60 scored epochs per night
SUBJECTS = [f"S{i:02d}" for i in range(12)]
FOLDS = [Fold(i, tuple(s for s in SUBJECTS if s not in SUBJECTS[3 * i:3 * i + 3])[:-1],
              (tuple(s for s in SUBJECTS if s not in SUBJECTS[3 * i:3 * i + 3])[-1],), tuple(SUBJECTS[3 * i:3 * i + 3]))
         for i in range(4)]
TRUTH = {s: np.random.default_rng(k).integers(0, 5, 60) for k, s in enumerate(SUBJECTS)}


def _errors(wrong_per_subject):
    """Predictions with a given number of wrong epochs per subject (the first ones, staged one stage off)."""
    return {s: np.where(np.arange(60) < wrong_per_subject[s], (TRUTH[s] + 1) % 5, TRUTH[s]) for s in SUBJECTS}


def _cv_run(folder, predicted, *, folds=FOLDS, data="prepared/edf", truth=TRUTH, model=None):
    """A run folder laid out as `isatsleepnet cv` writes it (metrics.json from the report code itself)."""
    folder.mkdir()
    save_folds(folder / "folds.json", folds, protocol="kfold", seed=0)
    config = {"protocol": "kfold", "data": data, "n_folds": len(folds), "train": {"model": model or {}},
              "augment": {"mode": "none"}, "gan": None}
    (folder / "config.json").write_text(json.dumps(config))
    done = {}
    for fold in folds:
        out = folder / f"fold_{fold.index:02d}" / "predictions"
        out.mkdir(parents=True)
        done[fold.index] = []
        for subject in fold.test:
            y, pred = truth[subject], predicted[subject]
            p = RecordingPrediction(f"{subject}1E0", subject, y, np.eye(5, dtype=np.float32)[pred],
                                    30.0 * np.arange(len(y)))
            p.save(out)
            done[fold.index].append(p)
        (folder / f"fold_{fold.index:02d}" / "DONE").write_text("")
    (folder / "metrics.json").write_text(json.dumps(run_metrics(done, {f.index: list(f.test) for f in folds})))
    return folder


@pytest.fixture
def base_and_better(tmp_path):
    """The reference wrong on 12-16 epochs per subject; the other run on 6, so better in every fold."""
    base = _cv_run(tmp_path / "base", _errors({s: 12 + k % 5 for k, s in enumerate(SUBJECTS)}))
    better = _cv_run(tmp_path / "better", _errors({s: 6 for s in SUBJECTS}), model={"use_asr": False})
    return base, better


def test_table_lists_each_run_and_what_sets_it_apart(tmp_path):
    a = _run(tmp_path / "base", 0.9)
    b = _run(tmp_path / "no-asr", 0.7, model={"use_asr": False})
    c = _run(tmp_path / "gan", 0.8, augment={"mode": "gan", "stage": "N1", "target_ratio": 1.15, "stage_cap": 0.8})
    json_path = c / "config.json"
    json_path.write_text(json.dumps({**json.loads(json_path.read_text()), "gan": {"epochs": 100, "stage": "N1"}}))
    d = _run(tmp_path / "old", 0.8, augment="transforms")  # a bare mode string is read too
    e = _run(tmp_path / "ctx", 0.85, model={"context": 21, "use_asr": False})
    table = comparison_table([a, b, c, d, e]).splitlines()
    assert table[0].startswith("| run | augment | context | setting | folds | test epochs | value | Acc | κ |")
    assert len(table) == 7  # no per-fold metrics: one pooled row per run
    assert "| base | none | 0 | paper defaults | 3 | 200 | pooled |" in table[2]
    assert "| no-asr | none | 0 | use_asr=False |" in table[3]
    assert "| gan | gan (N1, 100 GAN epochs) | 0 | paper defaults |" in table[4]
    assert "| old | transforms | 0 | paper defaults |" in table[5]
    assert "| ctx | none | 21 | use_asr=False |" in table[6]
    acc = [float(row.split("|")[8]) for row in table[2:5]]
    assert acc[0] > acc[2] > acc[1]


def test_cv_runs_show_pooled_and_mean_std_over_folds(base_and_better):
    base, _ = base_and_better
    table = comparison_table([base]).splitlines()
    pooled, spread = table[2].split("|"), table[3].split("|")
    metrics = json.loads((base / "metrics.json").read_text())
    assert pooled[7].strip() == "pooled" and float(pooled[8]) == pytest.approx(100 * metrics["pooled"]["accuracy"], abs=0.05)
    assert spread[1].strip() == "base" and spread[7].strip() == "mean ± std"
    mean, std = (float(x) for x in spread[8].split("±"))
    accuracies = [f["accuracy"] for f in metrics["folds"]]
    assert mean == pytest.approx(100 * np.mean(accuracies), abs=0.05)
    assert std == pytest.approx(100 * np.std(accuracies), abs=0.05) and std > 0
    assert spread[9].count("±") == 1 and "." in spread[9].split("±")[0]  # κ as 0.xxx ± 0.xxx


def test_cli_writes_the_table_and_missing_runs_fail(tmp_path, capsys):
    a = _run(tmp_path / "base", 0.9)
    assert main(["compare", str(a), "--out", str(tmp_path / "t.md")]) == 0
    assert (tmp_path / "t.md").read_text() == capsys.readouterr().out.split("written to")[0]
    with pytest.raises(IsatSleepNetError, match="no metrics.json"):
        comparison_table([tmp_path / "nothing"])


def test_a_named_model_size_is_shown_by_name(tmp_path):
    from isatsleepnet.model import MODEL_SIZES

    run = _run(tmp_path / "small", 0.8, model={**MODEL_SIZES["small"], "use_asr": False})
    assert "| small | none | 0 | size=small, use_asr=False |" in comparison_table([run])


def test_runs_with_other_folds_are_refused(tmp_path, base_and_better):
    base, _ = base_and_better
    turned = SUBJECTS[1:] + SUBJECTS[:1]  # valid folds (each subject tested once), other test sets
    moved = [Fold(i, tuple(s for s in turned if s not in turned[3 * i:3 * i + 3])[:-1],
                  (tuple(s for s in turned if s not in turned[3 * i:3 * i + 3])[-1],), tuple(turned[3 * i:3 * i + 3]))
             for i in range(4)]
    other = _cv_run(tmp_path / "other-folds", _errors({s: 6 for s in SUBJECTS}), folds=moved)
    with pytest.raises(IsatSleepNetError, match=r"other-folds: other folds than base: fold 0 tests .* folds_file="):
        compare_runs([base, other])
    with pytest.raises(IsatSleepNetError, match="other folds"):
        comparison_table([base, other])  # the plain table too
    fewer = _cv_run(tmp_path / "fewer", _errors({s: 6 for s in SUBJECTS}), folds=FOLDS[:3])
    with pytest.raises(IsatSleepNetError, match="fewer: other folds than base: 3 folds, base has 4"):
        compare_runs([base, fewer])


def test_runs_on_other_data_are_refused(tmp_path, base_and_better):
    base, _ = base_and_better
    elsewhere = _cv_run(tmp_path / "elsewhere", _errors({s: 6 for s in SUBJECTS}), data="prepared/other")
    with pytest.raises(IsatSleepNetError, match=r"elsewhere: other data than base: .*prepared/other"):
        compare_runs([base, elsewhere])
    spelled = _cv_run(tmp_path / "spelled", _errors({s: 6 for s in SUBJECTS}), data="prepared/./edf/")
    compare_runs([base, spelled], bootstrap=0)  # the same path written otherwise is the same data
    renamed = {s.replace("S1", "T1"): s for s in SUBJECTS}
    folds = [Fold(f.index, *({k for k, v in renamed.items() if v in role} for role in (f.train, f.validation, f.test)))
             for f in FOLDS]
    folds = [Fold(f.index, tuple(sorted(f.train)), tuple(sorted(f.validation)), tuple(sorted(f.test))) for f in folds]
    others = _cv_run(tmp_path / "others", {k: _errors({s: 6 for s in SUBJECTS})[v] for k, v in renamed.items()},
                     folds=folds, truth={k: TRUTH[v] for k, v in renamed.items()})
    with pytest.raises(IsatSleepNetError, match=r"others: other data than base: subjects only here \['T10'"):
        compare_runs([base, others])


def test_data_prepared_again_into_the_same_path_is_other_data_and_a_moved_copy_the_same(tmp_path):
    """Before: two cv runs of data prepared twice into one path (other band-pass) were compared, although both
    recorded different data identities."""
    def identified(name, identity, data="prepared/edf"):
        run = _cv_run(tmp_path / name, _errors({s: 6 for s in SUBJECTS}), data=data)
        config = json.loads((run / "config.json").read_text())
        (run / "config.json").write_text(json.dumps({**config, "data_identity": identity}))
        return run

    first, again = identified("first", "a406cc" * 6), identified("again", "0b189b" * 6)
    with pytest.raises(IsatSleepNetError, match=r"again: other data than first: prepared/edf was prepared otherwise "
                                                r"than prepared/edf was for first \(data identity 0b189b0b189b vs "
                                                r"a406cca406cc\); compare needs cv runs of the same preparation"):
        compare_runs([first, again], bootstrap=0)
    moved = identified("moved", "a406cc" * 6, data="/elsewhere/edf")
    compare_runs([first, moved], bootstrap=0)  # the same preparation, moved


def test_runs_that_predicted_other_epochs_are_refused(tmp_path, base_and_better):
    base, _ = base_and_better
    relabelled = {**TRUTH, "S04": (TRUTH["S04"] + 1) % 5}  # same recordings, other expert stages
    other = _cv_run(tmp_path / "relabelled", _errors({s: 6 for s in SUBJECTS}), truth=relabelled)
    refused = r"relabelled: other epochs of S041E0 than base \(other expert stages in \d+ epochs\)"
    with pytest.raises(IsatSleepNetError, match=refused):
        compare_runs([base, other])
    with pytest.raises(IsatSleepNetError, match="other epochs"):  # checked without the bootstrap too
        compare_runs([base, other], bootstrap=0)


def test_wilcoxon_over_four_folds_all_better_is_exact(base_and_better):
    result = compare_runs(list(base_and_better), bootstrap=0)
    section = result["paired"]
    assert section["n_folds"] == 4 and section["smallest_wilcoxon_p"] == 0.125
    acc = section["runs"][0]["metrics"]["accuracy"]
    assert all(d > 0 for d in acc["fold_differences"]) and acc["wilcoxon_p"] == pytest.approx(0.125)
    base, better = (json.loads((run / "metrics.json").read_text()) for run in base_and_better)
    expected = [b["accuracy"] - a["accuracy"] for a, b in zip(base["folds"], better["folds"])]
    assert acc["fold_differences"] == pytest.approx(expected)
    assert acc["fold_difference_mean"] == pytest.approx(np.mean(expected))
    assert acc["fold_difference_std"] == pytest.approx(np.std(expected))
    assert acc["pooled_difference"] == pytest.approx(better["pooled"]["accuracy"] - base["pooled"]["accuracy"])
    assert acc["bootstrap_ci95"] is None and section["bootstrap"] is None


def test_bootstrap_interval_holds_the_true_difference_and_follows_the_seed(tmp_path):
    rng = np.random.default_rng(7)  # each epoch wrong with probability 0.30 (reference) and 0.20 (run): Δ Acc = 0.10
    ref = {s: np.where(rng.random(60) < 0.3, (TRUTH[s] + 1) % 5, TRUTH[s]) for s in SUBJECTS}
    run = {s: np.where(rng.random(60) < 0.2, (TRUTH[s] + 1) % 5, TRUTH[s]) for s in SUBJECTS}
    paths = [_cv_run(tmp_path / "ref", ref), _cv_run(tmp_path / "run", run)]
    first, again = (compare_runs(paths, bootstrap=1000, seed=3) for _ in range(2))
    acc = first["paired"]["runs"][0]["metrics"]["accuracy"]
    low, high = acc["bootstrap_ci95"]
    assert low < 0.10 < high and low < acc["pooled_difference"] < high and high - low < 0.2
    assert again == first  # the same seed gives the same numbers
    other_seed = compare_runs(paths, bootstrap=1000, seed=4)["paired"]["runs"][0]["metrics"]["accuracy"]
    assert other_seed["bootstrap_ci95"] != acc["bootstrap_ci95"]
    assert first["paired"]["bootstrap"] == {"resamples": 1000, "seed": 3, "n_subjects": 12, "unit": "test subject"}
    assert 0 <= acc["bootstrap_p_not_higher"] < 0.05


def test_cli_prints_both_tables_and_writes_markdown_and_json(base_and_better, tmp_path, capsys):
    base, better = base_and_better
    md, js = tmp_path / "cmp.md", tmp_path / "cmp.json"
    assert main(["compare", str(base), str(better), "--out", str(md), "--json", str(js), "--bootstrap", "300",
                 "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert md.read_text() == out.split("written to")[0]
    assert "| base | none | 0 | paper defaults | 4 | 720 | pooled |" in out
    assert "| better | | | | | | mean ± std |" in out
    assert "## Paired differences against base" in out
    rows = [line for line in out.splitlines() if line.startswith("| better | ")]
    assert len(rows) == 2 + 9  # two rows in the table of runs, one per metric in the paired table
    acc = next(row for row in rows if row.startswith("| better | Acc |")).split("|")
    assert float(acc[3]) > 0 and acc[5].strip() == "0.125" and acc[6].strip().startswith("[+")
    assert "smallest possible p is 2/2^4 = 0.125" in out and "300 resamples (seed 1) of the 12 test subjects" in out
    result = json.loads(js.read_text())
    assert result == compare_runs([base, better], bootstrap=300, seed=1) | {"runs": result["runs"]}
    assert [r["run"] for r in result["runs"]] == ["base", "better"] and result["runs"][1]["setting"] == "use_asr=False"
    metrics = result["paired"]["runs"][0]["metrics"]
    assert set(metrics) == {"accuracy", "kappa", "macro_f1", "macro_gmean", "f1_W", "f1_N1", "f1_N2", "f1_N3", "f1_REM"}
    assert metrics["accuracy"]["wilcoxon_p"] == pytest.approx(0.125) and len(metrics["accuracy"]["bootstrap_ci95"]) == 2


def test_cli_without_bootstrap_and_with_a_bad_count(base_and_better, capsys):
    assert main(["compare", *map(str, base_and_better), "--bootstrap", "0"]) == 0
    out = capsys.readouterr().out
    assert "| better | Acc |" in out and "| n/a | n/a |" in out and "bootstrap: not computed" in out
    with pytest.raises(SystemExit):
        main(["compare", *map(str, base_and_better), "--bootstrap", "-1"])


def test_a_run_that_is_not_a_cv_run_gets_the_table_and_a_note(tmp_path, base_and_better):
    base, _ = base_and_better
    evaluated = _run(tmp_path / "evaluated", 0.9)
    result = compare_runs([base, evaluated])
    assert result["paired"] is None and "evaluated is not a cv run" in result["notes"][0]
    text = comparison_markdown(result)
    assert "Paired differences" not in text and "Note: paired statistics left out: evaluated" in text


def test_unfinished_folds_and_missing_predictions_are_said(base_and_better):
    base, better = base_and_better
    for path in (better / "fold_03" / "predictions").glob("*.npz"):
        path.unlink()
    result = compare_runs([base, better])
    assert result["paired"]["runs"][0]["metrics"]["accuracy"]["wilcoxon_p"] == pytest.approx(0.125)
    assert result["paired"]["bootstrap"] is None and "bootstrap left out" in result["notes"][0]
    metrics = json.loads((better / "metrics.json").read_text())
    metrics["folds"] = metrics["folds"][:3]
    (better / "metrics.json").write_text(json.dumps(metrics))
    result = compare_runs([base, better])
    assert result["paired"] is None and "better has finished folds [0, 1, 2], base [0, 1, 2, 3]" in result["notes"][0]


def test_metrics_that_do_not_match_the_predictions_are_refused(base_and_better):
    base, better = base_and_better
    metrics = json.loads((better / "metrics.json").read_text())
    metrics["pooled"]["confusion_matrix"][0][0] += 1
    (better / "metrics.json").write_text(json.dumps(metrics))
    with pytest.raises(IsatSleepNetError, match="better: metrics.json does not match the saved predictions"):
        compare_runs([base, better])


def test_runs_of_the_same_name_are_told_apart(tmp_path, base_and_better):
    base, _ = base_and_better
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    one = _cv_run(tmp_path / "a" / "run", _errors({s: 6 for s in SUBJECTS}))
    two = _cv_run(tmp_path / "b" / "run", _errors({s: 7 for s in SUBJECTS}))
    assert [r["run"] for r in compare_runs([one, two], bootstrap=0)["runs"]] == ["a/run", "b/run"]


def test_compare_runs_refuses_a_seed_numpy_cannot_take_even_without_a_bootstrap(tmp_path):
    from isatsleepnet.errors import SettingError
    from isatsleepnet.training.compare import compare_runs

    with pytest.raises(SettingError, match="seed= must be a whole number of at least 0, not -1"):
        compare_runs([tmp_path], bootstrap=0, seed=-1)
