"""The npz layout of DeepSleepNet / AttnSleep / TinySleepNet users: ``x, y, fs, ch_label``.

``x`` is epochs x samples (one channel) or epochs x samples x channels; ``y``
holds stage codes 0..4 (W, N1, N2, N3, REM), the coding those projects share.
Importing turns each file into a prepared recording; exporting writes one file
per prepared recording, so data prepared by either side moves both ways. Export
adds arrays the other projects ignore, so that a re-import loses nothing:
``onsets`` (each epoch's onset in s from the recording's start: epochs dropped or
trimmed leave gaps that context models must not bridge), ``roles`` (each channel's
role), ``trimmed`` and, for a recording of `synth`, ``synthetic`` (True: its data
are not a person's). A file without ``onsets`` is read as consecutive epochs from 0 s.
A recording's subject and night come from ``subject_pattern`` where given (as for
``edf``), else from a Sleep-EDF name (``SC4012E0``: subject SC401, night 2), else
each file is its own subject.
"""

from __future__ import annotations

import math
import re
import zipfile
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from isatsleepnet import STAGES, __version__
from isatsleepnet.atomic import atomic_path
from isatsleepnet.data.epochs import unusable_problem
from isatsleepnet.data.hashing import sha1_of
from isatsleepnet.data.prepare_config import PrepareConfig
from isatsleepnet.data.store import PreparedDataset
from isatsleepnet.data.subjects import pattern_subject
from isatsleepnet.errors import DataError, IsatSleepNetError

_SLEEP_EDF_NAME = re.compile(r"^(S[CT])\d(\d\d)(\d)", re.I)


def read_npz(path: Path, config: PrepareConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """Epochs (n x C x S, µV), labels, onsets and metadata from one npz file."""
    if path.stat().st_size == 0:
        raise DataError(path, "empty file")
    if not zipfile.is_zipfile(path):
        raise DataError(path, "not an npz file (not a zip archive)")
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in ("x", "y", "fs") if k not in f.files]
            if missing:
                raise DataError(path, f"npz lacks array(s) {', '.join(missing)} (expected x, y, fs, ch_label)")
            x, y, fs = f["x"], f["y"], float(np.asarray(f["fs"]).ravel()[0]) if f["fs"].size else float("nan")
            names = [str(c) for c in np.atleast_1d(f["ch_label"])] if "ch_label" in f.files else []
            # written by export-npz from a store of `synth` recordings; other tools write no such array
            synthetic = bool(np.asarray(f["synthetic"]).any()) if "synthetic" in f.files else False
            onsets = np.asarray(f["onsets"]) if "onsets" in f.files else None
            roles = [str(r) for r in np.atleast_1d(f["roles"])] if "roles" in f.files else []
            trimmed = bool(np.asarray(f["trimmed"]).any()) if "trimmed" in f.files else None
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise DataError(path, f"not a readable npz file ({exc})") from None
    if x.ndim not in (2, 3) or len(x) != len(y):
        raise DataError(path, f"x has shape {x.shape} but y has {len(y)} labels")
    if x.ndim == 2:
        x = x[:, :, None]
    if len(y) == 0:
        raise DataError(path, "npz holds no epochs")
    if not math.isfinite(fs) or fs <= 0:
        raise DataError(path, f"fs is {fs:g} Hz (must be a positive number)")
    if not np.issubdtype(x.dtype, np.number) or not np.issubdtype(np.asarray(y).dtype, np.number):
        raise DataError(path, f"x ({x.dtype}) and y ({np.asarray(y).dtype}) must hold numbers")
    y = np.asarray(y, dtype=np.float64).ravel()
    if not np.isfinite(y).all() or (y != np.round(y)).any():
        raise DataError(path, "y holds values that are not whole stage codes (NaN or fractions)")
    y = y.astype(np.int64)
    if y.min() < 0 or y.max() >= len(STAGES):
        bad = sorted(int(v) for v in set(np.unique(y)) - set(range(len(STAGES))))
        raise DataError(path, f"unknown stage label(s) {bad} in y (expected 0..4)")
    if abs(fs - config.sampling_rate) > 1e-6:
        raise DataError(path, f"sampled at {fs:g} Hz, not the configured {config.sampling_rate:g} Hz")
    if x.shape[1] != round(config.epoch_seconds * fs):
        raise DataError(path, f"epochs of {x.shape[1]} samples are not {config.epoch_seconds:g} s at {fs:g} Hz")
    names = names if len(names) == x.shape[2] else [f"ch{i}" for i in range(x.shape[2])]
    subject, night = npz_subject(path, config)
    notes = []
    if onsets is None:
        onsets = np.arange(len(y)) * config.epoch_seconds
        notes.append("no onsets array: its epochs are taken as consecutive from 0 s")
    else:
        onsets = _checked_onsets(path, onsets, len(y), config.epoch_seconds)
    meta = {
        "dataset": "npz",
        "subject": subject,
        "night": night,
        "sampling_rate": fs,
        "epoch_seconds": config.epoch_seconds,
        "channels": names,
        "roles": roles if len(roles) == len(names) else [],
        "source": path.name,
        "source_sha1": sha1_of(path),
        "synthetic": synthetic,
        "trimmed": trimmed,
        "notes": notes,
        "isatsleepnet_version": __version__,
    }
    epochs = np.ascontiguousarray(x.transpose(0, 2, 1), dtype=np.float32)
    problem = unusable_problem(epochs, onsets)
    if problem:
        raise DataError(path, problem)
    return epochs, y.astype(np.int8), onsets, meta


def npz_subject(path: Path, config: PrepareConfig) -> tuple[str, int]:
    """The subject and night of the npz file ``path``, from ``config.subject_pattern`` where given.

    The pattern is searched in the file's stem, with a group ``subject`` (else the whole match)
    and optionally ``night`` (digits), as for ``edf``; without a pattern, a Sleep-EDF name gives
    both, any other name is its own subject, night 1.

    Examples
    --------
    >>> npz_subject(Path("P01_N2.npz"), PrepareConfig(dataset="npz", subject_pattern=r"(?P<subject>P\\d+)_N(?P<night>\\d)"))
    ('P01', 2)
    >>> npz_subject(Path("SC4012E0.npz"), PrepareConfig(dataset="npz"))
    ('SC401', 2)
    """
    if config.subject_pattern:
        return pattern_subject(path, path.stem, config.subject_pattern)
    m = _SLEEP_EDF_NAME.match(path.stem)
    return (f"{m[1].upper()}{path.stem[2:5]}", int(m[3])) if m else (path.stem, 1)


def _checked_onsets(path: Path, onsets: np.ndarray, n: int, epoch_seconds: float) -> np.ndarray:
    """``onsets`` as float seconds, or a one-line error unless they are n finite, increasing onsets ≥ 0 s."""
    if onsets.ndim != 1 or len(onsets) != n or not np.issubdtype(onsets.dtype, np.number):
        raise DataError(path, f"onsets ({onsets.dtype}, shape {onsets.shape}) must be {n} numbers, one per epoch")
    onsets = onsets.astype(np.float64)
    if not np.isfinite(onsets).all() or (onsets < 0).any():
        raise DataError(path, "onsets hold negative or non-finite values (seconds from the recording's start)")
    if (np.diff(onsets) < epoch_seconds - 1e-6).any():
        first = int(np.flatnonzero(np.diff(onsets) < epoch_seconds - 1e-6)[0]) + 1
        raise DataError(path, f"onsets are not increasing by at least {epoch_seconds:g} s (epoch {first} at "
                              f"{onsets[first]:g} s)")
    return onsets


def export_npz(data: str | Path, out: str | Path, *, channels: list[str] | None = None, progress: bool | None = None) -> list[Path]:
    """Write ``<recording>.npz`` per prepared recording with x (n x samples x C), y, fs, ch_label and onsets.

    Every recording is checked (it has the ``channels`` asked for) before any file is written.
    """
    from isatsleepnet.locking import ensure_writable_folder

    dataset = PreparedDataset(data)
    recordings = list(dataset)
    picks = []
    for rec in recordings:
        unknown = [c for c in channels or [] if c not in rec.channels]
        if unknown:
            raise IsatSleepNetError(
                f"{rec.name}: no channel {', '.join(map(repr, unknown))}; it has {', '.join(map(repr, rec.channels))}"
                " (nothing written)"
            )
        picks.append([rec.channels.index(c) for c in channels] if channels else list(range(len(rec.channels))))
    out = ensure_writable_folder(out)
    written = []
    bar = tqdm(zip(recordings, picks), total=len(recordings), desc="export", unit="rec",
               disable=(not progress) if progress is not None else None)
    for rec, idx in bar:
        x = np.ascontiguousarray(np.asarray(rec.epochs[:, idx, :]).transpose(0, 2, 1), dtype=np.float32)
        ch_label = np.array([rec.channels[i] for i in idx]) if len(idx) > 1 else np.array(rec.channels[idx[0]])
        # what the npz layout has no place for, in arrays other tools ignore; stores prepared before a key
        # existed (or an import without it) have none to pass on
        extra = {"onsets": np.asarray(rec.onsets, dtype=np.float64)}
        roles = rec.meta.get("roles") or []
        if len(roles) == len(rec.channels):
            extra["roles"] = np.array([str(roles[i]) for i in idx])
        for key in ("synthetic", "trimmed"):
            if rec.meta.get(key) is not None:
                extra[key] = np.bool_(rec.meta[key])
        path = out / f"{rec.name}.npz"
        with atomic_path(path) as tmp:
            with tmp.open("wb") as f:
                np.savez(f, x=x, y=rec.labels.astype(np.int32), fs=np.float64(rec.sampling_rate), ch_label=ch_label,
                         **extra)
        written.append(path)
    return written
