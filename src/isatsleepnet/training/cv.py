"""Subject-wise cross-validation: folds → train each → predict its test subjects → report.

Everything lands in one run folder and every step is resumable: a fold whose
model file exists is not trained again, a fold killed mid-training continues
from its last checkpoint, saved predictions are not recomputed.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from isatsleepnet.atomic import atomic_write_text
from isatsleepnet.data.store import PreparedDataset
from isatsleepnet.errors import IsatSleepNetError
from isatsleepnet.evaluation.evaluate import predict_recordings
from isatsleepnet.evaluation.predictions import load_all
from isatsleepnet.evaluation.report import write_report
from isatsleepnet.training.config import TrainConfig
from isatsleepnet.training.data import recordings_of
from isatsleepnet.training.fit import MODEL_FILE, train_split
from isatsleepnet.training.folds import Fold, load_folds, make_folds, save_folds

CONFIG_FILE = "config.json"
FOLDS_FILE = "folds.json"


def fold_dir(run: Path, index: int) -> Path:
    return run / f"fold_{index:02d}"


def prepare_run(
    data: PreparedDataset,
    run: Path,
    *,
    protocol: str,
    config: TrainConfig,
    n_folds: int | None = None,
    folds_file: Path | None = None,
    resume: bool = False,
) -> list[Fold]:
    """Create the run folder (config.json, folds.json), or reopen one made with the same settings.

    Reopening is what ``--resume`` and ``--fold i`` on several machines rely on:
    the folds are read back, never drawn again.
    """
    subjects = data.subjects()
    saved_config = run / CONFIG_FILE
    if saved_config.is_file():
        previous = json.loads(saved_config.read_text())
        current = {"protocol": protocol, "train": asdict(config)}
        changed = sorted(k for k in previous["train"] if previous["train"].get(k) != current["train"].get(k))
        if previous.get("protocol") != protocol:
            changed.insert(0, "protocol")
        if changed:
            raise IsatSleepNetError(
                f"{run} holds a run with other settings ({', '.join(changed)}); use the same flags or another --out"
            )
        return load_folds(run / FOLDS_FILE, subjects)
    if resume:
        raise IsatSleepNetError(f"{run}: nothing to resume (no {CONFIG_FILE})")
    run.mkdir(parents=True, exist_ok=True)
    if folds_file is not None:
        folds = load_folds(folds_file, subjects)
    else:
        folds = make_folds(subjects, protocol, n_folds=n_folds, validation_fraction=config.validation_fraction,
                           seed=config.seed)
    save_folds(run / FOLDS_FILE, folds, protocol=protocol, seed=config.seed)
    payload = {"protocol": protocol, "data": str(data.root), "n_folds": len(folds), "train": asdict(config)}
    atomic_write_text(saved_config, json.dumps(payload, indent=2) + "\n")
    return folds


def run_fold(data: PreparedDataset, run: Path, fold: Fold, config: TrainConfig, *, progress: bool = True) -> Path:
    """Train fold ``fold`` (if needed) and predict its test subjects; returns the fold folder."""
    out = fold_dir(run, fold.index)
    model_path = train_split(data, fold, out, config, progress=progress,
                             description={"protocol": json.loads((run / CONFIG_FILE).read_text())["protocol"]})
    predict_recordings(model_path, recordings_of(data, fold.test), out / "predictions", progress=progress)
    atomic_write_text(out / "DONE", "predictions of the test subjects are complete\n")
    return out


def report_run(run: Path, folds: list[Fold], *, protocol: str) -> dict[str, Any]:
    """Metrics and report over the folds whose predictions are complete."""
    done = {f.index: load_all(fold_dir(run, f.index) / "predictions") for f in folds
            if (fold_dir(run, f.index) / "DONE").is_file()}
    if not done:
        raise IsatSleepNetError(f"{run}: no fold has finished yet")
    missing = [f.index for f in folds if f.index not in done]
    notes = [f"folds not yet run: {missing} (this report covers {len(done)} of {len(folds)})"] if missing else []
    curves = {i: fold_dir(run, i) / "logs" / "metrics.csv" for i in done}
    return write_report(run, done, {f.index: list(f.test) for f in folds}, title=f"ISATSleepNet, {protocol}",
                        protocol=protocol, notes=notes, curves=curves)


def cross_validate(
    data_root: Path,
    run: Path,
    *,
    protocol: str,
    config: TrainConfig,
    n_folds: int | None = None,
    folds_file: Path | None = None,
    only_fold: int | None = None,
    resume: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    data = PreparedDataset(data_root)
    config.validate()
    folds = prepare_run(data, run, protocol=protocol, config=config, n_folds=n_folds, folds_file=folds_file, resume=resume)
    chosen = folds
    if only_fold is not None:
        chosen = [f for f in folds if f.index == only_fold]
        if not chosen:
            raise IsatSleepNetError(f"--fold {only_fold}: the run has folds 0..{len(folds) - 1}")
    for fold in chosen:
        if (fold_dir(run, fold.index) / "DONE").is_file():
            continue
        if progress:
            print(f"fold {fold.index + 1}/{len(folds)}: train {len(fold.train)} subjects, "
                  f"validate {len(fold.validation)}, test {len(fold.test)}", flush=True)
        run_fold(data, run, fold, config, progress=progress)
    return report_run(run, folds, protocol=protocol)
