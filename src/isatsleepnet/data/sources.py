"""What every dataset's file finder shares: one night to prepare, and where its files lie.

Each dataset's own finder (named in :mod:`isatsleepnet.data.datasets`) lives in its
family's module: ``datasets_sleep_edf``, ``datasets_shhs``, ``datasets_generic``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from isatsleepnet.data.readers.formats import SIGNAL_FORMATS
from isatsleepnet.errors import DataError, IsatSleepNetError

EDF_SUFFIXES = (*SIGNAL_FORMATS["edf"].suffixes, *SIGNAL_FORMATS["bdf"].suffixes)
"""File suffixes read as EDF/BDF recordings (preparation reads EDF/BDF only), from the signal format table."""
HYPNOGRAM_SUFFIXES = (
    "-hypnogram.edf", "_hypnogram.edf", ".hypnogram.edf",
    "-nsrr.xml", "-profusion.xml", ".xml",
    "-hypnogram.csv", "_hypnogram.csv", ".hypnogram.csv", ".csv",
    "-hypnogram.tsv", "_hypnogram.tsv", ".hypnogram.tsv", ".tsv", ".txt",
)
"""Looked for beside a PSG called STEM.edf, in this order."""


@dataclass(frozen=True)
class RecordingSource:
    """One night to prepare. ``hypnogram`` None means stages embedded in the PSG's EDF+ annotations."""

    recording: str
    psg: Path
    hypnogram: Path | None
    subject: str
    night: int
    dataset: str


class SourceError(DataError):
    """A PSG a finder found but cannot pair, with the ``recording`` name it would have had.

    Why: the summary names a recording one way whether it failed when found or when prepared
    (``SC4001E0``, not the file's stem ``SC4001E0-PSG``), and two files with one name are refused.

    Examples
    --------
    >>> SourceError("SC4001E0-PSG.edf", "no hypnogram beside it", recording="SC4001E0").recording
    'SC4001E0'
    """

    def __init__(self, path: str | Path, problem: str, *, recording: str) -> None:
        self.recording = recording
        super().__init__(path, problem)


def files_under(data_dir: Path, suffixes: tuple[str, ...]) -> list[Path]:
    """The files under ``data_dir`` (searched recursively) whose suffix is one of ``suffixes``, sorted.

    ``data_dir`` may also be one file, which is then the only one.

    Examples
    --------
    >>> files_under(Path("~/mne_data").expanduser(), (".edf",))  # doctest: +SKIP
    [PosixPath('.../SC4001E0-PSG.edf'), PosixPath('.../SC4001EC-Hypnogram.edf')]
    """
    if data_dir.is_file():
        return [data_dir]
    if not data_dir.is_dir():
        raise IsatSleepNetError(f"{data_dir}: data folder not found")
    return sorted(p for p in data_dir.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)


def find_hypnogram(psg: Path) -> Path | None:
    """The hypnogram beside ``psg`` (STEM-Hypnogram.edf, STEM.xml, STEM.csv, ...), or None.

    Examples
    --------
    >>> find_hypnogram(Path("night01.edf"))  # doctest: +SKIP
    PosixPath('night01.csv')
    """
    siblings = {p.name.lower(): p for p in psg.parent.iterdir() if p != psg}
    for suffix in HYPNOGRAM_SUFFIXES:
        hit = siblings.get(psg.stem.lower() + suffix)
        if hit is not None:
            return hit
    return None
