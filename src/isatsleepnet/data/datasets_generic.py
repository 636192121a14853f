"""Datasets without a fixed layout: any EDF/BDF with its hypnogram beside it, and npz imports.

Also the stage reader every EDF dataset without its own uses (:func:`read_stages`):
a hypnogram beside the PSG in any format :mod:`isatsleepnet.data.readers.hypnogram`
reads, or stage annotations inside the PSG's EDF+.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from isatsleepnet.data.sources import EDF_SUFFIXES, RecordingSource, files_under, find_hypnogram, hypnogram_names
from isatsleepnet.data.subjects import pattern_subject
from isatsleepnet.errors import DataError, IsatSleepNetError

if TYPE_CHECKING:
    import datetime as dt

    import numpy as np

    from isatsleepnet.data.prepare_config import PrepareConfig
    from isatsleepnet.data.readers.hypnogram import Hypnogram


def find_edf(data_dir: Path, config: PrepareConfig) -> tuple[list[RecordingSource], list[DataError]]:
    """Every EDF/BDF under ``data_dir`` (or ``data_dir`` itself, one file) with the hypnogram beside it.

    A PSG is its own subject, night 1, unless ``config.subject_pattern`` (a regular
    expression on the file stem with groups ``subject`` and optionally ``night``) says.
    A PSG without a hypnogram beside it is kept: its stages may be inside its EDF+.

    Examples
    --------
    >>> from isatsleepnet.data.prepare_config import PrepareConfig
    >>> config = PrepareConfig(dataset="edf", eeg=["C4-M1"], subject_pattern=r"(?P<subject>P\\d+)_N(?P<night>\\d)")
    >>> sources, _ = find_edf(Path("lab"), config)  # doctest: +SKIP
    >>> sources[0].subject, sources[0].night  # doctest: +SKIP
    ('P01', 2)
    """
    pattern = re.compile(config.subject_pattern) if config.subject_pattern else None
    files = [p for p in files_under(data_dir, EDF_SUFFIXES) if "hypnogram" not in p.name.lower()]
    sources = []
    for psg in files:
        hypnogram = find_hypnogram(psg)
        subject, night = pattern_subject(psg, psg.stem, pattern) or (psg.stem, 1)
        sources.append(RecordingSource(psg.stem, psg, hypnogram, subject, night, config.dataset))
    if not sources:
        raise IsatSleepNetError(f"{data_dir}: no EDF/BDF files found")
    return sources, []


def find_npz(data_dir: Path, config: PrepareConfig) -> tuple[list[RecordingSource], list[DataError]]:
    """Every npz file under ``data_dir``; each is one recording with its labels inside.

    Examples
    --------
    >>> sources, _ = find_npz(Path("deepsleepnet/npz"), config)  # doctest: +SKIP
    """
    return [RecordingSource(p.stem, p, None, p.stem, 1, config.dataset)
            for p in files_under(data_dir, (".npz",))], []


def read_npz_source(source: RecordingSource, config: PrepareConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                              dict[str, Any]]:
    """Epochs, labels, onsets and metadata of one npz file (:func:`isatsleepnet.data.npz.read_npz`).

    Examples
    --------
    >>> epochs, labels, onsets, meta = read_npz_source(sources[0], config)  # doctest: +SKIP
    """
    from isatsleepnet.data.npz import read_npz

    return read_npz(source.psg, config)


def read_stages(source: RecordingSource, psg_start: dt.datetime | None, *, epoch_seconds: float,
                stage_codes: str | None) -> Hypnogram:
    """The stages of one PSG: its hypnogram file, or the stage annotations inside its EDF+.

    ``stage_codes`` ("aasm", "rk" or None: decided per file) says how bare integer
    stages of CSV/TSV/EDF+ hypnograms are numbered.

    Examples
    --------
    >>> hypnogram = read_stages(source, psg.start, epoch_seconds=30.0, stage_codes="aasm")  # doctest: +SKIP
    """
    from isatsleepnet.data.readers.hypnogram import (
        NoStageAnnotations,
        generic_annotation_mapper,
        read_edf_annotations,
        read_hypnogram,
    )

    if source.hypnogram is None:
        try:
            return read_edf_annotations(source.psg, mapper=generic_annotation_mapper, stage_codes=stage_codes,
                                        epoch_seconds=epoch_seconds)
        except NoStageAnnotations:  # other problems of embedded stages (an ambiguous coding...) are reported as they are
            raise DataError(source.psg, f"no hypnogram found (looked for {hypnogram_names(variants=True)} beside "
                                        "it, case ignored, and for stage annotations inside the EDF+)") from None
    return read_hypnogram(source.hypnogram, psg_start=psg_start, stage_codes=stage_codes,
                          epoch_seconds=epoch_seconds)
