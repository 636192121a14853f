"""Subject-wise folds: every night of a subject lands in exactly one role per fold.

A protocol is a dataset's, from the table of datasets (:mod:`isatsleepnet.data.datasets`):
20-fold CV for Sleep-EDF-20, 10-fold for Sleep-EDF-78, a 70/30 subject split for SHHS
(the paper's), ... or ``kfold``, k folds over any dataset. Each fold's validation subjects
(for early stopping and model selection) are carved from its training subjects,
never from its test subjects, and cover every sleep stage when those allow it
(:mod:`isatsleepnet.training.coverage`): folds.json records per fold which stages
its validation subjects hold and whether that rule changed the seeded draw.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from sklearn.model_selection import KFold, train_test_split

from isatsleepnet.atomic import atomic_write_text
from isatsleepnet.checks import whole_number
from isatsleepnet.data.datasets import DATASETS, KFOLD, Dataset, protocols
from isatsleepnet.data.subjects import check_subjects, subject_names
from isatsleepnet.errors import IsatSleepNetError, SettingError
from isatsleepnet.training.coverage import StageCounts, draw_validation, subject_stage_counts

if TYPE_CHECKING:
    from isatsleepnet.data.store import PreparedDataset


def _protocol(protocol: str) -> Dataset | None:
    """The dataset whose protocol ``protocol`` names; None for kfold."""
    if protocol == KFOLD:
        return None
    entry = DATASETS.get(protocol)
    if entry is None or entry.protocol is None:
        problem = "unknown protocol" if entry is None else "no evaluation protocol for dataset"
        raise IsatSleepNetError(f"{problem} {protocol!r}; choose from {', '.join(protocols(kfold=True))}")
    return entry


def check_protocol(protocol: str, n_folds: int | None = None) -> None:
    """Refuse an unknown protocol, and a fold count a dataset's protocol does not have (before any data is read).

    Examples
    --------
    >>> check_protocol("sleep-edf-20", 20)
    >>> check_protocol("sleep-edf-20", 3)
    Traceback (most recent call last):
    ...
    isatsleepnet.errors.SettingError: n_folds= sets the folds of protocol= kfold only; sleep-edf-20 has its own: 20 subject-wise folds
    >>> check_protocol("kfold", "3")
    Traceback (most recent call last):
    ...
    isatsleepnet.errors.SettingError: n_folds= must be a whole number of at least 2, not '3'
    """
    if n_folds is not None:
        whole_number("n_folds", n_folds, least=2)  # "3" or 2.5: one line, not a TypeError from the comparison below
    entry = _protocol(protocol)
    if entry is not None and n_folds is not None and n_folds != entry.folds:
        raise SettingError("n_folds", f"sets the folds of {{protocol}} kfold only; {protocol} has its own: "
                                      f"{entry.protocol}")


@dataclass(frozen=True)
class Fold:
    index: int
    train: tuple[str, ...]
    validation: tuple[str, ...]
    test: tuple[str, ...]
    # the stages the validation subjects hold, and whether covering them changed the seeded draw;
    # None in folds given by hand or written before the coverage rule existed
    validation_stages: tuple[str, ...] | None = None
    validation_redrawn: bool | None = None

    def check(self, *, require_test: bool = True) -> None:
        roles = [set(self.train), set(self.validation), set(self.test)]
        overlap = (roles[0] & roles[1]) | (roles[0] & roles[2]) | (roles[1] & roles[2])
        if overlap:
            raise IsatSleepNetError(f"fold {self.index}: subject(s) {sorted(overlap)} in two roles")
        if not self.train or (require_test and not self.test):
            raise IsatSleepNetError(f"fold {self.index}: needs training and test subjects")


def split_validation(train: list[str], fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """The plain seeded validation draw (no stage coverage): training and validation subjects."""
    draw = draw_validation(train, fraction, seed)
    return list(draw.fit), list(draw.validation)


def _fold(index: int, train: list[str], test: tuple[str, ...], fraction: float, seed: int,
          counts: StageCounts | None) -> Fold:
    draw = draw_validation(train, fraction, seed, counts)
    return Fold(index, draw.fit, draw.validation, test, draw.stages,
                None if counts is None else draw.redrawn)


def make_folds(
    subjects: list[str],
    protocol: str,
    *,
    n_folds: int | None = None,
    validation_fraction: float = 0.1,
    test_fraction: float | None = None,
    seed: int = 0,
    stage_counts: StageCounts | None = None,
) -> list[Fold]:
    """Folds over ``subjects`` (one id per person, nights already grouped).

    ``protocol`` is a dataset's (:func:`isatsleepnet.data.datasets.protocols`): its number of folds, or its
    train/test split (``test_fraction`` overrides the split's test share), or ``kfold``
    with ``n_folds``. ``stage_counts`` (epochs per stage of each subject,
    :func:`subject_stage_counts`) makes each fold's validation subjects cover every
    stage its non-test subjects allow.

    Examples
    --------
    >>> [len(f.test) for f in make_folds([f"s{i}" for i in range(10)], "shhs")]
    [3]
    >>> len(make_folds([f"s{i}" for i in range(9)], "kfold", n_folds=3))
    3
    """
    subjects = sorted(set(subjects))
    entry = _protocol(protocol)
    check_protocol(protocol, n_folds)
    if entry is not None and entry.test_fraction is not None:
        if len(subjects) < 3:
            raise IsatSleepNetError(f"the {protocol} {entry.protocol} needs at least 3 subjects, "
                                    f"the data has {len(subjects)}")
        fraction = entry.test_fraction if test_fraction is None else test_fraction
        train, test = train_test_split(subjects, test_size=fraction, random_state=seed)
        folds = [_fold(0, train, tuple(sorted(test)), validation_fraction, seed, stage_counts)]
    else:
        k = n_folds if entry is None else entry.folds
        if k is None or k < 2:
            raise IsatSleepNetError("kfold needs {n_folds} K with K >= 2")
        if len(subjects) < k:
            raise IsatSleepNetError(f"{k} folds need at least {k} subjects, the data has {len(subjects)}")
        folds = []
        splitter = KFold(n_splits=k, shuffle=True, random_state=seed)
        for i, (train_idx, test_idx) in enumerate(splitter.split(subjects)):
            folds.append(_fold(i, [subjects[j] for j in train_idx], tuple(sorted(subjects[j] for j in test_idx)),
                               validation_fraction, seed + i, stage_counts))
    for fold in folds:
        fold.check()
    return folds


def save_folds(path: str | Path, folds: list[Fold], *, protocol: str, seed: int) -> None:
    # a fold's coverage record is written when known (folds from older files or by hand have none)
    rows = [{k: v for k, v in asdict(f).items() if v is not None} for f in folds]
    payload = {"protocol": protocol, "seed": seed, "folds": rows}
    atomic_write_text(path, json.dumps(payload, indent=2) + "\n")


def load_folds(path: str | Path, known_subjects: list[str] | None = None) -> list[Fold]:
    """Folds from a folds.json, checked against the subjects of the data they will be used on."""
    path = Path(path)
    try:
        payload = json.loads(path.read_text())
        folds = [
            Fold(int(f["index"]), tuple(f["train"]), tuple(f["validation"]), tuple(f["test"]),
                 tuple(f["validation_stages"]) if f.get("validation_stages") is not None else None,
                 f.get("validation_redrawn"))
            for f in payload["folds"]
        ]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise IsatSleepNetError(f"{path}: not a folds file ({exc})") from None
    tested: dict[str, int] = {}  # each subject tested once: pooled metrics count every test epoch once
    indices = [fold.index for fold in folds]
    if len(set(indices)) != len(indices):
        raise IsatSleepNetError(f"{path}: fold indices repeat ({indices}); number the folds 0, 1, 2 ...")
    for fold in folds:
        for subject in fold.test:
            if subject in tested:
                raise IsatSleepNetError(f"{path}: subject {subject} is tested in fold {tested[subject]} and in fold "
                                        f"{fold.index}: the pooled metrics would count it twice; test each subject "
                                        "in one fold")
            tested[subject] = fold.index
    for fold in folds:
        fold.check()
        if known_subjects is not None:
            unknown = (set(fold.train) | set(fold.validation) | set(fold.test)) - set(known_subjects)
            if unknown:
                raise IsatSleepNetError(f"{path}: fold {fold.index} names subjects not in the data: {sorted(unknown)[:5]}")
    return folds


def class_weights(counts: np.ndarray) -> np.ndarray:
    """Inverse-frequency class weights normalised to mean 1 (classes absent get weight 0)."""
    counts = np.asarray(counts, dtype=np.float64)
    weights = np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / len(counts), 0.0)
    present = weights > 0
    if present.any():
        weights[present] /= weights[present].mean()
    return weights


def fold_of(folds_file: str | Path, index: int, known_subjects: list[str]) -> Fold:
    """Fold ``index`` of a folds.json, its subjects checked against the dataset's."""
    folds = {f.index: f for f in load_folds(folds_file, known_subjects)}
    if index not in folds:
        raise IsatSleepNetError(f"{folds_file}: no fold {index}; it has {sorted(folds)}")
    return folds[index]


def training_subjects(dataset: PreparedDataset, *, subjects: Sequence[str] | None = None,
                      folds_file: str | Path | None = None, fold: int | None = None) -> list[str]:
    """The subjects a command may learn from: ``subjects``, the TRAINING subjects of a fold, or all.

    Never a fold's validation or test subjects: a GAN or an augmentation made
    from them would leak them into training.

    Examples
    --------
    >>> training_subjects(dataset, subjects=["SC400"])  # doctest: +SKIP
    ['SC400']
    """
    subjects = subject_names(subjects)
    if folds_file is not None or fold is not None:
        if subjects:
            raise IsatSleepNetError("give either {subjects} or {folds_file} with {fold}, not both")
        if folds_file is None or fold is None:
            raise IsatSleepNetError("{folds_file} and {fold} go together")
        return list(fold_of(folds_file, fold, dataset.subjects()).train)
    return check_subjects(dataset, subjects) if subjects else dataset.subjects()


def training_split(dataset: PreparedDataset, *, train_subjects: Sequence[str] | None = None,
                   validation_subjects: Sequence[str] | None = None, folds_file: str | Path | None = None,
                   fold: int | None = None, validation_fraction: float = 0.1, seed: int = 0,
                   cover_stages: bool = True) -> Fold:
    """The training and validation subjects of one training run (a Fold without test subjects).

    From a fold of ``folds_file``; else ``train_subjects`` (default: all but the
    validation subjects) and ``validation_subjects`` (default: a seeded
    ``validation_fraction`` of the training subjects, covering every sleep stage
    when they allow it, unless ``cover_stages`` is False: the plain seeded draw,
    as runs made before that rule drew it).
    """
    train_subjects = subject_names(train_subjects, "train_subjects")  # "SC400": one subject, not five characters
    validation_subjects = subject_names(validation_subjects, "validation_subjects")
    if folds_file is not None or fold is not None:
        if train_subjects or validation_subjects:
            raise IsatSleepNetError("give either {train_subjects}/{validation_subjects} or {folds_file} with {fold}")
        if folds_file is None or fold is None:
            raise IsatSleepNetError("{folds_file} and {fold} go together")
        chosen = fold_of(folds_file, fold, dataset.subjects())
        split = Fold(fold, chosen.train, chosen.validation, ())
    else:
        val = check_subjects(dataset, validation_subjects or [], "validation_subjects")
        train = check_subjects(dataset, train_subjects, "train_subjects") if train_subjects else [
            s for s in dataset.subjects() if s not in set(val)]
        if validation_subjects:
            split = Fold(0, tuple(train), tuple(val), ())
        else:
            split = _fold(0, train, (), validation_fraction, seed,
                          subject_stage_counts(dataset) if cover_stages else None)
    split.check(require_test=False)
    return split
