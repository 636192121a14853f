"""CSV/TSV/TXT hypnograms, and the per-file reading of bare integer stages they share with EDF+.

A table lists one stage per row: per epoch when it has no onset column, else
as events with an onset (and optionally a duration) in seconds. Its integer
stages are decided for the whole file at once (:func:`resolve_integers`), as
``labels.integer_coding`` explains.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from isatsleepnet.data import labels as L
from isatsleepnet.data.readers.hypnogram_grid import Hypnogram, build_hypnogram, cut, quote
from isatsleepnet.errors import DataError, template_of

STAGE_COLUMNS = ("stage", "sleep_stage", "label", "hypnogram", "score")
ONSET_COLUMNS = ("onset", "onset_s", "start", "time", "start_s")
DURATION_COLUMNS = ("duration", "duration_s", "dur")


def resolve_integers(
    path: Path, events: list[list], integers: list[tuple[int, int, str]], stage_codes: str | None
) -> list[str]:
    """Give the integer stages of one file their codes, in the coding of the whole file; its notes.

    ``events`` are ``[onset, duration, code, label]`` lists; ``integers`` holds
    ``(event index, integer, where)`` for each bare integer stage among them.
    """
    if not integers:
        return []
    try:
        coding, note = L.integer_coding([(code, where) for _, code, where in integers], stage_codes)
    except L.CodingError as exc:
        raise DataError(path, template_of(exc)) from None
    table = L.CODING_TABLES[coding]
    for i, code, _ in integers:
        events[i][2] = table[code]
    return [note] if note else []


def _delimiter(lines: list[str]) -> str | None:
    sample = "\n".join(lines[:20])
    return "\t" if "\t" in sample else ("," if "," in sample else (";" if ";" in sample else None))


def _cells(line: str, delimiter: str | None) -> list[str]:
    """The cells of one line, quotes read as the csv module reads them (``"stage"`` is ``stage``).

    Without a delimiter, runs of spaces or tabs part the cells (a quoted cell may hold spaces).
    """
    if delimiter:
        return next(csv.reader([line], delimiter=delimiter, skipinitialspace=True))
    return next(csv.reader([" ".join(line.split())], delimiter=" "))


def _column(path: Path, header: list[str], names: tuple[str, ...], what: str) -> int | None:
    """The column named by one of ``names`` (case and spaces ignored), or None.

    Two columns that both qualify (the same name twice, or two of its synonyms such
    as ``onset`` and ``time``) are refused: which of the two the expert meant is
    unknowable, and reading the first would be a silent guess.
    """
    keys = [c.strip().lower() for c in header]
    where = [i for i, key in enumerate(keys) if key in names]
    if len(where) > 1:
        columns = " and ".join(f"{quote(header[i].strip())} (column {i + 1})" for i in where)
        both = "both" if len(where) == 2 else "all"
        raise DataError(path, f"ambiguous header: {columns} {both} name the {what}; keep one")
    return where[0] if where else None


def _number(row: list[str], col: int, what: str, line_no: int, path: Path) -> float | None:
    """The number in ``row[col]``; None for an empty or missing cell."""
    cell = row[col].strip() if col < len(row) else ""
    if not cell:
        return None
    try:
        value = float(cell)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise DataError(path, f"line {line_no}: unreadable {what} {quote(cell)}")
    return value


def read_table(path: str | Path, *, epoch_seconds: float = 30.0, stage_codes: str | None = None) -> Hypnogram:
    """CSV/TSV/TXT hypnogram: one stage per epoch, optionally with onset (s) and duration (s) columns.

    Parameters
    ----------
    path
        The file. Lines starting with ``#`` are comments. A header row is optional
        (a first row none of whose cells is a stage label or a number); without
        one the last column holds the stages, one per epoch.
    epoch_seconds
        Length of a row without a duration (an empty or zero duration: one epoch).
    stage_codes
        ``"aasm"`` or ``"rk"`` for bare integer stages; None decides from the file.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "hypnogram file not found")
    text = path.read_text(encoding="utf-8-sig", errors="replace")
    numbered = [(n, ln) for n, ln in enumerate(text.splitlines(), start=1)
                if ln.strip() and not ln.lstrip().startswith("#")]
    if not numbered:
        raise DataError(path, "empty file")
    delimiter = _delimiter([ln for _, ln in numbered])
    table = [(n, _cells(ln, delimiter)) for n, ln in numbered]
    first = table[0][1]
    stage_col = onset_col = duration_col = None
    body = table
    if not any(L.is_label_or_number(cell) for cell in first):  # a header row
        stage_col = _column(path, first, STAGE_COLUMNS, "stage")
        if stage_col is None:
            raise DataError(path, f"no stage column: looked for {', '.join(STAGE_COLUMNS)}; the header has "
                                  f"{cut(', '.join(c.strip() for c in first))}")
        onset_col = _column(path, first, ONSET_COLUMNS, "onset")
        duration_col = _column(path, first, DURATION_COLUMNS, "duration")
        body = table[1:]
    else:
        stage_col = len(first) - 1
    events: list[list] = []
    integers: list[tuple[int, int, str]] = []
    for line_no, row in body:
        if len(row) <= stage_col:
            raise DataError(path, f"line {line_no}: expected a stage in column {stage_col + 1}")
        label = row[stage_col]
        try:
            code = L.map_text(label)
        except L.IntegerCode as exc:
            integers.append((len(events), exc.code, f"on line {line_no}"))
            code = exc.code  # replaced once the file's coding is known
        except L.UnknownLabel:
            raise DataError(path, f"unknown stage label {quote(label)} on line {line_no}") from None
        duration = _number(row, duration_col, "duration", line_no, path) if duration_col is not None else None
        duration = duration or epoch_seconds
        if onset_col is None:  # rows follow one another from the PSG start
            onset = events[-1][0] + events[-1][1] if events else 0.0
        else:
            onset = _number(row, onset_col, "onset", line_no, path)
            if onset is None:
                raise DataError(path, f"line {line_no}: no onset")
        events.append([onset, duration, code, label])
    if not events:
        raise DataError(path, "hypnogram holds no epochs")
    notes = resolve_integers(path, events, integers, stage_codes)
    # one row per epoch only when nothing gives rows their own place or length
    per_epoch = onset_col is None and duration_col is None
    return build_hypnogram(path, [tuple(e) for e in events], per_epoch=per_epoch, epoch_seconds=epoch_seconds,
                           notes=notes)
