"""Training of one Physio-GAN (one channel, one stage): the loop, checkpoints, resume, guards.

Why it is built this way: GAN training on a CPU takes minutes to hours and can
blow up, so the run checkpoints every N epochs (atomically: a killed run
resumes from the last complete checkpoint and, because every epoch draws its
batches and noise from a generator seeded by (seed, epoch), continues exactly as
an uninterrupted run would), and stops with a one-line message at the first
non-finite or exploding loss, leaving the last good checkpoint in place.

Per discriminator step: relativistic pairing loss on a real and a generated
batch, plus λ/2·R1 on the real batch and the gradient penalty on interpolates
(every ``reg_every``-th step, scaled by ``reg_every``). Every ``g_every``-th step
the generator takes one step on its relativistic loss + w_spec(epoch)·L_spec +
w_time·L_time, the statistic constraints being measured against the moments of
all training epochs (see :mod:`isatsleepnet.gan.losses`).

Model selection: GAN losses do not say when samples are best, and on a few
dozen epochs the discriminator wins and the generator drifts after a while.
Every ``select_every`` epochs the generator's samples are scored by L_spec +
L_time against the *training* epochs' statistics (column ``fit`` of the loss
log); the best-scoring generator is the one saved. No held-out data is used,
so the quality report's held-out reference stays untouched.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import io
import json
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from isatsleepnet.atomic import atomic_path, atomic_write_text
from isatsleepnet.engine import Engine
from isatsleepnet.errors import IsatSleepNetError
from isatsleepnet.gan.config import GanConfig
from isatsleepnet.gan.discriminator import Discriminator
from isatsleepnet.gan.generator import Generator, build_generator
from isatsleepnet.gan.losses import (
    EpochStatistics,
    Moments,
    d_relativistic_loss,
    g_relativistic_loss,
    gradient_penalty,
    r1_penalty,
    spectral_loss,
    temporal_loss,
)
from isatsleepnet.torchfile import load_plain, non_finite_tensors

CHECKPOINT = Path("checkpoints") / "last.pt"
LOSS_LOG = "loss_log.csv"
LOSS_CURVE = "loss_curve.png"
LOG_COLUMNS = ("epoch", "d_steps", "g_steps", "d_loss", "d_adv", "r1", "gp", "g_loss", "g_adv",
               "l_spec", "l_time", "spec_weight", "lr_d", "lr_g", "seconds", "fit")
# Settings that may change between a run and its resumption without invalidating the checkpoint.
_RESUMABLE_CHANGES = ("epochs", "checkpoint_every", "divergence_limit")


class GanDivergedError(IsatSleepNetError):
    """Training produced a non-finite or exploding loss; the last good checkpoint is kept."""


def build_discriminator(n_samples: int, config: GanConfig, *, seed: int | None = None) -> Discriminator:
    if seed is not None:
        torch.manual_seed(seed)
    return Discriminator(n_samples, channels=tuple(config.d_channels), kernel=config.d_kernel)


def run_fingerprint(config: GanConfig, data: np.ndarray, fs: float) -> str:
    """Identifies what a checkpoint was trained on: settings (but not the epoch budget) and the data."""
    settings = {k: v for k, v in asdict(config).items() if k not in _RESUMABLE_CHANGES}
    h = hashlib.sha1(json.dumps(settings, sort_keys=True, default=str).encode())
    h.update(f"{fs}:{data.shape}".encode())
    h.update(np.ascontiguousarray(data, dtype=np.float32).tobytes())
    return h.hexdigest()[:16]


def write_loss_log(folder: Path, rows: list[dict[str, float]]) -> Path:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=LOG_COLUMNS, lineterminator="\n", restval="")
    writer.writeheader()
    writer.writerows({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()} for r in rows)
    atomic_write_text(folder / LOSS_LOG, buf.getvalue())
    return folder / LOSS_LOG


@dataclass
class TrainOutcome:
    """What :func:`train_gan` produced: the trained networks and the per-epoch log."""

    generator: Generator
    discriminator: Discriminator
    epochs_done: int
    resumed_from: int
    rows: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0
    selected_epoch: int = 0


def _batch_moments(stats: EpochStatistics, x: torch.Tensor) -> tuple[Moments, Moments]:
    """Spectral and temporal moments of all training epochs (computed in chunks)."""
    with torch.no_grad():
        spec = torch.cat([stats.spectral(c) for c in x.split(1024)])
        temp = torch.cat([stats.temporal(c) for c in x.split(1024)])
    return Moments.of(spec), Moments.of(temp)


def _d_augment(x: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
    """Differentiable augmentation of discriminator inputs (B, N): random circular shift,
    time reversal (p = 0.5) and a zeroed 10 % segment, drawn per sample.

    Applied alike to real and generated batches, so the generator is not pushed
    toward augmented-looking epochs; it keeps a discriminator that sees a few
    dozen real epochs from memorising them.
    """
    b, n = x.shape
    shift = torch.randint(0, n, (b, 1), generator=rng)
    index = (torch.arange(n).unsqueeze(0) + shift) % n
    flip = torch.rand(b, 1, generator=rng) < 0.5
    index = torch.where(flip, n - 1 - index, index).to(x.device)
    y = torch.gather(x, 1, index)
    width = max(n // 10, 1)
    start = torch.randint(0, n - width + 1, (b, 1), generator=rng)
    pos = torch.arange(n).unsqueeze(0)
    keep = ~((pos >= start) & (pos < start + width))
    return y * keep.to(x.device, x.dtype)


@torch.no_grad()
def _fit(generator: Generator, stats: EpochStatistics, ref_spec: Moments, ref_time: Moments, config: GanConfig) -> float:
    """L_spec + L_time of 256 samples against the training moments, sampled as after training.

    Works on a copy (BatchNorm recalibrated) so that measuring leaves the
    training state, and with it an exact resume, untouched.
    """
    probe = copy.deepcopy(generator)
    probe.calibrate_batchnorm(seed=config.seed)
    x = probe.sample(256, generator=torch.Generator().manual_seed(config.seed + 11)).to(stats.bands.device)
    return float(spectral_loss(ref_spec, x, stats) + temporal_loss(ref_time, x, stats))


def _check(value: torch.Tensor, what: str, epoch: int, config: GanConfig, folder: Path, last_good: int) -> None:
    v = float(value.detach())
    if math.isfinite(v) and abs(v) <= config.divergence_limit:
        return
    kept = (f"the last good checkpoint ({folder / CHECKPOINT}, epoch {last_good}) is kept"
            if last_good else "no checkpoint was written yet")
    raise GanDivergedError(
        f"GAN training diverged at epoch {epoch + 1}: {what} is {v:g}; stopped, {kept}; "
        "try lower learning rates ({lr_d}, {lr_g}) or another {seed}"
    )


def _whole(value: Any, least: int = 0) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _tensors(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                                           for k, v in value.items())


def resume_state_problem(state: dict[str, Any], generator: Generator) -> str | None:
    """What is wrong with the fields of a resume checkpoint that training uses, in a few words; None if nothing.

    Why each one: the fields come back from a file, and a wrong type (``rows`` a string, ``epoch``
    a float) failed later as an AttributeError deep in the loop instead of one line naming the file.
    """
    for name in ("generator", "discriminator"):
        if not _tensors(state.get(name)):
            return f"{name} is not a set of named weights"
    for name in ("opt_g", "opt_d", "sched_g", "sched_d"):
        if not isinstance(state.get(name), dict):
            return f"{name} is not an optimiser or scheduler state"
    for name in ("sched_g", "sched_d"):  # StepLR takes all of these from the file
        sched = state[name]
        if not (_whole(sched.get("last_epoch")) and _whole(sched.get("step_size"), 1) and _finite(sched.get("gamma"))
                and isinstance(sched.get("base_lrs"), list) and all(_finite(v) for v in sched["base_lrs"])):
            return f"{name} is not a step-schedule state (last_epoch, step_size, gamma, base_lrs)"
    epoch, step, rows = state.get("epoch"), state.get("step"), state.get("rows")
    if not _whole(epoch, 1):
        return f"epoch is {epoch!r}, not a whole number of at least 1"
    if not _whole(step):
        return f"step is {step!r}, not a whole number"
    if not isinstance(rows, list) or not all(
            isinstance(row, dict) and all(isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool)
                                          for k, v in row.items()) for row in rows):
        return "rows is not a list of per-epoch records (names and numbers)"
    if len(rows) != epoch:
        return f"it logs {len(rows)} epoch(s) but says {epoch} were trained"
    if "ramp_epochs" in state and state["ramp_epochs"] is not None and not _whole(state["ramp_epochs"], 1):
        return f"ramp_epochs is {state['ramp_epochs']!r}, not a whole number of at least 1"
    if not isinstance(state.get("config", {}), dict):
        return "config is not a mapping of settings"
    if not state.get("ramp_epochs") and not _whole(state.get("config", {}).get("epochs", 1), 1):
        return "its config's epochs is not a whole number of at least 1"
    best = state.get("best")
    if best is not None:
        if not (isinstance(best, dict) and isinstance(best.get("fit"), (int, float))
                and not isinstance(best.get("fit"), bool) and math.isfinite(best["fit"])
                and _whole(best.get("epoch"), 1) and best["epoch"] <= epoch and _tensors(best.get("state"))):
            return "best is not a selected generator (fit, epoch, weights)"
        expected = {k: tuple(v.shape) for k, v in generator.state_dict().items()}
        if {k: tuple(v.shape) for k, v in best["state"].items()} != expected:
            return "the weights of its best generator do not fit the generator"
    return None


def _optimizer_misfit(optimizer: torch.optim.Optimizer, name: str) -> str | None:
    """A loaded optimiser state whose settings are not numbers, or whose moment tensors do not have their
    parameter's shape (Adam takes both from the file; the next step would fail)."""
    for group in optimizer.param_groups:
        betas = group.get("betas")
        if not (all(_finite(group.get(key)) for key in ("lr", "eps", "weight_decay"))
                and isinstance(betas, (list, tuple)) and len(betas) == 2 and all(_finite(b) for b in betas)):
            return f"{name} is not an Adam state (lr, betas, eps, weight_decay)"
    for param, values in optimizer.state.items():
        for key, value in values.items():
            if isinstance(value, torch.Tensor) and value.dim() > 0 and value.shape != param.shape:
                return f"{name} holds {key} of shape {tuple(value.shape)} for a weight of shape {tuple(param.shape)}"
    return None


def train_gan(
    data: np.ndarray,
    fs: float,
    folder: str | Path,
    config: GanConfig,
    *,
    device: str | torch.device = "cpu",
    progress: bool | None = None,
    overwrite: bool = False,
    on_epoch_end: Callable[[int, dict[str, float]], None] | None = None,
    description: str = "gan",
) -> TrainOutcome:
    """Train on z-scored epochs ``data`` (n, n_samples), resuming from ``folder``'s checkpoint if any."""
    folder = Path(folder)
    data = np.asarray(data, dtype=np.float32)
    if data.ndim != 2 or len(data) < 2:
        raise IsatSleepNetError(f"a GAN needs at least 2 training epochs, got {len(data)}")
    device = device if isinstance(device, torch.device) else Engine(device=str(device)).torch_device()
    n, n_samples = data.shape
    generator = build_generator(n_samples, config, seed=config.seed).to(device)
    discriminator = build_discriminator(n_samples, config, seed=config.seed + 1).to(device)
    opt_g = torch.optim.Adam(generator.parameters(), lr=config.lr_g, betas=tuple(map(float, config.betas)))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=config.lr_d, betas=tuple(map(float, config.betas)))
    sched_g = torch.optim.lr_scheduler.StepLR(opt_g, config.lr_step, config.lr_gamma)
    sched_d = torch.optim.lr_scheduler.StepLR(opt_d, config.lr_step, config.lr_gamma)
    stats = EpochStatistics(n_samples, fs, band_hz=config.band_hz, lags_s=tuple(config.autocorr_lags_s),
                            envelope_s=config.envelope_seconds).to(device)
    x_all = torch.from_numpy(data).to(device)
    ref_spec, ref_time = _batch_moments(stats, x_all)

    fingerprint = run_fingerprint(config, data, fs)
    checkpoint = folder / CHECKPOINT
    start, step, rows = 0, 0, []
    ramp_epochs = config.epochs
    best: dict | None = None  # the generator whose samples fit the training statistics best
    if checkpoint.is_file() and not overwrite:
        again = "; use {overwrite} (or delete it) to start again"
        state = load_plain(checkpoint, "Physio-GAN checkpoint", map_location=device, hint=again)
        if not isinstance(state, dict) or state.get("fingerprint") != fingerprint:
            raise IsatSleepNetError(
                f"{checkpoint}: a checkpoint of a different run (settings or training data changed); "
                "use another {out} or {overwrite} to start again"
            )
        problem = resume_state_problem(state, generator)
        if problem:
            raise IsatSleepNetError(f"{checkpoint}: corrupt checkpoint: {problem}{again}")
        bad = non_finite_tensors({k: state.get(k) for k in ("generator", "discriminator", "opt_g", "opt_d")} |
                                 {"best": (state.get("best") or {}).get("state")})
        if bad:
            raise IsatSleepNetError(f"{checkpoint}: corrupt checkpoint: non-finite weights in "
                                    f"{', '.join(bad[:3])}{again}")
        try:
            generator.load_state_dict(state["generator"])
            discriminator.load_state_dict(state["discriminator"])
            opt_g.load_state_dict(state["opt_g"])
            opt_d.load_state_dict(state["opt_d"])
            sched_g.load_state_dict(state["sched_g"])
            sched_d.load_state_dict(state["sched_d"])
        except (KeyError, RuntimeError, TypeError, ValueError):
            raise IsatSleepNetError(
                f"{checkpoint}: incomplete, or written by an incompatible version of Physio-GAN{again}"
            ) from None
        misfit = _optimizer_misfit(opt_g, "opt_g") or _optimizer_misfit(opt_d, "opt_d")
        if misfit:
            raise IsatSleepNetError(f"{checkpoint}: corrupt checkpoint: {misfit}{again}")
        start, step, rows = state["epoch"], state["step"], list(state["rows"])
        best = state.get("best")
        # the spectral-loss ramp keeps the span the run began with (older checkpoints: their budget)
        ramp_epochs = state.get("ramp_epochs") or state.get("config", {}).get("epochs", config.epochs)
    else:
        if checkpoint.is_file():
            checkpoint.unlink()
        if config.init_spectrum:
            generator.init_spectrum(x_all, seed=config.seed)

    bs = min(config.batch_size, n)
    steps_per_epoch = max(math.ceil(n / bs), config.min_steps_per_epoch)
    last_good = start
    began = time.perf_counter()
    bar = tqdm(range(start, config.epochs), initial=start, total=config.epochs, desc=description, unit="ep",
               disable=(not progress) if progress is not None else None, leave=False)
    generator.train()
    discriminator.train()
    try:
        for epoch in bar:
            t0 = time.perf_counter()
            rng = torch.Generator().manual_seed(config.seed * 1_000_003 + epoch)
            order = torch.cat([torch.randperm(n, generator=rng) for _ in range(math.ceil(steps_per_epoch * bs / n))])
            w_spec = config.spec_weight(epoch, ramp_epochs)
            sums = dict.fromkeys(("d_loss", "d_adv", "r1", "gp", "g_loss", "g_adv", "l_spec", "l_time"), 0.0)
            d_steps = g_steps = reg_steps = 0
            for i in range(steps_per_epoch):
                real = x_all[order[i * bs:(i + 1) * bs].to(device)]
                z = torch.randn(bs, config.noise_dim, generator=rng).to(device)
                with torch.no_grad():
                    fake = generator(z)
                regularise = step % config.reg_every == 0
                seen_real, seen_fake = (_d_augment(real, rng), _d_augment(fake, rng)) if config.d_augment else (real, fake)
                real_in = seen_real.detach().clone().requires_grad_(regularise)
                real_scores = discriminator(real_in)
                d_adv = d_relativistic_loss(real_scores, discriminator(seen_fake))
                d_loss = d_adv
                if regularise:
                    r1 = r1_penalty(real_scores, real_in)
                    gp = gradient_penalty(discriminator, seen_real, seen_fake, rng)
                    d_loss = d_loss + config.reg_every * (0.5 * config.r1_weight * r1 + config.gp_weight * gp)
                    sums["r1"] += float(r1.detach())
                    sums["gp"] += float(gp.detach())
                    reg_steps += 1
                _check(d_loss, "the discriminator loss", epoch, config, folder, last_good)
                opt_d.zero_grad(set_to_none=True)
                d_loss.backward()
                opt_d.step()
                sums["d_loss"] += float(d_loss.detach())
                sums["d_adv"] += float(d_adv.detach())
                d_steps += 1
                step += 1
                if step % config.g_every:
                    continue
                discriminator.requires_grad_(False)
                fake = generator(torch.randn(bs, config.noise_dim, generator=rng).to(device))
                seen_real, seen_fake = (real, fake) if not config.d_augment else (_d_augment(real, rng), _d_augment(fake, rng))
                g_adv = g_relativistic_loss(discriminator(seen_real), discriminator(seen_fake))
                l_spec = spectral_loss(ref_spec, fake, stats)
                l_time = temporal_loss(ref_time, fake, stats)
                g_loss = g_adv + w_spec * l_spec + config.time_weight * l_time
                _check(g_loss, "the generator loss", epoch, config, folder, last_good)
                opt_g.zero_grad(set_to_none=True)
                g_loss.backward()
                opt_g.step()
                discriminator.requires_grad_(True)
                for key, value in (("g_loss", g_loss), ("g_adv", g_adv), ("l_spec", l_spec), ("l_time", l_time)):
                    sums[key] += float(value.detach())
                g_steps += 1
            row: dict[str, float] = {
                "epoch": epoch + 1, "d_steps": d_steps, "g_steps": g_steps,
                **{k: sums[k] / max(d_steps, 1) for k in ("d_loss", "d_adv")},
                **{k: sums[k] / max(reg_steps, 1) for k in ("r1", "gp")},
                **{k: sums[k] / max(g_steps, 1) for k in ("g_loss", "g_adv", "l_spec", "l_time")},
                "spec_weight": w_spec, "lr_d": opt_d.param_groups[0]["lr"], "lr_g": opt_g.param_groups[0]["lr"],
                "seconds": time.perf_counter() - t0,
            }
            if config.select_every and ((epoch + 1) % config.select_every == 0 or epoch + 1 == config.epochs):
                row["fit"] = _fit(generator, stats, ref_spec, ref_time, config)
                if best is None or row["fit"] < best["fit"]:
                    best = {"fit": row["fit"], "epoch": epoch + 1, "state": copy.deepcopy(generator.state_dict())}
            rows.append(row)
            with warnings.catch_warnings():
                # an epoch with fewer discriminator steps than g_every has no generator step, and still
                # counts in the generator's per-epoch schedule: torch's order warning does not apply
                warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler\.step\(\)`")
                sched_g.step()
            sched_d.step()
            bar.set_postfix(D=f"{row['d_loss']:.3f}", G=f"{row['g_loss']:.3f}")
            if (epoch + 1) % config.checkpoint_every == 0 or epoch + 1 == config.epochs:
                state = {
                    "fingerprint": fingerprint, "epoch": epoch + 1, "step": step, "rows": rows,
                    "generator": generator.state_dict(), "discriminator": discriminator.state_dict(),
                    "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(),
                    "sched_g": sched_g.state_dict(), "sched_d": sched_d.state_dict(),
                    "config": asdict(config), "best": best, "ramp_epochs": ramp_epochs,
                }
                with atomic_path(checkpoint) as tmp:
                    torch.save(state, tmp)
                write_loss_log(folder, rows)
                last_good = epoch + 1
            if on_epoch_end is not None:
                on_epoch_end(epoch, row)
    except GanDivergedError:
        write_loss_log(folder, rows)  # the epochs after the last checkpoint, for diagnosis
        raise
    finally:
        bar.close()
    if rows:
        write_loss_log(folder, rows)
    best_epoch = len(rows)
    if best is not None:
        generator.load_state_dict(best["state"])
        best_epoch = int(best["epoch"])
    generator.calibrate_batchnorm(seed=config.seed)
    generator.eval()
    return TrainOutcome(generator, discriminator, len(rows), start, rows, time.perf_counter() - began, best_epoch)
