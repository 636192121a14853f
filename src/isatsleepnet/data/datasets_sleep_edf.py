"""Sleep-EDF Expanded (PhysioNet): its file names, its subject sets and its hypnograms.

Cassette nights are ``SC4ssNE0-PSG.edf`` with ``SC4ssNEx-Hypnogram.edf``, telemetry
nights ``ST7ssNJ0-PSG.edf`` with ``ST7ssNJx-Hypnogram.edf``: ``ss`` is the subject,
``N`` the night. A PSG and its hypnogram share their first six characters.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

from isatsleepnet.data.labels import map_sleep_edf
from isatsleepnet.data.sources import RecordingSource, SourceError, files_under
from isatsleepnet.errors import DataError, IsatSleepNetError

if TYPE_CHECKING:
    import datetime as dt

    from isatsleepnet.data.prepare_config import PrepareConfig
    from isatsleepnet.data.readers.hypnogram import Hypnogram

_PSG = re.compile(r"^(?P<code>(?P<study>S[CT])\d(?P<subject>\d\d)(?P<night>\d))[A-Z0-9]{2}-PSG\.edf$", re.I)
_EXAMPLE = {"SC": "SC4ssNE0-PSG.edf", "ST": "ST7ssNJ0-PSG.edf", None: "SC4ssNE0-PSG.edf"}

Found = tuple[list[RecordingSource], list[DataError]]


def find_cassette_20(data_dir: Path, config: PrepareConfig) -> Found:
    """Sleep Cassette subjects 0-19, the Sleep-EDF-20 benchmark (39 nights).

    Examples
    --------
    >>> sources, errors = find_cassette_20(Path("~/mne_data").expanduser(), config)  # doctest: +SKIP
    """
    return _find(data_dir, config.dataset, study="SC", last_subject=19)


def find_cassette(data_dir: Path, config: PrepareConfig) -> Found:
    """Every Sleep Cassette subject, the Sleep-EDF-78 benchmark (153 nights).

    Examples
    --------
    >>> sources, errors = find_cassette(Path("~/mne_data").expanduser(), config)  # doctest: +SKIP
    """
    return _find(data_dir, config.dataset, study="SC")


def find_telemetry(data_dir: Path, config: PrepareConfig) -> Found:
    """Every Sleep Telemetry subject (22 subjects, 44 nights).

    Examples
    --------
    >>> sources, errors = find_telemetry(Path("~/mne_data").expanduser(), config)  # doctest: +SKIP
    """
    return _find(data_dir, config.dataset, study="ST")


def find_all(data_dir: Path, config: PrepareConfig) -> Found:
    """Every Sleep-EDF PSG found, cassette and telemetry.

    Examples
    --------
    >>> sources, errors = find_all(Path("~/mne_data").expanduser(), config)  # doctest: +SKIP
    """
    return _find(data_dir, config.dataset)


def _find(data_dir: Path, dataset: str, *, study: str | None = None, last_subject: int | None = None) -> Found:
    """PSGs of ``study`` (SC, ST; None: both) up to subject ``last_subject``, each with its one hypnogram."""
    files = files_under(data_dir, (".edf",))
    hypnograms: dict[str, list[Path]] = defaultdict(list)
    for p in files:
        if p.name.lower().endswith("-hypnogram.edf"):
            hypnograms[p.name[:6].upper()].append(p)
    sources, errors, others = [], [], []
    for psg in files:
        m = _PSG.match(psg.name)
        if not m:
            continue
        found_study, subject = m["study"].upper(), int(m["subject"])
        if (study is not None and found_study != study) or (last_subject is not None and subject > last_subject):
            others.append((psg, found_study))
            continue
        matches = hypnograms.get(m["code"].upper(), [])
        if len(matches) != 1:
            problem = "no hypnogram" if not matches else f"{len(matches)} hypnograms"
            errors.append(SourceError(psg, f"{problem} named {m['code']}??-Hypnogram.edf beside it",
                                      recording=psg.name[:8]))
            continue
        # Subject ids keep the study prefix: SC and ST subjects with one number are different people.
        sources.append(RecordingSource(psg.name[:8], psg, matches[0], f"{found_study}{psg.name[2:5]}",
                                       int(m["night"]), dataset))
    if not sources and not errors:
        raise IsatSleepNetError(f"{data_dir}: no Sleep-EDF PSG files ({_EXAMPLE[study]}) found"
                                + _elsewhere(others, study, last_subject))
    return sources, errors


def _elsewhere(others: list[tuple[Path, str]], study: str | None, last_subject: int | None) -> str:
    """What to say of Sleep-EDF PSGs found outside the chosen subjects: how many, and the dataset that reads them."""
    if not others:
        return ""
    studies = {found for _, found in others}
    wanted = "subjects 0-" + str(last_subject) if last_subject is not None and study in studies else "Sleep Cassette"
    if study == "ST":
        wanted = "Sleep Telemetry"
    fits = "sleep-edf" if len(studies) > 1 else {"SC": "sleep-edf-78", "ST": "sleep-edf-st"}[studies.pop()]
    return (f" of {wanted}, only {len(others)} of other subjects (such as {others[0][0].name}): "
            f"prepare {'it' if len(others) == 1 else 'them'} with {{dataset}} {fits}")


def read_stages(source: RecordingSource, psg_start: dt.datetime | None, *, epoch_seconds: float,
                stage_codes: str | None) -> Hypnogram:
    """The R&K stages of a Sleep-EDF hypnogram (``Sleep stage W`` ... ``Sleep stage ?``).

    ``stage_codes`` does not apply: Sleep-EDF hypnograms hold texts, not integer codes.

    Examples
    --------
    >>> hypnogram = read_stages(source, psg.start, epoch_seconds=30.0, stage_codes=None)  # doctest: +SKIP
    """
    from isatsleepnet.data.readers.hypnogram import read_edf_annotations

    return read_edf_annotations(source.hypnogram, psg_start=psg_start, mapper=map_sleep_edf,
                                epoch_seconds=epoch_seconds)
