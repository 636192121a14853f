"""Subject-wise cross-validation: folds → train each → predict its test subjects → report.

Everything lands in one run folder and every step is resumable: a fold whose
model file exists is not trained again, a fold killed mid-training continues
from its last checkpoint, saved predictions are not recomputed.

With augmentation (``--augment transforms|gan``) each fold first makes its
augmented training store from its own training subjects (and, for gan, trains
its Physio-GANs on them); see :mod:`isatsleepnet.training.augmentation`.
Validation and test always read the original store.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from isatsleepnet.atomic import atomic_write_text
from isatsleepnet.augment.balance import AUGMENT_JSON
from isatsleepnet.augment.config import AugmentConfig, describe
from isatsleepnet.data.store import PreparedDataset
from isatsleepnet.data.subjects import recordings_of
from isatsleepnet.engine import Engine
from isatsleepnet.errors import IsatSleepNetError
from isatsleepnet.evaluation.predictions import load_all
from isatsleepnet.evaluation.report import write_report
from isatsleepnet.gan.config import GanConfig
from isatsleepnet.locking import clear_stale_temporaries, folder_lock
from isatsleepnet.training.arguments import check_setting_objects
from isatsleepnet.training.augmentation import fold_gan_config, is_rank_zero
from isatsleepnet.training.config import TrainConfig
from isatsleepnet.training.coverage import subject_stage_counts
from isatsleepnet.training.finetune import check_base_unseen
from isatsleepnet.training.fit import MODEL_FILE
from isatsleepnet.training.folds import Fold, check_protocol, load_folds, make_folds, save_folds
from isatsleepnet.training.provenance import write_run_cards
from isatsleepnet.training.split_run import (
    CONFIG_FILE,
    changed_train_settings,
    check_splits,
    other_data,
    resolve_settings,
    run_split,
    save_engine,
    settings_named,
)

FOLDS_FILE = "folds.json"


def fold_dir(run: Path, index: int) -> Path:
    return run / f"fold_{index:02d}"


def plan_run(
    data: PreparedDataset,
    run: Path,
    *,
    protocol: str,
    config: TrainConfig,
    n_folds: int | None = None,
    folds_file: Path | None = None,
    resume: bool = False,
    augment: AugmentConfig | None = None,
    gan: GanConfig | None = None,
) -> tuple[list[Fold], dict[str, Any] | None]:
    """The folds of the run in ``run``, and the config.json to write when it is a new run (None when reopened).

    Nothing is written here: a run refused by a later check leaves nothing that refuses the corrected
    command (:func:`write_run` writes once every check passed). Reopening is what ``--resume`` and
    ``--fold i`` on several machines rely on: the folds are read back, never drawn again. The
    augmentation and GAN settings are part of the settings: a run is never continued with others.
    """
    subjects = data.subjects()
    saved_config = run / CONFIG_FILE
    augment_record, gan_record = augment_settings(augment, gan, config)
    if saved_config.is_file():
        previous = json.loads(saved_config.read_text())
        changed = [c for c in [settings_named(changed_train_settings(previous["train"], config))] if c]
        # runs from before augmentation existed hold no "augment": they were not augmented
        before_augment, before_gan = previous.get("augment") or {"mode": "none"}, previous.get("gan") or {}
        now_augment, now_gan = _as_json(augment_record), _as_json(gan_record) or {}
        if now_augment != before_augment:
            changed.insert(0, f"augment: {describe(before_augment, before_gan)} before, {describe(now_augment, now_gan)} now")
        elif now_gan != before_gan:
            keys = sorted(k for k in set(before_gan) | set(now_gan) if before_gan.get(k) != now_gan.get(k))
            changed.insert(0, "GAN settings " + ", ".join(keys))
        if previous.get("protocol") != protocol:
            changed.insert(0, "{protocol}")
        if n_folds is not None and folds_file is None and previous.get("n_folds") not in (None, n_folds):
            changed.insert(0, f"{{n_folds}} {previous['n_folds']} before, {n_folds} now")
        if other_data(previous, data):
            changed.insert(0, f"data: {previous.get('data')} before, {data.root} now")
        if changed:
            raise IsatSleepNetError(
                f"{run} holds a run with other settings ({', '.join(changed)}); use the same settings or another {{out}}"
            )
        folds = load_folds(run / FOLDS_FILE, subjects)
        if folds_file is not None and _fold_roles(load_folds(folds_file, subjects)) != _fold_roles(folds):
            raise IsatSleepNetError(f"{run} holds a run with other folds than {folds_file}; use another {{out}}")
        return folds, None
    if resume:
        raise IsatSleepNetError(f"{run}: nothing to resume (no {CONFIG_FILE})")
    if folds_file is not None:
        folds = load_folds(folds_file, subjects)
    else:
        folds = make_folds(subjects, protocol, n_folds=n_folds, validation_fraction=config.validation_fraction,
                           seed=config.seed, stage_counts=subject_stage_counts(data))
    return folds, {"protocol": protocol, "data": str(data.root.resolve()), "data_identity": data.identity(),
                   "n_folds": len(folds), "train": asdict(config), "augment": augment_record, "gan": gan_record}


def write_run(run: Path, folds: list[Fold], payload: dict[str, Any], *, seed: int) -> None:
    """Make ``run`` a run folder: folds.json, then config.json (whose presence says the run exists)."""
    run.mkdir(parents=True, exist_ok=True)
    save_folds(run / FOLDS_FILE, folds, protocol=payload["protocol"], seed=seed)
    atomic_write_text(run / CONFIG_FILE, json.dumps(payload, indent=2) + "\n")


def _fold_roles(folds: list[Fold]) -> list[tuple[list[str], list[str], list[str]]]:
    return [(sorted(f.train), sorted(f.validation), sorted(f.test)) for f in folds]


def _as_json(value: Any) -> Any:
    """``value`` as it reads back from config.json (tuples become lists), for comparisons."""
    return json.loads(json.dumps(value))


def augment_settings(augment: AugmentConfig | None, gan: GanConfig | None,
                     config: TrainConfig) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """What config.json records: the augmentation, and the GAN settings every fold uses (gan mode only)."""
    augment = augment or AugmentConfig()
    if augment.mode != "gan":
        return augment.record(), None
    gan = fold_gan_config(gan or GanConfig(), augment, config)  # checked as it is made
    return augment.record(), asdict(gan)


def run_fold(
    data: PreparedDataset,
    run: Path,
    fold: Fold,
    config: TrainConfig,
    *,
    progress: bool = True,
    augment: AugmentConfig | None = None,
    gan: GanConfig | None = None,
    keep_augmented: bool = False,
    engine: Engine | None = None,
    headline: str = "",
) -> Path:
    """Train fold ``fold`` (if needed) and predict its test subjects; returns the fold folder.

    The fold is trained as `train` trains (:func:`~isatsleepnet.training.split_run.run_split`):
    its folder holds the files of a `train` folder, plus the test predictions. With
    augmentation the fold's augmented training store is made (or reused) first; it
    is deleted once the model is saved unless ``keep_augmented``.
    """
    augment = augment or AugmentConfig()
    engine = engine or Engine()
    out = fold_dir(run, fold.index)
    saved = json.loads((run / CONFIG_FILE).read_text())
    description: dict[str, Any] = {"protocol": saved["protocol"]}
    if augment.enabled:
        description["augment_settings"] = {**augment.record(), "seed": config.seed, "gan": saved.get("gan")}
    model_path = run_split(data, fold, out, config, engine=engine, augment=augment, gan=gan,
                           keep_augmented=keep_augmented, progress=progress, headline=headline,
                           description=description, cover_stages=fold.validation_stages is not None)
    if not is_rank_zero():  # the other DDP processes helped train; the first one alone writes results
        return out
    from isatsleepnet.inference.predict import predict_recordings

    # the test set through the predictor `stage` uses: the reported metrics are those of the staging code
    predictions = predict_recordings(model_path, recordings_of(data, fold.test), out / "predictions",
                                     engine=engine.for_inference(), progress=progress)
    _record_test_metrics(model_path, fold, predictions)
    write_run_cards(out)  # MODEL_CARD.md with the test metrics just recorded
    atomic_write_text(out / "DONE", "predictions of the test subjects are complete\n")
    return out


def _record_test_metrics(model_path: Path, fold: Fold, predictions: list) -> None:
    """Put the fold's test metrics into its model file, so that `stage` and `export` can show them."""
    import numpy as np

    from isatsleepnet.evaluation.metrics import compute_metrics
    from isatsleepnet.model.file import load_model_file

    if not predictions:
        return
    model_file = load_model_file(model_path)
    y_true = np.concatenate([p.y_true for p in predictions])
    y_pred = np.concatenate([p.y_pred for p in predictions])
    model_file.metrics = {**model_file.metrics, "test": {"subjects": list(fold.test),
                                                         **compute_metrics(y_true, y_pred)}}
    model_file.save(model_path)


def report_run(run: Path, folds: list[Fold], *, protocol: str) -> dict[str, Any]:
    """Metrics and report over the folds whose predictions are complete."""
    done = {f.index: load_all(fold_dir(run, f.index) / "predictions") for f in folds
            if (fold_dir(run, f.index) / "DONE").is_file()}
    if not done:
        raise IsatSleepNetError(f"{run}: no fold has finished yet")
    missing = [f.index for f in folds if f.index not in done]
    notes = [f"folds not yet run: {missing} (this report covers {len(done)} of {len(folds)})"] if missing else []
    saved = json.loads((run / CONFIG_FILE).read_text())
    augmented = describe(saved.get("augment"), saved.get("gan"))
    if augmented != "none":
        notes.append(f"training data augmented: {augmented}, per fold from its training subjects only; "
                     "validation and test epochs are all real")
    notes += [f"fold {f.index}: its validation subjects hold only {', '.join(f.validation_stages) or 'no'} epochs; "
              "its model was selected blind to the other stages" for f in folds
              if f.index in done and f.validation and f.validation_stages is not None and len(f.validation_stages) < 5]
    curves = {i: fold_dir(run, i) / "logs" / "metrics.csv" for i in done}
    return write_report(run, done, {f.index: list(f.test) for f in folds}, title=f"ISATSleepNet, {protocol}",
                        protocol=protocol, notes=notes, curves=curves, selected_epochs=_selected_epochs(run, done),
                        warnings=_synthetic_warnings(run, done))


def _selected_epochs(run: Path, folds: Iterable[int]) -> dict[int, int]:
    """The epoch (from 0, as in the training log) whose weights each finished fold's model file holds."""
    from isatsleepnet.model.file import load_model_file

    selected: dict[int, int] = {}
    for index in folds:
        model = fold_dir(run, index) / MODEL_FILE
        epoch = load_model_file(model).training.get("selected_epoch") if model.is_file() else None
        if isinstance(epoch, int):
            selected[index] = epoch
    return selected


def _synthetic_warnings(run: Path, folds: Iterable[int]) -> list[str]:
    """The synthetic-training warning of each finished fold's model, once per distinct text."""
    from isatsleepnet.data.synthetic.marker import synthetic_training_warning
    from isatsleepnet.model.file import load_model_file

    warnings: list[str] = []
    for index in folds:
        model = fold_dir(run, index) / MODEL_FILE
        warning = synthetic_training_warning(load_model_file(model).training) if model.is_file() else None
        if warning and warning not in warnings:
            warnings.append(warning)
    return warnings


def cross_validate(
    data_root: str | Path,
    run: str | Path,
    *,
    protocol: str,
    config: TrainConfig | None = None,
    n_folds: int | None = None,
    folds_file: Path | None = None,
    only_fold: int | None = None,
    resume: bool = False,
    progress: bool = True,
    augment: AugmentConfig | None = None,
    gan: GanConfig | None = None,
    keep_augmented: bool = False,
    engine: Engine | None = None,
    init: str | Path | None = None,
    freeze: str | None = None,
) -> dict[str, Any]:
    """Run (or continue) the cross-validation in ``run`` and write its report; returns the metrics.

    ``init`` and ``freeze``: every fold fine-tunes the same base model (see
    :func:`isatsleepnet.training.train.train`); a fold whose test subjects or recordings the base
    model (or one of its ancestors) saw is refused. Each fold_XX/ gets a MODEL_CARD.md with its test metrics.

    ``augment`` (default: none) augments each fold's training recordings, with
    ``gan`` as the settings of its Physio-GANs in gan mode (default GanConfig();
    the stage and seed come from ``augment`` and ``config``). ``config``: the
    paper's settings by default; ``engine``: where it runs (default: a CUDA GPU
    when there is one, else the CPU).

    Examples
    --------
    >>> import isatsleepnet as isn  # doctest: +SKIP
    >>> metrics = isn.cross_validate("prepared/edf20", "runs/edf20", protocol="sleep-edf-20")  # doctest: +SKIP
    >>> metrics["pooled"]["macro_f1"]  # doctest: +SKIP
    """
    check_setting_objects(config=config, engine=engine, augment=augment, gan=gan)  # a dict: one line
    config, engine, augment = resolve_settings(config, engine, augment, init=init, freeze=freeze)
    check_protocol(protocol, n_folds)
    data, run = PreparedDataset(data_root), Path(run)
    if (data.root / AUGMENT_JSON).is_file():
        raise IsatSleepNetError(
            f"{data.root} is an augmented dataset: cross-validation would ignore its synthetic epochs and its GAN may "
            "have seen test subjects; run cv on the original data with {augment} transforms|gan"
        )
    # every check before the first write: a refused run leaves nothing that refuses the corrected command
    folds, new_run = plan_run(data, run, protocol=protocol, config=config, n_folds=n_folds, folds_file=folds_file,
                              resume=resume, augment=augment, gan=gan)
    chosen = folds
    if only_fold is not None:
        chosen = [f for f in folds if f.index == only_fold]
        if not chosen:
            raise IsatSleepNetError(f"{{only_fold}} {only_fold}: the run has folds 0..{len(folds) - 1}")
    check_base_unseen(config, data, chosen)  # a base model that saw a test subject would leak it into the metrics
    check_splits(data, [f for f in chosen if not (fold_dir(run, f.index) / "DONE").is_file()], config,
                 augment=augment, gan=gan, per_fold=True)
    with contextlib.ExitStack() as held:  # every fold this run trains, held until it ends
        for fold in chosen:  # clean: what a killed run was writing in the fold
            folder = fold_dir(run, fold.index)
            folder.mkdir(parents=True, exist_ok=True)
            held.enter_context(folder_lock(folder, "cv", clean=True))
        if new_run is not None:
            write_run(run, folds, new_run, seed=config.seed)
        if len(chosen) == len(folds) and is_rank_zero():  # no other cv process can be writing in the run folder
            clear_stale_temporaries(run)
        save_engine(run, engine)
        _run_folds(data, run, folds, chosen, config, progress=progress, augment=augment, gan=gan,
                   keep_augmented=keep_augmented, engine=engine)
        if not is_rank_zero():
            return {}
        return report_run(run, folds, protocol=protocol)  # while the folds are held (see clear_stale_temporaries)


def _run_folds(data: PreparedDataset, run: Path, folds: list[Fold], chosen: list[Fold], config: TrainConfig, *,
               progress: bool, augment: AugmentConfig | None, gan: GanConfig | None, keep_augmented: bool,
               engine: Engine) -> None:
    for fold in chosen:
        if (fold_dir(run, fold.index) / "DONE").is_file():
            continue
        headline = (f"fold {fold.index + 1}/{len(folds)}: train {len(fold.train)} subjects, "
                    f"validate {len(fold.validation)}, test {len(fold.test)}")
        run_fold(data, run, fold, config, progress=progress, augment=augment, gan=gan, keep_augmented=keep_augmented,
                 engine=engine, headline=headline)
