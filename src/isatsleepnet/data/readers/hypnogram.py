"""Hypnogram readers: EDF+ annotations, NSRR and Profusion XML, CSV/TSV of epoch stages.

Each reader returns a :class:`Hypnogram` of stage events in seconds from the
PSG's start, with AASM codes from :mod:`isatsleepnet.data.labels`, checked by
:func:`~isatsleepnet.data.readers.hypnogram_grid.build_hypnogram`.
:meth:`Hypnogram.to_epochs` then lays it on the PSG's epoch grid. Bare integer
stages (CSV/TSV, EDF+) are read in one coding per file, AASM or R&K, decided
from the file's codes or given by the user (``stage_codes``); never guessed.
The rules are documented in docs/hypnograms.md.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Callable
from pathlib import Path

import defusedxml.ElementTree as SafeET
import edfio

from isatsleepnet.checks import positive_number
from isatsleepnet.data import labels as L
from isatsleepnet.data.readers.formats import SIGNAL_FORMATS
from isatsleepnet.data.readers.hypnogram_grid import Hypnogram, build_hypnogram, cut, quote
from isatsleepnet.data.readers.hypnogram_table import read_table, resolve_integers
from isatsleepnet.errors import DataError

__all__ = [
    "Hypnogram", "NoStageAnnotations", "edf_family_suffixes", "generic_annotation_mapper", "read_edf_annotations",
    "read_hypnogram", "read_table", "read_xml",
]


class NoStageAnnotations(DataError):
    """An EDF+ file without stage annotations (so that a PSG without embedded stages can be told apart)."""


def read_edf_annotations(
    path: str | Path,
    *,
    psg_start: dt.datetime | None = None,
    mapper: Callable[[str], int | None] = L.map_sleep_edf,
    epoch_seconds: float = 30.0,
    stage_codes: str | None = None,
) -> Hypnogram:
    """Stage annotations of an EDF+ file (a Sleep-EDF hypnogram, or a PSG with embedded stages).

    Parameters
    ----------
    path
        The EDF+ file.
    psg_start
        Start of the PSG the stages belong to, when the file has its own start.
    mapper
        Annotation text → AASM code, None for other events; it raises
        ``labels.IntegerCode`` for a bare integer, read in the file's coding.
    epoch_seconds
        Length of a stage annotation without a duration.
    stage_codes
        ``"aasm"`` or ``"rk"`` for bare integer stages; None decides from the file.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "hypnogram file not found")
    if path.stat().st_size == 0:
        raise DataError(path, "empty file")
    with path.open("rb") as handle:
        head = handle.read(256)
    if len(head) < 256 or head[:8] not in (b"0       ", b"\xffBIOSEMI"):  # else edfio's parser error ("invalid literal")
        raise DataError(path, "not an EDF+ hypnogram: the file does not begin with an EDF or BDF header")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            edf = edfio.read_edf(path, lazy_load_data=True)
            annotations = list(edf.annotations)
    except Exception as exc:
        raise DataError(path, f"not a readable EDF+ hypnogram ({cut(str(exc))})") from None
    offset = 0.0
    if psg_start is not None:
        try:
            offset = (edf.startdatetime - psg_start).total_seconds()
        except Exception:
            offset = 0.0
    events: list[list] = []
    integers: list[tuple[int, int, str]] = []  # (event, code, where)
    for ann in annotations:
        try:
            code = mapper(ann.text)
        except L.IntegerCode as exc:
            integers.append((len(events), exc.code, f"at {ann.onset:g} s"))
            code = exc.code  # replaced once the file's coding is known
        except L.UnknownLabel:
            raise DataError(path, f"unknown stage label {quote(ann.text)} at {ann.onset:g} s") from None
        if code is None:
            continue
        duration = ann.duration if ann.duration else epoch_seconds  # zero or none: one epoch
        events.append([ann.onset + offset, duration, code, ann.text])
    if not events:
        raise NoStageAnnotations(path, "no sleep-stage annotations found")
    notes = resolve_integers(path, events, integers, stage_codes)
    return build_hypnogram(path, [tuple(e) for e in events], per_epoch=False, epoch_seconds=epoch_seconds,
                           notes=notes)


def generic_annotation_mapper(text: str) -> int | None:
    """Stages in any EDF+: Sleep-EDF spellings or plain ones; other events (and unknown integers) are ignored."""
    try:
        code = L.map_sleep_edf(text)
    except L.UnknownLabel:
        code = None
    if code is not None:
        return code
    try:
        return L.map_text(text)  # a bare integer stage raises IntegerCode: read in the file's coding
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
        raise DataError(path, f"not valid XML ({cut(str(exc))})") from None


def read_xml(path: str | Path, *, epoch_seconds: float = 30.0) -> Hypnogram:
    """NSRR (``PSGAnnotation``) or Compumedics Profusion (``CMPStudyConfig``) XML; R&K codes by definition."""
    path = Path(path)
    root = _parse_xml(path)
    if root.tag == "PSGAnnotation":
        return _read_nsrr(path, root, epoch_seconds)
    if root.tag == "CMPStudyConfig":
        return _read_profusion(path, root, epoch_seconds)
    raise DataError(path, f"unknown XML hypnogram: root element <{cut(root.tag)}>")


def _text(node, tag: str, path: Path) -> str:
    child = node.find(tag)
    if child is None or child.text is None:
        raise DataError(path, f"scored event without <{tag}>")
    return child.text.strip()


def _read_nsrr(path: Path, root, epoch_seconds: float) -> Hypnogram:
    events = []
    for event in root.iter("ScoredEvent"):
        event_type = (event.findtext("EventType") or "").strip()
        if not event_type.lower().startswith("stages"):
            continue
        concept = _text(event, "EventConcept", path)
        try:
            code = L.map_shhs(int(concept.rsplit("|", 1)[-1]))
        except (ValueError, L.UnknownLabel):
            raise DataError(path, f"unknown stage label {quote(concept)}") from None
        start, duration = _text(event, "Start", path), _text(event, "Duration", path)
        try:
            onset = float(start)
            length = float(duration)
        except ValueError:
            raise DataError(path, f"unreadable <Start> {quote(start)} or <Duration> {quote(duration)} of "
                                  f"{quote(concept)}") from None
        events.append((onset, length, code, concept))
    if not events:
        raise DataError(path, "no Stages|Stages events in this NSRR XML")
    return build_hypnogram(path, events, per_epoch=False, epoch_seconds=epoch_seconds)


def _read_profusion(path: Path, root, epoch_seconds: float) -> Hypnogram:
    text = (root.findtext("EpochLength") or "30").strip()
    try:
        epoch = float(text)
    except ValueError:
        raise DataError(path, f"unreadable <EpochLength> {quote(text)}") from None
    if abs(epoch - epoch_seconds) > 1e-6:
        raise DataError(
            path,
            f"EpochLength {epoch:g} s: ISATSleepNet stages {epoch_seconds:g}-s epochs; this study's "
            f"{epoch:g}-s epochs cannot be turned into them (re-score or export it in {epoch_seconds:g}-s epochs)",
        )
    events = []
    for i, node in enumerate(root.iter("SleepStage")):
        label = (node.text or "").strip()
        try:
            code = L.map_shhs(int(label))
        except (ValueError, L.UnknownLabel):
            raise DataError(path, f"unknown stage label {quote(label)} in epoch {i}") from None
        events.append((i * epoch, epoch, code, label))
    if not events:
        raise DataError(path, "no <SleepStage> entries in this Profusion XML")
    return build_hypnogram(path, events, per_epoch=True, epoch_seconds=epoch_seconds)


def edf_family_suffixes() -> tuple[str, ...]:
    """The file endings of the EDF family in the signal table (EDF/EDF+, BDF/BDF+): the files whose
    annotations :func:`read_edf_annotations` reads.

    Why not every signal suffix: another signal format (a plug-in's) holds no EDF+ annotations to
    read stages from.

    Examples
    --------
    >>> edf_family_suffixes()
    ('.edf', '.rec', '.bdf')
    """
    return tuple(s for name in ("edf", "bdf") for s in SIGNAL_FORMATS[name].suffixes)


def read_hypnogram(
    path: str | Path,
    *,
    psg_start: dt.datetime | None = None,
    epoch_seconds: float = 30.0,
    stage_codes: str | None = None,
) -> Hypnogram:
    """Any supported hypnogram, chosen by file type.

    Parameters
    ----------
    path
        EDF+/BDF+ annotations, NSRR or Profusion XML, CSV/TSV/TXT.
    psg_start
        Start of the PSG, to place an EDF+ hypnogram that has its own start.
    epoch_seconds
        The staging epoch length (hypnograms in other epoch lengths are refused).
    stage_codes
        Coding of bare integer stages in CSV/TSV/EDF+: ``"aasm"`` (4 = REM) or
        ``"rk"`` (4 = N3, 5 = REM); None decides per file and refuses a file that
        could be either. XML is R&K by definition: a note says the choice does not apply.
    """
    path = Path(path)
    L.check_stage_codes(stage_codes)
    epoch_seconds = positive_number("epoch_seconds", epoch_seconds, unit="seconds")  # 0, nan, "30": numpy's words
    suffix = path.suffix.lower()
    if not path.is_file():
        raise DataError(path, "no such hypnogram file" if not path.exists() else "is a folder, not a hypnogram file")
    if suffix in edf_family_suffixes():
        return read_edf_annotations(path, psg_start=psg_start, mapper=generic_annotation_mapper,
                                    epoch_seconds=epoch_seconds, stage_codes=stage_codes)
    if suffix == ".xml":
        hyp = read_xml(path, epoch_seconds=epoch_seconds)
        if stage_codes is not None:
            hyp.note(f"the chosen stage coding {stage_codes} does not apply to XML: NSRR and Profusion XML "
                     "number stages in R&K (5 = REM)")
        return hyp
    if suffix in (".csv", ".tsv", ".txt"):
        return read_table(path, epoch_seconds=epoch_seconds, stage_codes=stage_codes)
    raise DataError(path, f"unsupported hypnogram format {quote(suffix)} (use EDF+, XML, CSV or TSV)")
