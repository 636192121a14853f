"""``isatsleepnet compare``: runs side by side, and paired statistics against the first run.

The table has the paper's columns (Acc, κ, MF1, MGm, per-class F1), per run the
pooled value over every test epoch and, for runs of several folds, the mean ± std
over folds (std with ``ddof=0``, as ``report.md``). Below it, for cv runs, the
paired differences of every run against the first (the reference): over folds
(mean ± std, two-sided Wilcoxon signed-rank p) and over test subjects (a paired
bootstrap of the pooled difference); see :mod:`isatsleepnet.evaluation.paired`.

What is refused, and what is left out
-------------------------------------
A cv run is a run folder with a folds.json. Cv runs are refused (one line naming
the run and what differs) when they differ from the first cv run in

* their data: the prepared dataset's identity that ``config.json`` records
  (``data_identity``: a checksum of its manifest and settings, so data prepared again
  into the same path count as other data, a moved copy as the same), else (older runs)
  the path it names, and the subjects of ``folds.json``; the paired section adds the
  test recordings of each fold (``metrics.json``) and, from the saved predictions,
  each tested epoch's onset and expert stage;
* their folds: the number of folds and the test subjects of each.

The paired section is left out, with a note saying why, when a run is not a cv run
(an ``evaluate`` folder: no folds), when the runs have not finished the same folds,
or (the bootstrap only) when a fold's saved predictions are missing.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from isatsleepnet import STAGES
from isatsleepnet.augment.config import describe
from isatsleepnet.checks import whole_number
from isatsleepnet.errors import IsatSleepNetError
from isatsleepnet.evaluation import paired
from isatsleepnet.evaluation.metrics import confusion_matrix_of
from isatsleepnet.evaluation.predictions import RecordingPrediction
from isatsleepnet.training.folds import Fold, load_folds

METRICS_FILE, CONFIG_FILE, FOLDS_FILE = "metrics.json", "config.json", "folds.json"


@dataclass(frozen=True)
class Run:
    """A run folder as ``compare`` reads it; ``folds`` is None for a run that is not a cv run."""

    path: Path
    label: str
    config: dict[str, Any] | None  # None: an `evaluate` folder of a model that records no settings
    metrics: dict[str, Any]
    folds: list[Fold] | None


def _setting(config: dict) -> str:
    """What else distinguishes a run: its architecture (when not ISATSleepNet) and model overrides (ablations,
    sizes)."""
    from isatsleepnet.model.architectures import DEFAULT_ARCHITECTURE, get_architecture

    overrides = {k: v for k, v in config.get("train", {}).get("model", {}).items() if k != "context"}
    arch = get_architecture(overrides.pop("architecture", DEFAULT_ARCHITECTURE))
    parts = [arch.title] if arch.name != DEFAULT_ARCHITECTURE else []
    for size, options in arch.sizes.items():  # a named size reads better than its seven widths
        if options and all(overrides.get(k) == v for k, v in options.items()):
            parts.append(f"size={size}")
            overrides = {k: v for k, v in overrides.items() if k not in options}
    parts += [f"{key}={value}" for key, value in sorted(overrides.items())]
    return ", ".join(parts) or "paper defaults"


def _context(config: dict) -> int:
    """The run's context window in epochs (0: the paper's per-epoch network)."""
    return int(config.get("train", {}).get("model", {}).get("context", 0) or 0)


def _labels(paths: list[Path]) -> list[str]:
    """Names for the runs: the folder names, with as many parent folders as make them distinct."""
    parts = [Path(os.path.abspath(p)).parts for p in paths]
    for depth in range(1, max(len(p) for p in parts) + 1):
        labels = ["/".join(p[-depth:]) for p in parts]
        if len(set(labels)) == len(labels):
            return labels
    return [str(p) for p in paths]  # the same folder given twice


def read_runs(paths: list[Path]) -> list[Run]:
    """Read each run folder's metrics.json, config.json and (for a cv run) folds.json.

    Examples
    --------
    >>> runs = read_runs([Path("runs/edf20"), Path("runs/edf20-gan")])  # doctest: +SKIP
    >>> [run.label for run in runs], runs[0].folds is not None  # doctest: +SKIP
    (['edf20', 'edf20-gan'], True)
    """
    runs = []
    for path, label in zip(paths, _labels(paths)):
        if not (path / METRICS_FILE).is_file():
            raise IsatSleepNetError(f"{path}: no metrics.json (run `isatsleepnet cv` or `evaluate` first)")
        metrics = json.loads((path / METRICS_FILE).read_text())
        if (path / CONFIG_FILE).is_file():
            config = json.loads((path / CONFIG_FILE).read_text())
        else:  # an `evaluate` folder: the evaluated model's settings as it recorded them (None: it recorded none)
            recorded = metrics.get("model")
            config = recorded if isinstance(recorded, dict) and isinstance(recorded.get("train"), dict) else None
        folds = load_folds(path / FOLDS_FILE) if (path / FOLDS_FILE).is_file() else None
        runs.append(Run(path, label, config, metrics, folds))
    return runs


def _same_place(a: str, b: str) -> bool:
    if os.path.normpath(a) == os.path.normpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _check_data(run: Run, reference: Run) -> None:
    data, reference_data = (run.config or {}).get("data"), (reference.config or {}).get("data")
    identity, reference_identity = (run.config or {}).get("data_identity"), (reference.config or {}).get("data_identity")
    if identity and reference_identity and identity != reference_identity:  # prepared again (other settings, labels)
        raise IsatSleepNetError(f"{run.path}: other data than {reference.label}: {data} was prepared otherwise than "
                                f"{reference_data} was for {reference.label} (data identity {str(identity)[:12]} vs "
                                f"{str(reference_identity)[:12]}); compare needs cv runs of the same preparation")
    if identity and identity == reference_identity:
        pass  # the same preparation, wherever it lies now
    elif data is not None and reference_data is not None and not _same_place(data, reference_data):
        raise IsatSleepNetError(f"{run.path}: other data than {reference.label}: trained and tested on {data}, "
                                f"{reference.label} on {reference_data}; compare needs cv runs of the same prepared dataset")
    subjects, reference_subjects = (
        {s for f in r.folds or [] for s in (*f.train, *f.validation, *f.test)} for r in (run, reference))
    if subjects != reference_subjects:
        extra, missing = sorted(subjects - reference_subjects), sorted(reference_subjects - subjects)
        raise IsatSleepNetError(f"{run.path}: other data than {reference.label}: subjects only here {extra[:5]}, "
                                f"only in {reference.label} {missing[:5]}")


def _check_folds(run: Run, reference: Run) -> None:
    hint = f"make it with cv and {{folds_file}} {reference.path / FOLDS_FILE}"  # a template: it ends up in errors
    folds, reference_folds = run.folds or [], reference.folds or []
    if len(folds) != len(reference_folds):
        raise IsatSleepNetError(f"{run.path}: other folds than {reference.label}: {len(folds)} folds, "
                                f"{reference.label} has {len(reference_folds)}; {hint}")
    for fold, other in zip(sorted(folds, key=lambda f: f.index), sorted(reference_folds, key=lambda f: f.index)):
        if (fold.index, sorted(fold.test)) != (other.index, sorted(other.test)):
            raise IsatSleepNetError(f"{run.path}: other folds than {reference.label}: fold {fold.index} tests "
                                    f"{', '.join(sorted(fold.test))} here, {', '.join(sorted(other.test))} "
                                    f"in {reference.label}; {hint}")


def check_comparable(runs: list[Run]) -> None:
    """Refuse cv runs whose data or folds differ from those of the first cv run (see the module's docstring).

    Examples
    --------
    >>> check_comparable(read_runs([Path("runs/edf20"), Path("runs/edf78")]))  # doctest: +SKIP
    Traceback (most recent call last):
    isatsleepnet.errors.IsatSleepNetError: runs/edf78: other data than edf20: ...
    """
    cv_runs = [run for run in runs if run.folds is not None]
    for run in cv_runs[1:]:
        _check_data(run, cv_runs[0])
        _check_folds(run, cv_runs[0])


def _run_summary(run: Run) -> dict[str, Any]:
    """The run's row of the table, as numbers: pooled metrics and, over folds, their mean and std (ddof=0)."""
    per_fold = [paired.metric_values(m) for m in run.metrics.get("folds", [])]
    evaluated = run.metrics.get("n_folds_evaluated", len(per_fold) or 1)
    summary = {
        "run": run.label, "path": str(run.path), "cv": run.folds is not None,
        **({"augment": describe(run.config.get("augment"), run.config.get("gan")), "context": _context(run.config),
            "setting": _setting(run.config)} if run.config is not None else  # never a default it cannot know
           {"augment": "unknown", "context": "unknown", "setting": "unknown"}),
        "folds_evaluated": evaluated,
        "folds": len(run.folds) if run.folds is not None else evaluated,
        "test_epochs": run.metrics["pooled"]["n_epochs"], "pooled": paired.metric_values(run.metrics["pooled"]),
        "fold_mean": None, "fold_std": None,
    }
    if len(per_fold) > 1:
        values = {key: np.array([f[key] for f in per_fold]) for key in paired.METRIC_KEYS}
        summary["fold_mean"] = {key: float(v.mean()) for key, v in values.items()}
        summary["fold_std"] = {key: float(v.std(ddof=0)) for key, v in values.items()}
    return summary


def _folds_by_index(run: Run) -> dict[int, dict[str, Any]]:
    return {int(m.get("fold", i)): m for i, m in enumerate(run.metrics.get("folds", []))}


def _why_not_paired(runs: list[Run]) -> str | None:
    """Why the paired section cannot be computed from what the runs hold (None: it can)."""
    if len(runs) < 2:
        return None
    for run in runs:
        if run.folds is None:
            return (f"paired statistics left out: {run.label} is not a cv run (no folds.json); "
                    "they compare cv runs made with the same folds on the same data")
    reference = sorted(_folds_by_index(runs[0]))
    for run in runs[1:]:
        if sorted(_folds_by_index(run)) != reference:
            return (f"paired statistics left out: {run.label} has finished folds {sorted(_folds_by_index(run))}, "
                    f"{runs[0].label} {reference}; finish both (resume their cross-validation)")
    return None


def _check_test_recordings(run: Run, reference: Run) -> None:
    ours, theirs = _folds_by_index(run), _folds_by_index(reference)
    for index, fold in ours.items():
        a, b = sorted(fold.get("test_recordings", [])), sorted(theirs[index].get("test_recordings", []))
        if a != b:
            raise IsatSleepNetError(f"{run.path}: other data than {reference.label}: fold {index} tested "
                                    f"recordings {', '.join(a)} here, {', '.join(b)} in {reference.label}")


def _load_predictions(run: Run) -> dict[str, RecordingPrediction] | str:
    """Each test recording's saved prediction (every finished fold's predictions/), or why they are missing."""
    from isatsleepnet.training.cv import fold_dir

    predictions: dict[str, RecordingPrediction] = {}
    for index, fold in _folds_by_index(run).items():
        folder = fold_dir(run.path, index) / "predictions"
        for name in fold.get("test_recordings") or sorted(p.stem for p in folder.glob("*.npz")):
            if not (folder / f"{name}.npz").is_file():
                return f"{folder / name}.npz is missing"
            predictions[name] = RecordingPrediction.load(folder / f"{name}.npz")
    return predictions or f"{run.label} holds no saved predictions"


def _epoch_difference(p: RecordingPrediction, q: RecordingPrediction) -> str | None:
    """How two predictions of one recording differ in what was tested (None: the same epochs)."""
    if p.subject != q.subject:
        return f"subject {p.subject} here, {q.subject} there"
    if len(p.y_true) != len(q.y_true):
        return f"{len(p.y_true)} epochs here, {len(q.y_true)} there"
    if not np.array_equal(p.y_true, q.y_true):
        return f"other expert stages in {int(np.sum(p.y_true != q.y_true))} epochs"
    if not np.allclose(p.onsets, q.onsets):
        return "other epoch onsets"
    return None


def _check_same_epochs(run: Run, ours: dict[str, RecordingPrediction], reference: Run,
                       theirs: dict[str, RecordingPrediction]) -> None:
    """Refuse unless both runs predicted the same epochs (onsets, expert stages) of the same recordings."""
    if sorted(ours) != sorted(theirs):
        raise IsatSleepNetError(f"{run.path}: other test recordings than {reference.label}")
    for name, p in ours.items():
        difference = _epoch_difference(p, theirs[name])
        if difference:
            raise IsatSleepNetError(f"{run.path}: other epochs of {name} than {reference.label} ({difference}); "
                                    "compare needs the same test epochs")


def _subject_confusions(run: Run, predictions: dict[str, RecordingPrediction],
                        subjects: list[str]) -> np.ndarray:
    """Each test subject's confusion matrix (all its nights), checked against the run's pooled metrics."""
    cms = {s: np.zeros((len(STAGES),) * 2, dtype=np.int64) for s in subjects}
    for p in predictions.values():
        cms[p.subject] += confusion_matrix_of(p.y_true, p.y_pred)
    stacked = np.stack([cms[s] for s in subjects])
    recorded = run.metrics["pooled"].get("confusion_matrix")
    if recorded is not None and not np.array_equal(stacked.sum(axis=0), np.asarray(recorded)):
        raise IsatSleepNetError(f"{run.path}: metrics.json does not match the saved predictions; "
                                "write it again (cv with {resume})")
    return stacked


def _run_differences(run: Run, reference: Run, boot: dict[str, paired.BootstrapResult] | None) -> dict[str, Any]:
    """One run's paired numbers against the reference, per metric (JSON-ready)."""
    indices = sorted(_folds_by_index(reference))
    per_fold = paired.fold_differences([_folds_by_index(reference)[i] for i in indices],
                                       [_folds_by_index(run)[i] for i in indices])
    pooled, pooled_reference = (paired.metric_values(r.metrics["pooled"]) for r in (run, reference))
    metrics = {}
    for key in paired.METRIC_KEYS:
        d, b = per_fold[key], (boot or {}).get(key)
        metrics[key] = {
            "pooled_difference": pooled[key] - pooled_reference[key], "fold_differences": list(d.differences),
            "fold_difference_mean": d.mean, "fold_difference_std": d.std,
            "wilcoxon_p": d.wilcoxon.p if len(indices) > 1 else None,
            "wilcoxon_method": d.wilcoxon.method if len(indices) > 1 else "none (one fold)",
            "wilcoxon_folds_differing": d.wilcoxon.n_nonzero,
            "bootstrap_ci95": [b.low, b.high] if b else None, "bootstrap_p_not_higher": b.p_not_higher if b else None,
        }
    return {"run": run.label, "metrics": metrics}


def _bootstraps(runs: list[Run], loaded: list[dict[str, RecordingPrediction]], bootstrap: int,
                seed: int) -> tuple[list[dict[str, paired.BootstrapResult]], int]:
    """Each later run's paired bootstrap against the first, and the number of test subjects resampled."""
    for run, predictions in zip(runs[1:], loaded[1:]):
        _check_same_epochs(run, predictions, runs[0], loaded[0])
    subjects = sorted({p.subject for p in loaded[0].values()})
    cms = [_subject_confusions(run, predictions, subjects) for run, predictions in zip(runs, loaded)]
    if bootstrap == 0:
        return [], len(subjects)
    counts = paired.subject_resamples(len(subjects), bootstrap, seed)
    return [paired.paired_bootstrap(cms[0], cm, counts) for cm in cms[1:]], len(subjects)


def _paired_section(runs: list[Run], bootstrap: int, seed: int, notes: list[str]) -> dict[str, Any]:
    """Paired differences of every run against the first: over folds and, by bootstrap, over test subjects."""
    reference = runs[0]
    for run in runs[1:]:
        _check_test_recordings(run, reference)
    loaded = [_load_predictions(run) for run in runs]
    missing = next((why for why in loaded if isinstance(why, str)), None)
    boots: list[dict[str, paired.BootstrapResult]] = []
    if missing is None:
        boots, n_subjects = _bootstraps(runs, [p for p in loaded if not isinstance(p, str)], bootstrap, seed)
    elif bootstrap > 0:
        notes.append(f"bootstrap left out: it needs each fold's saved predictions (fold_XX/predictions/*.npz); {missing}")
    k = len(_folds_by_index(reference))
    return {
        "reference": reference.label, "n_folds": k, "smallest_wilcoxon_p": paired.smallest_wilcoxon_p(k),
        "bootstrap": ({"resamples": bootstrap, "seed": seed, "n_subjects": n_subjects, "unit": "test subject"}
                      if boots else None),
        "runs": [_run_differences(run, reference, boots[i] if boots else None) for i, run in enumerate(runs[1:])],
    }


def compare_runs(paths: list[Path], *, bootstrap: int = 2000, seed: int = 0) -> dict[str, Any]:
    """Every number ``isatsleepnet compare`` shows, JSON-ready: the runs' metrics and the paired section.

    Metrics are fractions (κ as is), not percent. ``bootstrap``: resamples of the test
    subjects (0: none); ``seed`` makes them reproducible. ``paired`` is None, and ``notes``
    says why, when the runs are not all cv runs with the same finished folds.

    Examples
    --------
    >>> result = compare_runs([Path("runs/edf20"), Path("runs/edf20-gan")], seed=1)  # doctest: +SKIP
    >>> result["paired"]["runs"][0]["metrics"]["macro_f1"]["bootstrap_ci95"]  # doctest: +SKIP
    [0.004, 0.021]
    """
    if bootstrap < 0:
        raise IsatSleepNetError(f"{{bootstrap}} {bootstrap}: give a number of resamples >= 0 (0: no bootstrap)")
    seed = whole_number("seed", seed, least=0)  # numpy's generators take no other, bootstrap or not
    runs = read_runs(paths)
    check_comparable(runs)
    notes: list[str] = []
    why_not = _why_not_paired(runs)
    if why_not:
        notes.append(why_not)
    section = _paired_section(runs, bootstrap, seed, notes) if len(runs) > 1 and not why_not else None
    return {"reference": runs[0].label, "runs": [_run_summary(run) for run in runs], "paired": section,
            "notes": notes}


def comparison_table(runs: list[Path]) -> str:
    """The runs side by side (markdown), after the same refusals as :func:`compare_runs`; no paired section.

    Examples
    --------
    >>> print(comparison_table([Path("runs/edf20"), Path("runs/edf20-no-asr")]))  # doctest: +SKIP
    """
    found = read_runs(runs)
    check_comparable(found)
    return main_table([_run_summary(run) for run in found])


def _row(summary: dict[str, Any], values: str, cells: list[str]) -> str:
    return "|" + "|".join(f" {cell} " if cell else " " for cell in (summary["run"], *cells, values)) + "|"


def main_table(summaries: list[dict[str, Any]]) -> str:
    """The runs in the paper's columns (markdown): a pooled row, and a mean ± std over folds row when folds > 1.

    ``summaries``: the ``runs`` part of :func:`compare_runs`'s result.

    Examples
    --------
    >>> print(main_table(compare_runs([Path("runs/edf20")])["runs"]))  # doctest: +SKIP
    """
    keys, fmt = paired.METRIC_KEYS, paired.format_value
    lines = ["| run | augment | context | setting | folds | test epochs | value | "
             + " | ".join(label for _, label, _ in paired.METRICS) + " |", "|---" * (7 + len(keys)) + "|"]
    for s in summaries:
        folds = f"{s['folds_evaluated']}" + (f"/{s['folds']}" if s["folds_evaluated"] != s["folds"] else "")
        lines.append(_row(s, " | ".join(fmt(k, s["pooled"][k]) for k in keys),
                          [s["augment"], str(s["context"]), s["setting"], folds, str(s["test_epochs"]), "pooled"]))
        if s["fold_mean"] is not None:
            spread = " | ".join(f"{fmt(k, s['fold_mean'][k])} ± {fmt(k, s['fold_std'][k])}" for k in keys)
            lines.append(_row(s, spread, ["", "", "", "", "", "mean ± std"]))
    return "\n".join(lines) + "\n"


def comparison_markdown(result: dict[str, Any]) -> str:
    """What ``isatsleepnet compare`` prints and ``--out`` writes, from :func:`compare_runs`'s result.

    Examples
    --------
    >>> print(comparison_markdown(compare_runs([Path("runs/edf20"), Path("runs/gan")])))  # doctest: +SKIP
    """
    parts = [main_table(result["runs"])]
    if result["paired"] is not None:
        parts += [f"## Paired differences against {result['reference']}\n", paired.paired_table(result["paired"]),
                  paired.how_to_read(result["paired"])]
    parts += [f"Note: {note}\n" for note in result["notes"]]
    return "\n".join(parts)
