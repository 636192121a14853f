import itertools

import numpy as np
import pytest

from isatsleepnet.errors import IsatSleepNetError, SettingError
from isatsleepnet.training.folds import Fold, class_weights, load_folds, make_folds, save_folds

SUBJECTS = [f"SC4{i:02d}" for i in range(20)]


@pytest.mark.parametrize(("protocol", "n", "k"), [("sleep-edf-20", 20, 20), ("sleep-edf-78", 78, 10),
                                                  ("sleep-edf-st", 22, 10), ("kfold", 9, 3)])
def test_every_subject_tested_once_and_never_in_two_roles(protocol, n, k):
    subjects = [f"s{i}" for i in range(n)]
    folds = make_folds(subjects, protocol, n_folds=k, validation_fraction=0.1, seed=1)
    assert len(folds) == k
    tested = list(itertools.chain.from_iterable(f.test for f in folds))
    assert sorted(tested) == sorted(subjects)
    for f in folds:
        assert not set(f.train) & set(f.validation)
        assert not set(f.train) & set(f.test)
        assert not set(f.validation) & set(f.test)
        assert set(f.train) | set(f.validation) | set(f.test) == set(subjects)
        assert len(f.validation) >= 1


def test_shhs_split_is_70_30():
    subjects = [str(200000 + i) for i in range(100)]
    [fold] = make_folds(subjects, "shhs", seed=0)
    assert len(fold.test) == 30 and len(fold.train) + len(fold.validation) == 70


def test_a_split_protocol_takes_its_test_fraction_from_the_table_unless_given():
    subjects = [str(200000 + i) for i in range(20)]
    assert len(make_folds(subjects, "shhs")[0].test) == 6
    assert len(make_folds(subjects, "shhs", test_fraction=0.5)[0].test) == 10
    with pytest.raises(IsatSleepNetError, match="the shhs 70/30 subject-wise train/test split needs at least 3 subjects"):
        make_folds(subjects[:2], "shhs")


def test_only_datasets_with_a_protocol_are_protocols():
    for name in ("sleep-edf", "edf", "npz", "nope"):
        with pytest.raises(IsatSleepNetError, match=f"'{name}'; choose from sleep-edf-20, sleep-edf-78, sleep-edf-st, "
                                                    "shhs, kfold"):
            make_folds(SUBJECTS, name)


def test_folds_are_reproducible_and_seeded():
    assert make_folds(SUBJECTS, "kfold", n_folds=4, seed=5) == make_folds(SUBJECTS, "kfold", n_folds=4, seed=5)
    assert make_folds(SUBJECTS, "kfold", n_folds=4, seed=5) != make_folds(SUBJECTS, "kfold", n_folds=4, seed=6)


def test_too_few_subjects():
    with pytest.raises(IsatSleepNetError, match="20 folds need at least 20 subjects"):
        make_folds(SUBJECTS[:5], "sleep-edf-20")


def test_round_trip_and_checks(tmp_path):
    folds = make_folds(SUBJECTS, "kfold", n_folds=5, seed=0)
    save_folds(tmp_path / "folds.json", folds, protocol="kfold", seed=0)
    assert load_folds(tmp_path / "folds.json", SUBJECTS) == folds
    with pytest.raises(IsatSleepNetError, match="names subjects not in the data"):
        load_folds(tmp_path / "folds.json", SUBJECTS[:10])
    with pytest.raises(IsatSleepNetError, match="in two roles"):
        Fold(0, ("a", "b"), ("b",), ("c",)).check()


def test_class_weights_inverse_frequency():
    w = class_weights(np.array([100, 10, 100, 0, 50]))
    assert w[3] == 0 and w[1] > w[4] > w[0] == w[2]
    assert w[w > 0].mean() == pytest.approx(1.0)


def test_folds_for_a_dataset_protocol_are_refused_not_ignored():
    with pytest.raises(SettingError, match=r"^n_folds= sets the folds of protocol= kfold only; sleep-edf-20 has its "
                                           r"own: 20 subject-wise folds$"):
        make_folds([f"s{i}" for i in range(20)], "sleep-edf-20", n_folds=3)


def test_a_folds_file_testing_a_subject_twice_or_repeating_a_fold_is_refused(tmp_path):
    path = tmp_path / "folds.json"
    save_folds(path, [Fold(0, ("a", "b"), ("c",), ("d",)), Fold(1, ("a", "c"), ("b",), ("d",))], protocol="kfold",
               seed=0)
    with pytest.raises(IsatSleepNetError, match="subject d is tested in fold 0 and in fold 1: the pooled metrics "
                                                "would count it twice"):
        load_folds(path, ["a", "b", "c", "d"])
    save_folds(path, [Fold(0, ("a", "b"), ("c",), ("d",)), Fold(0, ("a", "d"), ("b",), ("c",))], protocol="kfold",
               seed=0)
    with pytest.raises(IsatSleepNetError, match=r"fold indices repeat \(\[0, 0\]\)"):
        load_folds(path, ["a", "b", "c", "d"])


def test_a_subject_given_as_a_string_is_one_subject_not_its_characters(tmp_path):
    from isatsleepnet.training.folds import training_split, training_subjects
    from tests.training.tiny_store import write_tiny_store

    data = write_tiny_store(tmp_path, subjects=4, n_epochs=15)
    split = training_split(data, train_subjects="S0", validation_subjects="S1")
    assert (split.train, split.validation) == (("S0",), ("S1",))
    split = training_split(data, train_subjects="S0, S2", validation_subjects=("S1",))  # as --train-subjects reads it
    assert (split.train, split.validation) == (("S0", "S2"), ("S1",))
    assert training_subjects(data, subjects="S3") == ["S3"]
    with pytest.raises(IsatSleepNetError, match=r"^subject\(s\) S9 not in "):
        training_split(data, train_subjects="S9", validation_subjects="S1")
    with pytest.raises(SettingError, match=r"^validation_subjects= must be a subject or a list of subjects"):
        training_split(data, validation_subjects=[1])


def test_a_fold_count_is_a_whole_number_of_at_least_two():
    with pytest.raises(SettingError, match=r"^n_folds= must be a whole number of at least 2, not '3'$"):
        make_folds(SUBJECTS, "kfold", n_folds="3")
    with pytest.raises(SettingError, match=r"^n_folds= must be a whole number of at least 2, not 1$"):
        make_folds(SUBJECTS, "kfold", n_folds=1)
    assert len(make_folds(SUBJECTS, "kfold", n_folds=np.int64(4))) == 4
