"""Class balancing of training recordings: a NEW prepared dataset with synthetic epochs appended.

Rules (SPEC "Augmentation", with the choices the SPEC leaves open):

* Each augmented recording is balanced toward ``target = ceil(1.15 × its
  largest real class)``. Counts use real epochs only; a source that already
  holds synthetic epochs is refused.
* The GAN's stage (N1 by default) gets up to ``0.8 ×`` its real count, so it
  can stay below the target (the documented cap). In ``mode="gan"`` these are
  Physio-GAN samples; in ``mode="transforms"`` transforms of real epochs of the
  stage (the same counts, so the two modes are comparable).
* Every other stage is filled to the target with physiology-aware transforms
  of its real epochs (:mod:`isatsleepnet.augment.transforms`), drawn evenly
  from a shuffled list of them. A stage without any real epoch in a recording
  gets nothing (no real epoch to transform or to take an amplitude from).
* A GAN epoch is built around a random real epoch of the stage from the same
  recording: each channel that has a GAN gets a GAN sample rescaled to that
  real epoch's µV mean and standard deviation on that channel (SPEC: "rescaled
  to the amplitude of a random real N1 epoch"); a channel without a GAN is
  taken from the same real epoch transformed with the stage's transform, so
  the epoch stays consistent. GANs of different channels are independent, so
  cross-channel correlation inside GAN epochs is not modelled.
* Synthetic epochs are appended after the real ones with ``origins`` 1 (GAN)
  or 2 (transform) and onset NaN (they have no place in the night);
  ``EpochDataset`` leaves them out unless ``include_synthetic=True``, which only
  training sets pass.
* Recordings of subjects not in ``subjects`` (validation, test) are carried
  over unchanged: hard links to the source files when the file system allows
  (the store never writes a file in place, so the source cannot change through
  them), copies otherwise; ``keep_others=False`` leaves them out (what
  cross-validation uses: its augmented store then holds no recording of a
  validation or test subject at all). The source dataset is only read.
* Settings, sizes and GANs are checked before the first recording is written
  (:mod:`isatsleepnet.augment.checks`); a run killed half-way is continued by the
  same call, keeping the recordings already augmented with the same settings.
"""

from __future__ import annotations

import json
import os
import shutil
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from isatsleepnet import STAGES
from isatsleepnet.atomic import atomic_directory, atomic_write_text, remove_stale_temporaries
from isatsleepnet.augment.checks import RUN_FILE, check_continues, check_size, kept_recording, run_settings
from isatsleepnet.augment.config import AugmentConfig
from isatsleepnet.augment.transforms import GenericPerturbation, channel_roles, transform_epoch
from isatsleepnet.checks import whole_number
from isatsleepnet.data.store import (
    ORIGIN_GAN,
    ORIGIN_TRANSFORM,
    RECORDINGS,
    PreparedDataset,
    PreparedRecording,
    is_complete,
    write_manifest,
    write_recording,
)
from isatsleepnet.data.subjects import subject_names
from isatsleepnet.errors import IsatSleepNetError

MODES = ("gan", "transforms")
AUGMENT_JSON = "augment.json"
STORE_FILES = ("epochs.npy", "labels.npy", "onsets.npy", "origins.npy", "meta.json")


@dataclass(frozen=True)
class BalancePlan:
    """How many epochs one recording gets per stage (arrays indexed by stage code 0..4)."""

    real: np.ndarray
    target: int
    gan: np.ndarray
    transform: np.ndarray

    @property
    def total(self) -> np.ndarray:
        return self.real + self.gan + self.transform


def plan_balance(
    real_counts: Sequence[int],
    *,
    mode: str = "gan",
    stage: str = "N1",
    target_ratio: float = 1.15,
    stage_cap: float = 0.8,
) -> BalancePlan:
    """Counts to add so each stage reaches ``ceil(target_ratio × max)``; ``stage`` capped at ``stage_cap × real``."""
    real = np.asarray(real_counts, dtype=np.int64)
    target = int(np.ceil(target_ratio * real.max())) if real.size and real.max() > 0 else 0
    need = np.where(real > 0, np.maximum(target - real, 0), 0)
    code = STAGES.index(stage)
    capped = min(int(need[code]), int(np.floor(stage_cap * real[code])))
    gan = np.zeros_like(real)
    transform = need.copy()
    transform[code] = 0
    if mode == "gan":
        gan[code] = capped
    else:
        transform[code] = capped
    return BalancePlan(real, target, gan, transform)


@dataclass
class RecordingSummary:
    recording: str
    subject: str
    augmented: bool
    real: dict[str, int]
    added_gan: dict[str, int] = field(default_factory=dict)
    added_transform: dict[str, int] = field(default_factory=dict)
    target: int = 0


def _counts(values: np.ndarray) -> dict[str, int]:
    return {s: int(v) for s, v in zip(STAGES, values)}


def find_gans(gan_dir: str | Path, stage: str) -> dict[str, Any]:
    """Trained generators of ``stage`` under GAN_DIR, by channel name."""
    from isatsleepnet.gan.generator import GENERATOR_FILE, GeneratorBundle

    root = Path(gan_dir)
    if not root.is_dir():
        raise IsatSleepNetError(f"{root}: no such GAN folder (train one with `isatsleepnet train-gan`)")
    found: dict[str, Any] = {}
    candidates = [root] if (root / GENERATOR_FILE).is_file() else sorted(p for p in root.iterdir() if p.is_dir())
    for folder in candidates:
        if (folder / GENERATOR_FILE).is_file():
            bundle = GeneratorBundle.load(folder)
            if bundle.stage == stage:
                bundle.training_subjects = _gan_subjects(folder)
                found[bundle.channel] = bundle
    return found


def _gan_subjects(folder: Path) -> set[str]:
    """The subjects a GAN learned from (its data.json), so that augment can refuse a GAN that saw others."""
    path = folder / "data.json"
    try:
        return set(json.loads(path.read_text())["subjects"])
    except (OSError, ValueError, KeyError):
        raise IsatSleepNetError(f"{path}: missing or unreadable, so the GAN's training subjects are unknown; "
                                "train it again with `isatsleepnet train-gan`") from None


def check_gan_subjects(gans: dict[str, Any], augmented: set[str], gan_dir: str | Path) -> None:
    """A GAN may only have learned from subjects that are themselves augmented (training subjects).

    Otherwise its samples would carry information about validation or test
    subjects into the training data.
    """
    for channel, bundle in gans.items():
        outside = sorted(bundle.training_subjects - augmented)
        if outside:
            raise IsatSleepNetError(
                f"{gan_dir}: the {channel} GAN learned from subject(s) {', '.join(outside[:5])}"
                f"{' ...' if len(outside) > 5 else ''}, which are not among the subjects being augmented; "
                "train the GAN with the same {subjects} or {folds_file}/{fold} as augment"
            )


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def carry_over(rec: PreparedRecording, out: Path) -> None:
    """The recording's store, unchanged, in ``out``."""
    with atomic_directory(out / RECORDINGS / rec.path.name, overwrite=True) as tmp:
        for name in STORE_FILES:
            if (rec.path / name).is_file():
                _link_or_copy(rec.path / name, tmp / name)


def _rescale(z: np.ndarray, like: np.ndarray) -> np.ndarray:
    """z-scored (n_samples,) → µV with the mean and standard deviation of the real channel ``like``."""
    return (z * like.std() + like.mean()).astype(np.float32)


def augment_recording(
    rec: PreparedRecording,
    out: Path,
    *,
    mode: str,
    stage: str,
    gans: dict[str, Any],
    seed: int,
    target_ratio: float,
    stage_cap: float,
    generic: GenericPerturbation,
    keep: bool = False,
) -> RecordingSummary:
    """Write ``rec`` plus its synthetic epochs into ``out``; returns what was added.

    ``keep``: a recording already in ``out``, augmented the same way, is kept (a continued run).
    """
    labels = np.asarray(rec.labels)
    plan = plan_balance(np.bincount(labels, minlength=len(STAGES)), mode=mode, stage=stage,
                        target_ratio=target_ratio, stage_cap=stage_cap)
    gan_channels = sorted(gans) if mode == "gan" else []
    augmentation = {
        "mode": mode, "stage": stage, "seed": seed, "target": plan.target, "target_ratio": target_ratio,
        "stage_cap": stage_cap, "gan_channels": gan_channels,
        "transformed_channels_in_gan_epochs": [c for c in rec.channels if c not in gan_channels] if mode == "gan" else [],
        "added_gan": _counts(plan.gan), "added_transform": _counts(plan.transform),
        "synthetic_onsets": "NaN",
    }
    summary = RecordingSummary(rec.name, rec.subject, True, _counts(plan.real), _counts(plan.gan),
                               _counts(plan.transform), plan.target)
    if keep and kept_recording(out / RECORDINGS / rec.path.name, augmentation, int(plan.total.sum())):
        return summary
    rng = np.random.default_rng([seed, zlib.crc32(rec.name.encode())])
    roles = channel_roles(rec.channels, rec.meta.get("roles"))
    fs = rec.sampling_rate
    epochs = rec.epochs
    new_x, new_y, new_o = [], [], []
    for code, name in enumerate(STAGES):
        n_add = int(plan.gan[code] + plan.transform[code])
        if n_add == 0:
            continue
        pool = np.flatnonzero(labels == code)
        picks = np.concatenate([rng.permutation(pool) for _ in range(int(np.ceil(n_add / len(pool))))])[:n_add]
        use_gan = plan.gan[code] > 0
        samples = {}
        if use_gan:
            for ch, bundle in gans.items():
                samples[ch] = bundle.sample(n_add, seed=int(rng.integers(2**31)))
        for k, idx in enumerate(picks):
            x = np.asarray(epochs[idx], dtype=np.float32)
            y = transform_epoch(x, name, fs, roles, rng, generic)
            if use_gan:
                for ch, z in samples.items():
                    c = rec.channels.index(ch)
                    y[c] = _rescale(z[k], x[c])
            new_x.append(y)
        new_y.append(np.full(n_add, code, dtype=np.int8))
        new_o.append(np.full(n_add, ORIGIN_GAN if use_gan else ORIGIN_TRANSFORM, dtype=np.int8))
    n_new = sum(len(v) for v in new_y)
    all_x = np.concatenate([np.asarray(epochs, dtype=np.float32), np.stack(new_x)]) if n_new else np.asarray(epochs)
    all_y = np.concatenate([labels.astype(np.int8), *new_y])
    onsets = np.concatenate([np.asarray(rec.onsets, dtype=np.float64), np.full(n_new, np.nan)])
    origins = np.concatenate([np.zeros(len(labels), dtype=np.int8), *new_o])
    write_recording(out, rec.path.name, all_x, all_y, onsets, {**rec.meta, "augmentation": augmentation},
                    origins=origins, overwrite=True)
    return summary


def _check_out(source: Path, out: Path, overwrite: bool, settings: dict[str, Any]) -> None:
    """``out`` is outside the source, and new, or a run of the same ``settings`` to continue (or ``overwrite``)."""
    src, dst = source.resolve(), out.resolve()
    if dst == src or src in dst.parents or dst in src.parents:
        raise IsatSleepNetError(f"{{out}} {out} must be a new folder outside the source dataset {source}")
    if (out / RECORDINGS).is_dir() and any((out / RECORDINGS).iterdir()) and not overwrite:
        check_continues(out, settings)


def _check_recordings(recordings: list[PreparedRecording], out: Path, *, mode: str, stage: str, gans: dict[str, Any],
                      gan_dir: str | Path | None, target_ratio: float, stage_cap: float, overwrite: bool) -> None:
    """Refuse, before the first recording is written, what one of them would fail on, and a size the run
    cannot hold (:func:`~isatsleepnet.augment.checks.check_size`)."""
    real = planned = new_bytes = 0
    for rec in recordings:
        if not rec.real.all():
            raise IsatSleepNetError(f"recording {rec.name} already holds synthetic epochs; "
                                    "augment a dataset of real epochs")
        usable = [ch for ch in gans if ch in rec.channels]
        if mode == "gan" and not usable:
            raise IsatSleepNetError(f"recording {rec.name}: none of its channels {rec.channels} has a {stage} GAN "
                                    f"in {gan_dir}")
        for ch in usable:
            g = gans[ch]
            if g.n_samples != rec.epochs.shape[-1] or abs(g.sampling_rate - rec.sampling_rate) > 1e-6:
                raise IsatSleepNetError(f"the {ch} GAN makes {g.n_samples} samples at {g.sampling_rate:g} Hz but "
                                        f"{rec.name} has {rec.epochs.shape[-1]} at {rec.sampling_rate:g} Hz")
        total = int(plan_balance(np.bincount(rec.labels, minlength=len(STAGES)), mode=mode, stage=stage,
                                 target_ratio=target_ratio, stage_cap=stage_cap).total.sum())
        real, planned = real + len(rec.labels), planned + total
        if overwrite or not is_complete(out / RECORDINGS / rec.path.name):
            new_bytes += total * int(np.prod(rec.epochs.shape[1:])) * 4
    check_size(out, target_ratio, real, planned, new_bytes)


def augment_dataset(
    data: str | Path | PreparedDataset,
    out: str | Path,
    *,
    gan_dir: str | Path | None = None,
    subjects: Sequence[str] | None = None,
    mode: str = "gan",
    stage: str = "N1",
    seed: int = 0,
    target_ratio: float = 1.15,
    stage_cap: float = 0.8,
    overwrite: bool = False,
    progress: bool | None = None,
    keep_others: bool = True,
) -> list[RecordingSummary]:
    """Write the augmented copy of ``data`` to ``out``; only recordings of ``subjects`` (default: all) get epochs.

    Recordings of other subjects are carried over unchanged, or left out with
    ``keep_others=False``.

    ``mode="gan"`` needs ``gan_dir`` with a trained generator of ``stage`` for at
    least one channel of every augmented recording; ``mode="transforms"`` uses
    transforms for every stage.
    """
    dataset = data if isinstance(data, PreparedDataset) else PreparedDataset(data)
    out = Path(out)
    if mode not in MODES:
        raise IsatSleepNetError(f"unknown augment mode {mode!r}; choose from {', '.join(MODES)}")
    AugmentConfig(mode=mode, stage=stage, target_ratio=target_ratio, stage_cap=stage_cap)  # refuses NaN, < 1, ...
    seed = whole_number("seed", seed, least=0)  # numpy's generators take no negative seed
    known = set(dataset.subjects())
    chosen = set(known if subjects is None else subject_names(subjects))  # "SC400": one subject, not its letters
    unknown = chosen - known
    if unknown:
        raise IsatSleepNetError(f"subject(s) {sorted(unknown)[:5]} are not in {dataset.root}")
    gans: dict[str, Any] = {}
    if mode == "gan":
        if gan_dir is None:
            raise IsatSleepNetError("{mode} gan needs {gan_dir} (or use {mode} transforms)")
        gans = find_gans(gan_dir, stage)
        if not gans:
            raise IsatSleepNetError(f"{gan_dir}: no trained {stage} generator found")
        check_gan_subjects(gans, chosen, gan_dir)
    settings = {
        "source": str(dataset.root.resolve()), "mode": mode, "stage": stage, "seed": seed,
        "target_ratio": target_ratio, "stage_cap": stage_cap,
        "gan_dir": str(Path(gan_dir).resolve()) if gan_dir is not None else None,
        "gan_channels": sorted(gans), "augmented_subjects": sorted(chosen),
    }
    _check_out(dataset.root, out, overwrite, run_settings(settings, keep_others))
    recordings = list(dataset)
    _check_recordings([r for r in recordings if r.subject in chosen], out, mode=mode, stage=stage, gans=gans,
                      gan_dir=gan_dir, target_ratio=target_ratio, stage_cap=stage_cap, overwrite=overwrite)
    generic = GenericPerturbation()
    out.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(out / RECORDINGS)
    atomic_write_text(out / RUN_FILE, json.dumps(run_settings(settings, keep_others), indent=2) + "\n")
    summaries = []
    for rec in tqdm(recordings, desc="augment", unit="rec", disable=(not progress) if progress is not None else None):
        if rec.subject not in chosen:
            if not keep_others:
                continue
            carry_over(rec, out)
            summaries.append(RecordingSummary(rec.name, rec.subject, False, _counts(np.bincount(rec.labels, minlength=5))))
            continue
        usable = {ch: g for ch, g in gans.items() if ch in rec.channels}
        summaries.append(augment_recording(rec, out, mode=mode, stage=stage, gans=usable, seed=seed,
                                           target_ratio=target_ratio, stage_cap=stage_cap, generic=generic,
                                           keep=not overwrite))
    if (dataset.root / "prepare_config.json").is_file():
        atomic_write_text(out / "prepare_config.json", (dataset.root / "prepare_config.json").read_text())
    write_manifest(out)
    atomic_write_text(out / AUGMENT_JSON, json.dumps({**settings, "recordings": [asdict(s) for s in summaries]},
                                                     indent=2) + "\n")
    return summaries


def summary_table(summaries: Sequence[RecordingSummary]) -> str:
    """One line per recording: real counts → counts after augmentation."""
    lines = [f"{'recording':<14} {'subject':<10} " + " ".join(f"{s:>11}" for s in STAGES)]
    for s in summaries:
        cells = []
        for stage in STAGES:
            real, add = s.real[stage], s.added_gan.get(stage, 0) + s.added_transform.get(stage, 0)
            cells.append(f"{real:>5}→{real + add:<5}" if s.augmented else f"{real:>5} copy")
        lines.append(f"{s.recording:<14} {s.subject:<10} " + " ".join(f"{c:>11}" for c in cells))
    n_aug = sum(s.augmented for s in summaries)
    lines.append(f"{n_aug} recording(s) augmented, {len(summaries) - n_aug} carried over unchanged")
    return "\n".join(lines)
