"""`prepare`: raw recordings → the prepared store, one recording at a time, in parallel.

A recording that fails (corrupt EDF, missing channel, mismatched hypnogram...)
is reported in one line and the others go on. Prepared recordings are skipped
on the next run, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from isatsleepnet import STAGES, __version__
from isatsleepnet.atomic import remove_stale_temporaries
from isatsleepnet.config import save_config
from isatsleepnet.data import signal as sig
from isatsleepnet.data.hashing import sha1_of
from isatsleepnet.data.epochs import contiguous_runs, keep_mask
from isatsleepnet.data.npz import read_npz
from isatsleepnet.data.labels import map_sleep_edf, stage_counts
from isatsleepnet.data.prepare_config import PrepareConfig
from isatsleepnet.data.readers.edf import EdfRecording
from isatsleepnet.data.readers.edf_segments import is_discontinuous
from isatsleepnet.data.readers.hypnogram import (
    Hypnogram,
    generic_annotation_mapper,
    read_edf_annotations,
    read_hypnogram,
)
from isatsleepnet.data.sources import RecordingSource, discover
from isatsleepnet.data.store import RECORDINGS, is_complete, write_manifest, write_recording
from isatsleepnet.errors import DataError, IsatSleepNetError

CONFIG_FILE = "prepare_config.json"


@dataclass
class RecordingResult:
    recording: str
    status: str  # "prepared" | "skipped" | "failed"
    n_epochs: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    error: str = ""
    seconds: float = 0.0


def _read_stages(source: RecordingSource, psg: EdfRecording) -> Hypnogram:
    if source.dataset.startswith("sleep-edf"):
        return read_edf_annotations(source.hypnogram, psg_start=psg.start, mapper=map_sleep_edf)
    if source.hypnogram is None:
        try:
            return read_edf_annotations(source.psg, mapper=generic_annotation_mapper)
        except DataError:
            raise DataError(
                source.psg,
                "no hypnogram found (looked for STEM-Hypnogram.edf, STEM.xml, STEM.csv, STEM.tsv "
                "beside it, and for stage annotations inside the EDF+)",
            ) from None
    return read_hypnogram(source.hypnogram, psg_start=psg.start)


def read_recording(source: RecordingSource, config: PrepareConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """Epochs (µV, n x C x S), stage codes, onsets (s) and metadata of one raw night."""
    psg = EdfRecording.open(source.psg)
    if is_discontinuous(source.psg):  # its records are not back to back in time: epochs would be misplaced
        raise DataError(source.psg, "discontinuous EDF+D: prepare needs a continuous recording (export it as "
                                    "EDF+C; `isatsleepnet stage` reads EDF+D)")
    roles = config.channels()
    signals = {role: psg.find_channel(role, names) for role, names in roles.items()}
    epoch_s = config.epoch_seconds
    n_psg_epochs = int(psg.duration // epoch_s)
    if n_psg_epochs == 0:
        raise DataError(source.psg, f"shorter than one {epoch_s:g}-s epoch ({psg.duration:g} s)")
    hypnogram = _read_stages(source, psg)
    codes = hypnogram.to_epochs(
        n_psg_epochs,
        epoch_s,
        tolerance_s=config.hypnogram_tolerance_seconds,
        min_coverage=config.min_hypnogram_coverage,
    )
    keep = keep_mask(codes, trim=config.trims, trim_epochs=int(round(config.trim_minutes * 60 / epoch_s)))
    kept = np.flatnonzero(keep)
    if len(kept) == 0:
        raise DataError(hypnogram.source, "no scored sleep epoch (nothing left to prepare)")

    fs = config.sampling_rate
    n_samples = int(round(epoch_s * fs))
    epochs = np.empty((len(kept), len(signals), n_samples), dtype=np.float32)
    row = 0
    for first, stop in contiguous_runs(kept):
        # Read each stretch with one epoch of margin so that filters and resampling settle.
        pad_before = min(first, 1) * epoch_s
        pad_after = min(n_psg_epochs - stop, 1) * epoch_s
        t0, t1 = first * epoch_s - pad_before, stop * epoch_s + pad_after
        for c, (role, signal) in enumerate(signals.items()):
            x = psg.read_microvolts(signal, t0, t1, assume_unit=config.assume_unit)
            x = sig.resample(x, signal.sampling_frequency, fs)
            if config.bandpass is not None:
                x = sig.bandpass(x, fs, *config.bandpass)
            if config.notch is not None:
                x = sig.notch(x, fs, config.notch)
            start = int(round(pad_before * fs))
            segment = x[start : start + (stop - first) * n_samples]
            if len(segment) < (stop - first) * n_samples:
                raise DataError(source.psg, f"channel {signal.label!r} ends before the recording does")
            epochs[row : row + stop - first, c] = segment.reshape(stop - first, n_samples)
        row += stop - first

    meta = {
        "dataset": source.dataset,
        "subject": source.subject,
        "night": source.night,
        "sampling_rate": fs,
        "epoch_seconds": epoch_s,
        "channels": [s.label for s in signals.values()],
        "roles": list(signals),
        "source_sampling_rates": {s.label: s.sampling_frequency for s in signals.values()},
        "source": source.psg.name,
        "source_sha1": sha1_of(source.psg),
        "hypnogram": hypnogram.source.name,
        "hypnogram_sha1": sha1_of(hypnogram.source),
        "start_time": psg.start.isoformat() if psg.start else None,
        "trimmed": config.trims,
        "dropped_epochs": int(n_psg_epochs - len(kept)),
        "config_fingerprint": config.fingerprint(),
        "isatsleepnet_version": __version__,
    }
    return epochs, codes[kept].astype(np.int8), kept * epoch_s, meta


def _prepare(source: RecordingSource, config: PrepareConfig, out: Path, overwrite: bool) -> RecordingResult:
    t0 = time.perf_counter()
    if source.dataset == "npz":
        epochs, labels, onsets, meta = read_npz(source.psg, config)
    else:
        epochs, labels, onsets, meta = read_recording(source, config)
    write_recording(out, source.recording, epochs, labels, onsets, meta, overwrite=overwrite)
    return RecordingResult(
        source.recording, "prepared", len(labels), stage_counts(labels), seconds=time.perf_counter() - t0
    )


def prepare_one(source: RecordingSource, config: PrepareConfig, out: Path, overwrite: bool) -> RecordingResult:
    """Prepare one recording; its errors come back as a failed result, never raised."""
    try:
        return _prepare(source, config, out, overwrite)
    except DataError as exc:
        return RecordingResult(source.recording, "failed", error=str(exc))


def _check_resumable(out: Path, config: PrepareConfig) -> None:
    saved = out / CONFIG_FILE
    if saved.is_file():
        from isatsleepnet.config import load_saved_config

        previous = load_saved_config(PrepareConfig, saved)
        if previous.fingerprint() != config.fingerprint():
            raise IsatSleepNetError(
                f"{out} was prepared with other settings ({saved}); use --overwrite or another --out"
            )


def prepare_dataset(
    data_dir: str | Path,
    out: str | Path,
    config: PrepareConfig,
    *,
    jobs: int = 1,
    overwrite: bool = False,
    progress: bool | None = None,
    debug: bool = False,
) -> list[RecordingResult]:
    """Prepare every recording of ``data_dir`` into ``out`` and write the manifest."""
    config.validate()
    out = Path(out)
    sources, discovery_errors = discover(config.dataset, data_dir, subject_pattern=config.subject_pattern)
    if not overwrite:
        _check_resumable(out, config)
    out.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(out / RECORDINGS)
    save_config(config, out / CONFIG_FILE)

    results = [RecordingResult(e.path.stem, "failed", error=str(e)) for e in discovery_errors]
    for r in results:
        tqdm.write(f"error: {r.error}", file=sys.stderr)
    todo = []
    for source in sources:
        if not overwrite and is_complete(out / RECORDINGS / source.recording):
            results.append(RecordingResult(source.recording, "skipped"))
        else:
            todo.append(source)

    bar = tqdm(total=len(todo), desc="prepare", unit="rec", disable=(not progress) if progress is not None else None)
    def record(result: RecordingResult) -> None:
        results.append(result)
        if result.status == "failed":
            tqdm.write(f"error: {result.error}", file=sys.stderr)
        bar.update(1)
        bar.set_postfix_str(result.recording)

    try:
        if jobs <= 1 or len(todo) <= 1:
            for source in todo:
                # --debug lets the traceback through instead of a one-line error
                record((_prepare if debug else prepare_one)(source, config, out, overwrite))
        else:
            workers = min(jobs, len(todo), os.cpu_count() or 1)
            with ProcessPoolExecutor(max_workers=workers) as pool:
                futures = [pool.submit(prepare_one, s, config, out, overwrite) for s in todo]
                for future in as_completed(futures):
                    record(future.result())
    finally:
        bar.close()
        write_manifest(out)
    order = {s.recording: i for i, s in enumerate(sources)}
    return sorted(results, key=lambda r: (order.get(r.recording, -1), r.recording))


def summary_table(results: list[RecordingResult]) -> str:
    """Plain-text table of what happened to each recording, with totals."""
    header = ["recording", "status", "epochs", *STAGES, "s"]
    rows = []
    totals = np.zeros(len(STAGES) + 1, dtype=np.int64)
    for r in results:
        counts = [r.counts.get(s, 0) for s in STAGES]
        if r.status == "prepared":
            totals += [r.n_epochs, *counts]
        rows.append([
            r.recording, r.status,
            str(r.n_epochs) if r.status == "prepared" else "-",
            *[str(c) if r.status == "prepared" else "-" for c in counts],
            f"{r.seconds:.1f}" if r.status == "prepared" else "-",
        ])
    n = {s: sum(r.status == s for r in results) for s in ("prepared", "skipped", "failed")}
    rows.append(["total", f"{n['prepared']} new, {n['skipped']} skipped, {n['failed']} failed",
                 str(totals[0]), *[str(t) for t in totals[1:]], ""])
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    fmt = lambda row: "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
    lines = [fmt(header), fmt(["-" * w for w in widths])]
    lines += [fmt(row) for row in rows[:-1]] + [fmt(["-" * w for w in widths]), fmt(rows[-1])]
    return "\n".join(lines)
