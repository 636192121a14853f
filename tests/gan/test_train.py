"""The GAN training loop: it learns, resumes exactly after an interruption, and stops on NaN."""

import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from isatsleepnet.data.prepare import prepare_dataset
from isatsleepnet.data.prepare_config import PrepareConfig
from isatsleepnet.data.store import PreparedDataset
from isatsleepnet.data.synthetic import SynthConfig, synthesize
from isatsleepnet.errors import IsatSleepNetError
from isatsleepnet.gan import train as train_module
from isatsleepnet.gan.config import GanConfig
from isatsleepnet.gan.data import load_stage_epochs, split_holdout
from isatsleepnet.gan.generator import GeneratorBundle, build_generator
from isatsleepnet.gan.quality import log_psd_distance, welch_psd
from isatsleepnet.gan.train import CHECKPOINT, LOSS_LOG, GanDivergedError, train_channel_gan, train_gan

TINY = GanConfig(epochs=4, batch_size=16, min_steps_per_epoch=6, g_base_channels=16, g_upsamplings=4,
                 g_spectral_channels=2, g_freq_rank=16, d_channels=(8, 16, 16), checkpoint_every=2)

pytestmark = pytest.mark.usefixtures("one_torch_thread")



@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> PreparedDataset:
    root = tmp_path_factory.mktemp("gan-synth")
    synthesize(root / "raw", SynthConfig(layout="sleep-edf", subjects=2, hours=2.0, seed=3), progress=False)
    # 50 Hz keeps the tests fast (1500-sample epochs); the networks follow the epoch length
    prepare_dataset(root / "raw", root / "prepared", PrepareConfig(dataset="sleep-edf", sampling_rate=50.0), progress=False)
    return PreparedDataset(root / "prepared")


@pytest.fixture(scope="module")
def n1(synthetic):
    return load_stage_epochs(synthetic, synthetic.subjects(), "EEG Fpz-Cz", "N1")


def test_stage_epochs_are_zscored_clipped_and_from_the_given_subjects_only(synthetic, n1):
    assert len(n1) > 10 and n1.z.shape[1] == 1500
    assert np.abs(n1.z).max() <= 3.0 and np.allclose(n1.z.mean(1), 0, atol=0.1)
    one = load_stage_epochs(synthetic, synthetic.subjects()[:1], "EEG Fpz-Cz", "N1")
    rec = synthetic[one.recordings[0]]
    assert one.subjects == synthetic.subjects()[:1] and len(one) == int((rec.labels == 1).sum()) < len(n1)
    with pytest.raises(IsatSleepNetError, match="unknown stage"):
        load_stage_epochs(synthetic, synthetic.subjects(), "EEG Fpz-Cz", "S1")


def test_holdout_split_keeps_enough_for_training():
    train, hold = split_holdout(58, 0.25, min_holdout=10, min_train=32, seed=0)
    assert len(hold) == 15 and len(train) == 43 and not set(train) & set(hold)
    train, hold = split_holdout(30, 0.25, min_holdout=10, min_train=32, seed=0)
    assert len(hold) == 0 and len(train) == 30
    train, hold = split_holdout(5000, 0.25, min_holdout=10, min_train=32, seed=0, max_holdout=200)
    assert len(hold) == 200 and len(train) == 4800


def test_short_run_brings_the_spectrum_closer_than_the_untrained_generator(tmp_path, n1):
    config = replace(TINY, epochs=4, init_spectrum=False, lr_g=1e-3)
    outcome = train_gan(n1.z, n1.sampling_rate, tmp_path, config, progress=False)
    freqs, real = welch_psd(n1.z, n1.sampling_rate)
    untrained = build_generator(1500, config, seed=config.seed)
    untrained.calibrate_batchnorm()
    before = log_psd_distance(freqs, real, welch_psd(untrained.sample(64).numpy(), n1.sampling_rate)[1])
    after = log_psd_distance(freqs, real, welch_psd(outcome.generator.sample(64).numpy(), n1.sampling_rate)[1])
    assert after < before
    rows = (tmp_path / LOSS_LOG).read_text().splitlines()
    assert rows[0].startswith("epoch,d_steps,g_steps,d_loss") and len(rows) == 5
    # model selection scored the last epoch (select_every 5 > 4 epochs) and kept a scored generator
    assert {r["epoch"] for r in outcome.rows if "fit" in r} == {4} and outcome.selected_epoch == 4


def test_discriminator_augmentation_permutes_samples_and_cuts_one_segment():
    x = torch.arange(40.0).repeat(3, 1) + 1
    y = train_module._d_augment(x, torch.Generator().manual_seed(0))
    assert y.shape == x.shape
    for row in y:
        kept = row[row != 0]
        assert len(kept) == 36 and len(set(kept.tolist())) == 36  # shifted/reversed values, 10 % zeroed
    config = replace(TINY, epochs=1, min_steps_per_epoch=3, d_augment=True)
    assert train_gan(np.random.default_rng(0).standard_normal((8, 500)).astype(np.float32), 50.0,
                     Path(tempfile.mkdtemp()), config, progress=False).epochs_done == 1


def test_resume_after_interruption_continues_from_the_checkpoint(tmp_path, n1):
    data = n1.z[:16, :1000]
    config = replace(TINY, epochs=3, min_steps_per_epoch=3)
    full = train_gan(data, 50.0, tmp_path / "full", config, progress=False)

    def crash(epoch, row):
        if epoch == 1:  # killed after the second epoch was checkpointed
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_gan(data, 50.0, tmp_path / "cut", replace(config, checkpoint_every=1), progress=False, on_epoch_end=crash)
    assert torch.load(tmp_path / "cut" / CHECKPOINT, weights_only=True)["epoch"] == 2
    resumed = train_gan(data, 50.0, tmp_path / "cut", config, progress=False)
    assert resumed.resumed_from == 2 and resumed.epochs_done == 3
    a, b = full.generator.state_dict(), resumed.generator.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)  # exactly as if never interrupted
    assert [r["epoch"] for r in resumed.rows] == [1, 2, 3]
    with pytest.raises(IsatSleepNetError, match="different run"):
        train_gan(data[:12], 50.0, tmp_path / "cut", config, progress=False)


def test_nan_guard_stops_with_a_clear_message_and_keeps_the_last_good_checkpoint(tmp_path, n1, monkeypatch):
    calls = {"n": 0}
    real_loss = train_module.d_relativistic_loss

    def poisoned(real_scores, fake_scores):
        calls["n"] += 1
        loss = real_loss(real_scores, fake_scores)
        return loss * float("nan") if calls["n"] > 14 else loss  # NaN in the third epoch (6 steps each)

    monkeypatch.setattr(train_module, "d_relativistic_loss", poisoned)
    with pytest.raises(GanDivergedError) as info:
        train_gan(n1.z[:24], 50.0, tmp_path, replace(TINY, checkpoint_every=1), progress=False)
    message = str(info.value)
    assert "diverged at epoch 3" in message and "nan" in message and "last good checkpoint" in message
    assert "\n" not in message
    assert torch.load(tmp_path / CHECKPOINT, weights_only=True)["epoch"] == 2


def test_train_channel_gan_writes_everything_needed_to_sample_later(tmp_path, synthetic):
    subject = synthetic.subjects()[0]
    folder = train_channel_gan(synthetic, [subject], "EEG Pz-Oz", tmp_path, replace(TINY, epochs=2),
                               device="cpu", progress=False)
    assert folder == tmp_path / "eeg-pz-oz_N1"
    for name in ("generator.pt", "gan_config.json", "data.json", "loss_log.csv", "loss_curve.png",
                 "quality.json", "quality_time.png", "quality_psd.png", "checkpoints/last.pt"):
        assert (folder / name).is_file(), name
    import json

    data = json.loads((folder / "data.json").read_text())
    assert data["subjects"] == [subject] and all(synthetic[r].subject == subject for r in data["recordings"])
    quality = json.loads((folder / "quality.json").read_text())
    assert {"gan", "phase_randomised", "coloured_noise", "untrained"} <= set(quality["metrics"])
    assert set(quality["metrics"]["gan"]["band_power_rel_diff"]) == {"delta", "theta", "alpha", "sigma", "beta"}
    assert 0.0 <= quality["metrics"]["gan"]["c2st_accuracy"]["mean"] <= 1.0
    assert "too few to hold any out" in quality["reference"]  # ~20 N1 epochs: no holdout
    bundle = GeneratorBundle.load(folder)
    assert bundle.channel == "EEG Pz-Oz" and bundle.stage == "N1" and bundle.sampling_rate == 50.0
    x = bundle.sample(3, seed=1)
    assert x.shape == (3, 1500) and np.array_equal(x, bundle.sample(3, seed=1))
    assert bundle.amplitude_uv.shape == (data["n_epochs"], 2) and (bundle.amplitude_uv[:, 1] > 0).all()


def test_a_finished_gan_is_reused_and_a_longer_budget_resumes_it(tmp_path, synthetic, monkeypatch):
    subject = synthetic.subjects()[0]
    config = replace(TINY, epochs=1, select_every=0)
    folder = train_channel_gan(synthetic, [subject], "EEG Fpz-Cz", tmp_path, config, device="cpu", progress=False)
    stamp = (folder / "generator.pt").stat().st_mtime_ns
    real_train_gan = train_module.train_gan
    monkeypatch.setattr(train_module, "train_gan", lambda *a, **k: pytest.fail("a finished GAN was trained again"))
    assert train_channel_gan(synthetic, [subject], "EEG Fpz-Cz", tmp_path, config, device="cpu", progress=False) == folder
    assert (folder / "generator.pt").stat().st_mtime_ns == stamp
    # more epochs: the same run continues from its checkpoint (epoch 1 → 2), it does not start again
    resumed = []
    monkeypatch.setattr(train_module, "train_gan", lambda *a, **k: resumed.append(real_train_gan(*a, **k)) or resumed[-1])
    train_channel_gan(synthetic, [subject], "EEG Fpz-Cz", tmp_path, replace(config, epochs=2), device="cpu", progress=False)
    assert resumed[0].resumed_from == 1 and resumed[0].epochs_done == 2
    import json

    assert json.loads((folder / "done.json").read_text())["epochs"] == 2


def test_a_longer_budget_keeps_the_spectral_ramp_the_run_began_with(tmp_path, n1):
    data = n1.z[:16, :1000]
    config = replace(TINY, epochs=3, min_steps_per_epoch=3, spec_weight_start=0.0, spec_weight_end=1.0)
    train_gan(data, 50.0, tmp_path, config, progress=False)
    longer = train_gan(data, 50.0, tmp_path, replace(config, epochs=5), progress=False)
    weights = [row["spec_weight"] for row in longer.rows]
    assert weights == pytest.approx([0.0, 0.5, 1.0, 1.0, 1.0])  # epochs 4-5 continue at the end weight
    assert config.spec_weight(1) == 0.5 and config.spec_weight(1, ramp_epochs=5) == 0.25
