"""Physio-GAN generator: noise → time-domain draft → frequency-domain reshaping → epoch.

Why this shape: a transposed-convolution stack alone produces a broadband draft
whose spectrum is hard to steer; passing its magnitude spectrum through a
fully-connected layer in the frequency domain lets the generator set the 1/f
slope and the alpha/sigma/delta peaks of EEG directly (a learned, input-dependent
log-gain, smooth across frequency), while the draft's phases keep its time structure
(bursts, transients). Every size follows ``n_samples`` (3000 at 100 Hz, 3750
at 125 Hz, 1500 at 50 Hz): nothing is wired to one epoch length.

Pipeline (B = batch, S = spectral channels, F = n_samples // 2 + 1)::

    z (B, noise_dim) → FC → (B, C0, L0) → ConvTranspose x k (BN, LeakyReLU 0.2)
      → conv → tanh → draft h (B, S, n_samples)
      → log|rfft(h)| (B, S, F) → K band averages → FC over frequency → K control points
      → smooth log-gain g (B, S, F) (linear interpolation between the points)
      → irfft(rfft(h) * exp(g)) → zero-mean → FC over channels (S → 1)
      → per-epoch z-score → clip to ±clip → epoch (B, n_samples)

The output is z-scored per epoch and clipped to ±clip exactly as the training
epochs are, so amplitude is never something the discriminator can tell apart.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import nn

from isatsleepnet import STAGES
from isatsleepnet.atomic import atomic_path
from isatsleepnet.errors import IsatSleepNetError, template_of

LOG_GAIN_BOUND = 8.0  # the frequency stage scales a bin by at most e^8 (70 dB) either way


def gain_basis(n_freq: int, every: int) -> torch.Tensor:
    """(K, n_freq) linear-interpolation basis from K control points, one every ``every`` bins.

    The frequency stage sets its gain at the control points only, so the gain is
    smooth across frequency (0.5 Hz apart for 30-s epochs and ``every`` = 15):
    it can shape EEG peaks and slopes but not carve the narrow notches and
    spikes a free per-bin gain picks up from adversarial gradients. Points are
    denser (log-spaced) below the first regular one, where the spectrum is steepest.
    """
    every = max(every, 1)
    low = np.round(np.geomspace(1, every, 8)).astype(int)  # denser below the first point: the steep 1/f end
    positions = np.unique(np.r_[np.arange(0, n_freq, every), low[low < n_freq], n_freq - 1])
    bins = np.arange(n_freq)
    basis = np.stack([np.interp(bins, positions, np.eye(len(positions))[k]) for k in range(len(positions))])
    return torch.from_numpy(basis.astype(np.float32))


def image_bins(n_samples: int, period: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """rfft bins next to k * n_samples / period (k >= 1), with a left and a right neighbour outside each span.

    A stack of stride-2 transposed convolutions has a sample pattern that repeats
    every ``period`` = 2**upsamplings samples, which puts narrow spectral lines at
    k * fs / period (3.125 Hz apart for 100-Hz epochs). Returns (bins, left, right).
    """
    n_freq = n_samples // 2 + 1
    bins, left, right = [], [], []
    k = 1
    while (centre := k * n_samples / period) < n_freq - 3:
        span = [b for b in range(int(np.floor(centre - 1.5)), int(np.ceil(centre + 1.5)) + 1)
                if abs(b - centre) <= 1.5 and 0 < b < n_freq]
        lo, hi = max(min(span) - 2, 0), min(max(span) + 2, n_freq - 1)
        bins += span
        left += [lo] * len(span)
        right += [hi] * len(span)
        k += 1
    as_long = lambda values: torch.tensor(values, dtype=torch.long)  # noqa: E731
    return as_long(bins), as_long(left), as_long(right)


class Generator(nn.Module):
    """Maps noise ``(B, noise_dim)`` to z-scored epochs ``(B, n_samples)``."""

    def __init__(
        self,
        n_samples: int,
        *,
        noise_dim: int = 100,
        base_channels: int = 64,
        upsamplings: int = 5,
        spectral_channels: int = 4,
        freq_rank: int = 64,
        clip: float = 3.0,
        gain_bins: int = 15,
        deimage: bool = True,
    ) -> None:
        super().__init__()
        if n_samples < 2 ** upsamplings:
            raise ValueError(f"n_samples {n_samples} is shorter than the upsampling factor {2 ** upsamplings}")
        self.n_samples = n_samples
        self.noise_dim = noise_dim
        self.clip = clip
        self.start_length = math.ceil(n_samples / 2 ** upsamplings)
        widths = [max(base_channels // 2 ** (i // 2), 8) for i in range(upsamplings + 1)]
        self.fc = nn.Linear(noise_dim, widths[0] * self.start_length)
        self.fc_norm = nn.BatchNorm1d(widths[0])
        blocks: list[nn.Module] = []
        for c_in, c_out in zip(widths[:-1], widths[1:]):
            blocks += [
                nn.ConvTranspose1d(c_in, c_out, kernel_size=4, stride=2, padding=1),
                nn.BatchNorm1d(c_out),
                nn.LeakyReLU(0.2),
            ]
        self.upsample = nn.Sequential(*blocks)
        self.to_draft = nn.Conv1d(widths[-1], spectral_channels, kernel_size=7, padding=3)
        n_freq = n_samples // 2 + 1
        basis = gain_basis(n_freq, gain_bins)
        self.register_buffer("gain_basis", basis, persistent=False)
        self.register_buffer("band_pool", basis / basis.sum(dim=1, keepdim=True), persistent=False)
        k = len(basis)
        self.freq_fc = nn.Sequential(nn.Linear(k, freq_rank), nn.LeakyReLU(0.2), nn.Linear(freq_rank, k))
        nn.init.zeros_(self.freq_fc[2].weight)  # start as an identity spectral stage
        nn.init.zeros_(self.freq_fc[2].bias)
        self.mix = nn.Conv1d(spectral_channels, 1, kernel_size=1)
        self.deimage = deimage
        for name, value in zip(("image_bins", "image_left", "image_right"), image_bins(n_samples, 2 ** upsamplings)):
            self.register_buffer(name, value, persistent=False)

    def draft(self, z: torch.Tensor) -> torch.Tensor:
        """(B, noise_dim) → time-domain draft (B, S, n_samples) in [-1, 1]."""
        h = self.fc(z).view(len(z), -1, self.start_length)
        h = nn.functional.leaky_relu(self.fc_norm(h), 0.2)
        h = self.upsample(h)[..., : self.n_samples]
        return torch.tanh(self.to_draft(h))

    def band_spectrum(self, log_mag: torch.Tensor) -> torch.Tensor:
        """(..., F) log-magnitudes → (..., K) band averages around the control points, standardised.

        The FC sees K normalised inputs instead of F raw ones: with Adam moving
        every weight by about the learning rate per step, a fan-in of F large
        log-magnitudes made the gain drift into ripples across frequency.
        """
        bands = log_mag @ self.band_pool.T
        return (bands - bands.mean(dim=-1, keepdim=True)) / (bands.std(dim=-1, keepdim=True) + 1e-5)

    def log_gain(self, points: torch.Tensor) -> torch.Tensor:
        """Control-point values (..., K) → smooth bounded log-gain per frequency bin (..., F)."""
        return LOG_GAIN_BOUND * torch.tanh((points @ self.gain_basis) / LOG_GAIN_BOUND)

    @torch.no_grad()
    def init_spectrum(self, real: torch.Tensor, *, seed: int = 0, n: int = 64) -> None:
        """Start the frequency stage at the real epochs' mean log-magnitude spectrum (real: (m, n_samples)).

        A data-dependent initialisation, like setting an output bias to the data
        mean: the bias of the frequency-domain FC (its control points) becomes the
        least-squares fit of the per-bin difference between the real and the
        (mixed) draft's mean log-magnitude (up to 2048 real epochs), so training starts
        from EEG-like spectra instead of the draft's broadband noise and the few
        hundred generator steps a CPU affords go into shape, bursts and variety.
        """
        was_training = self.training
        self.train()  # batch statistics, as in training (also warms the BatchNorm running statistics)
        z = torch.randn(n, self.noise_dim, generator=torch.Generator().manual_seed(seed)).to(real.device)
        # At initialisation the frequency stage applies one gain per bin to every spectral
        # channel, so the output spectrum is that gain times the spectrum of the mixed draft.
        mixed = self.mix(self.draft(z)).squeeze(1)
        draft = torch.log(torch.fft.rfft(mixed, dim=-1).abs() + 1e-4).mean(dim=0)
        target = torch.log(torch.fft.rfft(real[:2048], dim=-1).abs() + 1e-4).mean(dim=0)
        delta = target - draft
        delta = (delta - delta.mean()).clamp(-0.99 * LOG_GAIN_BOUND, 0.99 * LOG_GAIN_BOUND)
        wanted = LOG_GAIN_BOUND * torch.atanh(delta / LOG_GAIN_BOUND)  # (F,) before the smooth basis
        basis = self.gain_basis.T.cpu().double().numpy()
        points, *_ = np.linalg.lstsq(basis, wanted.cpu().double().numpy(), rcond=None)  # deterministic, float64
        self.freq_fc[2].bias.copy_(torch.from_numpy(points).to(self.freq_fc[2].bias))
        self.calibrate_batchnorm(seed=seed)
        self.train(was_training)

    @torch.no_grad()
    def calibrate_batchnorm(self, *, seed: int = 0, batches: int = 16, batch_size: int = 64) -> None:
        """Set the BatchNorm running statistics to the average batch statistics of the current weights.

        Sampling uses eval mode; running averages collected while the weights
        moved lag behind them, so they are recomputed before sampling.
        """
        was_training = self.training
        norms = [m for m in self.modules() if isinstance(m, nn.BatchNorm1d)]
        momenta = [m.momentum for m in norms]
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # cumulative average
        self.train()
        device = next(self.parameters()).device
        rng = torch.Generator().manual_seed(seed)
        for _ in range(batches):
            self.draft(torch.randn(batch_size, self.noise_dim, generator=rng).to(device))
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
        self.train(was_training)

    def forward(self, z: torch.Tensor, *, return_spectrum: bool = False):
        """(B, noise_dim) → (B, n_samples); with ``return_spectrum`` also the reshaped
        magnitude spectrum (B, S, F) of the frequency stage."""
        h = self.draft(z)
        spectrum = torch.fft.rfft(h, dim=-1)
        if self.deimage and len(self.image_bins):
            spectrum = self.remove_images(spectrum)
        log_mag = torch.log(spectrum.abs() + 1e-4)
        gain = torch.exp(self.log_gain(self.freq_fc(self.band_spectrum(log_mag))))
        shaped = spectrum * gain  # a real positive gain changes magnitudes, keeps phases
        x = torch.fft.irfft(shaped, n=self.n_samples, dim=-1)
        x = x - x.mean(dim=-1, keepdim=True)
        y = self.mix(x).squeeze(1)
        y = (y - y.mean(dim=-1, keepdim=True)) / (y.std(dim=-1, keepdim=True) + 1e-5)
        y = y.clamp(-self.clip, self.clip)  # the same z-score-then-clip as the training epochs
        if return_spectrum:
            return y, shaped.abs()
        return y

    def remove_images(self, spectrum: torch.Tensor) -> torch.Tensor:
        """The draft's spectrum (B, S, F) with the transposed-convolution lines taken out.

        At the few bins around each k * fs / 2**upsamplings the magnitude is set to
        the mean of the neighbours just outside the line (phases kept), so the
        frequency stage starts from a line-free spectrum; a smooth gain could not
        remove 1-2-bin lines, and blurring every upsampling stage notched the
        whole spectrum instead (docs/gan.md).
        """
        mag = spectrum.abs()
        target = 0.5 * (mag[..., self.image_left] + mag[..., self.image_right])
        scale = torch.ones_like(mag)
        scale[..., self.image_bins] = target / (mag[..., self.image_bins] + 1e-8)
        return spectrum * scale

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, batch_size: int = 256) -> torch.Tensor:
        """``n`` epochs (n, n_samples) drawn in eval mode (BatchNorm running statistics)."""
        was_training = self.training
        self.eval()
        device = next(self.parameters()).device
        out = []
        try:
            for start in range(0, n, batch_size):
                m = min(batch_size, n - start)
                z = torch.randn(m, self.noise_dim, generator=generator).to(device)
                out.append(self(z).cpu())
        finally:
            self.train(was_training)
        return torch.cat(out) if out else torch.empty(0, self.n_samples)


GENERATOR_FILE = "generator.pt"


def build_generator(n_samples: int, config, *, seed: int | None = None) -> Generator:
    """The generator a :class:`~isatsleepnet.gan.config.GanConfig` describes; ``seed`` fixes its initial weights."""
    if seed is not None:
        torch.manual_seed(seed)
    return Generator(
        n_samples,
        noise_dim=config.noise_dim,
        base_channels=config.g_base_channels,
        upsamplings=config.g_upsamplings,
        spectral_channels=config.g_spectral_channels,
        freq_rank=config.g_freq_rank,
        clip=config.clip,
        gain_bins=config.g_gain_bins,
        deimage=config.g_deimage,
    )


MAX_SAMPLES = 1_000_000  # samples per epoch: 30 s at 33 kHz; more is a damaged file, not a recording


def bundle_problem(payload: dict) -> str | None:
    """What is wrong with the values of a generator.pt whose fields have the right types; None if nothing.

    Why: sampling uses every one of them (the epoch length builds the network, the µV amplitudes
    scale the samples), so a wrong value would fail or mislead far from the file.
    """
    state = payload["state_dict"]
    if not state or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        return "its state_dict is not a set of named weights"
    if not 1 <= payload["n_samples"] <= MAX_SAMPLES:
        return f"n_samples is {payload['n_samples']}, not a number of samples per epoch (1 to {MAX_SAMPLES})"
    rate = payload["sampling_rate"]
    if not (math.isfinite(rate) and rate > 0):
        return f"sampling_rate is {rate!r}, not a finite number above 0"
    if not payload["channel"].strip():
        return "its channel has no name"
    if payload["stage"] not in STAGES:
        return f"stage is {payload['stage']!r}, not one of {', '.join(STAGES)}"
    amplitude = payload["amplitude_uv"]
    if not (amplitude.is_floating_point() and amplitude.dim() == 2 and amplitude.shape[1] == 2 and len(amplitude)):
        return f"amplitude_uv has shape {tuple(amplitude.shape)}, not (epochs, 2) µV means and deviations"
    if payload["epochs_trained"] < 0:
        return f"epochs_trained is {payload['epochs_trained']}, a negative number"
    return None


class GeneratorBundle:
    """A trained generator with what sampling needs without the training data.

    ``amplitude_uv`` holds the µV mean and standard deviation (n, 2) of the real
    training epochs, the fallback amplitude scale for samples when no real epoch
    of the stage is at hand.
    """

    def __init__(self, generator: Generator, *, channel: str, stage: str, sampling_rate: float,
                 amplitude_uv: np.ndarray, config: dict, epochs_trained: int) -> None:
        self.generator = generator
        self.channel = channel
        self.stage = stage
        self.sampling_rate = sampling_rate
        self.amplitude_uv = np.asarray(amplitude_uv, dtype=np.float32).reshape(-1, 2)
        self.config = config
        self.epochs_trained = epochs_trained
        self.training_subjects: set[str] = set()  # filled from data.json by augment's find_gans

    @property
    def n_samples(self) -> int:
        return self.generator.n_samples

    def save(self, folder: str | Path) -> Path:
        """Write generator.pt as plain data only, so that :meth:`load` (weights-only) can read it back."""
        from isatsleepnet.torchfile import not_plain, to_plain  # noqa: PLC0415

        path = Path(folder) / GENERATOR_FILE
        payload = {
            "state_dict": self.generator.state_dict(),
            **to_plain({"n_samples": self.n_samples, "channel": self.channel, "stage": self.stage,
                        "sampling_rate": self.sampling_rate, "config": self.config,
                        "epochs_trained": self.epochs_trained}),
            "amplitude_uv": torch.from_numpy(self.amplitude_uv),
        }
        refused = not_plain(payload)
        if refused:
            raise IsatSleepNetError(f"{path}: not written: {', '.join(refused[:3])} not plain data")
        with atomic_path(path) as tmp:
            torch.save(payload, tmp)
        return path

    @classmethod
    def load(cls, folder: str | Path, device: str | torch.device = "cpu") -> GeneratorBundle:
        """Read ``folder``/generator.pt as plain data (never code) and rebuild the generator; one-line errors."""
        from isatsleepnet.config import replace_from  # noqa: PLC0415
        from isatsleepnet.gan.config import GanConfig  # noqa: PLC0415 (avoid a cycle at import time)
        from isatsleepnet.torchfile import load_plain, non_finite_tensors  # noqa: PLC0415

        path = Path(folder) / GENERATOR_FILE
        payload = load_plain(path, "Physio-GAN generator", map_location=device, hint="; train it again")
        if not isinstance(payload, dict):
            raise IsatSleepNetError(f"{path}: not a trained Physio-GAN generator")
        kinds = {"state_dict": dict, "n_samples": int, "channel": str, "stage": str, "sampling_rate": (int, float),
                 "amplitude_uv": torch.Tensor, "config": dict, "epochs_trained": int}
        wrong = [k for k, kind in kinds.items()
                 if not isinstance(payload.get(k), kind) or isinstance(payload.get(k), bool)]
        if wrong:
            raise IsatSleepNetError(f"{path}: not a complete Physio-GAN generator (no valid {', '.join(wrong)}); "
                                    "train it again")
        problem = bundle_problem(payload)
        if problem:
            raise IsatSleepNetError(f"{path}: corrupt generator: {problem}; train it again")
        bad = non_finite_tensors({"state_dict": payload["state_dict"], "amplitude_uv": payload["amplitude_uv"]})
        if bad:
            raise IsatSleepNetError(f"{path}: corrupt generator: non-finite weights in {', '.join(bad[:3])}; "
                                    "train it again")
        try:
            # generators saved before de-imaging existed were trained without it
            config = replace_from(GanConfig(), {"g_deimage": False, **payload["config"]}, source=str(path))
            generator = build_generator(payload["n_samples"], config).to(device)
            generator.load_state_dict(payload["state_dict"])
        except IsatSleepNetError as exc:
            message = template_of(exc)
            raise IsatSleepNetError(message if message.startswith(str(path)) else
                                    f"{path}: invalid generator settings: {message}; train it again") from None
        except (RuntimeError, TypeError, ValueError, ArithmeticError):
            raise IsatSleepNetError(f"{path}: saved by an incompatible version of Physio-GAN; train it again") from None
        generator.eval()
        return cls(generator, channel=payload["channel"], stage=payload["stage"],
                   sampling_rate=float(payload["sampling_rate"]), amplitude_uv=payload["amplitude_uv"].cpu().numpy(),
                   config=payload["config"], epochs_trained=payload["epochs_trained"])

    def sample(self, n: int, seed: int) -> np.ndarray:
        """``n`` z-scored epochs (n, n_samples) float32, reproducible from ``seed``."""
        return self.generator.sample(n, generator=torch.Generator().manual_seed(seed)).numpy().astype(np.float32)
