"""augment_dataset: balanced counts, flagged synthetic epochs, untouched source, real-only evaluation loaders."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from isatsleepnet import STAGES
from isatsleepnet.augment import balance
from isatsleepnet.augment.balance import augment_dataset, plan_balance
from isatsleepnet.augment.checks import MAX_GROWTH, RUN_FILE
from isatsleepnet.data.prepare import prepare_dataset
from isatsleepnet.data.prepare_config import PrepareConfig
from isatsleepnet.data.store import ORIGIN_GAN, ORIGIN_REAL, ORIGIN_TRANSFORM, PreparedDataset
from isatsleepnet.data.synthetic import SynthConfig, synthesize
from isatsleepnet.errors import IsatSleepNetError
from isatsleepnet.gan.config import GanConfig
from isatsleepnet.gan.generator import GeneratorBundle, build_generator
from isatsleepnet.data.normalize import normalize_epochs
from isatsleepnet.training.data import EpochDataset
from isatsleepnet.data.subjects import recordings_of

N1 = STAGES.index("N1")

pytestmark = pytest.mark.usefixtures("one_torch_thread")



@pytest.fixture(scope="module")
def source(tmp_path_factory) -> PreparedDataset:
    root = tmp_path_factory.mktemp("aug-synth")
    synthesize(root / "raw", SynthConfig(layout="sleep-edf", subjects=3, hours=1.5, seed=5), progress=False)
    prepare_dataset(root / "raw", root / "prepared", PrepareConfig(dataset="sleep-edf", sampling_rate=50.0), progress=False)
    return PreparedDataset(root / "prepared")


@pytest.fixture(scope="module")
def gan_dir(tmp_path_factory, source) -> Path:
    """A GAN folder with an (untrained) N1 generator for one channel only."""
    root = tmp_path_factory.mktemp("gans")
    config = GanConfig(g_base_channels=16, g_upsamplings=4, g_spectral_channels=2, g_freq_rank=8)
    generator = build_generator(1500, config, seed=0)
    generator.calibrate_batchnorm()
    folder = root / "eeg-fpz-cz_N1"
    folder.mkdir()
    from dataclasses import asdict

    GeneratorBundle(generator, channel="EEG Fpz-Cz", stage="N1", sampling_rate=50.0,
                    amplitude_uv=np.array([[0.0, 20.0]]), config=asdict(config), epochs_trained=0).save(folder)
    # as train-gan records it: the GAN learned from the first subject only
    (folder / "data.json").write_text(json.dumps({"subjects": [source.subjects()[0]]}))
    return root


def _hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha1(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


def test_plan_balance_counts():
    plan = plan_balance([100, 10, 200, 50, 0])
    assert plan.target == 230
    assert list(plan.gan) == [0, 8, 0, 0, 0]  # N1 capped at 0.8 x 10
    assert list(plan.transform) == [130, 0, 30, 180, 0]  # REM absent: nothing to transform
    t = plan_balance([100, 10, 200, 50, 0], mode="transforms")
    assert list(t.gan) == [0] * 5 and list(t.transform) == [130, 8, 30, 180, 0]
    assert list(plan_balance([100, 300, 200, 50, 40]).gan) == [0, 45, 0, 0, 0]  # N1 is not the minority: up to target


def test_transforms_mode_balances_flags_and_leaves_the_source_untouched(tmp_path, source):
    before = _hashes(source.root)
    subjects = source.subjects()[:2]
    summaries = augment_dataset(source, tmp_path / "aug", subjects=subjects, mode="transforms", seed=1, progress=False)
    assert _hashes(source.root) == before
    aug = PreparedDataset(tmp_path / "aug")
    assert aug.names == source.names and len(summaries) == 3
    manifest = {row["recording"]: row for row in aug.manifest}
    for rec in aug:
        src = source[rec.name]
        real = rec.real
        assert np.array_equal(rec.epochs[real], src.epochs) and np.array_equal(rec.labels[real], src.labels)
        if rec.subject not in subjects:  # validation/test recordings are carried over unchanged
            assert real.all() and rec.n_epochs == src.n_epochs
            assert manifest[rec.name]["n_transform"] == "0"
            continue
        counts = np.bincount(src.labels, minlength=5)
        target = int(np.ceil(1.15 * counts.max()))
        total = np.bincount(rec.labels, minlength=5)
        for code in range(5):
            if counts[code] == 0:
                assert total[code] == 0
            elif code == N1:
                assert total[code] == min(target, counts[code] + int(0.8 * counts[code]))
            else:
                assert total[code] == target
        synthetic = ~real
        assert (rec.origins[synthetic] == ORIGIN_TRANSFORM).all() and (rec.origins[real] == ORIGIN_REAL).all()
        assert np.isnan(rec.onsets[synthetic]).all() and np.isfinite(rec.onsets[real]).all()
        assert int(manifest[rec.name]["n_transform"]) == synthetic.sum() > 0
        assert rec.meta["augmentation"]["mode"] == "transforms"
    saved = json.loads((tmp_path / "aug" / "augment.json").read_text())
    assert saved["augmented_subjects"] == sorted(subjects) and saved["mode"] == "transforms"


def test_gan_mode_uses_the_gan_for_n1_and_transforms_for_channels_without_one(tmp_path, source, gan_dir):
    subject = source.subjects()[0]
    augment_dataset(source, tmp_path / "aug", gan_dir=gan_dir, subjects=[subject], mode="gan", seed=2, progress=False)
    rec = recordings_of(PreparedDataset(tmp_path / "aug"), [subject])[0]
    src = source[rec.name]
    gan = rec.origins == ORIGIN_GAN
    n1_real = int((src.labels == N1).sum())
    assert gan.sum() == min(int(0.8 * n1_real), int(np.ceil(1.15 * np.bincount(src.labels).max())) - n1_real) > 0
    assert (rec.labels[gan] == N1).all()
    assert (rec.labels[rec.origins == ORIGIN_TRANSFORM] != N1).all()
    # each GAN channel is rescaled to the amplitude of a real N1 epoch of the recording
    real_n1 = np.asarray(src.epochs[src.labels == N1], dtype=np.float64)
    real_std = real_n1[:, 0].std(axis=1)
    for x in np.asarray(rec.epochs[gan], dtype=np.float64):
        assert np.abs(real_std / x[0].std() - 1).min() < 0.05
    assert rec.meta["augmentation"]["gan_channels"] == ["EEG Fpz-Cz"]
    assert rec.meta["augmentation"]["transformed_channels_in_gan_epochs"] == ["EEG Pz-Oz", "EOG horizontal"]
    assert PreparedDataset(tmp_path / "aug").manifest[0]["n_gan"] == str(int(gan.sum()))


def test_synthetic_epochs_never_reach_validation_or_test_loaders(tmp_path, source):
    subject = source.subjects()[0]
    augment_dataset(source, tmp_path / "aug", subjects=[subject], mode="transforms", progress=False)
    recs = recordings_of(PreparedDataset(tmp_path / "aug"), [subject])
    synthetic = [normalize_epochs(np.asarray(r.epochs[i], dtype=np.float32), "epoch-zscore")
                 for r in recs for i in np.flatnonzero(~r.real)]
    assert synthetic
    evaluation = EpochDataset(recs)  # what validation, test and prediction build
    assert len(evaluation) == sum(int(r.real.sum()) for r in recs)
    synthetic_keys = {np.round(s, 3).tobytes() for s in synthetic}
    for i in range(len(evaluation)):
        x, _ = evaluation[i]
        assert np.round(x.numpy(), 3).tobytes() not in synthetic_keys
    training = EpochDataset(recs, include_synthetic=True)
    assert len(training) == sum(r.n_epochs for r in recs)
    x, _ = training[len(training) - 1]
    assert torch.allclose(x, torch.from_numpy(synthetic[-1]), atol=1e-5)


def test_refusals(tmp_path, source, gan_dir):
    with pytest.raises(IsatSleepNetError, match="outside the source"):
        augment_dataset(source, source.root / "aug", mode="transforms")
    with pytest.raises(IsatSleepNetError, match=r"^mode= gan needs gan_dir= \(or use mode= transforms\)$") as no:
        augment_dataset(source, tmp_path / "a", mode="gan")
    assert no.value.settings == ("mode", "gan_dir")  # the CLI spells them --mode and --gan
    with pytest.raises(IsatSleepNetError, match="not in"):
        augment_dataset(source, tmp_path / "b", subjects=["nobody"], mode="transforms")
    with pytest.raises(IsatSleepNetError, match="no trained N2 generator"):
        augment_dataset(source, tmp_path / "c", gan_dir=gan_dir, stage="N2")
    # a GAN that learned from a subject outside the augmented (training) subjects would leak it
    with pytest.raises(IsatSleepNetError, match=rf"learned from subject\(s\) {source.subjects()[0]}, which are not"):
        augment_dataset(source, tmp_path / "g", gan_dir=gan_dir, subjects=[source.subjects()[1]], mode="gan",
                        progress=False)
    assert not (tmp_path / "g" / "recordings").exists() or not any((tmp_path / "g" / "recordings").iterdir())
    subject = source.subjects()[0]
    augment_dataset(source, tmp_path / "d", subjects=[subject], mode="transforms", progress=False)
    # the same settings continue (here: nothing left to do); other settings are refused
    with pytest.raises(IsatSleepNetError, match=r"augmented with other settings \(other seed\); run the same "):
        augment_dataset(source, tmp_path / "d", subjects=[subject], mode="transforms", seed=3, progress=False)
    (tmp_path / "d" / RUN_FILE).unlink()  # a dataset of another kind (or of a version before the record)
    with pytest.raises(IsatSleepNetError, match="already holds a dataset"):
        augment_dataset(source, tmp_path / "d", subjects=[subject], mode="transforms", progress=False)
    with pytest.raises(IsatSleepNetError, match="already holds synthetic epochs"):
        augment_dataset(tmp_path / "d", tmp_path / "e", subjects=[subject], mode="transforms", progress=False)


def test_an_interrupted_run_is_continued_and_ends_as_an_uninterrupted_one(tmp_path, source, monkeypatch):
    """Before: the rerun of the same command was refused ("already holds a dataset") once a recording was written."""
    settings = dict(subjects=source.subjects(), mode="transforms", seed=4, target_ratio=2.0, progress=False)
    augment_dataset(source, tmp_path / "whole", **settings)
    written = balance.augment_recording

    def interrupted_after_one(rec, out, **kwargs):
        if any((out / "recordings").glob("SC40*")):
            raise KeyboardInterrupt
        return written(rec, out, **kwargs)

    monkeypatch.setattr(balance, "augment_recording", interrupted_after_one)
    with pytest.raises(KeyboardInterrupt):
        augment_dataset(source, tmp_path / "resumed", **settings)
    assert len(list((tmp_path / "resumed" / "recordings").iterdir())) == 1
    first = next((tmp_path / "resumed" / "recordings").iterdir())
    kept = {p.name: p.stat().st_mtime_ns for p in first.iterdir()}
    monkeypatch.setattr(balance, "augment_recording", written)
    with pytest.raises(IsatSleepNetError, match=r"other settings \(other target_ratio\)"):  # not continued with others
        augment_dataset(source, tmp_path / "resumed", **{**settings, "target_ratio": 2.5})
    augment_dataset(source, tmp_path / "resumed", **settings)
    assert _hashes(tmp_path / "resumed") == _hashes(tmp_path / "whole")
    assert {p.name: p.stat().st_mtime_ns for p in first.iterdir()} == kept  # kept, not written again


@pytest.mark.parametrize("setting, value, problem", [
    ("stage_cap", float("nan"), "stage_cap= must be a finite number of at least 0, not nan"),
    ("stage_cap", -1.0, "stage_cap= must be a finite number of at least 0, not -1.0"),
    ("target_ratio", float("inf"), "target_ratio= must be a finite number of at least 1, not inf"),
    ("target_ratio", -1.0, "target_ratio= must be a finite number of at least 1, not -1.0"),
    ("seed", -1, "seed= must be a whole number of at least 0, not -1"),
    ("seed", 1.5, "seed= must be a whole number of at least 0, not 1.5"),
])
def test_settings_are_refused_before_anything_is_written(tmp_path, source, setting, value, problem):
    with pytest.raises(IsatSleepNetError) as refused:
        augment_dataset(source, tmp_path / "aug", mode="transforms", progress=False, **{setting: value})
    assert str(refused.value) == problem
    assert not (tmp_path / "aug").exists()


def test_an_absurd_size_is_refused_before_the_work(tmp_path, source, monkeypatch):
    """Before: target_ratio=1e6 tried for minutes to hold gigabytes in memory."""
    with pytest.raises(IsatSleepNetError, match=rf"^target_ratio= 1e\+06 would make [\d,]+ epochs from the [\d,]+ real "
                                                rf"ones of the augmented recordings \(\d+ x, more than {MAX_GROWTH} x\)"):
        augment_dataset(source, tmp_path / "aug", mode="transforms", target_ratio=1e6, progress=False)
    import shutil

    from isatsleepnet.augment import checks

    monkeypatch.setattr(checks.shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**12, 10**12, 10**6))
    with pytest.raises(IsatSleepNetError, match=r"the augmented recordings need about [\d.]+ GB, but only 0\.0 GB"):
        augment_dataset(source, tmp_path / "aug", mode="transforms", progress=False)
    assert not (tmp_path / "aug").exists()
