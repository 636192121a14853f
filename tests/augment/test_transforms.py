"""Physiology-aware transforms add their stage's cue, consistently across channels."""

import numpy as np
import pytest

from isatsleepnet.augment.transforms import (
    STAGE_TRANSFORMS,
    GenericPerturbation,
    channel_roles,
    time_warp,
    transform_epoch,
)

FS = 100.0
ROLES = ["eeg", "eeg", "eog"]


def _epoch(seed=0, n=3000):
    rng = np.random.default_rng(seed)
    x = np.cumsum(rng.standard_normal((3, n)), axis=1)  # brown-ish noise, like EEG's 1/f
    x -= x.mean(axis=1, keepdims=True)
    return (x / x.std(axis=1, keepdims=True) * np.array([[20.0], [15.0], [40.0]])).astype(np.float32)


def _band_share(x, lo, hi, fs=FS):
    power = np.abs(np.fft.rfft(x - x.mean(-1, keepdims=True), axis=-1)) ** 2
    freqs = np.fft.rfftfreq(x.shape[-1], 1 / fs)
    return power[..., (freqs >= lo) & (freqs <= hi)].sum(-1) / power.sum(-1)


@pytest.mark.parametrize(("stage", "band", "eeg_only"), [
    ("W", (9.0, 10.0), True), ("N2", (12.5, 15.0), True), ("N3", (0.5, 1.0), False), ("N1", (4.0, 7.0), True),
])
def test_stage_cue_is_added_on_the_right_channels(stage, band, eeg_only):
    x = _epoch(1)
    gains = []
    for seed in range(5):
        y = STAGE_TRANSFORMS[stage](x.astype(np.float64), FS, ROLES, np.random.default_rng(seed))
        gains.append(_band_share(y, *band) / _band_share(x, *band))
    gain = np.mean(gains, axis=0)
    assert (gain[:2] > 1.5).all(), gain
    if eeg_only:
        assert gain[2] == pytest.approx(1.0, abs=0.05) or stage == "N1"


def test_rem_adds_eye_movements_to_the_eog_and_damps_the_eeg():
    x = _epoch(2)
    y = STAGE_TRANSFORMS["REM"](x.astype(np.float64), FS, ROLES, np.random.default_rng(0))
    added = y[2] - x[2]
    assert added.std() > 0.3 * x[2].std()
    # rapid: the movements rise within a fraction of a second
    assert np.abs(np.diff(added)).max() > 0.1 * np.abs(added).max()
    # the EEG is damped (plus a weak copy of the eye movements): mostly the old signal, scaled down
    scale = float(np.dot(y[0], x[0]) / np.dot(x[0], x[0]))
    assert 0.75 < scale < 0.97


def test_generic_perturbation_is_mild():
    x = _epoch(3).astype(np.float64)
    y = GenericPerturbation()(x, FS, np.random.default_rng(0))
    for c in range(3):
        assert np.corrcoef(x[c], y[c])[0, 1] > 0.95
        assert 0.9 < y[c].std() / x[c].std() < 1.1


def test_time_warp_keeps_the_ends_and_is_common_to_all_channels():
    x = np.tile(np.arange(1000, dtype=np.float64), (2, 1))
    y = time_warp(x, 0.01, np.random.default_rng(0))
    assert y[0, 0] == 0 and y[0, -1] == 999 and np.array_equal(y[0], y[1])
    assert 0 < np.abs(y[0] - x[0]).max() <= 0.01 * 1000 and (np.diff(y[0]) > 0).all()


def test_transform_epoch_shape_dtype_and_determinism():
    x = _epoch(4)
    for stage in STAGE_TRANSFORMS:
        a = transform_epoch(x, stage, FS, ROLES, np.random.default_rng(7))
        b = transform_epoch(x, stage, FS, ROLES, np.random.default_rng(7))
        assert a.shape == x.shape and a.dtype == np.float32 and np.array_equal(a, b) and not np.array_equal(a, x)
    with pytest.raises(ValueError):
        transform_epoch(x, "N4", FS, ROLES, np.random.default_rng(0))


def test_channel_roles_from_meta_or_names():
    assert channel_roles(["EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal"]) == ["eeg", "eeg", "eog"]
    assert channel_roles(["C4-M1", "E1-M2"]) == ["eeg", "eog"]
    assert channel_roles(["a", "b"], ["eeg2", "eog"]) == ["eeg", "eog"]
