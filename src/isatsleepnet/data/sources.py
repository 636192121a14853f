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
    "-Hypnogram.edf", "_Hypnogram.edf", ".Hypnogram.edf",
    "-nsrr.xml", "-profusion.xml", ".xml",
    "-Hypnogram.csv", "_Hypnogram.csv", ".Hypnogram.csv", ".csv",
    "-Hypnogram.tsv", "_Hypnogram.tsv", ".Hypnogram.tsv", ".tsv", ".txt",
)
"""Looked for beside a PSG called STEM.edf, in this order (case ignored): the one table that says which
hypnogram belongs to a PSG. The finder, ``prepare --help``, the README and the error of a PSG without one
all read it (:func:`hypnogram_names`), so that none of them can list less than is looked for."""


def hypnogram_names(*, variants: bool = False) -> str:
    """The names :data:`HYPNOGRAM_SUFFIXES` looks for beside a PSG ``STEM.edf``, one per file type, for messages.

    Per file type (the last suffix) the plain ``STEM.type`` where the table has it, else its first name;
    ``variants`` adds the other spellings of each type, in the order they are tried.

    Examples
    --------
    >>> hypnogram_names()
    'STEM-Hypnogram.edf, STEM.xml, STEM.csv, STEM.tsv, STEM.txt'
    >>> hypnogram_names(variants=True).split(", STEM.csv")[0]
    'STEM-Hypnogram.edf (or STEM_Hypnogram.edf, STEM.Hypnogram.edf), STEM.xml (or STEM-nsrr.xml, STEM-profusion.xml)'
    """
    types: dict[str, list[str]] = {}
    for suffix in HYPNOGRAM_SUFFIXES:
        types.setdefault(suffix.rsplit(".", 1)[1], []).append(suffix)
    names = []
    for kind, suffixes in types.items():
        head = f".{kind}" if f".{kind}" in suffixes else suffixes[0]
        others = [f"STEM{s}" for s in suffixes if s != head]
        names.append(f"STEM{head}" + (f" (or {', '.join(others)})" if variants and others else ""))
    return ", ".join(names)


@dataclass(frozen=True)
class RecordingSource:
    """One night to prepare. ``hypnogram`` None means stages embedded in the PSG's EDF+ annotations.

    ``found_as``: the file the finder found this night as, where that is not the PSG (a reviewed night
    is its ``NAME.reviewed.csv``: two reviewers' copies of one night name one PSG, and are two nights).
    """

    recording: str
    psg: Path
    hypnogram: Path | None
    subject: str
    night: int
    dataset: str
    found_as: Path | None = None

    @property
    def file(self) -> Path:
        """The file that makes this night this one: what two nights of one name are told apart (and named) by."""
        return self.found_as if self.found_as is not None else self.psg


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
    """The hypnogram beside ``psg`` (the first of :data:`HYPNOGRAM_SUFFIXES` there, case ignored), or None.

    Examples
    --------
    >>> find_hypnogram(Path("night01.edf"))  # doctest: +SKIP
    PosixPath('night01.csv')
    """
    siblings = {p.name.lower(): p for p in psg.parent.iterdir() if p != psg}
    for suffix in HYPNOGRAM_SUFFIXES:
        hit = siblings.get((psg.stem + suffix).lower())
        if hit is not None:
            return hit
    return None
