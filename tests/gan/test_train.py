"""The GAN training loop: it learns, resumes exactly after an interruption, and stops on NaN."""

import tempfile
import warnings
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
from isatsleepnet.gan import stages as stages_module
from isatsleepnet.gan import train as train_module
from isatsleepnet.gan.config import GanConfig
from isatsleepnet.gan.data import load_stage_epochs, split_holdout
from isatsleepnet.gan.generator import GeneratorBundle, build_generator
from isatsleepnet.gan.quality import log_psd_distance, welch_psd
from isatsleepnet.gan.stages import train_channel_gan
from isatsleepnet.gan.train import CHECKPOINT, LOSS_LOG, GanDivergedError, train_gan

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
    monkeypatch.setattr(stages_module, "train_gan", lambda *a, **k: pytest.fail("a finished GAN was trained again"))
    assert train_channel_gan(synthetic, [subject], "EEG Fpz-Cz", tmp_path, config, device="cpu", progress=False) == folder
    assert (folder / "generator.pt").stat().st_mtime_ns == stamp
    # more epochs: the same run continues from its checkpoint (epoch 1 → 2), it does not start again
    resumed = []
    monkeypatch.setattr(stages_module, "train_gan", lambda *a, **k: resumed.append(real_train_gan(*a, **k)) or resumed[-1])
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


# -- the structure of what is read back: the resume checkpoint and generator.pt -------------------------------

SMALL = replace(TINY, epochs=1, min_steps_per_epoch=1, batch_size=8, select_every=1)
AGAIN = "; use overwrite= (or delete it) to start again"  # str(error): the keyword (the CLI says --overwrite)


@pytest.fixture(scope="module")
def one_epoch(tmp_path_factory) -> tuple[np.ndarray, Path, dict]:
    """(data, folder, checkpoint) of a one-epoch run whose checkpoint holds a selected generator (best)."""
    data = np.random.default_rng(0).standard_normal((8, 500)).astype(np.float32)
    folder = tmp_path_factory.mktemp("gan-one-epoch")
    train_gan(data, 50.0, folder, SMALL, progress=False)
    state = torch.load(folder / CHECKPOINT, weights_only=True)
    assert state["best"] is not None and state["epoch"] == 1 and len(state["rows"]) == 1
    return data, folder, state


def test_an_epoch_without_a_generator_step_gives_no_scheduler_warning(tmp_path):
    """One discriminator step, generator every 3rd: torch's order warning named a problem the run does not have.

    The generator's schedule still counts the epoch: its learning rate after ``lr_step`` epochs is decayed.
    """
    data = np.random.default_rng(0).standard_normal((8, 500)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        train_gan(data, 50.0, tmp_path, replace(SMALL, lr_step=1, lr_gamma=0.5), progress=False)
    state = torch.load(tmp_path / CHECKPOINT, weights_only=True)
    assert state["rows"][0]["g_steps"] == 0 and state["sched_g"]["last_epoch"] == 1


def _corrupt(state: dict, field: str) -> dict:
    opt = state["opt_d"]  # one step: the discriminator has stepped, the generator (every 3rd) not yet
    wrong_moments = {**opt, "state": {0: {**opt["state"][0], "exp_avg": torch.zeros(3)}}}
    values = {
        "rows": "abc", "rows-ints": [1, 2], "rows-short": [], "epoch": "1", "epoch-float": 1.0, "epoch-bool": True,
        "step": None, "best": "x", "best-weights": {**state["best"], "state": {"x": torch.zeros(1)}},
        "best-epoch": {**state["best"], "epoch": 5}, "ramp_epochs": "x", "config": [],
        "generator": [1], "sched_g": {**state["sched_g"], "gamma": "x"},
        "opt_d-lr": {**state["opt_d"], "param_groups": [{**state["opt_d"]["param_groups"][0], "lr": "x"}]},
        "opt_d-moments": wrong_moments,
    }
    return {**state, field.split("-")[0]: values[field]}


RESUME_PROBLEMS = {
    "rows": "rows is not a list of per-epoch records (names and numbers)",
    "rows-ints": "rows is not a list of per-epoch records (names and numbers)",
    "rows-short": "it logs 0 epoch(s) but says 1 were trained",
    "epoch": "epoch is '1', not a whole number of at least 1",
    "epoch-float": "epoch is 1.0, not a whole number of at least 1",
    "epoch-bool": "epoch is True, not a whole number of at least 1",
    "step": "step is None, not a whole number",
    "best": "best is not a selected generator (fit, epoch, weights)",
    "best-weights": "the weights of its best generator do not fit the generator",
    "best-epoch": "best is not a selected generator (fit, epoch, weights)",
    "ramp_epochs": "ramp_epochs is 'x', not a whole number of at least 1",
    "config": "config is not a mapping of settings",
    "generator": "generator is not a set of named weights",
    "sched_g": "sched_g is not a step-schedule state (last_epoch, step_size, gamma, base_lrs)",
    "opt_d-lr": "opt_d is not an Adam state (lr, betas, eps, weight_decay)",
    "opt_d-moments": "opt_d holds exp_avg of shape (3,) for a weight of shape ",
}


@pytest.mark.parametrize("field", list(RESUME_PROBLEMS))
def test_a_resume_checkpoint_with_a_wrong_field_is_one_line(one_epoch, tmp_path, field):
    """Before: ``rows`` a string gave an AttributeError deep in the loop (`unexpected AttributeError`)."""
    data, _, state = one_epoch
    (tmp_path / CHECKPOINT).parent.mkdir(parents=True)
    torch.save(_corrupt(state, field), tmp_path / CHECKPOINT)
    with pytest.raises(IsatSleepNetError) as info:
        train_gan(data, 50.0, tmp_path, replace(SMALL, epochs=2), progress=False)
    message = str(info.value)
    assert message.startswith(f"{tmp_path / CHECKPOINT}: corrupt checkpoint: {RESUME_PROBLEMS[field]}"), message
    assert message.endswith(AGAIN) and "\n" not in message


def test_an_intact_resume_checkpoint_continues(one_epoch, tmp_path):
    """The control for the test above: the same checkpoint, unchanged, resumes."""
    data, _, state = one_epoch
    (tmp_path / CHECKPOINT).parent.mkdir(parents=True)
    torch.save(state, tmp_path / CHECKPOINT)
    outcome = train_gan(data, 50.0, tmp_path, replace(SMALL, epochs=2), progress=False)
    assert outcome.resumed_from == 1 and outcome.epochs_done == 2


@pytest.fixture(scope="module")
def saved_generator(tmp_path_factory) -> tuple[Path, dict]:
    """(folder, payload) of a generator.pt saved by GeneratorBundle."""
    from dataclasses import asdict

    folder = tmp_path_factory.mktemp("generator")
    generator = build_generator(500, SMALL, seed=0)
    GeneratorBundle(generator, channel="EEG Fpz-Cz", stage="N1", sampling_rate=50.0, amplitude_uv=np.ones((4, 2)),
                    config=asdict(SMALL), epochs_trained=1).save(folder)
    return folder, torch.load(folder / "generator.pt", weights_only=True)


@pytest.mark.parametrize("changes, problem", [
    ({"n_samples": True}, "not a complete Physio-GAN generator (no valid n_samples); train it again"),
    ({"epochs_trained": "1"}, "not a complete Physio-GAN generator (no valid epochs_trained); train it again"),
    ({"n_samples": 10**9}, ("corrupt generator: n_samples is 1000000000, not a number of samples per epoch "
                            "(1 to 1000000); train it again")),
    ({"sampling_rate": float("nan")}, ("corrupt generator: sampling_rate is nan, not a finite number above 0; "
                                       "train it again")),
    ({"stage": "S1"}, "corrupt generator: stage is 'S1', not one of W, N1, N2, N3, REM; train it again"),
    ({"channel": " "}, "corrupt generator: its channel has no name; train it again"),
    ({"amplitude_uv": torch.ones(5)}, ("corrupt generator: amplitude_uv has shape (5,), not (epochs, 2) µV means "
                                       "and deviations; train it again")),
    ({"state_dict": {"w": [1.0]}}, "corrupt generator: its state_dict is not a set of named weights; train it again"),
    ({"epochs_trained": -1}, "corrupt generator: epochs_trained is -1, a negative number; train it again"),
    ({"amplitude_uv": torch.full((3, 2), float("nan"))}, ("corrupt generator: non-finite weights in amplitude_uv; "
                                                          "train it again")),
    ({"config": {"epochs": 0}}, ("invalid generator settings: epochs= must be a whole number of at least 1, not 0; "
                                 "train it again")),
    ({"config": {"noise_dim": "x"}}, ("invalid generator settings: noise_dim= must be a whole number of at least 1, "
                                      "not 'x'; train it again")),
])
def test_a_generator_file_with_a_wrong_field_is_one_line(saved_generator, tmp_path, changes, problem):
    folder, payload = saved_generator
    if "config" in changes:
        changes = {"config": {**payload["config"], **changes["config"]}}
    torch.save({**payload, **changes}, tmp_path / "generator.pt")
    with pytest.raises(IsatSleepNetError) as info:
        GeneratorBundle.load(tmp_path)
    assert str(info.value) == f"{tmp_path / 'generator.pt'}: {problem}"
    assert GeneratorBundle.load(folder).n_samples == 500  # the intact file loads
