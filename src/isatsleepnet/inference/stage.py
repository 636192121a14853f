"""Stage raw recordings with a model: epochs in, hypnogram, statistics and report out.

For each recording: open it and resolve the model's channels (``raw``), read
the whole epochs of the chosen span, predict stage probabilities with the torch
or the ONNX backend, and write

* ``<name>.hypnogram.csv``     epoch, onset_s, stage, p_W..p_REM, confidence, review
* ``<name>.annotations.edf``   EDF+ stage annotations (and/or ``.annotations.tsv``)
* ``<name>.hypnogram.png``     predicted hypnogram (expert's above it with --hypnogram)
* ``<name>.hypnodensity.png``  stage probabilities over the night
* ``<name>.sleep_stats.json``  sleep statistics, agreement, review list, notes
* ``<name>.report.html``       all of it on one self-contained page

The files of one recording are written into a temporary folder and moved into
place only when all are complete, so a failure leaves none of them. One failing
recording does not stop the others.

Confidence is 1 - H(p) / log(5), the entropy of the stage probabilities scaled
to [0, 1] and reversed (1 = one stage certain, 0 = all equally likely); epochs
below ``min_confidence`` (default 0.6: roughly a 60/40 split between two stages)
are flagged for review.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from isatsleepnet import STAGES, __version__
from isatsleepnet.atomic import TMP_PREFIX, atomic_write_text, remove_stale_temporaries
from isatsleepnet.data.labels import DROP
from isatsleepnet.errors import DataError, IsatSleepNetError, describe_exception
from isatsleepnet.locking import ensure_writable_folder, folder_lock
from isatsleepnet.inference.input_check import recording_warnings
from isatsleepnet.inference.raw import ModelInputs, RawRecording
from isatsleepnet.inference.sleep_stats import sleep_statistics

BACKENDS = ("torch", "onnx")
ANNOTATION_FORMATS = ("edf", "tsv", "both")
RECORDING_SUFFIXES = (".edf", ".bdf", ".rec")
_OWN_CSV_HEADER = "epoch,onset_s,stage,p_W"


OUTPUT_SUFFIXES = (".hypnogram.csv", ".annotations.edf", ".annotations.tsv", ".hypnogram.png",
                   ".hypnodensity.png", ".sleep_stats.json", ".report.html")
"""Every file `stage` may write for a recording NAME, as NAME + suffix."""


# --------------------------------------------------------------------------- options and results
@dataclass
class StageOptions:
    """How to stage. ``hypnograms``: one reference per recording, in order, or ``auto`` to look beside each."""

    channels: dict[str, list[str]] = field(default_factory=dict)
    hypnograms: list[Path] | None = None
    auto_hypnogram: bool = False
    start_s: float | None = None
    end_s: float | None = None
    trim: bool = False
    trim_minutes: float = 30.0
    lights: bool = False
    annotations: str = "edf"
    min_confidence: float = 0.6
    assume_unit: str | None = None
    stage_codes: str | None = None  # coding of bare integer stages in the expert's hypnogram: "aasm" | "rk"
    batch_size: int = 64
    plots: bool = True
    report: bool = True

    def validate(self) -> None:
        if self.annotations not in ANNOTATION_FORMATS:
            raise IsatSleepNetError(f"annotations must be one of {', '.join(ANNOTATION_FORMATS)}")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise IsatSleepNetError("--min-confidence must lie in [0, 1]")
        if self.batch_size < 1:
            raise IsatSleepNetError("--batch-size must be at least 1")
        ways = [name for name, used in (("--trim", self.trim), ("--lights", self.lights),
                                          ("--start/--end", self.start_s is not None or self.end_s is not None)) if used]
        if len(ways) > 1:
            raise IsatSleepNetError(f"{' and '.join(ways)} choose the span in different ways; use one")
        if self.trim and not (self.hypnograms or self.auto_hypnogram):
            raise IsatSleepNetError("--trim keeps the wake around the expert's sleep: it needs --hypnogram")
        if self.trim_minutes < 0:
            raise IsatSleepNetError("--trim-minutes must not be negative")
        for flag, value in (("--start", self.start_s), ("--end", self.end_s)):
            if value is not None and not math.isfinite(value):
                raise IsatSleepNetError(f"{flag} must be a number of seconds (got {value})")
        if self.start_s is not None and self.start_s < 0:
            raise IsatSleepNetError("--start must not be negative")
        if self.start_s is not None and self.end_s is not None and self.end_s <= self.start_s:
            raise IsatSleepNetError("--end must come after --start")
        from isatsleepnet.data.labels import STAGE_CODINGS

        if self.stage_codes is not None and self.stage_codes not in STAGE_CODINGS:
            raise IsatSleepNetError(f"--stage-codes must be one of {', '.join(STAGE_CODINGS)}")


@dataclass
class StageResult:
    """What happened to one recording."""

    recording: str
    path: Path
    status: str  # "staged" | "failed"
    n_epochs: int = 0
    outputs: list[Path] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)


# --------------------------------------------------------------------------- model backends
def normalize_epochs(x: np.ndarray, how: str) -> np.ndarray:
    """Per-epoch, per-channel z-score as in training (``training.data.normalize_epoch``), float32.

    Re-stated here so that the ONNX backend does not import torch (2 s of start-up).
    """
    if how == "none":
        return np.asarray(x, dtype=np.float32)
    if how != "epoch-zscore":
        raise IsatSleepNetError(f"model file: unknown normalisation {how!r}")
    mean = x.mean(axis=-1, keepdims=True)
    std = x.std(axis=-1, keepdims=True)
    return ((x - mean) / np.maximum(std, 1e-6)).astype(np.float32, copy=False)


def confidence_of(probabilities: np.ndarray) -> np.ndarray:
    """1 - entropy / log(n_classes): 1 when one stage is certain, 0 when all are equally likely."""
    p = np.clip(probabilities.astype(np.float64), 1e-12, 1.0)
    entropy = -(p * np.log(p)).sum(axis=1)
    return np.clip(1.0 - entropy / math.log(probabilities.shape[1]), 0.0, 1.0)


class Predictor:
    """A loaded model (torch or ONNX Runtime) and what it needs from a recording."""

    def __init__(
        self, backend: str, source: Path, meta: dict[str, Any], logits_fn: Callable[[np.ndarray], np.ndarray]
    ) -> None:
        self.backend = backend
        self.source = source
        self.meta = meta
        self.inputs = ModelInputs.from_dict(meta)
        self.normalize = meta["normalize"]
        self._logits = logits_fn
        if list(meta.get("stages") or STAGES) != list(STAGES):
            raise IsatSleepNetError(f"{source}: model predicts {meta.get('stages')}, not {list(STAGES)}")
        n_samples = int((meta.get("model_config") or {}).get("n_samples", self.inputs.n_samples))
        if n_samples != self.inputs.n_samples:
            raise IsatSleepNetError(
                f"{source}: model takes {n_samples} samples per epoch, not "
                f"{self.inputs.epoch_seconds:g} s x {self.inputs.sampling_rate:g} Hz"
            )

    def probabilities(self, epochs: np.ndarray, batch_size: int = 64) -> np.ndarray:
        """Stage probabilities (n_epochs x 5) of epochs in µV, batch by batch."""
        out = np.empty((len(epochs), len(STAGES)), dtype=np.float64)
        for i in range(0, len(epochs), batch_size):
            logits = np.asarray(self._logits(normalize_epochs(epochs[i : i + batch_size], self.normalize)))
            z = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
            e = np.exp(z)
            out[i : i + len(logits)] = e / e.sum(axis=1, keepdims=True)
        return out

    @property
    def identity(self) -> str:
        """The network's weights hash (the same for a .pt and its ONNX export); the file's hash otherwise."""
        digest = self.meta.get("weights_sha1")
        if digest:
            return str(digest)
        from isatsleepnet.data.hashing import sha1_of

        return sha1_of(self.source)

    def describe(self) -> dict[str, Any]:
        keys = ("channels", "roles", "sampling_rate", "epoch_seconds", "normalize", "training", "metrics")
        summary = {k: self.meta.get(k) for k in keys}
        return json.loads(json.dumps({"file": str(self.source), "backend": self.backend, **summary}, default=str))


def prefer_passive_openmp() -> None:
    """Let idle OpenMP threads sleep instead of spin, unless the user chose a policy.

    Why: on a CPU shared with other work, torch's spinning threads stall one another.
    Staging on 2 cores at load average 6 measured 4 epochs/s with two spinning threads,
    52 with passive waiting (one thread: 56); on an idle machine passive costs ~8 %.
    It only takes effect before torch is first imported.
    """
    if "torch" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _torch_predictor(path: Path, *, device: str, threads: int | None) -> Predictor:
    prefer_passive_openmp()
    import torch

    from isatsleepnet.inference.checkpoint import load_model_file
    from isatsleepnet.inference.predict import best_device

    model_file = load_model_file(path)
    if threads:
        torch.set_num_threads(threads)
    dev = best_device(device)
    # the fast path (FFT convolutions, BatchNorm folded) computes the same function as training's model
    network = model_file.build(device=dev, fast=True)
    fused = network.fuse_for_inference() if hasattr(network, "fuse_for_inference") else network

    def logits(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return fused(torch.from_numpy(x).to(dev)).float().cpu().numpy()

    meta = {k: getattr(model_file, k) for k in
            ("channels", "roles", "sampling_rate", "epoch_seconds", "normalize", "stages", "model_config",
             "training", "metrics")}
    meta["weights_sha1"] = model_file.weights_sha1()
    return Predictor("torch", path, meta, logits)


def load_predictor(
    model: str | Path, *, backend: str | None = None, device: str = "auto", threads: int | None = None
) -> Predictor:
    """A model file (.pt, torch) or an exported ONNX file (.onnx, ONNX Runtime).

    ``backend="onnx"`` with a .pt file exports it to a temporary ONNX file first
    (tens of seconds; export once with `isatsleepnet export` to avoid it).
    """
    path = Path(model)
    is_onnx = path.suffix.lower() == ".onnx"
    backend = backend or ("onnx" if is_onnx else "torch")
    if backend not in BACKENDS:
        raise IsatSleepNetError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
    if not path.is_file():
        raise IsatSleepNetError(f"{path}: model file not found")
    if backend == "torch":
        if is_onnx:
            raise IsatSleepNetError(f"{path}: an ONNX file runs on the onnx backend (--backend onnx)")
        return _torch_predictor(path, device=device, threads=threads)
    from isatsleepnet.inference.onnx_backend import OnnxRunner, export_onnx

    if device not in ("auto", "cpu"):
        raise IsatSleepNetError("the onnx backend runs on the CPU; drop --device")
    if not is_onnx:
        from isatsleepnet.inference.checkpoint import load_model_file

        print(f"exporting {path.name} to ONNX for this run (use `isatsleepnet export` to do it once)",
              file=sys.stderr)
        folder = Path(tempfile.mkdtemp(prefix="isatsleepnet-onnx-"))
        try:
            export_onnx(load_model_file(path), folder / (path.stem + ".onnx"))
            runner = OnnxRunner(folder / (path.stem + ".onnx"), threads=threads)
        finally:
            shutil.rmtree(folder, ignore_errors=True)  # the session holds the model in memory
    else:
        runner = OnnxRunner(path, threads=threads)
    return Predictor("onnx", path, runner.metadata(), runner.logits)


# --------------------------------------------------------------------------- inputs
def expand_inputs(paths: Sequence[str | Path]) -> tuple[list[Path], list[DataError]]:
    """Recordings named directly or found in folders (recursively); missing paths become errors."""
    found: list[Path] = []
    errors: list[DataError] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            files = sorted(
                f for f in p.rglob("*")
                if f.is_file() and f.suffix.lower() in RECORDING_SUFFIXES
                and "hypnogram" not in f.name.lower() and not f.name.lower().endswith(".annotations.edf")
                and not f.name.startswith(TMP_PREFIX)
            )
            if not files:
                errors.append(DataError(p, "no EDF/BDF recordings in this folder"))
            found.extend(files)
        elif p.is_file():
            found.append(p)
        else:
            errors.append(DataError(p, "file not found"))
    unique: list[Path] = []
    for f in found:
        if f.resolve() not in {u.resolve() for u in unique}:
            unique.append(f)
    return unique, errors


_SLEEP_EDF_PSG = re.compile(r"^(S[CT]\d{4})[A-Z0-9]{2}-PSG\.edf$", re.I)


def find_reference_hypnogram(psg: Path) -> Path | None:
    """The expert hypnogram beside a PSG (Sleep-EDF's pairing, then STEM-Hypnogram.edf, STEM.xml, ...)."""
    from isatsleepnet.data.sources import find_hypnogram

    m = _SLEEP_EDF_PSG.match(psg.name)
    if m:
        hits = sorted(psg.parent.glob(f"{m.group(1)}??-Hypnogram.edf"))
        if len(hits) == 1:
            return hits[0]
    hit = find_hypnogram(psg)
    if hit is not None and hit.suffix.lower() == ".csv":
        with hit.open(encoding="utf-8", errors="replace") as f:
            if f.readline().startswith(_OWN_CSV_HEADER):
                return None  # a CSV this command wrote, not an expert's hypnogram
    return hit


# --------------------------------------------------------------------------- one recording
def _span(recording: RawRecording, options: StageOptions, expert: np.ndarray | None, source: Path | None) -> tuple[int, int]:
    """First and stop (exclusive) epoch to stage on the recording's grid."""
    n, epoch_s = recording.n_epochs, recording.inputs.epoch_seconds
    if options.trim:
        assert expert is not None and source is not None
        sleep = np.flatnonzero(expert > 0)
        if len(sleep) == 0:
            raise DataError(source, "no sleep epoch scored: nothing to trim around")
        k = int(round(options.trim_minutes * 60.0 / epoch_s))
        return max(int(sleep[0]) - k, 0), min(int(sleep[-1]) + k + 1, n)
    start_s, end_s, what = options.start_s, options.end_s, ("--start", "--end")
    if options.lights:
        start_s, end_s = recording.lights()
        what = ("lights off", "lights on")
        if start_s is None and end_s is None:
            raise DataError(recording.path, "no 'Lights off' / 'Lights on' annotation (--lights); use --start/--end")
        recording.notes.append(
            "staged from " + (f"lights off ({start_s:g} s)" if start_s is not None else "the start (no lights off)")
            + " to " + (f"lights on ({end_s:g} s)" if end_s is not None else "the end (no lights on)")
        )
    first = 0 if start_s is None else int(math.ceil(start_s / epoch_s - 1e-9))
    stop = n if end_s is None else min(n, int(math.floor(end_s / epoch_s + 1e-9)))
    if first >= n:
        raise DataError(recording.path, f"{what[0]} at {start_s:g} s leaves no whole epoch (the last starts at "
                                        f"{(n - 1) * epoch_s:g} s)")
    if stop <= first:
        raise DataError(recording.path, f"no whole epoch between {what[0]} and {what[1]}")
    return first, stop


def _expert_labels(codes: np.ndarray) -> list[str]:
    return [STAGES[c] if c >= 0 else ("?" if c == DROP else "") for c in codes]


def stage_recording(
    path: str | Path,
    predictor: Predictor,
    out: str | Path,
    options: StageOptions,
    *,
    hypnogram: Path | None = None,
    name: str | None = None,
) -> StageResult:
    """Stage one recording into ``out``; raises DataError (naming the file) on bad input."""
    t0 = time.perf_counter()
    path, out = Path(path), Path(out)
    name = name or path.stem
    timings: dict[str, float] = {}
    recording = RawRecording.open(path, predictor.inputs, overrides=options.channels, assume_unit=options.assume_unit)
    epoch_s = predictor.inputs.epoch_seconds
    if recording.n_epochs == 0:
        raise DataError(path, f"shorter than one {epoch_s:g}-s epoch ({recording.duration:g} s)")
    expert_codes = None
    if hypnogram is not None:
        from isatsleepnet.data.readers.hypnogram import read_hypnogram

        reference = read_hypnogram(hypnogram, psg_start=recording.start, epoch_seconds=epoch_s,
                                   stage_codes=options.stage_codes)
        # any coverage will do for a comparison (a hypnogram of the night inside a 24-h recording);
        # a hypnogram that overruns the PSG or covers none of it is still refused
        expert_codes = reference.to_epochs(recording.n_epochs, epoch_s, min_coverage=0.0)
        offset = reference.grid_offset(epoch_s)
        if offset:
            recording.notes.append(f"the expert's epochs start {offset:g} s off the staging grid: each staged epoch "
                                   "is compared with the expert's stage at its midpoint")
        recording.notes.extend(n for n in reference.notes if n not in recording.notes)
    first, stop = _span(recording, options, expert_codes, hypnogram)
    index = recording.available(first, stop)  # all of first..stop, unless an EDF+D has gaps there
    if len(index) == 0:
        raise DataError(path, "no wholly recorded epoch in the window to stage (gaps of an EDF+D recording)")
    first, stop = int(index[0]), int(index[-1]) + 1  # time without data at either end is not time in bed
    epochs = recording.read(index=index)
    timings["read"] = time.perf_counter() - t0
    input_warnings = recording_warnings(predictor.meta, epochs, predictor.inputs.sampling_rate)

    t1 = time.perf_counter()
    finite_input = np.isfinite(epochs).all(axis=(1, 2))
    epochs[~finite_input] = 0.0  # never fed to the model: their rows are dropped below
    probabilities = predictor.probabilities(epochs, options.batch_size)
    del epochs
    timings["predict"] = time.perf_counter() - t1
    scorable = finite_input & np.isfinite(probabilities).all(axis=1)
    if not scorable.any():
        what = "the recording's samples" if not finite_input.any() else "the model's outputs"
        raise DataError(path, f"no epoch can be staged: {what} are not finite numbers"
                              + (" (a corrupt model?)" if finite_input.any() else ""))
    if not scorable.all():  # left unstaged, like the gaps of an EDF+D: never a stage from non-finite numbers
        bad = index[~scorable]
        recording.notes.append(f"{len(bad)} epoch(s) could not be staged (non-finite input or model output; "
                               f"first: epoch {int(bad[0])}): left unstaged and unscored")
        index, probabilities = index[scorable], probabilities[scorable]

    t2 = time.perf_counter()
    predicted = probabilities.argmax(axis=1)
    confidence = confidence_of(probabilities)
    review = confidence < options.min_confidence
    # the whole window, epoch by epoch: -1 where an EDF+D gap left nothing to stage
    timeline = np.full(stop - first, -1, dtype=np.int64)
    timeline[index - first] = predicted
    expert = expert_codes[first:stop] if expert_codes is not None else None
    summary = _summary(recording, predictor, options, name, first, stop, timeline, index[review], expert, hypnogram)
    summary["warnings"] = [*recording.warnings, *summary.get("warnings", [])]
    summary["warnings"] = [*input_warnings, *summary["warnings"]]  # what the model knows comes first

    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{name}.", dir=out))
    try:
        written = _write_outputs(tmp, name, recording, summary, index, first, probabilities, confidence, review,
                                 expert, options)
        finals = []
        mode = 0o666 & ~_umask()  # temporary files are private (0600); results get the usual mode
        for f in written:
            os.chmod(f, mode)
            os.replace(f, out / f.name)
            finals.append(out / f.name)
        # outputs of an earlier run that this one did not write (other --annotations, --no-plots)
        # would now describe another staging: remove them
        for suffix in OUTPUT_SUFFIXES:
            stale = out / f"{name}{suffix}"
            if stale not in finals and stale.is_file():
                stale.unlink()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    timings["write"] = time.perf_counter() - t2
    return StageResult(name, path, "staged", len(index), finals, summary, seconds=time.perf_counter() - t0,
                       timings=timings)


def ensure_out_folder(out: str | Path) -> Path:
    """Create the output folder; a one-line error when it is a file, cannot be made or is not writable."""
    return ensure_writable_folder(out)


MODEL_MARKER = "model.sha1"


def claim_output_folder(out: Path, predictor: Predictor) -> None:
    """Refuse a folder holding another model's stagings (``OUT/model.sha1`` names the weights).

    Why: two models' hypnograms side by side, named only by recording, would be
    read as one model's results.
    """
    marker = out / MODEL_MARKER
    digest = predictor.identity
    if marker.is_file():
        held = (marker.read_text().split() or [""])[0]
        if held != digest:
            raise IsatSleepNetError(f"{out} holds the stagings of another model ({marker}); stage into another "
                                    "--out, or delete the folder")
        return
    if any(out.glob("*.sleep_stats.json")):
        raise IsatSleepNetError(f"{out} holds stagings of an unknown model (no {MODEL_MARKER}); stage into another "
                                "--out, or delete the folder")
    atomic_write_text(marker, f"{digest}  {predictor.source.resolve()}\n")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _summary(
    recording: RawRecording, predictor: Predictor, options: StageOptions, name: str, first: int, stop: int,
    timeline: np.ndarray, flagged: np.ndarray, expert: np.ndarray | None, hypnogram: Path | None,
) -> dict[str, Any]:
    """``timeline``: the predicted code of every epoch first..stop (-1: not recorded); ``flagged``: epoch numbers."""
    epoch_s = predictor.inputs.epoch_seconds
    staged = timeline >= 0
    summary: dict[str, Any] = {
        "recording": {
            "name": name,
            "file": str(recording.path),
            "start": recording.start.isoformat() if recording.start else None,
            "duration_s": recording.duration,
            "epoch_seconds": epoch_s,
            "whole_epochs": recording.n_epochs,
            "staged_epochs": int(staged.sum()),
            "first_epoch": first,
            "window_s": [first * epoch_s, stop * epoch_s],
            "ignored_tail_s": recording.ignored_seconds,
            "channels": [dataclasses.asdict(c) for c in recording.choices],
        },
        "model": predictor.describe(),
        "statistics": sleep_statistics(timeline, epoch_s),
        "expert": None,
        "review": {
            "min_confidence": options.min_confidence,
            "flagged_epochs": len(flagged),
            "percent": round(100.0 * len(flagged) / int(staged.sum()), 4),
            "epochs": [int(e) for e in flagged],
        },
        "notes": list(recording.notes),
        "isatsleepnet_version": __version__,
    }
    if expert is not None:
        from isatsleepnet.evaluation.metrics import compute_metrics

        scored = (expert >= 0) & staged
        agreement = compute_metrics(expert[scored], timeline[scored]) if scored.any() else None
        summary["expert"] = {
            "file": str(hypnogram),
            "scored_epochs": int(scored.sum()),
            "statistics": sleep_statistics(np.where(staged, expert, -1), epoch_s),  # over the same epochs
            "agreement": agreement,
        }
        if agreement is None:
            summary["notes"].append("the expert hypnogram scores none of the staged epochs")
        elif (staged & ~scored).any():
            summary["notes"].append(
                f"{int((staged & ~scored).sum())} staged epochs are unscored in the expert hypnogram: "
                "left out of the agreement and drawn as gaps in the expert's hypnogram"
            )
    return summary


def _write_outputs(
    folder: Path, name: str, recording: RawRecording, summary: dict[str, Any], index: np.ndarray, first: int,
    probabilities: np.ndarray, confidence: np.ndarray, review: np.ndarray, expert: np.ndarray | None,
    options: StageOptions,
) -> list[Path]:
    """Files of the staged epochs ``index``; the figures span the window from ``first`` (gaps left blank).

    ``expert`` covers the whole window (one code per epoch from ``first``).
    """
    from isatsleepnet.inference import exports

    epoch_s = recording.inputs.epoch_seconds
    onsets = index * epoch_s
    predicted = probabilities.argmax(axis=1)
    at = index - first  # positions of the staged epochs in the window
    files = [exports.write_epochs_csv(
        folder / f"{name}.hypnogram.csv", index, onsets, probabilities, confidence, review,
        expert=_expert_labels(expert[at]) if expert is not None else None,
    )]
    events = exports.annotation_events(onsets, predicted, review, epoch_s)
    if options.annotations in ("edf", "both"):
        files.append(exports.write_annotations_edf(folder / f"{name}.annotations.edf", events, start=recording.start))
    if options.annotations in ("tsv", "both"):
        files.append(exports.write_annotations_tsv(folder / f"{name}.annotations.tsv", events))
    figures: dict[str, Path | None] = {"hypnogram": None, "hypnodensity": None}
    if options.plots:
        from isatsleepnet.plots.hypnodensity import plot_hypnodensity
        from isatsleepnet.plots.hypnogram import plot_hypnogram

        window = int(index[-1]) + 1 - first
        window_onsets = (first + np.arange(window)) * epoch_s
        timeline = np.full(window, -1, dtype=np.int64)
        timeline[at] = predicted
        density = np.zeros((window, probabilities.shape[1]))  # gaps: an empty column
        density[at] = probabilities
        flags = np.zeros(window, dtype=bool)
        flags[at] = review
        agreement = (summary["expert"] or {}).get("agreement")
        if agreement is not None:
            title = (f"{name}: accuracy {100 * agreement['accuracy']:.1f} %, "
                     f"κ = {agreement['kappa']:.3f} ({agreement['n_epochs']} scored epochs)")
            figures["hypnogram"] = plot_hypnogram(window_onsets, timeline, folder / f"{name}.hypnogram.png",
                                                  expert=expert[:window], title=title)
        else:
            figures["hypnogram"] = plot_hypnogram(window_onsets, timeline, folder / f"{name}.hypnogram.png",
                                                  title=f"{name}: ISATSleepNet hypnogram")
        figures["hypnodensity"] = plot_hypnodensity(window_onsets, density, folder / f"{name}.hypnodensity.png",
                                                    review=flags, epoch_seconds=epoch_s,
                                                    title=f"{name}: stage probabilities")
        files += [figures["hypnogram"], figures["hypnodensity"]]
    stats_path = folder / f"{name}.sleep_stats.json"
    atomic_write_text(stats_path, json.dumps(summary, indent=2) + "\n")
    files.append(stats_path)
    if options.report:
        from isatsleepnet.inference.html_report import write_report

        order = np.argsort(probabilities, axis=1)
        rows = [{"epoch": int(index[i]), "onset_s": float(onsets[i]), "stage": STAGES[order[i, -1]],
                 "second": STAGES[order[i, -2]], "confidence": float(confidence[i])} for i in np.flatnonzero(review)]
        files.append(write_report(folder / f"{name}.report.html", summary, figures, rows))
    return files


# --------------------------------------------------------------------------- many recordings
def stage_recordings(
    inputs: Sequence[str | Path],
    predictor: Predictor,
    out: str | Path,
    options: StageOptions,
    *,
    progress: bool | None = None,
    debug: bool = False,
) -> list[StageResult]:
    """Stage every recording; each failure becomes a failed result (printed as one line) and the rest go on.

    ``out`` is held for this run (a second `stage` into it refuses) and claimed
    for this model's weights (another model's stagings there are refused).
    """
    options.validate()
    unknown = sorted(set(options.channels) - set(predictor.inputs.roles))
    if unknown:
        raise IsatSleepNetError(
            f"the model has no {', '.join(unknown)} input (its roles: {', '.join(predictor.inputs.roles)})"
        )
    out = Path(out)
    inputs = [Path(p) for p in inputs]
    if options.hypnograms is not None:
        if any(p.is_dir() for p in inputs):
            raise IsatSleepNetError("--hypnogram FILE pairs with recording files, not folders; use --hypnogram auto")
        if len(options.hypnograms) != len(inputs):
            raise IsatSleepNetError(
                f"{len(options.hypnograms)} --hypnogram file(s) for {len(inputs)} recording(s): "
                "give one per recording, in the same order, or --hypnogram auto"
            )
    recordings, errors = expand_inputs(inputs)
    ensure_out_folder(out)
    with folder_lock(out, "stage"):
        claim_output_folder(out, predictor)
        return _stage_all(recordings, errors, inputs, predictor, out, options, progress=progress, debug=debug)


def _stage_all(
    recordings: list[Path], errors: list[DataError], inputs: list[Path], predictor: Predictor, out: Path,
    options: StageOptions, *, progress: bool | None, debug: bool,
) -> list[StageResult]:
    from tqdm.auto import tqdm

    results = [StageResult(e.path.stem, e.path, "failed", error=str(e)) for e in errors]
    for r in results:
        tqdm.write(f"error: {r.error}", file=sys.stderr)
    remove_stale_temporaries(out)
    if options.hypnograms is not None:
        by_input = dict(zip(inputs, options.hypnograms))
        pairs = [(r, by_input.get(r)) for r in recordings]
    else:
        pairs = [(r, find_reference_hypnogram(r) if options.auto_hypnogram else None) for r in recordings]
    used: dict[str, Path] = {}
    bar = tqdm(pairs, desc="stage", unit="rec", disable=(not progress) if progress is not None else None)
    for psg, hypnogram in bar:
        bar.set_postfix_str(psg.name)
        name = psg.stem
        try:
            if name in used:
                raise DataError(psg, f"its outputs would replace those of {used[name]} (same name {name!r}) in "
                                     f"{out}; stage it into another --out")
            used[name] = psg
            if options.trim and hypnogram is None:
                raise DataError(psg, "--trim needs an expert hypnogram and none was found beside this recording")
            if options.auto_hypnogram and hypnogram is None:
                tqdm.write(f"note: {psg.name}: no hypnogram found beside it (--hypnogram auto): staged without "
                           "comparison", file=sys.stderr)
            result = stage_recording(psg, predictor, out, options, hypnogram=hypnogram, name=name)
            for note in result.summary.get("notes", []):
                tqdm.write(f"note: {psg.name}: {note}", file=sys.stderr)
            for warning in result.summary.get("warnings", []):
                tqdm.write(f"warning: {psg.name}: {warning}", file=sys.stderr)
        except Exception as exc:  # one recording's failure must not stop the others
            if debug:
                raise
            message = str(exc) if isinstance(exc, IsatSleepNetError) else f"{psg.name}: {describe_exception(exc)}"
            result = StageResult(name, psg, "failed", error=message)
            tqdm.write(f"error: {message}", file=sys.stderr)
        results.append(result)
    bar.close()
    return results


def summary_table(results: list[StageResult]) -> str:
    """Plain-text table: one line per recording with the headline statistics."""
    header = ["recording", "status", "epochs", "TST min", "SE %", "review %", "s"]
    rows = []
    for r in results:
        if r.status == "staged":
            s = r.summary["statistics"]
            se = s["sleep_efficiency_percent"]
            rows.append([r.recording, r.status, str(r.n_epochs), f"{s['total_sleep_time_min']:.1f}",
                         f"{se:.1f}" if se is not None else "-", f"{r.summary['review']['percent']:.1f}",
                         f"{r.seconds:.1f}"])
        else:
            rows.append([r.recording, r.status, "-", "-", "-", "-", "-"])
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(header)]

    def fmt(row: list[str]) -> str:
        return "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))

    n_failed = sum(r.status == "failed" for r in results)
    lines = [fmt(header), fmt(["-" * w for w in widths]), *(fmt(row) for row in rows)]
    lines.append(f"{len(results) - n_failed} staged, {n_failed} failed")
    return "\n".join(lines)
