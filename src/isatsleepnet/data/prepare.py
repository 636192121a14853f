"""`prepare`: raw recordings → the prepared store, one recording at a time, in parallel.

A recording that fails (corrupt EDF, missing channel, mismatched hypnogram...)
is reported in one line and the others go on. Prepared recordings are skipped
on the next run, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from concurrent.futures import as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from isatsleepnet import STAGES, __version__
from isatsleepnet.atomic import remove_stale_temporaries
from isatsleepnet.config import save_config
from isatsleepnet.cores import usable_cores
from isatsleepnet.data import signal as sig
from isatsleepnet.data.hashing import sha1_of
from isatsleepnet.data.epochs import contiguous_runs, keep_mask, unusable_problem
from isatsleepnet.data.labels import stage_counts
from isatsleepnet.data.prepare_config import PrepareConfig
from isatsleepnet.data.datasets import find_recordings, get_dataset
from isatsleepnet.references import resolve
from isatsleepnet.data.channels import flat_channel_notes, flat_halves, resolve_channels, stand_in_warnings
from isatsleepnet.data.derivations import difference
from isatsleepnet.data.readers.edf import EdfRecording
from isatsleepnet.data.readers.edf_segments import is_discontinuous
from isatsleepnet.data.sources import EDF_SUFFIXES, RecordingSource
from isatsleepnet.data.store import (
    RECORDINGS,
    hypnogram_changed,
    is_complete,
    remove_recording,
    stored_fingerprint,
    write_manifest,
    write_recording,
)
from isatsleepnet.data.synthetic.marker import is_marked_synthetic
from isatsleepnet.errors import DataError, IsatSleepNetError, SettingError, keyword, render, template_line, unexpected_error
from isatsleepnet.locking import ensure_writable_folder, folder_lock
from isatsleepnet.processes import worker_pool

CONFIG_FILE = "prepare_config.json"


@dataclass
class RecordingResult:
    """What happened to one recording. ``error`` is one line naming settings as ``{setting}``
    placeholders, for each front end to spell (:func:`isatsleepnet.errors.render`)."""

    recording: str
    status: str  # "prepared" | "skipped" | "failed"
    n_epochs: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    error: str = ""
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def read_recording(
    source: RecordingSource, config: PrepareConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    """Epochs (µV, n x C x S), stage codes, onsets (s) and metadata of one raw night.

    Epochs lie on the hypnogram's 30-s grid (its onsets, usually the PSG's own
    start); every sample is resampled on an exact time grid, so epoch ``k`` holds
    the signal from ``offset + k·E`` to ``offset + (k+1)·E`` at any source rate.
    ``meta["notes"]`` says what a user should know (aliases, flat channels, partial
    hypnograms, a shifted grid).
    """
    psg = EdfRecording.open(source.psg)
    if is_discontinuous(source.psg):  # its records are not back to back in time: epochs would be misplaced
        raise DataError(source.psg, "discontinuous EDF+D: prepare needs a continuous recording (export it as "
                                    "EDF+C; `isatsleepnet stage` reads EDF+D)")
    resolved = resolve_channels(psg, config.channels(), working_rate=config.sampling_rate,
                                assume_unit=config.assume_unit, working="prepare ({sampling_rate})")
    notes = psg.notes  # how the file was read (a partial last record dropped)
    notes += [f"{c.role}: using channel {c.label!r} as an alias" for c, _ in resolved if c.matched == "alias"]
    notes += [f"{c.role}: {c.label!r} derived as {c.derived_from[0]!r} minus {c.derived_from[1]!r}"
              for c, _ in resolved if c.derived_from is not None]
    notes += stand_in_warnings([c for c, _ in resolved], {})  # an EMG given as --eeg, say
    epoch_s = config.epoch_seconds
    entry = get_dataset(config.dataset)
    if entry.stages is None:
        raise IsatSleepNetError(f"dataset {entry.name!r} names no stage reader for its EDF recordings")
    hypnogram = _read_stages(entry.stages, source, psg.start, epoch_s, config.stage_codes or entry.stage_codes)
    offset = hypnogram.grid_offset(epoch_s)
    n_psg_epochs = int((psg.duration - offset) // epoch_s + 1e-9)
    if n_psg_epochs <= 0:
        raise DataError(source.psg, f"shorter than one {epoch_s:g}-s epoch ({psg.duration:g} s)")
    if offset:
        notes.append(f"epochs follow the hypnogram's grid, {offset:g} s after the PSG's start")
    if (psg.start is None and source.hypnogram is not None and source.hypnogram != source.psg
            and source.hypnogram.suffix.lower() in EDF_SUFFIXES):  # an EDF+ hypnogram has a clock of its own
        notes.append("the PSG's start date or time is unreadable, so the hypnogram could not be placed by clock "
                     "time: its stages are counted from the PSG's first sample (check the alignment)")
    codes = hypnogram.to_epochs(
        n_psg_epochs,
        epoch_s,
        tolerance_s=config.hypnogram_tolerance_seconds,
        min_coverage=config.min_hypnogram_coverage if entry.coverage_rule else 0.0,
        offset_s=offset,
    )
    notes += [n for n in hypnogram.notes if n not in notes]
    keep = keep_mask(codes, trim=config.trims, trim_epochs=int(round(config.trim_minutes * 60 / epoch_s)))
    kept = np.flatnonzero(keep)
    if len(kept) == 0:
        raise DataError(hypnogram.source, "no scored sleep epoch (nothing left to prepare)")
    epochs, halves = _read_epochs(psg, resolved, kept, n_psg_epochs, offset, config)
    problem = unusable_problem(epochs, kept * epoch_s + offset)  # NaN cannot come from checked calibrations; ±10 V can
    if problem:
        raise DataError(source.psg, problem)
    notes += flat_channel_notes(epochs, [c for c, _ in resolved], halves)

    meta = {
        "dataset": source.dataset,
        "subject": source.subject,
        "night": source.night,
        "sampling_rate": config.sampling_rate,
        "epoch_seconds": epoch_s,
        "channels": [c.label for c, _ in resolved],
        "roles": [c.role for c, _ in resolved],
        "source_sampling_rates": {c.label: c.rate for c, _ in resolved},
        # per channel: the labels of A and B where it was formed as the derivation A-B, else None
        "derived_from": {c.label: list(c.derived_from) if c.derived_from else None for c, _ in resolved},
        "source": source.psg.name,
        "source_sha1": sha1_of(source.psg),
        "hypnogram": hypnogram.source.name,
        "hypnogram_sha1": sha1_of(hypnogram.source),
        "synthetic": is_marked_synthetic(source.psg),
        "start_time": psg.start.isoformat() if psg.start else None,
        "grid_offset_s": offset,
        "trimmed": config.trims,
        "dropped_epochs": int(n_psg_epochs - len(kept)),
        "notes": notes,
        "config_fingerprint": config.fingerprint(),
        "isatsleepnet_version": __version__,
    }
    return epochs, codes[kept].astype(np.int8), offset + kept * epoch_s, meta


SCORING_EPOCHS = (30.0, 20.0)
"""Epoch lengths hypnograms are scored in (AASM 30 s, older R&K 20 s), tried when one fails at ``epoch_seconds``."""


def _read_stages(reference: str, source: RecordingSource, start: Any, epoch_s: float, codes: str | None) -> Any:
    """The dataset's stage reader at ``epoch_s``; where it fails there but reads the file at another scoring
    epoch, the cause is ``{epoch_seconds}``, not the hypnogram, and the error says so."""
    read = resolve(reference)
    try:
        return read(source, start, epoch_seconds=epoch_s, stage_codes=codes)
    except DataError as exc:
        if epoch_s == PrepareConfig.epoch_seconds:  # the default: a 20-s scoring is the file's (it cannot be converted)
            raise
        for scored in (s for s in SCORING_EPOCHS if s != epoch_s):
            try:
                read(source, start, epoch_seconds=scored, stage_codes=codes)
            except IsatSleepNetError:
                continue
            raise DataError(exc.path, f"its stages are scored in {scored:g}-s epochs, not in the {epoch_s:g}-s epochs of "
                                      f"{{epoch_seconds}}: prepare it with {{epoch_seconds}} {scored:g}") from None
        raise


def _read_epochs(
    psg: EdfRecording, resolved: list, kept: np.ndarray, n_psg_epochs: int, offset: float, config: PrepareConfig
) -> tuple[np.ndarray, np.ndarray]:
    """The kept epochs of every resolved channel or derivation, run by run of consecutive epochs, and
    per epoch and role whether each half of a derivation is flat (:func:`flat_halves`)."""
    fs, epoch_s = sig.exact_rate(config.sampling_rate), sig.exact(config.epoch_seconds)
    grid = sig.exact(offset)
    n_samples = int(epoch_s * fs)
    epochs = np.empty((len(kept), len(resolved), n_samples), dtype=np.float32)
    halves = np.zeros((len(kept), len(resolved), 2), dtype=bool)
    row = 0
    for first, stop in contiguous_runs(kept):
        # one epoch of margin each side where the PSG has it, so that the optional filters settle
        before, after = min(first, 1), min(n_psg_epochs - stop, 1)
        n = stop - first + before + after
        for c, (choice, signals) in enumerate(resolved):
            parts = [sig.resample_span(  # a derivation: both halves on the same grid, then A - B
                lambda a, b, s=signal: psg.read_samples(s, a, b, assume_unit=config.assume_unit),
                psg.n_samples(signal), signal.rate, fs, grid + (first - before) * epoch_s, n * n_samples,
            ) for signal in signals]
            halves[row: row + stop - first, c] = flat_halves(parts, n_samples, stop - first, skip=before)
            x = difference(parts)
            if len(x) < n * n_samples:
                raise DataError(psg.path, f"channel {choice.label!r} ends before the recording does")
            if config.bandpass is not None:
                x = sig.bandpass(x, float(fs), *config.bandpass)
            if config.notch is not None:
                x = sig.notch(x, float(fs), config.notch)
            segment = x[before * n_samples: (n - after) * n_samples]
            epochs[row: row + stop - first, c] = segment.reshape(stop - first, n_samples)
        row += stop - first
    return epochs, halves


def _prepare(source: RecordingSource, config: PrepareConfig, out: Path, overwrite: bool) -> RecordingResult:
    t0 = time.perf_counter()
    # resolved here, in the worker, and at each call: a reader replaced in a test is the one called
    epochs, labels, onsets, meta = resolve(get_dataset(config.dataset).reader)(source, config)
    meta = {**meta, "config_fingerprint": config.fingerprint()}  # every reader's (npz too): what a rerun compares
    # an existing folder that is not complete (damaged, half-copied) is this run's to replace
    folder = out / RECORDINGS / source.recording
    write_recording(out, source.recording, epochs, labels, onsets, meta,
                    overwrite=overwrite or (folder.exists() and not is_complete(folder)))
    return RecordingResult(source.recording, "prepared", len(labels), stage_counts(labels),
                           seconds=time.perf_counter() - t0, notes=list(meta.get("notes", [])))


def prepare_one(source: RecordingSource, config: PrepareConfig, out: Path, overwrite: bool) -> RecordingResult:
    """Prepare one recording; any failure comes back as a failed result with a one-line error, never raised."""
    try:
        return _prepare(source, config, out, overwrite)
    except IsatSleepNetError as exc:
        return RecordingResult(source.recording, "failed", error=template_line(exc))
    except Exception as exc:  # noqa: BLE001 - disk full, out of memory, a bug: this recording fails, the rest go on
        return RecordingResult(source.recording, "failed", error=unexpected_error(source.psg, exc))


def _check_resumable(out: Path, config: PrepareConfig, overwrite: bool) -> str | None:
    """The fingerprint of the settings ``out`` was prepared with (None: unknown); without ``overwrite``, other
    settings are refused."""
    saved = out / CONFIG_FILE
    if not saved.is_file():
        return None
    from isatsleepnet.config import load_saved_config

    try:
        previous = load_saved_config(PrepareConfig, saved).fingerprint()
    except IsatSleepNetError:
        if not overwrite:
            raise
        return None
    if not overwrite and previous != config.fingerprint():
        raise IsatSleepNetError(f"{out} was prepared with other settings ({saved}); use {{overwrite}} or another {{out}}")
    return previous


def _remove_other_settings(out: Path, config: PrepareConfig, previous: str | None, overwrite: bool,
                           sources: list[RecordingSource]) -> None:
    """Remove every stored recording prepared with settings other than ``config``'s, so that a dataset never mixes
    two preparations: those of this run are prepared again, the others are gone (a note on stderr says which).

    A recording's settings are its meta.json's ``config_fingerprint``, else (written before every reader stored
    one) ``previous``'s; unknown, they count as other settings only under ``overwrite``.
    """
    folder, wanted = out / RECORDINGS, config.fingerprint()
    stored = sorted(p for p in folder.iterdir() if p.is_dir() and is_complete(p)) if folder.is_dir() else []
    other = [p for p in stored if (fp := stored_fingerprint(p) or previous) != wanted and (fp or overwrite)]
    if other and not overwrite and previous is None:  # no prepare_config.json: nothing says which settings are OUT's
        raise IsatSleepNetError(f"{out} holds recordings prepared with other settings ({other[0].name}...); "
                                "use {overwrite} or another {out}")
    in_run = {s.recording for s in sources}
    for rec in other:
        remove_recording(rec)
        if rec.name not in in_run:
            tqdm.write(f"note: {rec.name}: removed from {out}: prepared with other settings, and its source is "
                       "not in this run", file=sys.stderr)
    if other:
        write_manifest(out)


def prepare_dataset(
    data_dir: str | Path,
    out: str | Path,
    config: PrepareConfig,
    *,
    jobs: int = 1,
    overwrite: bool = False,
    progress: bool | None = None,
    debug: bool = False,
    spell: Callable[[str], str] = keyword,
) -> list[RecordingResult]:
    """Prepare every recording of ``data_dir`` into ``out`` and write the manifest.

    Any failure of one recording (bad input, disk full, a worker process killed)
    is that recording's one-line error, written to stderr with its settings spelled
    by ``spell`` (``sampling_rate=``; the CLI's ``--sampling-rate``); the others go
    on. ``out`` is held for this run only (:func:`isatsleepnet.locking.folder_lock`):
    a second run into it refuses.

    Examples
    --------
    >>> from isatsleepnet.data.prepare_config import PrepareConfig
    >>> results = prepare_dataset("~/mne_data", "prepared/edf20", PrepareConfig(dataset="sleep-edf-20"))  # doctest: +SKIP
    >>> print(summary_table(results))  # doctest: +SKIP
    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise SettingError("jobs", f"must be a whole number of at least 1, got {jobs!r}")
    out = Path(out)
    sources, discovery_errors = find_recordings(data_dir, config)
    ensure_writable_folder(out)
    with folder_lock(out, "prepare"):
        previous = _check_resumable(out, config, overwrite)
        remove_stale_temporaries(out / RECORDINGS)
        _remove_other_settings(out, config, previous, overwrite, sources)
        save_config(config, out / CONFIG_FILE)
        # a PSG that failed when found is named as it would have been prepared (SC4001E0), where its finder says
        results = [RecordingResult(getattr(e, "recording", None) or e.path.stem, "failed", error=template_line(e))
                   for e in discovery_errors]
        for r in results:
            tqdm.write(f"error: {render(r.error, spell)}", file=sys.stderr)
        todo = []
        for source in sources:
            stored = out / RECORDINGS / source.recording
            if not overwrite and is_complete(stored) and hypnogram_changed(stored, source.hypnogram):
                tqdm.write(f"note: {source.recording}: {source.hypnogram.name} changed since it was prepared: "
                           "its stored epochs are dropped and it is prepared again", file=sys.stderr)
                remove_recording(stored)
            if not overwrite and is_complete(stored):
                results.append(RecordingResult(source.recording, "skipped"))
            else:
                todo.append(source)
        bar = tqdm(total=len(todo), desc="prepare", unit="rec",
                   disable=(not progress) if progress is not None else None)

        def record(result: RecordingResult) -> None:
            results.append(result)
            if result.status == "failed":
                tqdm.write(f"error: {render(result.error, spell)}", file=sys.stderr)
            bar.update(1)
            bar.set_postfix_str(result.recording)

        try:
            if jobs <= 1 or len(todo) <= 1:
                for source in todo:
                    # --debug lets the traceback through instead of a one-line error
                    record((_prepare if debug else prepare_one)(source, config, out, overwrite))
            else:
                _prepare_in_pool(todo, config, out, overwrite, min(jobs, len(todo), usable_cores()), record)
        finally:
            bar.close()
            write_manifest(out)
    order = {s.recording: i for i, s in enumerate(sources)}
    return sorted(results, key=lambda r: (order.get(r.recording, -1), r.recording))


def _prepare_in_pool(todo: list[RecordingSource], config: PrepareConfig, out: Path, overwrite: bool, workers: int,
                     record: Callable[[RecordingResult], None]) -> None:
    """Recordings in worker processes; those caught in a pool whose worker died are retried one by one."""
    retry: list[RecordingSource] = []
    try:
        with worker_pool(workers) as pool:  # Ctrl+C: the workers are ended, the parent reports it once
            futures = {pool.submit(prepare_one, s, config, out, overwrite): s for s in todo}
            for future in as_completed(futures):
                try:
                    record(future.result())
                except BrokenProcessPool:  # a worker was killed (out of memory?): its pool is lost
                    retry.append(futures[future])
    except KeyboardInterrupt:
        remove_stale_temporaries(out / RECORDINGS)  # what the ended workers were writing
        raise
    for source in retry:  # alone, so that a recording that kills its worker fails by itself
        remove_stale_temporaries(out / RECORDINGS)  # what the killed workers were writing; none is running now
        with worker_pool(1) as pool:
            try:
                record(pool.submit(prepare_one, source, config, out, overwrite).result())
            except BrokenProcessPool:
                record(RecordingResult(source.recording, "failed",
                                       error=f"{source.psg.name}: its worker process died (killed, or out of memory)"))
    if retry:
        remove_stale_temporaries(out / RECORDINGS)


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
    notes = [f"note: {r.recording}: {note}" for r in results for note in r.notes]
    return "\n".join(lines + notes)
