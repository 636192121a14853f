import doctest

import numpy as np
import pytest

from isatsleepnet import STAGES
from isatsleepnet.evaluation import paired
from isatsleepnet.evaluation.metrics import confusion_matrix_of, confusion_metrics


def test_examples_run():
    result = doctest.testmod(paired, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 5


@pytest.mark.parametrize(("differences", "p"), [
    ([0.01, 0.02, 0.03, 0.04], 0.125),         # 4 folds, all better: 2 / 2**4
    ([-0.01, -0.02, -0.03, -0.04], 0.125),     # two-sided
    ([0.01, 0.02, 0.03], 0.25),                # 3 folds: never below 0.25
    ([1.0, -2.0, 3.0, 4.0], 0.375),            # W- = 2: 3 of 16 sign patterns as extreme, twice
    ([0.0, 0.1, 0.2, 0.3, 0.4], 0.125),        # a tie at 0 is dropped, not counted as a fold
])
def test_wilcoxon_p_is_the_exact_two_sided_p(differences, p):
    assert paired.wilcoxon_p(differences).p == pytest.approx(p, abs=1e-12)


def test_wilcoxon_without_any_difference_has_no_p():
    result = paired.wilcoxon_p([0.0, 0.0, 0.0])
    assert result.p is None and result.n_nonzero == 0


def test_smallest_wilcoxon_p():
    assert [paired.smallest_wilcoxon_p(k) for k in (1, 2, 3, 10)] == [1.0, 0.5, 0.25, 2 / 1024]


def test_resamples_draw_each_subject_count_with_replacement_and_follow_the_seed():
    a, b = paired.subject_resamples(6, 50, seed=4), paired.subject_resamples(6, 50, seed=4)
    assert np.array_equal(a, b) and not np.array_equal(a, paired.subject_resamples(6, 50, seed=5))
    assert (a.sum(axis=1) == 6).all() and (a.max(axis=1) > 1).any()


def test_identical_runs_differ_by_nothing():
    rng = np.random.default_rng(1)
    cms = rng.integers(0, 30, size=(8, 5, 5))
    result = paired.paired_bootstrap(cms, cms, paired.subject_resamples(8, 200, seed=0))
    assert all(r.low == r.high == 0.0 and r.p_not_higher == 1.0 for r in result.values())


def test_bootstrap_of_a_worse_run():
    truth = np.repeat(np.arange(5), 40)
    subjects = 12
    good = np.stack([confusion_matrix_of(truth, truth)] * subjects)
    rng = np.random.default_rng(2)
    worse = np.stack([confusion_matrix_of(truth, np.where(rng.random(200) < 0.2, (truth + 1) % 5, truth))
                      for _ in range(subjects)])
    result = paired.paired_bootstrap(good, worse, paired.subject_resamples(subjects, 500, seed=0))
    assert result["accuracy"].high < 0 and result["accuracy"].p_not_higher == 1.0
    assert result["kappa"].low < result["kappa"].high < 0


def test_fold_differences_pair_fold_by_fold():
    base = {"accuracy": 0.8, "kappa": 0.7, "macro_f1": 0.6, "macro_gmean": 0.7,
            "per_class_f1": {s: 0.5 for s in STAGES}}
    reference = [{**base, "accuracy": a} for a in (0.7, 0.8, 0.9)]
    run = [{**base, "accuracy": a, "per_class_f1": {**base["per_class_f1"], "N1": 0.4}} for a in (0.75, 0.8, 0.8)]
    diffs = paired.fold_differences(reference, run)
    assert diffs["accuracy"].differences == pytest.approx((0.05, 0.0, -0.1))
    assert diffs["accuracy"].mean == pytest.approx(-0.05 / 3) and diffs["accuracy"].wilcoxon.n_nonzero == 2
    assert diffs["f1_N1"].mean == pytest.approx(-0.1) and diffs["f1_N1"].std == pytest.approx(0.0)
    assert diffs["kappa"].wilcoxon.p is None


def test_format_value():
    assert paired.format_value("f1_REM", 0.12345) == "12.3"
    assert paired.format_value("macro_f1", 0.021, signed=True) == "+2.1"
    assert paired.format_value("kappa", 0.7, signed=True) == "+0.700"


@pytest.mark.parametrize("seed", [-1, 1.5, True])
def test_a_bootstrap_seed_that_numpy_refuses_is_a_setting_error(seed):
    """Before: `compare --seed -1` ended with numpy's "expected non-negative integer" as an unexpected error."""
    from isatsleepnet.errors import SettingError

    with pytest.raises(SettingError, match=r"^seed= must be a whole number of at least 0"):
        paired.subject_resamples(3, 2, seed)
