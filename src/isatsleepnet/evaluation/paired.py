"""Paired statistics of two runs scored on the same folds and the same test epochs.

Two tools, for two questions:

* over folds: the paired difference of each fold's metric (run - reference), its
  mean and standard deviation (population, ``ddof=0``, as ``report.md``), and a
  two-sided Wilcoxon signed-rank test (:func:`wilcoxon_p`). With ``k`` folds the
  smallest two-sided p the test can give is ``2 / 2**k`` (:func:`smallest_wilcoxon_p`):
  0.25 with 3 folds, so "not significant" is then what any result gives.
* over test subjects: a paired bootstrap of the pooled metrics
  (:func:`paired_bootstrap`): subjects are resampled with replacement, both runs
  are scored on the same resampled subjects (all nights of a subject together),
  and the difference of the pooled metric is kept. Its 2.5 and 97.5 percentiles
  are the 95 % interval; the fraction of resamples where the difference is
  <= 0 is a one-sided p for "the run scores higher than the reference".

Every metric of the paper is a function of the 5 x 5 confusion matrix, so a
resample is the sum of its subjects' matrices
(:func:`~isatsleepnet.evaluation.metrics.confusion_metrics` scores many at once).
:func:`paired_table` and :func:`how_to_read` print the results as ``isatsleepnet compare`` shows them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from isatsleepnet import STAGES
from isatsleepnet.checks import whole_number
from isatsleepnet.evaluation.metrics import confusion_matrix_of, confusion_metrics

METRICS: tuple[tuple[str, str, bool], ...] = (
    ("accuracy", "Acc", True),
    ("kappa", "κ", False),
    ("macro_f1", "MF1", True),
    ("macro_gmean", "MGm", True),
    *((f"f1_{stage}", stage, True) for stage in STAGES),
)
"""The compared metrics: key, column label, and whether it is shown in percent (κ is not)."""

METRIC_KEYS: tuple[str, ...] = tuple(key for key, _, _ in METRICS)


def metric_values(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The compared metrics of one metrics.json entry (``pooled`` or one of ``folds``), flat.

    Examples
    --------
    >>> m = {"accuracy": 0.8, "kappa": 0.7, "macro_f1": 0.75, "macro_gmean": 0.85,
    ...      "per_class_f1": {"W": 0.9, "N1": 0.4, "N2": 0.85, "N3": 0.8, "REM": 0.8}}
    >>> metric_values(m)["f1_N1"], len(metric_values(m))
    (0.4, 9)
    """
    values = {key: float(metrics[key]) for key in ("accuracy", "kappa", "macro_f1", "macro_gmean")}
    values.update({f"f1_{stage}": float(metrics["per_class_f1"][stage]) for stage in STAGES})
    return values


def smallest_wilcoxon_p(k: int) -> float:
    """The smallest two-sided p a Wilcoxon signed-rank test over ``k`` paired values can give: 2 / 2**k.

    Examples
    --------
    >>> smallest_wilcoxon_p(3), smallest_wilcoxon_p(20) < 1e-5
    (0.25, True)
    """
    return min(1.0, 2.0 / 2.0**k)


@dataclass(frozen=True)
class WilcoxonResult:
    """A two-sided Wilcoxon signed-rank test: ``p`` (None when no fold differs), the method, the folds that count."""

    p: float | None
    method: str
    n_nonzero: int


def wilcoxon_p(differences: Iterable[float]) -> WilcoxonResult:
    """Two-sided Wilcoxon signed-rank test of paired differences against 0 (``scipy.stats.wilcoxon``).

    Zero differences are dropped (Wilcoxon's convention); without ties among the
    rest the exact null distribution is used. With ties scipy chooses (scipy 1.17: an
    exact permutation over the signs for up to 13 values, else the normal approximation);
    ``method`` says which was asked for.

    Examples
    --------
    >>> wilcoxon_p([0.01, 0.02, 0.03, 0.04]).p  # 4 folds, all positive: 2 / 2**4
    0.125
    >>> wilcoxon_p([0.0, 0.0]).p is None
    True
    """
    from scipy.stats import wilcoxon

    d = np.asarray(list(differences), dtype=np.float64)
    d = d[~np.isclose(d, 0.0, rtol=0.0, atol=1e-12)]
    if len(d) == 0:
        return WilcoxonResult(None, "none (no fold differs)", 0)
    tied = len(np.unique(np.abs(d))) < len(d)
    method = "auto" if tied else "exact"
    result = wilcoxon(d, alternative="two-sided", method=method)
    return WilcoxonResult(float(result.pvalue), method, int(len(d)))


def subject_resamples(n_subjects: int, n_resamples: int, seed: int) -> np.ndarray:
    """How often each subject is drawn in each bootstrap resample: shape ``(n_resamples, n_subjects)``.

    Each resample draws ``n_subjects`` subjects with replacement; the same seed gives the same resamples.

    Examples
    --------
    >>> counts = subject_resamples(4, 3, seed=0)
    >>> counts.shape, counts.sum(axis=1).tolist()
    ((3, 4), [4, 4, 4])
    """
    rng = np.random.default_rng(whole_number("seed", seed, least=0))  # numpy's own words otherwise
    drawn = rng.integers(0, n_subjects, size=(n_resamples, n_subjects))
    counts = np.zeros((n_resamples, n_subjects), dtype=np.int64)
    np.add.at(counts, (np.arange(n_resamples)[:, None], drawn), 1)
    return counts


@dataclass(frozen=True)
class BootstrapResult:
    """One metric's paired bootstrap: 95 % percentile interval of the pooled difference, P(difference <= 0)."""

    low: float
    high: float
    p_not_higher: float


def paired_bootstrap(reference: np.ndarray, run: np.ndarray, counts: np.ndarray) -> dict[str, BootstrapResult]:
    """Paired bootstrap of the pooled metrics' difference (run - reference) over test subjects.

    ``reference`` and ``run``: each test subject's confusion matrix, shape
    ``(n_subjects, 5, 5)``, in the same subject order; ``counts``: the resamples of
    :func:`subject_resamples`. Both runs are scored on the same resampled subjects.

    Examples
    --------
    >>> truth = np.repeat(np.arange(5), 20)
    >>> ref = np.stack([confusion_matrix_of(truth, np.where(np.arange(100) % 10 == s, (truth + 1) % 5, truth))
    ...                 for s in range(10)])
    >>> run = np.stack([confusion_matrix_of(truth, truth)] * 10)
    >>> ci = paired_bootstrap(ref, run, subject_resamples(10, 500, seed=1))["accuracy"]
    >>> round(ci.low, 3), round(ci.high, 3), ci.p_not_higher
    (0.1, 0.1, 0.0)
    """
    ref_scores = confusion_metrics(np.einsum("bs,sij->bij", counts, reference))
    run_scores = confusion_metrics(np.einsum("bs,sij->bij", counts, run))
    out = {}
    for key in METRIC_KEYS:
        diff = run_scores[key] - ref_scores[key]
        low, high = np.percentile(diff, [2.5, 97.5])
        out[key] = BootstrapResult(float(low), float(high), float(np.mean(diff <= 1e-12)))
    return out


@dataclass(frozen=True)
class FoldDifference:
    """One metric's paired differences over folds (run - reference), their mean and std (ddof=0), and the test."""

    differences: tuple[float, ...]
    mean: float
    std: float
    wilcoxon: WilcoxonResult


def fold_differences(reference: list[Mapping[str, Any]], run: list[Mapping[str, Any]]) -> dict[str, FoldDifference]:
    """Per metric, the paired differences of two runs' per-fold metrics (metrics.json ``folds``, same order).

    Examples
    --------
    >>> per_class = {s: 0.5 for s in STAGES}
    >>> ref = [{"accuracy": 0.8, "kappa": 0.7, "macro_f1": 0.6, "macro_gmean": 0.7, "per_class_f1": per_class}] * 4
    >>> run = [{**ref[0], "accuracy": 0.8 + d} for d in (0.01, 0.02, 0.03, 0.05)]
    >>> diff = fold_differences(ref, run)["accuracy"]
    >>> round(diff.mean, 4), diff.wilcoxon.p
    (0.0275, 0.125)
    """
    ref_values = [metric_values(m) for m in reference]
    run_values = [metric_values(m) for m in run]
    out = {}
    for key in METRIC_KEYS:
        d = np.array([b[key] - a[key] for a, b in zip(ref_values, run_values)], dtype=np.float64)
        out[key] = FoldDifference(tuple(float(x) for x in d), float(d.mean()), float(d.std(ddof=0)), wilcoxon_p(d))
    return out


def format_value(key: str, value: float, *, signed: bool = False) -> str:
    """A metric as the paper prints it: percent with one decimal, κ with three (``signed``: with its sign).

    Examples
    --------
    >>> format_value("accuracy", 0.8154), format_value("kappa", -0.0123, signed=True)
    ('81.5', '-0.012')
    """
    percent = dict((k, pct) for k, _, pct in METRICS)[key]
    sign = "+" if signed else ""
    return f"{100 * value:{sign}.1f}" if percent else f"{value:{sign}.3f}"


def _p(value: float | None, resamples: int | None = None) -> str:
    if value is None:
        return "n/a"
    if resamples and value == 0:
        return f"< {1 / resamples:.2g}"
    return f"{value:.3g}" if resamples is None else f"{value:.3f}"


def _wilcoxon_cell(m: dict[str, Any], k: int) -> str:
    """The Wilcoxon p, and how many folds differ when some tie (they do not count)."""
    differing = m["wilcoxon_folds_differing"]
    return _p(m["wilcoxon_p"]) + (f" ({differing} of {k} differ)" if k > 1 and differing < k else "")


def _interval(key: str, ci: list[float] | None) -> str:
    return f"[{format_value(key, ci[0], signed=True)}, {format_value(key, ci[1], signed=True)}]" if ci else "n/a"


def _paired_row(run: str, key: str, label: str, m: dict[str, Any], k: int, resamples: int | None) -> str:
    """One row of the paired table: a run's differences against the reference in one metric."""
    ci = m["bootstrap_ci95"]
    cells = [run, label, format_value(key, m["pooled_difference"], signed=True),
             f"{format_value(key, m['fold_difference_mean'], signed=True)} ± {format_value(key, m['fold_difference_std'])}",
             _wilcoxon_cell(m, k), _interval(key, ci), _p(m["bootstrap_p_not_higher"], resamples) if ci else "n/a"]
    return "| " + " | ".join(cells) + " |"


def paired_table(section: dict[str, Any]) -> str:
    """The paired differences against the reference (markdown), one row per run and metric.

    ``section``: the ``paired`` part of :func:`isatsleepnet.training.compare.compare_runs`'s result.

    Examples
    --------
    >>> print(paired_table(compare_runs([Path("runs/edf20"), Path("runs/gan")])["paired"]))  # doctest: +SKIP
    """
    k, resamples = section["n_folds"], (section["bootstrap"] or {}).get("resamples")
    lines = [f"| run | metric | Δ pooled | Δ over folds, mean ± std | Wilcoxon p ({k} folds) "
             "| bootstrap 95 % CI of Δ pooled | bootstrap P(Δ ≤ 0) |", "|---" * 7 + "|"]
    lines += [_paired_row(entry["run"], key, label, entry["metrics"][key], k, resamples)
              for entry in section["runs"] for key, label, _ in METRICS]
    return "\n".join(lines) + "\n"


def how_to_read(section: dict[str, Any]) -> str:
    """How to read the paired table, with what the fold count and the bootstrap allow (two lines).

    Examples
    --------
    >>> section = {"reference": "base", "n_folds": 3, "smallest_wilcoxon_p": 0.25, "bootstrap": None}
    >>> print(how_to_read(section).splitlines()[1])
    Wilcoxon: two-sided signed-rank test over the 3 folds; with 3 folds the smallest possible p is 2/2^3 = 0.25, so "not significant" is expected here; bootstrap: not computed.
    """
    k, boot = section["n_folds"], section["bootstrap"]
    wilcoxon = (f"Wilcoxon: two-sided signed-rank test over the {k} folds; with {k} folds the smallest possible p is "
                f"2/2^{k} = {section['smallest_wilcoxon_p']:.3g}" + (", so \"not significant\" is expected here"
                                                                     if section["smallest_wilcoxon_p"] > 0.05 else "")
                if k > 1 else "Wilcoxon: n/a with a single fold")
    bootstrap = (f"bootstrap: {boot['resamples']} resamples (seed {boot['seed']}) of the {boot['n_subjects']} test "
                 "subjects, both runs on the same resampled subjects; P(Δ ≤ 0) is the fraction of resamples where the "
                 "run did not score higher (a one-sided p)" if boot else "bootstrap: not computed")
    return (f"How to read: Δ = run − reference ({section['reference']}), in percentage points (κ in its own units); "
            "positive means the run scored higher; no correction for the number of metrics or runs.\n"
            f"{wilcoxon}; {bootstrap}.\n")
