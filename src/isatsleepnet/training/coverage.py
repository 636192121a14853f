"""Which sleep stages a validation set holds, and a validation draw that holds them all when it can.

Why: model selection (the epoch kept, early stopping) scores the validation
recordings by macro-F1. A stage they lack, or hold a handful of epochs of,
is invisible or noise to that score: on a small real cohort a fold whose only
validation night held 96 W and 9 N1 epochs selected a model that scored 47 %
on its test subjects against 82-86 % for the other folds. So the seeded
validation draw is replaced, deterministically, by one whose subjects cover
every stage when the fold's training subjects allow it, and `train` and `cv`
warn before training about what a validation set still lacks.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np
from sklearn.model_selection import train_test_split

from isatsleepnet import STAGES

if TYPE_CHECKING:
    from isatsleepnet.data.store import PreparedDataset

RARE_EPOCHS = 10  # a stage with fewer validation epochs than this is "very rare": its F1 is noise
DRAWS = 200  # seeded candidate draws tried before settling for the one covering most stages

StageCounts = Mapping[str, Sequence[int]]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ValidationDraw:
    """The training and validation subjects of a draw, the stages the validation covers, and whether
    the coverage rule replaced the plain seeded draw (``redrawn``)."""

    fit: tuple[str, ...]
    validation: tuple[str, ...]
    stages: tuple[str, ...] | None  # None: no stage counts were given
    redrawn: bool


def subject_stage_counts(dataset: PreparedDataset) -> dict[str, np.ndarray]:
    """Epochs per stage (W, N1, N2, N3, REM) of each subject, summed over its recordings.

    Read from the manifest (a per-recording column per stage), so no recording
    is opened; a manifest without those columns falls back to each recording's
    meta.json ``stage_counts``.
    """
    totals: dict[str, np.ndarray] = {}
    for row in dataset.manifest:
        if all(row.get(stage) not in (None, "") for stage in STAGES):
            counts = [int(row[stage]) for stage in STAGES]
        else:
            meta = dataset[row["recording"]].meta.get("stage_counts", {})
            counts = [int(meta.get(stage, 0)) for stage in STAGES]
        subject = str(row["subject"])
        totals[subject] = totals.get(subject, np.zeros(len(STAGES), dtype=np.int64)) + np.array(counts)
    return totals


def stage_totals(counts: StageCounts, subjects: Sequence[str]) -> np.ndarray:
    """Epochs per stage over ``subjects`` (a subject without counts adds none)."""
    total = np.zeros(len(STAGES), dtype=np.int64)
    for subject in subjects:
        if subject in counts:
            total += np.asarray(counts[subject], dtype=np.int64)
    return total


def covered(totals: np.ndarray) -> tuple[str, ...]:
    """The stages with at least one epoch in ``totals``."""
    return tuple(stage for stage, n in zip(STAGES, totals) if n > 0)


def validation_warnings(totals: np.ndarray, where: str = "") -> list[str]:
    """What a validation set's stage counts hide from model selection, one line per problem.

    Parameters
    ----------
    totals : ndarray
        Validation epochs per stage (W, N1, N2, N3, REM).
    where : str
        Prefix naming the split, e.g. ``"fold 2: "``.

    Returns
    -------
    list of str
        Empty when every stage has at least :data:`RARE_EPOCHS` epochs.

    Examples
    --------
    >>> validation_warnings(np.array([96, 9, 0, 0, 0]), "fold 2: ")[0]
    'fold 2: the validation recordings hold no N2, N3, REM epochs: model selection cannot see them'
    """
    missing = [stage for stage, n in zip(STAGES, totals) if n == 0]
    rare = [f"{stage} ({int(n)})" for stage, n in zip(STAGES, totals) if 0 < n < RARE_EPOCHS]
    lines = []
    if missing:
        lines.append(f"{where}the validation recordings hold no {', '.join(missing)} epochs: "
                     "model selection cannot see them")
    if rare:
        lines.append(f"{where}the validation recordings hold fewer than {RARE_EPOCHS} epochs of "
                     f"{', '.join(rare)}: model selection scores them on a handful of epochs")
    return lines


def _draw(train: list[str], n_val: int, seed: int, attempt: int) -> list[str]:
    """Candidate validation draw ``attempt``; draw 0 is the plain seeded split of earlier versions."""
    if attempt == 0:
        return sorted(train_test_split(train, test_size=n_val, random_state=seed)[1])
    rng = np.random.default_rng([seed, attempt])
    return sorted(rng.choice(train, size=n_val, replace=False).tolist())


def draw_validation(train: Sequence[str], fraction: float, seed: int,
                    counts: StageCounts | None = None) -> ValidationDraw:
    """Seeded validation subjects from ``train``, covering every stage when ``counts`` allow it.

    Candidate draws are tried in a fixed, seeded order, the plain seeded split
    first; the first whose validation subjects hold every stage the candidates
    hold, while the remaining training subjects still hold them too, is taken;
    else the earliest covering most stages (training coverage first). Without
    ``counts`` the plain seeded split is returned.

    Parameters
    ----------
    train : sequence of str
        The candidate subjects (a fold's non-test subjects: never test subjects).
    fraction : float
        Share of ``train`` that validates (at least one subject when two or more).
    seed : int
        Seed of the draws.
    counts : mapping, optional
        Epochs per stage of each subject (:func:`subject_stage_counts`).

    Returns
    -------
    ValidationDraw
    """
    train = sorted(train)
    if len(train) < 2 or fraction <= 0:
        return ValidationDraw(tuple(train), (), () if counts is not None else None, False)
    n_val = max(1, int(round(fraction * len(train))))
    plain = _draw(train, n_val, seed, 0)
    chosen = plain
    if counts is not None:
        pool = set(covered(stage_totals(counts, train)))
        best: tuple[bool, int] | None = None
        for attempt in range(DRAWS):
            val = plain if attempt == 0 else _draw(train, n_val, seed, attempt)
            fit = [s for s in train if s not in set(val)]
            score = (pool <= set(covered(stage_totals(counts, fit))), len(covered(stage_totals(counts, val))))
            if best is None or score > best:
                best, chosen = score, val
            if score == (True, len(pool)):
                break
    val_set = set(chosen)
    stages = covered(stage_totals(counts, chosen)) if counts is not None else None
    return ValidationDraw(tuple(s for s in train if s not in val_set), tuple(chosen), stages, chosen != plain)


class ValidatedSplit(Protocol):
    """What :func:`warn_about_validation` reads of a fold (a :class:`~isatsleepnet.training.folds.Fold`).

    A Protocol rather than ``Fold`` itself, because ``folds`` imports this module (its validation
    draw): the import runs one way.
    """

    @property
    def index(self) -> int: ...

    @property
    def validation(self) -> Sequence[str]: ...


def warn_about_validation(dataset: PreparedDataset, folds: Sequence[ValidatedSplit], *, per_fold: bool) -> list[str]:
    """Log (as warnings, ``warning: ...``) and return what each fold's validation set hides from selection.

    Called by `train` and `cv` before they train, for the folds they will train;
    a fold without validation subjects selects its last epoch and gets no warning.

    Parameters
    ----------
    dataset : PreparedDataset
        The data whose stage counts are read (the manifest).
    folds : sequence of Fold
        The splits about to be trained.
    per_fold : bool
        Prefix each line with ``fold i:`` (cross-validation).

    Returns
    -------
    list of str
        The lines logged, without the ``warning:`` prefix.
    """
    counts = subject_stage_counts(dataset)
    lines = []
    for fold in folds:
        if fold.validation:
            lines += validation_warnings(stage_totals(counts, fold.validation), f"fold {fold.index}: " if per_fold else "")
    for line in lines:
        logger.warning("%s", line)
    return lines
