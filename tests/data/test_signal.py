import numpy as np
import pytest
from scipy import signal as sps

from isatsleepnet.data.signal import bandpass, notch, resample


@pytest.mark.parametrize(("fs_in", "fs_out"), [(125.0, 100.0), (50.0, 100.0), (100.0, 100.0), (256.0, 100.0)])
def test_resample_keeps_length_and_a_sine(fs_in, fs_out):
    t = np.arange(int(60 * fs_in)) / fs_in
    x = 30 * np.sin(2 * np.pi * 3.0 * t)
    y = resample(x, fs_in, fs_out)
    assert len(y) == int(60 * fs_out)
    t_out = np.arange(len(y)) / fs_out
    core = slice(int(fs_out), -int(fs_out))  # edges ring a little
    np.testing.assert_allclose(y[core], 30 * np.sin(2 * np.pi * 3.0 * t_out)[core], atol=0.5)


def test_resample_removes_content_above_new_nyquist():
    fs = 125.0
    t = np.arange(int(60 * fs)) / fs
    y = resample(np.sin(2 * np.pi * 60.0 * t), fs, 100.0)  # 60 Hz would alias to 40 Hz
    assert np.abs(y[100:-100]).max() < 0.05


def test_bandpass_and_notch():
    fs = 100.0
    t = np.arange(int(120 * fs)) / fs
    slow, mid, hum = np.sin(2 * np.pi * 0.05 * t), np.sin(2 * np.pi * 10 * t), np.sin(2 * np.pi * 50 * t / 2)
    y = bandpass(slow + mid, fs, 0.3, 35.0)
    f, p = sps.welch(y, fs, nperseg=4096)
    assert p[np.argmin(abs(f - 10))] > 100 * p[np.argmin(abs(f - 0.05))]
    z = notch(mid + hum, fs, 25.0)
    assert np.std(z[1000:-1000] - mid[1000:-1000]) < 0.1
