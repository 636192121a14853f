"""The description of a model's training inputs, and the rule that flags recordings unlike them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from isatsleepnet.data import input_profile as ip
from isatsleepnet.data.input_profile import FEATURES, QUANTILES, InputProfile, assess, epoch_features
from isatsleepnet.data.store import ORIGIN_GAN, ORIGIN_REAL, PreparedDataset, write_recording
from isatsleepnet.errors import IsatSleepNetError
from tests.conftest import prepare_synthetic

FS = 100.0
CHANNELS = ["EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal"]


def _tone(freq: float, amplitude: float, n: int = 3, rng=None) -> np.ndarray:
    t = np.arange(3000) / FS
    phase = (rng or np.random.default_rng(0)).uniform(0, 2 * np.pi, (n, 1, 1))
    return amplitude * np.sin(2 * np.pi * freq * t + phase)


def test_a_tone_puts_its_power_in_its_band_and_its_amplitude_in_the_std():
    f = epoch_features(_tone(10.0, 20.0), FS)  # 10 Hz: alpha
    amplitude, bands = f[..., 0], dict(zip(FEATURES[1:], np.moveaxis(f[..., 1:], -1, 0)))
    np.testing.assert_allclose(amplitude, np.log10(20.0 / np.sqrt(2)), atol=1e-3)
    np.testing.assert_allclose(bands["alpha"], np.log10(20.0**2 / 2), atol=0.02)  # a sine's power: A²/2
    assert all((bands["alpha"] - bands[b] > 3).all() for b in ("delta", "theta", "sigma", "beta"))


def test_white_noise_band_powers_grow_with_bandwidth_and_a_flat_channel_stays_finite():
    rng = np.random.default_rng(1)
    x = rng.normal(0, 10, (40, 2, 3000))
    x[:, 1] = 0.0
    f = epoch_features(x, FS)
    delta, beta = f[:, 0, FEATURES.index("delta")], f[:, 0, FEATURES.index("beta")]
    assert abs(np.median(beta - delta) - np.log10(14 / 3.5)) < 0.05  # 16-30 Hz vs 0.5-4 Hz of a flat spectrum
    assert np.isfinite(f).all() and (f[:, 1] <= -11).all()


def test_quantiles_and_the_json_round_trip():
    rng = np.random.default_rng(2)
    feats = rng.normal(size=(500, 3, len(FEATURES)))
    profile = InputProfile.from_features(feats, CHANNELS, FS, n_recordings=4)
    np.testing.assert_allclose(profile.values[1, 2], np.quantile(feats[:, 1, 2], QUANTILES))
    assert profile.quantile(0.5).shape == (3, len(FEATURES))
    back = InputProfile.from_dict(json.loads(json.dumps(profile.to_dict())))
    assert (back.channels, back.n_epochs, back.n_recordings) == (tuple(CHANNELS), 500, 4)
    np.testing.assert_allclose(back.values, profile.values, atol=1e-6)
    epochs = rng.normal(0, 30, (20, 3, 3000))
    assert assess(back, epochs, FS) == assess(profile, epochs, FS)


def test_a_damaged_profile_is_a_one_line_error():
    good = InputProfile.from_features(np.zeros((5, 1, len(FEATURES))), ["EEG"], FS, 1).to_dict()
    with pytest.raises(IsatSleepNetError, match="input profile values have shape"):
        InputProfile.from_dict({**good, "values": [[1.0, 2.0]]})
    with pytest.raises(IsatSleepNetError, match="unreadable input profile"):
        InputProfile.from_dict({k: v for k, v in good.items() if k != "channels"})
    with pytest.raises(IsatSleepNetError, match="1 channel"):
        assess(InputProfile.from_dict(good), np.zeros((2, 3, 3000)), FS)


def _store(root: Path, n_recordings: int, n_epochs: int, *, gan_scale: float | None = None) -> PreparedDataset:
    rng = np.random.default_rng(3)
    for i in range(n_recordings):
        epochs = rng.normal(0, 20, (n_epochs, 3, 3000)).astype(np.float32)
        origins = None
        if gan_scale is not None:  # the second half synthetic, at another amplitude
            epochs[n_epochs // 2 :] *= gan_scale
            origins = np.r_[np.full(n_epochs // 2, ORIGIN_REAL), np.full(n_epochs - n_epochs // 2, ORIGIN_GAN)]
        meta = {"subject": f"S{i}", "night": 1, "sampling_rate": FS, "channels": CHANNELS}
        write_recording(root, f"S{i}", epochs, np.zeros(n_epochs, np.int8), np.arange(n_epochs) * 30.0, meta,
                        origins=origins)
    return PreparedDataset(root)


def test_the_profile_samples_a_bounded_number_of_real_epochs(tmp_path, monkeypatch):
    monkeypatch.setattr(ip, "MAX_EPOCHS", 60)
    monkeypatch.setattr(ip, "PER_RECORDING", (4, 10))
    recs = list(_store(tmp_path / "a", 10, 30))
    assert InputProfile.from_recordings(recs, CHANNELS).n_epochs == 10 * 6  # 60 / 10 recordings each
    assert InputProfile.from_recordings(recs[:2], CHANNELS).n_epochs == 2 * 10  # at most 10 per recording
    many = recs * 5  # 50 recordings: at least 4 each, whatever MAX_EPOCHS says
    assert InputProfile.from_recordings(many, CHANNELS).n_epochs == 50 * 4
    with pytest.raises(IsatSleepNetError, match="no channel 'EEG C3'"):
        InputProfile.from_recordings(recs, ["EEG C3"])


def test_synthetic_epochs_of_an_augmented_store_stay_out_of_the_profile(tmp_path):
    recs = list(_store(tmp_path / "aug", 2, 40, gan_scale=100.0))
    profile = InputProfile.from_recordings(recs, CHANNELS)
    assert profile.n_epochs == 2 * 20
    assert (profile.quantile(0.995)[:, 0] < np.log10(20 * 1.5)).all()  # the real 20-µV epochs only


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> list:
    return list(PreparedDataset(prepare_synthetic(tmp_path_factory.mktemp("profile-cohort"), subjects=6, hours=2.0,
                                                  seed=3)))


def test_held_out_nights_of_the_same_cohort_pass_and_altered_ones_warn(cohort):
    profile = InputProfile.from_recordings(cohort[:3], CHANNELS)
    held_out = [np.asarray(rec.epochs) for rec in cohort[3:]]
    assert [assess(profile, x, FS) for x in held_out] == [[], [], []]

    night = held_out[0]
    scaled = assess(profile, night * 10.0, FS)  # a recording in the wrong unit or gain
    assert scaled[0].startswith("the recording is unlike the model's training data (")
    assert len(scaled) == 1 + ip.SHOWN and all("100 % of epochs have" in line for line in scaled[1:])
    amplitude = ip.outside_fractions(profile, night * 10.0, FS)[:, 0]
    assert (amplitude[:2] == 1.0).all() and amplitude[2] > ip.THRESHOLD  # EOG: wake's eye movements are large

    # every frequency doubled (a 200-Hz recording labelled 100 Hz): the spectrum shifts up
    n, c, s = night[: len(night) // 2 * 2].shape
    pairs = night[:n].reshape(n // 2, 2, c, s).transpose(0, 2, 1, 3).reshape(n // 2, c, 2 * s)
    doubled = pairs[:, :, ::2]  # two consecutive epochs squeezed into one
    shifted = assess(profile, doubled, FS)
    assert shifted and any("delta power outside the range" in line or "beta power outside" in line
                           for line in shifted[1:])

    # beta activity added to one channel only: the warning names that channel and band
    beta = night.copy()
    beta[:, 1] += _tone(22.0, 40.0, len(night))[:, 0]
    lines = assess(profile, beta, FS)
    assert any(line.startswith("EEG Pz-Oz: ") and "beta power outside" in line for line in lines[1:])
    assert all(line.startswith("EEG Pz-Oz: ") for line in lines[1:])
