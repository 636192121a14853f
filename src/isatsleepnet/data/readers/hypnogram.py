"""Hypnogram readers: EDF+ annotations, NSRR and Profusion XML, CSV/TSV of epoch stages.

Each reader returns a :class:`Hypnogram` of stage intervals in seconds from the
PSG's start, with AASM codes from :mod:`isatsleepnet.data.labels`.
:meth:`Hypnogram.to_epochs` then lays it on the PSG's epoch grid and refuses a
hypnogram that belongs to another recording (too short, overrunning, disjoint).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import defusedxml.ElementTree as SafeET
import edfio
import numpy as np

from isatsleepnet.data import labels as L
from isatsleepnet.errors import DataError


@dataclass(frozen=True)
class Hypnogram:
    """Stage intervals of one night.

    ``per_epoch`` marks formats that list one stage per epoch (CSV without onsets,
    Profusion XML): for them the number of epochs itself must match the PSG.
    """

    source: Path
    onsets: np.ndarray  # seconds from the PSG start
    durations: np.ndarray  # seconds
    codes: np.ndarray  # 0..4 or labels.DROP
    per_epoch: bool = False

    def to_epochs(
        self,
        n_epochs: int,
        epoch_seconds: float,
        *,
        tolerance_s: float = 30.0,
        min_coverage: float = 0.5,
    ) -> np.ndarray:
        """One code per PSG epoch (the stage at the epoch's midpoint), UNLABELLED where none applies."""
        psg_end = n_epochs * epoch_seconds
        if len(self.codes) == 0:
            raise DataError(self.source, "hypnogram holds no sleep stages")
        if self.per_epoch and abs(len(self.codes) - n_epochs) > 1:
            raise DataError(
                self.source,
                f"hypnogram lists {len(self.codes)} epochs but the PSG holds {n_epochs} whole "
                f"{epoch_seconds:g}-s epochs",
            )
        scored = self.codes != L.DROP
        ends = self.onsets + self.durations
        if scored.any():
            last_scored_end = float(ends[scored].max())
            if last_scored_end > psg_end + tolerance_s:
                raise DataError(
                    self.source,
                    f"hypnogram overruns the PSG: stages are scored up to {last_scored_end:.0f} s "
                    f"but the signals end at {psg_end:.0f} s",
                )
        mids = (np.arange(n_epochs) + 0.5) * epoch_seconds
        order = np.argsort(self.onsets, kind="stable")
        onsets, durations, codes = self.onsets[order], self.durations[order], self.codes[order]
        idx = np.searchsorted(onsets, mids, side="right") - 1
        valid = idx >= 0
        valid[valid] &= mids[valid] < onsets[idx[valid]] + durations[idx[valid]]
        epoch_codes = np.full(n_epochs, L.UNLABELLED, dtype=np.int8)
        epoch_codes[valid] = codes[idx[valid]]
        covered = float(valid.mean()) if n_epochs else 0.0
        if not (epoch_codes >= 0).any():
            raise DataError(self.source, f"hypnogram does not cover the PSG (0 to {psg_end:.0f} s)")
        if covered < min_coverage:
            raise DataError(
                self.source,
                f"hypnogram covers only {100 * covered:.0f} % of the PSG's {n_epochs} epochs "
                f"(ends at {float(ends.max()):.0f} s, the PSG at {psg_end:.0f} s)",
            )
        return epoch_codes


def _from_lists(source: Path, rows: list[tuple[float, float, int]], per_epoch: bool) -> Hypnogram:
    arr = np.asarray(rows, dtype=np.float64).reshape(-1, 3)
    return Hypnogram(source, arr[:, 0], arr[:, 1], arr[:, 2].astype(np.int8), per_epoch)


def read_edf_annotations(
    path: str | Path,
    *,
    psg_start: dt.datetime | None = None,
    mapper: Callable[[str], int | None] = L.map_sleep_edf,
    epoch_seconds: float = 30.0,
) -> Hypnogram:
    """Stage annotations of an EDF+ file (a Sleep-EDF hypnogram, or a PSG with embedded stages)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "hypnogram file not found")
    if path.stat().st_size == 0:
        raise DataError(path, "empty file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            edf = edfio.read_edf(path, lazy_load_data=True)
            annotations = list(edf.annotations)
    except Exception as exc:
        raise DataError(path, f"not a readable EDF+ hypnogram ({exc})") from None
    offset = 0.0
    if psg_start is not None:
        try:
            offset = (edf.startdatetime - psg_start).total_seconds()
        except Exception:
            offset = 0.0
    rows = []
    for ann in annotations:
        try:
            code = mapper(ann.text)
        except L.UnknownLabel as exc:
            raise DataError(path, f"unknown stage label {str(exc)!r} at {ann.onset:g} s") from None
        if code is None:
            continue
        duration = ann.duration if ann.duration else epoch_seconds
        rows.append((ann.onset + offset, duration, code))
    if not rows:
        raise DataError(path, "no sleep-stage annotations found")
    return _from_lists(path, rows, per_epoch=False)


def generic_annotation_mapper(text: str) -> int | None:
    """Stages in any EDF+: Sleep-EDF spellings or plain ones; other events are ignored."""
    try:
        code = L.map_sleep_edf(text)
    except L.UnknownLabel:
        code = None
    if code is not None:
        return code
    try:
        return L.map_text(text)
    except L.UnknownLabel:
        if L._STAGE_WORD.match(text):
            raise
        return None


def _parse_xml(path: Path):
    if not path.is_file():
        raise DataError(path, "hypnogram file not found")
    if path.stat().st_size == 0:
        raise DataError(path, "empty file")
    try:
        return SafeET.parse(path).getroot()
    except Exception as exc:
        raise DataError(path, f"not valid XML ({exc})") from None


def read_xml(path: str | Path) -> Hypnogram:
    """NSRR (``PSGAnnotation``) or Compumedics Profusion (``CMPStudyConfig``) XML."""
    path = Path(path)
    root = _parse_xml(path)
    if root.tag == "PSGAnnotation":
        return _read_nsrr(path, root)
    if root.tag == "CMPStudyConfig":
        return _read_profusion(path, root)
    raise DataError(path, f"unknown XML hypnogram: root element <{root.tag}>")


def _text(node, tag: str, path: Path) -> str:
    child = node.find(tag)
    if child is None or child.text is None:
        raise DataError(path, f"scored event without <{tag}>")
    return child.text.strip()


def _read_nsrr(path: Path, root) -> Hypnogram:
    rows = []
    for event in root.iter("ScoredEvent"):
        event_type = (event.findtext("EventType") or "").strip()
        if not event_type.lower().startswith("stages"):
            continue
        concept = _text(event, "EventConcept", path)
        try:
            code = L.map_shhs(int(concept.rsplit("|", 1)[-1]))
            onset = float(_text(event, "Start", path))
            duration = float(_text(event, "Duration", path))
        except (ValueError, L.UnknownLabel):
            raise DataError(path, f"unknown stage label {concept!r}") from None
        rows.append((onset, duration, code))
    if not rows:
        raise DataError(path, "no Stages|Stages events in this NSRR XML")
    return _from_lists(path, rows, per_epoch=False)


def _read_profusion(path: Path, root) -> Hypnogram:
    try:
        epoch = float(root.findtext("EpochLength") or 30)
    except ValueError:
        raise DataError(path, "unreadable <EpochLength>") from None
    rows = []
    for i, node in enumerate(root.iter("SleepStage")):
        text = (node.text or "").strip()
        try:
            code = L.map_shhs(int(text))
        except (ValueError, L.UnknownLabel):
            raise DataError(path, f"unknown stage label {text!r} in epoch {i}") from None
        rows.append((i * epoch, epoch, code))
    if not rows:
        raise DataError(path, "no <SleepStage> entries in this Profusion XML")
    return _from_lists(path, rows, per_epoch=True)


_STAGE_COLUMNS = ("stage", "sleep_stage", "label", "hypnogram", "score")
_ONSET_COLUMNS = ("onset", "onset_s", "start", "time", "start_s")


def read_table(path: str | Path, *, epoch_seconds: float = 30.0) -> Hypnogram:
    """CSV/TSV/TXT hypnogram: one stage per epoch, optionally with an onset (s) column.

    A header row is optional; without one the last column holds the stages.
    Lines starting with ``#`` are comments.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "hypnogram file not found")
    text = path.read_text(encoding="utf-8-sig", errors="replace")
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise DataError(path, "empty file")
    sample = "\n".join(lines[:20])
    delimiter = "\t" if "\t" in sample else ("," if "," in sample else (";" if ";" in sample else None))
    if delimiter is None:
        table = [ln.split() for ln in lines]
    else:
        table = [row for row in csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter)]
    header = [c.strip().lower() for c in table[0]]
    stage_col = next((header.index(c) for c in _STAGE_COLUMNS if c in header), None)
    onset_col = next((header.index(c) for c in _ONSET_COLUMNS if c in header), None)
    body = table[1:] if stage_col is not None else table
    if stage_col is None:
        stage_col = len(table[0]) - 1
    rows = []
    for line_no, row in enumerate(body, start=2 if body is not table else 1):
        if len(row) <= stage_col:
            raise DataError(path, f"line {line_no}: expected a stage in column {stage_col + 1}")
        label = row[stage_col]
        try:
            code = L.map_text(label)
        except L.UnknownLabel:
            raise DataError(path, f"unknown stage label {label.strip()!r} on line {line_no}") from None
        if onset_col is not None:
            try:
                onset = float(row[onset_col])
            except (ValueError, IndexError):
                raise DataError(path, f"line {line_no}: unreadable onset {row[onset_col]!r}") from None
        else:
            onset = len(rows) * epoch_seconds
        rows.append((onset, epoch_seconds, code))
    if not rows:
        raise DataError(path, "hypnogram holds no epochs")
    return _from_lists(path, rows, per_epoch=onset_col is None)


def read_hypnogram(
    path: str | Path, *, psg_start: dt.datetime | None = None, epoch_seconds: float = 30.0
) -> Hypnogram:
    """Any supported hypnogram, chosen by file type."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".edf", ".bdf"):
        return read_edf_annotations(
            path, psg_start=psg_start, mapper=generic_annotation_mapper, epoch_seconds=epoch_seconds
        )
    if suffix == ".xml":
        return read_xml(path)
    if suffix in (".csv", ".tsv", ".txt"):
        return read_table(path, epoch_seconds=epoch_seconds)
    raise DataError(path, f"unsupported hypnogram format {suffix!r} (use EDF+, XML, CSV or TSV)")
