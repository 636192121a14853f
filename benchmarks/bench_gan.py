"""Benchmark: Physio-GAN training and sampling speed on this machine, and the cost `cv --augment gan` adds per fold.

Not a test. Measures (medians):

* training: discriminator steps per second of the real training loop (each
  with its share of generator steps, R1/GP every ``reg_every`` steps), from
  the per-epoch timings of a short run on epochs of ``--n-samples`` samples;
* sampling: generator epochs per second (batches of 256, eval mode);
* augment: seconds to write one augmented recording (GAN for N1 on every
  channel + transforms for the other stages), on ``--data`` (a prepared
  dataset, e.g. SC4001) or a synthetic 8-h night;

* quality: seconds for one GAN's quality report (200 held-out vs 200
  generated epochs, baselines, two-sample tests, figures) and for one
  model-selection pass (every ``select_every`` epochs);

then estimates the time per fold of `cv --augment gan` on Sleep-EDF-20: of the
19 subjects outside the test fold, 2 are validation subjects, so the GANs see
17 training subjects (~33 nights, ~2 380 of the 2 804 N1 epochs, of which 200
are held out for the quality report); one N1 GAN per channel (3) with the
default settings, plus augmenting the 33 training nights.

    python benchmarks/bench_gan.py                       # synthetic data
    python benchmarks/bench_gan.py --data /tmp/sc4001    # a prepared dataset
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

from isatsleepnet.augment.balance import augment_dataset
from isatsleepnet.data.prepare import prepare_dataset
from isatsleepnet.data.prepare_config import PrepareConfig
from isatsleepnet.data.store import PreparedDataset
from isatsleepnet.data.synthetic import SynthConfig, synthesize
from isatsleepnet.gan.config import GanConfig
from isatsleepnet.gan.generator import GeneratorBundle
from isatsleepnet.gan.train import train_gan

EDF20_N1_TRAIN = round(2804 * 17 / 20)  # N1 epochs of a fold's 17 training subjects (2 804 in Sleep-EDF-20)
EDF20_NIGHTS_PER_FOLD = 33  # 39 nights of 20 subjects x 17/20


def coloured_epochs(n: int, n_samples: int, seed: int = 0) -> np.ndarray:
    """z-scored 1/f-like epochs, a stand-in for real N1 epochs."""
    rng = np.random.default_rng(seed)
    x = np.fft.irfft(np.fft.rfft(rng.standard_normal((n, n_samples)), axis=1) /
                     np.sqrt(np.arange(1, n_samples // 2 + 2)), n=n_samples, axis=1)
    x = (x - x.mean(1, keepdims=True)) / x.std(1, keepdims=True)
    return np.clip(x, -3, 3).astype(np.float32)


def bench_training(config: GanConfig, n_samples: int, epochs: int, steps: int, folder: Path) -> tuple[float, GeneratorBundle]:
    data = coloured_epochs(64, n_samples)
    run = replace(config, epochs=epochs, min_steps_per_epoch=steps, checkpoint_every=epochs)
    outcome = train_gan(data, 100.0, folder, run, device="cpu", progress=False, overwrite=True)
    rates = [r["d_steps"] / r["seconds"] for r in outcome.rows[1:]]  # the first epoch warms up
    bundle = GeneratorBundle(outcome.generator, channel="EEG", stage="N1", sampling_rate=100.0,
                             amplitude_uv=np.array([[0.0, 20.0]]), config=asdict(run), epochs_trained=epochs)
    return statistics.median(rates), bundle


def bench_sampling(bundle: GeneratorBundle, n: int, repeats: int) -> float:
    bundle.sample(64, seed=0)
    times = []
    for r in range(repeats):
        t = time.perf_counter()
        bundle.sample(n, seed=r)
        times.append(time.perf_counter() - t)
    return n / statistics.median(times)


def bench_quality(config: GanConfig, bundle: GeneratorBundle, n_samples: int, folder: Path) -> tuple[float, float]:
    """Seconds for one quality report (200 vs 200 epochs) and for one model-selection pass."""
    from isatsleepnet.gan.losses import EpochStatistics
    from isatsleepnet.gan.quality import write_quality
    from isatsleepnet.gan.train import _batch_moments, _fit

    reference, training = coloured_epochs(200, n_samples, seed=1), coloured_epochs(600, n_samples, seed=2)
    t = time.perf_counter()
    write_quality(folder, reference=reference, training=training, generated=bundle.sample(200, seed=0), fs=100.0,
                  clip=config.clip, seed=0, reference_note="benchmark", extra={"untrained": bundle.sample(200, seed=1)},
                  header={"channel": "EEG", "stage": "N1"})
    quality_s = time.perf_counter() - t
    stats = EpochStatistics(n_samples, 100.0, band_hz=config.band_hz, lags_s=tuple(config.autocorr_lags_s),
                            envelope_s=config.envelope_seconds)
    ref_spec, ref_time = _batch_moments(stats, torch.from_numpy(training))
    t = time.perf_counter()
    _fit(bundle.generator, stats, ref_spec, ref_time, config)
    return quality_s, time.perf_counter() - t


def bench_augment(data: PreparedDataset, bundle: GeneratorBundle, tmp: Path, repeats: int) -> tuple[float, int]:
    gans = tmp / "gans"
    for channel in data[data.names[0]].channels:
        folder = gans / channel.replace(" ", "_")
        folder.mkdir(parents=True, exist_ok=True)
        GeneratorBundle(bundle.generator, channel=channel, stage="N1", sampling_rate=data[data.names[0]].sampling_rate,
                        amplitude_uv=bundle.amplitude_uv, config=bundle.config, epochs_trained=0).save(folder)
        # as train-gan records it: augment refuses a GAN whose training subjects it cannot check
        (folder / "data.json").write_text(json.dumps({"subjects": data.subjects()}))
    times, added = [], 0
    for r in range(repeats):
        t = time.perf_counter()
        summaries = augment_dataset(data, tmp / f"aug{r}", gan_dir=gans, mode="gan", seed=r, progress=False)
        times.append((time.perf_counter() - t) / len(summaries))
        added = sum(sum(s.added_gan.values()) + sum(s.added_transform.values()) for s in summaries) // len(summaries)
    return statistics.median(times), added


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, help="prepared dataset for the augment timing (default: a synthetic 8-h night)")
    parser.add_argument("--n-samples", type=int, default=3000, help="epoch length in samples (default 3000)")
    parser.add_argument("--epochs", type=int, default=4, help="timed training epochs (default 4, the first is warm-up)")
    parser.add_argument("--steps", type=int, default=20, help="discriminator steps per timed epoch (default 20)")
    parser.add_argument("--repeats", type=int, default=3, help="repeats of the sampling and augment timings (default 3)")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    config = GanConfig()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        steps_per_s, bundle = bench_training(config, args.n_samples, args.epochs, args.steps, tmp / "train")
        samples_per_s = bench_sampling(bundle, 512, args.repeats)
        quality_s, select_s = bench_quality(config, bundle, args.n_samples, tmp / "quality")
        if args.data is None:
            synthesize(tmp / "raw", SynthConfig(layout="sleep-edf", subjects=1, hours=8.0, seed=0), progress=False)
            prepare_dataset(tmp / "raw", tmp / "prepared", PrepareConfig(dataset="sleep-edf"), progress=False)
            data = PreparedDataset(tmp / "prepared")
        else:
            data = PreparedDataset(args.data)
        data_samples = data[data.names[0]].epochs.shape[-1]
        skipped = None
        if data_samples == args.n_samples:
            seconds_per_rec, added = bench_augment(data, bundle, tmp, args.repeats)
        else:  # the GAN's epochs must have the data's length to be added to it
            seconds_per_rec, added = float("nan"), 0
            skipped = f"not timed: the data's epochs have {data_samples} samples, --n-samples {args.n_samples}"

    n_gan = EDF20_N1_TRAIN - min(max(math.ceil(config.holdout_fraction * EDF20_N1_TRAIN), config.min_holdout_epochs),
                                 config.max_holdout_epochs)
    d_steps = config.epochs * max(math.ceil(n_gan / config.batch_size), config.min_steps_per_epoch)
    selections = math.ceil(config.epochs / config.select_every) if config.select_every else 0
    gan_s = d_steps / steps_per_s + selections * select_s + quality_s
    augment_s = seconds_per_rec * EDF20_NIGHTS_PER_FOLD
    load_after = os.getloadavg()
    rows = [
        ("load average before/after", f"{load_before[0]:.2f} / {load_after[0]:.2f}",
         f"1-min; {os.cpu_count()} CPUs (other processes slow every figure)"),
        ("torch threads", f"{torch.get_num_threads()}", ""),
        ("epoch length", f"{args.n_samples} samples", f"batch {config.batch_size}, reg_every {config.reg_every}, G every {config.g_every}"),
        ("GAN training", f"{steps_per_s:.2f} D steps/s", f"median of {args.epochs - 1} epochs x {args.steps} steps"),
        ("generator sampling", f"{samples_per_s:.0f} epochs/s", f"median of {args.repeats} x 512"),
        ("quality report", f"{quality_s:.1f} s", "200 vs 200 epochs, 4 candidates, figures"),
        ("model-selection pass", f"{select_s:.2f} s", f"every {config.select_every} epochs"),
        ("augment one recording", "-" if skipped else f"{seconds_per_rec:.2f} s",
         skipped or f"~{added} synthetic epochs added per recording"),
        ("cv --augment gan, per fold (EDF-20)", "", ""),
        ("  N1 GAN x 3 channels", f"{3 * gan_s / 60:.1f} min",
         f"{n_gan} N1 epochs: {config.epochs} epochs x {d_steps // config.epochs} D steps, default settings"),
        ("  augment training nights", "-" if skipped else f"{augment_s / 60:.1f} min", f"{EDF20_NIGHTS_PER_FOLD} nights"),
        ("  total added per fold", f"{(3 * gan_s + (0.0 if skipped else augment_s)) / 60:.1f} min",
         "CPU, this machine" + (" (GAN training only)" if skipped else "")),
    ]
    width = max(len(r[0]) for r in rows)
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>16}  {note}")


if __name__ == "__main__":
    main()
