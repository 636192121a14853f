"""The prepared store: one folder per recording, read lazily through memory maps.

Layout of a prepared dataset::

    PREPARED/
      manifest.csv              one row per recording
      prepare_config.json       the settings that produced it
      recordings/<recording>/
        epochs.npy              float32, n_epochs x n_channels x n_samples, µV
        labels.npy              int8, 0..4 = W, N1, N2, N3, REM
        onsets.npy              float64, epoch onset in s from the recording start
        origins.npy             int8, 0 = real, 1 = Physio-GAN, 2 = transform (only in augmented data)
        meta.json               sampling rate, channels, subject, night, source and hash

Opening a recording maps its arrays without reading them, so a dataset of
thousands of nights trains in bounded memory.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import numbers
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from isatsleepnet import STAGES
from isatsleepnet.atomic import TMP_PREFIX, atomic_directory, atomic_write_text
from isatsleepnet.data.labels import stage_counts
from isatsleepnet.errors import IsatSleepNetError

STORE_VERSION = 1
RECORDINGS = "recordings"
MANIFEST = "manifest.csv"
ORIGIN_REAL, ORIGIN_GAN, ORIGIN_TRANSFORM = 0, 1, 2
ORIGIN_NAMES = {ORIGIN_REAL: "real", ORIGIN_GAN: "gan", ORIGIN_TRANSFORM: "transform"}
MANIFEST_COLUMNS = (
    "recording", "subject", "night", "dataset", "n_epochs", *STAGES,
    "n_gan", "n_transform", "sampling_rate", "channels", "source", "source_sha1",
)


def write_recording(
    root: str | Path,
    recording: str,
    epochs: np.ndarray,
    labels: np.ndarray,
    onsets: np.ndarray,
    meta: dict[str, Any],
    *,
    origins: np.ndarray | None = None,
    overwrite: bool = False,
) -> Path:
    """Write one recording's store atomically and return its folder.

    ``origins`` flags synthetic epochs (augmented datasets only); loaders keep
    flagged epochs out of validation and test.
    """
    epochs = np.asarray(epochs, dtype=np.float32)
    labels = np.asarray(labels, dtype=np.int8)
    if epochs.ndim != 3 or len(epochs) != len(labels) or len(onsets) != len(labels):
        raise ValueError(f"inconsistent shapes: epochs {epochs.shape}, labels {labels.shape}")
    if len(labels) and (labels.min() < 0 or labels.max() >= len(STAGES)):
        raise ValueError("labels must be stage codes 0..4")
    if not np.isfinite(epochs).all():  # never store a NaN or an infinity: training would learn nothing from it
        raise ValueError(f"{recording}: epochs hold non-finite samples")
    meta = {
        **meta,
        "store_version": STORE_VERSION,
        "recording": recording,
        "n_epochs": int(len(labels)),
        "n_channels": int(epochs.shape[1]),
        "n_samples": int(epochs.shape[2]),
        "units": "uV",
        "stage_names": list(STAGES),
        "stage_counts": stage_counts(labels),
    }
    if origins is not None:
        origins = np.asarray(origins, dtype=np.int8)
        if origins.shape != labels.shape or not np.isin(origins, list(ORIGIN_NAMES)).all():
            raise ValueError("origins must hold one code 0/1/2 per epoch")
        meta["origin_counts"] = {name: int((origins == code).sum()) for code, name in ORIGIN_NAMES.items()}
    final = Path(root) / RECORDINGS / recording
    with atomic_directory(final, overwrite=overwrite) as tmp:
        np.save(tmp / "epochs.npy", epochs)
        np.save(tmp / "labels.npy", labels)
        np.save(tmp / "onsets.npy", np.asarray(onsets, dtype=np.float64))
        if origins is not None:
            np.save(tmp / "origins.npy", origins)
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
    return final


@dataclass(frozen=True)
class PreparedRecording:
    """One prepared night; arrays are memory-mapped on first use."""

    path: Path

    @cached_property
    def meta(self) -> dict[str, Any]:
        try:
            return json.loads((self.path / "meta.json").read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise IsatSleepNetError(f"{self.path}: not a prepared recording ({exc})") from None

    @property
    def name(self) -> str:
        return self.meta["recording"]

    @property
    def subject(self) -> str:
        return str(self.meta["subject"])

    @property
    def night(self) -> int:
        return int(self.meta["night"])

    @property
    def sampling_rate(self) -> float:
        return float(self.meta["sampling_rate"])

    @property
    def channels(self) -> list[str]:
        return list(self.meta["channels"])

    @property
    def n_epochs(self) -> int:
        return int(self.meta["n_epochs"])

    @cached_property
    def epochs(self) -> np.ndarray:
        """n_epochs x n_channels x n_samples float32 in µV, memory-mapped (read-only)."""
        return self._array("epochs.npy", mmap_mode="r")

    @cached_property
    def labels(self) -> np.ndarray:
        return self._array("labels.npy")

    @cached_property
    def onsets(self) -> np.ndarray:
        return self._array("onsets.npy")

    @cached_property
    def origins(self) -> np.ndarray:
        """Per-epoch origin code (0 real, 1 GAN, 2 transform); all real when the file is absent."""
        path = self.path / "origins.npy"
        return self._array("origins.npy") if path.is_file() else np.zeros(self.n_epochs, dtype=np.int8)

    def _array(self, name: str, mmap_mode: str | None = None) -> np.ndarray:
        """One stored array; never unpickles, and a damaged file is one line naming it."""
        path = self.path / name
        try:
            array = np.load(path, mmap_mode=mmap_mode, allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            reason = "it holds Python objects" if "allow_pickle" in str(exc) else str(exc).splitlines()[0][:120]
            raise IsatSleepNetError(f"{path}: not a readable stored array ({reason})") from None
        if name == "epochs.npy" and (array.ndim != 3 or len(array) != self.n_epochs):
            raise IsatSleepNetError(f"{path}: holds {array.shape}, not the {self.n_epochs} epochs meta.json announces")
        return array

    @property
    def real(self) -> np.ndarray:
        """Boolean mask of the recorded (not synthetic) epochs."""
        return self.origins == ORIGIN_REAL


_ARRAYS = ("epochs.npy", "labels.npy", "onsets.npy")


def _npy_shape(path: Path) -> tuple[int, ...]:
    """Shape from a .npy header, checked against the file's size (a truncated copy is caught)."""
    with path.open("rb") as f:
        version = np.lib.format.read_magic(f)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read(f)
        data_start = f.tell()
    if dtype.hasobject:
        raise ValueError("it holds Python objects")
    expected = data_start + int(np.prod(shape)) * dtype.itemsize
    size = path.stat().st_size
    if size != expected:
        raise ValueError(f"{size} bytes where its header announces {expected}")
    return tuple(shape)


def recording_problem(folder: Path) -> str | None:
    """Why ``folder`` is not a complete, intact prepared recording (None when it is).

    Cheap (headers and sizes only), so that a rerun of `prepare` redoes a recording
    whose files were damaged or half-copied instead of skipping it.
    """
    missing = [name for name in (*_ARRAYS, "meta.json") if not (folder / name).is_file()]
    if missing:
        return f"{', '.join(missing)} missing"
    try:
        meta = json.loads((folder / "meta.json").read_text())
        n = int(meta["n_epochs"])
    except (OSError, ValueError, KeyError, TypeError):
        return "meta.json is unreadable"
    shapes = {}
    for name in _ARRAYS:
        try:
            shapes[name] = _npy_shape(folder / name)
        except (OSError, ValueError) as exc:
            return f"{name} is damaged ({exc})"
    if len(shapes["epochs.npy"]) != 3 or shapes["epochs.npy"][0] != n or shapes["labels.npy"] != (n,) \
            or shapes["onsets.npy"] != (n,):
        return f"its arrays do not hold the {n} epochs meta.json announces"
    return None


def is_complete(folder: Path) -> bool:
    return recording_problem(folder) is None


def stored_fingerprint(folder: Path) -> str | None:
    """The ``config_fingerprint`` of the settings that prepared ``folder`` (its meta.json), None where not said.

    Examples
    --------
    >>> stored_fingerprint(Path("prepared/edf20/recordings/SC4001E0"))  # doctest: +SKIP
    '724adf7f3691'
    """
    try:
        value = json.loads((folder / "meta.json").read_text()).get("config_fingerprint")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def hypnogram_changed(folder: Path, hypnogram: Path | None) -> bool:
    """Whether ``hypnogram`` differs from the one ``folder`` was prepared from (its meta.json's ``hypnogram_sha1``).

    Why: a reviewer who scores more epochs, or an expert who re-scores a night, changes the labels;
    a rerun that kept the recording by its name would train on the old ones. Unknown (no hypnogram
    file, an older meta.json): not changed.
    """
    if hypnogram is None or not hypnogram.is_file():
        return False
    try:
        saved = json.loads((folder / "meta.json").read_text()).get("hypnogram_sha1")
    except (OSError, ValueError, AttributeError):
        return False
    from isatsleepnet.data.hashing import sha1_of

    return isinstance(saved, str) and sha1_of(hypnogram) != saved


def remove_recording(folder: Path) -> None:
    """Remove a recording folder at once: renamed to a temporary name first, so a killed removal leaves only
    debris that :func:`isatsleepnet.atomic.remove_stale_temporaries` clears, never a half-removed recording."""
    trash = folder.with_name(TMP_PREFIX + folder.name + ".removed")
    shutil.rmtree(trash, ignore_errors=True)
    os.replace(folder, trash)
    shutil.rmtree(trash, ignore_errors=True)


class PreparedDataset:
    """A folder written by `isatsleepnet prepare`: recordings listed by its manifest."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if not (self.root / RECORDINGS).is_dir():
            raise IsatSleepNetError(f"{self.root}: not a prepared dataset (no {RECORDINGS}/ folder)")

    @cached_property
    def manifest(self) -> list[dict[str, str]]:
        path = self.root / MANIFEST
        if not path.is_file():
            return manifest_rows(self.root)
        with path.open(newline="") as f:
            return list(csv.DictReader(f))

    @property
    def names(self) -> list[str]:
        return [row["recording"] for row in self.manifest]

    def __len__(self) -> int:
        return len(self.manifest)

    def __repr__(self) -> str:
        n, subjects = len(self), len(self.subjects())
        return (f"<PreparedDataset {self.root}: {n} recording{'s' * (n != 1)}, "
                f"{subjects} subject{'s' * (subjects != 1)}>")

    def __getitem__(self, name: str | int) -> PreparedRecording:
        """A recording by name, or the i-th of the manifest (``d[0]``, ``d[-1]``) as a list would have it."""
        if isinstance(name, numbers.Integral) and not isinstance(name, bool):
            names = self.names
            if not -len(names) <= name < len(names):
                raise IsatSleepNetError(f"{self.root}: no recording at index {int(name)} (it has {len(names)}; "
                                        "their names: .names)")
            name = names[name]
        elif not isinstance(name, str):
            raise IsatSleepNetError(f"a prepared recording is indexed by its name (see .names) or its position, "
                                    f"not {type(name).__name__}")
        folder = self.root / RECORDINGS / name
        if not folder.is_dir():
            raise IsatSleepNetError(f"{self.root}: no prepared recording {name!r}")
        problem = recording_problem(folder)
        if problem:
            raise IsatSleepNetError(f"{folder}: a damaged prepared recording ({problem}); prepare it again")
        return PreparedRecording(folder)

    def __iter__(self) -> Iterator[PreparedRecording]:
        return (self[name] for name in self.names)

    def subjects(self) -> list[str]:
        return sorted({row["subject"] for row in self.manifest})

    def identity(self) -> str:
        """SHA1 of what the dataset is: its manifest (recordings, epochs, source files' SHA1) and the settings
        that prepared or augmented it; not where it lives. A run continued on other data is refused by it.

        Examples
        --------
        >>> PreparedDataset("prepared/edf20").identity()  # doctest: +SKIP
        '3f0c...'
        """
        digest = hashlib.sha1()
        for name in (MANIFEST, "prepare_config.json", "augment.json"):  # the last two: prepare's and augment's
            path = self.root / name
            digest.update(name.encode() + b"\0" + (path.read_bytes() if path.is_file() else b"") + b"\0")
        return digest.hexdigest()


def manifest_rows(root: str | Path) -> list[dict[str, str]]:
    """Manifest rows rebuilt from every complete recording folder (sorted by name)."""
    rows = []
    folder = Path(root) / RECORDINGS
    for rec in sorted(p for p in folder.iterdir() if is_complete(p)) if folder.is_dir() else []:
        meta = PreparedRecording(rec).meta
        counts = meta["stage_counts"]
        rows.append({
            "recording": meta["recording"],
            "subject": str(meta["subject"]),
            "night": str(meta["night"]),
            "dataset": meta.get("dataset", ""),
            "n_epochs": str(meta["n_epochs"]),
            **{s: str(counts.get(s, 0)) for s in STAGES},
            "n_gan": str(meta.get("origin_counts", {}).get("gan", 0)),
            "n_transform": str(meta.get("origin_counts", {}).get("transform", 0)),
            "sampling_rate": f"{meta['sampling_rate']:g}",
            "channels": ";".join(meta["channels"]),
            "source": meta.get("source", ""),
            "source_sha1": meta.get("source_sha1", ""),
        })
    return rows


def write_manifest(root: str | Path) -> list[dict[str, str]]:
    rows = manifest_rows(root)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(Path(root) / MANIFEST, buf.getvalue())
    return rows
