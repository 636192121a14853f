"""The ``reviewed`` dataset: nights a reviewer checked with `isatsleepnet review`, for fine-tuning.

Each ``NAME.reviewed.csv`` found under the data folder is one night: its sidecar
``NAME.hypnogram.json`` (written by `stage`) names the PSG (a relative path is read from the
sidecar's folder) and its SHA1, which the PSG found must have; only the epochs a
reviewer set or accepted (column ``reviewed`` = 1) are kept, with the reviewer's
stage; the others are left out as unscored, so a model is never trained on its own
unchecked guesses. The columns read here are those
:mod:`isatsleepnet.review.session` writes.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

from isatsleepnet.data.sources import RecordingSource, files_under
from isatsleepnet.data.subjects import pattern_subject
from isatsleepnet.errors import DataError, IsatSleepNetError

if TYPE_CHECKING:
    import datetime as dt

    from isatsleepnet.data.prepare_config import PrepareConfig
    from isatsleepnet.data.readers.hypnogram import Hypnogram

REVIEWED_SUFFIX = ".reviewed.csv"


def find_reviewed(data_dir: Path, config: PrepareConfig) -> tuple[list[RecordingSource], list[DataError]]:
    """Every ``NAME.reviewed.csv`` under ``data_dir`` with the PSG its sidecar names.

    A night whose PSG is gone is that night's one-line error; the others go on. Each night
    is its own subject unless ``config.subject_pattern`` says otherwise (as for ``edf``).

    Examples
    --------
    >>> from isatsleepnet.data.prepare_config import PrepareConfig
    >>> sources, errors = find_reviewed(Path("staged"), PrepareConfig(dataset="reviewed", eeg=["C4-M1"]))  # doctest: +SKIP
    """
    pattern = re.compile(config.subject_pattern) if config.subject_pattern else None
    sources: list[RecordingSource] = []
    errors: list[DataError] = []
    for table in (p for p in files_under(data_dir, (".csv",)) if p.name.endswith(REVIEWED_SUFFIX)):
        name = table.name[: -len(REVIEWED_SUFFIX)]
        try:
            psg = staged_recording(table, table.with_name(name + ".hypnogram.json"))
            subject, night = subject_and_night(table, name, pattern)
        except DataError as exc:
            errors.append(exc)
            continue
        sources.append(RecordingSource(name, psg, table, subject, night, config.dataset))
    if not sources and not errors:
        raise IsatSleepNetError(f"{data_dir}: no reviewed nights (NAME{REVIEWED_SUFFIX}) found")
    return sources, errors


def staged_recording(table: Path, sidecar: Path) -> Path:
    """The PSG a reviewed night was staged from: its sidecar's ``Recording``, checked against ``RecordingSHA1``.

    A relative ``Recording`` is read from the sidecar's folder, not from wherever prepare runs;
    where it is not there, from the current folder only when the sidecar holds the SHA1 to check it
    by (``stage`` writes the path it was given). A PSG whose SHA1 differs from the one recorded
    is refused: its reviewer's stages belong to another recording.
    """
    from isatsleepnet.data.hashing import sha1_of

    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
        named = Path(meta["Recording"])
        recorded = meta.get("RecordingSHA1")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise DataError(table, f"no readable {sidecar.name} beside it naming the staged recording") from None
    psg = named if named.is_absolute() else sidecar.parent / named
    if not psg.is_file() and not named.is_absolute() and isinstance(recorded, str) and named.is_file():
        psg = named  # as `stage` was given it, from where it ran; the SHA1 below says whether it is the same
    if not psg.is_file():
        raise DataError(table, f"its recording {psg} is not there")
    if isinstance(recorded, str) and recorded:
        found = sha1_of(psg)
        if found.lower() != recorded.lower():
            raise DataError(table, f"its recording {psg} is not the one staged (SHA1 {found}; "
                                   f"{sidecar.name} records {recorded})")
    return psg


def subject_and_night(table: Path, name: str, pattern: re.Pattern[str] | None) -> tuple[str, int]:
    """The subject and night of a reviewed night ``name``: its own, night 1, unless ``pattern`` says."""
    return pattern_subject(table, name, pattern) or (name, 1)


def read_reviewed_stages(source: RecordingSource, psg_start: dt.datetime | None, *, epoch_seconds: float,
                         stage_codes: str | None) -> Hypnogram:
    """The reviewer's stage of each reviewed epoch; the epochs no reviewer checked are unscored.

    Examples
    --------
    >>> hypnogram = read_reviewed_stages(source, None, epoch_seconds=30.0, stage_codes=None)  # doctest: +SKIP
    """
    from isatsleepnet.data.labels import DROP, STAGES
    from isatsleepnet.data.readers.hypnogram_grid import build_hypnogram

    path = source.hypnogram
    assert path is not None  # find_reviewed always names the table
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(path, f"cannot read the reviewed night ({exc})") from None
    if not rows or not {"onset_s", "stage", "reviewed"} <= set(rows[0]):
        raise DataError(path, "is not what `isatsleepnet review` writes (columns onset_s, stage, reviewed)")
    events = []
    for line, row in enumerate(rows, start=2):
        if row["stage"] not in STAGES:
            raise DataError(path, f"line {line}: stage {row['stage']!r} is not one of {', '.join(STAGES)}")
        try:
            onset = float(row["onset_s"])
        except ValueError:
            raise DataError(path, f"line {line}: onset_s {row['onset_s']!r} is not a number") from None
        kept = row["reviewed"].strip() == "1"
        events.append((onset, epoch_seconds, STAGES.index(row["stage"]) if kept else DROP, row["stage"]))
    hypnogram = build_hypnogram(path, events, per_epoch=False, epoch_seconds=epoch_seconds)
    kept = sum(event[2] != DROP for event in events)
    hypnogram.note(f"{kept} of {len(events)} epochs kept: those a reviewer set or accepted")
    return hypnogram
