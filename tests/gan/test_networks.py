"""Generator and discriminator: shapes for several epoch lengths, output scale, spectral initialisation."""

import numpy as np
import pytest
import torch

from isatsleepnet.gan.config import GanConfig
from isatsleepnet.gan.discriminator import Discriminator
from isatsleepnet.gan.generator import Generator, build_generator, gain_basis

SMALL = dict(base_channels=16, upsamplings=4, spectral_channels=2, freq_rank=8)

pytestmark = pytest.mark.usefixtures("one_torch_thread")



@pytest.mark.parametrize("n_samples", [3000, 3750, 1500, 1001])
def test_shapes_follow_the_epoch_length(n_samples):
    torch.manual_seed(0)
    g = Generator(n_samples, **SMALL)
    d = Discriminator(n_samples, channels=(8, 16, 16))
    x = g(torch.randn(3, 100))
    assert x.shape == (3, n_samples)
    assert d(x).shape == (3,) and d(x.unsqueeze(1)).shape == (3,)
    y, spectrum = g(torch.randn(2, 100), return_spectrum=True)
    assert spectrum.shape == (2, 2, n_samples // 2 + 1)


def test_generator_output_is_zscored_and_clipped_like_the_data():
    torch.manual_seed(1)
    x = Generator(1500, clip=2.5, **SMALL)(torch.randn(4, 100)).detach()
    assert x.abs().max() <= 2.5 + 1e-6
    assert x.mean(-1).abs().max() < 0.05
    assert ((x.std(-1) - 1).abs() < 0.1).all()


def test_sampling_is_reproducible_and_leaves_train_mode():
    g = build_generator(1500, GanConfig(g_base_channels=16), seed=0)
    g.train()
    a = g.sample(5, generator=torch.Generator().manual_seed(3))
    b = g.sample(5, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and a.shape == (5, 1500) and g.training


def test_build_generator_is_deterministic_from_the_seed():
    a = build_generator(1500, GanConfig(), seed=4).state_dict()
    b = build_generator(1500, GanConfig(), seed=4).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_gain_basis_interpolates_smoothly():
    basis = gain_basis(1501, 15).numpy()
    assert basis.shape[1] == 1501
    assert np.allclose(basis.sum(axis=0), 1.0)  # a partition of unity: a constant gain is representable
    assert basis.shape[0] < 1501 / 10  # far fewer control points than bins


def test_spectral_initialisation_matches_the_real_mean_spectrum():
    rng = np.random.default_rng(0)
    n = 1500
    freqs = np.fft.rfftfreq(n, 1 / 50.0)
    spec = np.fft.rfft(rng.standard_normal((32, n)), axis=1)
    spec *= np.where((freqs > 5) & (freqs < 7), 1.0, 0.1)  # a theta-band peak over broadband noise
    real = np.fft.irfft(spec, n=n, axis=1)
    real = torch.from_numpy(((real - real.mean(1, keepdims=True)) / real.std(1, keepdims=True)).astype(np.float32))

    def peak_share(g):
        x = g.sample(32, generator=torch.Generator().manual_seed(0)).numpy()
        power = np.abs(np.fft.rfft(x, axis=1)) ** 2
        freqs = np.fft.rfftfreq(n, 1 / 50.0)
        return power[:, (freqs > 5) & (freqs < 7)].sum() / power.sum()

    g = Generator(n, **SMALL)
    before = peak_share(g)
    g.init_spectrum(real)
    assert peak_share(g) > max(0.5, 3 * before)


def test_image_bins_sit_at_multiples_of_the_upsampling_period():
    from isatsleepnet.gan.generator import image_bins

    bins, left, right = image_bins(3000, 32)  # lines every 3000 / 32 = 93.75 bins (3.125 Hz at 100 Hz)
    assert bins[:3].tolist() == [93, 94, 95] and left[0] == 91 and right[0] == 97
    assert not set(left.tolist()) & set(bins.tolist()) and not set(right.tolist()) & set(bins.tolist())
    assert int(bins.max()) < 3000 // 2 + 1


@pytest.mark.parametrize("n_samples", [3000, 2048])
def test_generator_output_has_no_lines_at_multiples_of_the_first_stage_rate(n_samples):
    """Untrained generators: without de-imaging, energy piles up at k * fs / 2**upsamplings."""

    def line_ratio(deimage: bool) -> float:
        torch.manual_seed(0)
        gen = Generator(n_samples, base_channels=16, upsamplings=5, deimage=deimage).eval()
        with torch.no_grad():
            y = gen(torch.randn(64, gen.noise_dim))
        power = torch.fft.rfft(y, dim=-1).abs().pow(2).mean(dim=0)
        lines = torch.round(torch.arange(1, 16) * n_samples / 32).long()
        lines = lines[lines < len(power)]
        return float(power[lines].mean() / power[1:].median())

    assert line_ratio(False) > 50.0  # measured ~1600 at 3000 samples
    assert line_ratio(True) < 5.0  # measured ~2
