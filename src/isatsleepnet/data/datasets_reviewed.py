"""The ``reviewed`` dataset: nights a reviewer checked with `isatsleepnet review`, for fine-tuning.

Each ``NAME.reviewed.csv`` found under the data folder is one night: its sidecar
``NAME.hypnogram.json`` (written by `stage`) names the PSG and its SHA1, which the PSG found must
have (:mod:`isatsleepnet.data.staged_sidecar` finds it from any folder); only the epochs a reviewer
set or accepted (column ``reviewed`` = 1) are kept, with the reviewer's stage; the others are left
out as unscored, so a model is never trained on its own unchecked guesses. The columns read here are
those :mod:`isatsleepnet.review.session` writes.

Why no coverage rule: elsewhere a hypnogram covering under half of its PSG is refused as likely
another recording's, but a reviewed night is bound to its PSG by that SHA1, and a review of part of a
night (a staging of ``--start/--end``, ``--trim`` or ``--lights``, or a few epochs checked) is still
that night's: any reviewed epoch is kept, and a night with none is refused as such (the dataset's
entry says ``coverage_rule=False``).
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

from isatsleepnet.data.sources import RecordingSource, SourceError, files_under
from isatsleepnet.data.staged_sidecar import SidecarRecording
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
    is its own subject unless ``config.subject_pattern`` says otherwise (as for ``edf``). Each
    night is found as its table (two reviewers' copies of one night are two nights, which
    :func:`~isatsleepnet.data.datasets.find_recordings` refuses to store under one name).

    Examples
    --------
    >>> from isatsleepnet.data.prepare_config import PrepareConfig
    >>> sources, errors = find_reviewed(Path("staged"), PrepareConfig(dataset="reviewed", eeg=["C4-M1"]))  # doctest: +SKIP
    """
    pattern = re.compile(config.subject_pattern) if config.subject_pattern else None
    sources: list[RecordingSource] = []
    errors: list[DataError] = []
    reviews_of: dict[str, Path] = {}  # a recording's SHA1 -> the first table reviewing it
    for table in (p for p in files_under(data_dir, (".csv",)) if p.name.endswith(REVIEWED_SUFFIX)):
        name = table.name[: -len(REVIEWED_SUFFIX)]
        try:
            psg, sha1 = staged_recording(table, table.with_name(name + ".hypnogram.json"))
            subject, night = subject_and_night(table, name, pattern)
        except DataError as exc:
            errors.append(SourceError(exc.path, exc.problem, recording=name))
            continue
        first = reviews_of.setdefault(sha1, table) if sha1 else table
        if first.name.casefold() != table.name.casefold():  # one night's signals as two recordings (one name: two
            # copies of a night, which find_recordings refuses as such)
            raise IsatSleepNetError(f"{first} and {table} are reviews of one recording (SHA1 {sha1[:12]}…) under two "
                                    "names: both would be prepared, as two recordings with their own labels; keep the "
                                    "one to train on under the data folder and move the other out")
        sources.append(RecordingSource(name, psg, table, subject, night, config.dataset, found_as=table))
    if not sources and not errors:
        raise IsatSleepNetError(f"{data_dir}: no reviewed nights (NAME{REVIEWED_SUFFIX}) found")
    return sources, errors


def staged_recording(table: Path, sidecar: Path) -> tuple[Path, str | None]:
    """The PSG a reviewed night was staged from, as its sidecar names it, checked against its SHA1
    (:meth:`~isatsleepnet.data.staged_sidecar.SidecarRecording.locate`, which `review` uses too), and that SHA1.

    A PSG whose SHA1 differs from the one recorded is refused: its reviewer's stages belong to
    another recording.
    """
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
        if not isinstance(meta, dict) or not meta.get("Recording"):
            raise ValueError
    except (OSError, ValueError):
        raise DataError(table, f"no readable {sidecar.name} beside it naming the staged recording") from None
    recording = SidecarRecording.of(sidecar, meta, owner=table)
    return recording.locate(table), recording.sha1


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
    kept = sum(event[2] != DROP for event in events)
    if not kept:
        raise DataError(path, f"no epoch of its {len(events)} has been reviewed (only reviewed epochs are prepared): "
                              "score some in `isatsleepnet review` first")
    hypnogram = build_hypnogram(path, events, per_epoch=False, epoch_seconds=epoch_seconds)
    hypnogram.note(f"{kept} of {len(events)} staged epochs kept: those a reviewer set or accepted")
    return hypnogram
