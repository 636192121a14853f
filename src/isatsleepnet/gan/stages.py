"""Physio-GANs of a dataset: one per channel and stage, trained on training subjects only, resumed or reused.

:func:`isatsleepnet.gan.train.train_gan` is the loop of one GAN; this module
chooses its epochs (never validation or test subjects), names its folder,
records what it was trained on and says when a finished GAN can be reused.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from isatsleepnet.atomic import atomic_write_text
from isatsleepnet.config import save_config
from isatsleepnet.data.store import PreparedDataset
from isatsleepnet.errors import IsatSleepNetError
from isatsleepnet.gan.config import GanConfig
from isatsleepnet.gan.data import channel_slug, load_stage_epochs, resolve_channels, split_holdout
from isatsleepnet.gan.generator import GeneratorBundle, build_generator
from isatsleepnet.gan.train import LOSS_CURVE, run_fingerprint, train_gan

GAN_CONFIG = "gan_config.json"
DATA_JSON = "data.json"
DONE_JSON = "done.json"


def is_finished(folder: Path, expected: dict) -> bool:
    """Whether ``folder`` holds a complete GAN (generator and quality report) of the run ``expected`` describes.

    done.json is written last and removed when a run starts, so it never
    vouches for a generator that a later, unfinished run may be replacing.
    """
    from isatsleepnet.gan.generator import GENERATOR_FILE
    from isatsleepnet.gan.quality import QUALITY_JSON

    try:
        recorded = json.loads((folder / DONE_JSON).read_text())
    except (OSError, json.JSONDecodeError):
        return False
    return recorded == expected and (folder / GENERATOR_FILE).is_file() and (folder / QUALITY_JSON).is_file()


def gan_folder(root: str | Path, channel: str, stage: str) -> Path:
    """GAN_DIR/<channel-slug>_<stage>/ — one folder per channel and stage."""
    return Path(root) / f"{channel_slug(channel)}_{stage}"


def train_channel_gan(
    dataset: PreparedDataset,
    subjects: Sequence[str],
    channel: str,
    root: str | Path,
    config: GanConfig,
    *,
    device: "str | torch.device" = "auto",
    progress: bool | None = None,
    overwrite: bool = False,
    on_epoch_end: Callable[[int, dict[str, float]], None] | None = None,
) -> Path:
    """Train, save and assess the GAN of one channel and ``config.stage`` on ``subjects``' epochs only.

    Writes into GAN_DIR/<channel-slug>_<stage>/: gan_config.json, data.json (which
    subjects, recordings and how many epochs were used or held out), checkpoints/,
    loss_log.csv, loss_curve.png, generator.pt (weights, settings and the real µV
    amplitudes: enough to sample later), quality.json and its figures, and last
    done.json. A GAN finished on the same epochs with the same settings is not
    trained or assessed again (the folder is returned as it is).
    """
    from isatsleepnet.gan.quality import write_quality
    from isatsleepnet.plots.gan import plot_loss_curve

    folder = gan_folder(root, channel, config.stage)
    stage = load_stage_epochs(dataset, subjects, channel, config.stage, clip=config.clip,
                              max_epochs=config.max_train_epochs, seed=config.seed)
    if len(stage) < 4:
        raise IsatSleepNetError(
            f"only {len(stage)} {config.stage} epoch(s) of {channel!r} in the training subjects; a GAN needs at least 4"
        )
    train_idx, hold_idx = split_holdout(len(stage), config.holdout_fraction, min_holdout=config.min_holdout_epochs,
                                        min_train=config.min_train_epochs, seed=config.seed,
                                        max_holdout=config.max_holdout_epochs)
    train = stage.subset(train_idx)
    done = folder / DONE_JSON
    finished = {"fingerprint": run_fingerprint(config, train.z, stage.sampling_rate), "epochs": config.epochs}
    if not overwrite and is_finished(folder, finished):
        return folder  # trained on the same data with the same settings: nothing to do
    done.unlink(missing_ok=True)  # from here on the folder holds a run in progress
    if len(hold_idx):
        reference = stage.z[hold_idx]
        note = (f"{len(hold_idx)} real {config.stage} epochs of the training subjects held out from GAN training "
                f"({config.holdout_fraction:.0%})")
    else:
        reference = train.z
        note = (f"the GAN's own {len(train)} training epochs: too few to hold any out "
                f"(holding out {config.min_holdout_epochs} would leave fewer than {config.min_train_epochs})")
    folder.mkdir(parents=True, exist_ok=True)
    save_config(config, folder / GAN_CONFIG)
    atomic_write_text(folder / DATA_JSON, json.dumps({
        "channel": channel, "stage": config.stage, "sampling_rate": stage.sampling_rate, "n_samples": stage.n_samples,
        "subjects": list(stage.subjects), "recordings": stage.recordings,
        "n_epochs": len(stage), "n_train": len(train_idx), "n_holdout": int(len(hold_idx)),
        "holdout_index": hold_idx.tolist(), "quality_reference": note,
    }, indent=2) + "\n")
    outcome = train_gan(train.z, stage.sampling_rate, folder, config, device=device, progress=progress,
                        overwrite=overwrite, on_epoch_end=on_epoch_end, description=f"{channel} {config.stage}")
    plot_loss_curve(outcome.rows, folder / LOSS_CURVE, title=f"Physio-GAN {channel} {config.stage}")
    bundle = GeneratorBundle(outcome.generator.cpu(), channel=channel, stage=config.stage,
                             sampling_rate=stage.sampling_rate,
                             amplitude_uv=np.column_stack([stage.mean_uv, stage.std_uv]),
                             config=asdict(config), epochs_trained=outcome.selected_epoch)
    bundle.save(folder)
    n = max(len(reference), 100)
    untrained = build_generator(stage.n_samples, config, seed=config.seed)
    untrained.calibrate_batchnorm(seed=config.seed)
    write_quality(
        folder, reference=reference, training=train.z, generated=bundle.sample(n, seed=config.seed + 7),
        fs=stage.sampling_rate, clip=config.clip, seed=config.seed, reference_note=note,
        extra={"untrained": untrained.sample(n, generator=torch.Generator().manual_seed(config.seed + 7)).numpy()},
        header={"channel": channel, "stage": config.stage, "epochs_trained": outcome.epochs_done,
                "selected_epoch": outcome.selected_epoch,
                "n_gan_training_epochs": len(train), "training_seconds": round(outcome.seconds, 1)},
    )
    atomic_write_text(done, json.dumps(finished, indent=2) + "\n")
    return folder


def train_stage_gans(
    dataset: PreparedDataset,
    subjects: Sequence[str],
    channels: str | Sequence[str],
    root: str | Path,
    config: GanConfig,
    **kwargs,
) -> list[Path]:
    """One GAN per channel (``"all"``: every channel the training recordings share) for ``config.stage``.

    Also writes ``root/quality.json``: the headline quality numbers of every GAN
    under ``root`` side by side (the per-GAN reports stay in the subfolders).
    """
    names = resolve_channels(dataset, subjects, channels) if isinstance(channels, str) else list(channels)
    folders = [train_channel_gan(dataset, subjects, name, root, config, **kwargs) for name in names]
    write_quality_summary(Path(root))
    return folders


def write_quality_summary(root: Path) -> Path | None:
    """``root/quality.json``: per GAN folder, log-PSD distance and two-sample accuracy of every candidate."""
    summary: dict[str, Any] = {}
    for report in sorted(root.glob("*/quality.json")):
        quality = json.loads(report.read_text())
        summary[report.parent.name] = {
            "channel": quality.get("channel"),
            "stage": quality.get("stage"),
            "n_reference": quality.get("n_reference"),
            "gan_better_than": quality.get("gan_better_than"),
            "candidates": {
                name: {"log_psd_distance_db": m.get("log_psd_distance_db"),
                       "mean_abs_band_rel_diff": m.get("mean_abs_band_rel_diff"),
                       "c2st_accuracy": (m.get("c2st_accuracy") or {}).get("mean")}
                for name, m in quality.get("metrics", {}).items()
            },
            "report": str(report.relative_to(root)),
        }
    if not summary:
        return None
    atomic_write_text(root / "quality.json", json.dumps(summary, indent=2) + "\n")
    return root / "quality.json"
