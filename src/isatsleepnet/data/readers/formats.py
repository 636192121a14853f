"""Every signal format a recording can come in, in one table: :data:`SIGNAL_FORMATS`.

Why one table: the suffixes looked for in folders, the reader a file is opened with, and
the formats ``--help`` names all come from it, as MNE's ``read_raw`` picks its reader by
suffix in one place. A file entry names its suffixes and an opener ``path -> Recording``;
an entry without suffixes opens an object in memory (an MNE ``Raw``), told apart by its
``accepts`` test. Whatever the format, the result is a
:class:`~isatsleepnet.data.readers.recording.Recording`.

Examples
--------
>>> signal_suffixes()
('.edf', '.rec', '.bdf')
>>> signal_format_of("night.BDF").name, signal_format_of("night.xml")
('bdf', None)
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from isatsleepnet.data.readers.recording import Recording, is_recording
from isatsleepnet.references import resolve
from isatsleepnet.errors import DataError, IsatSleepNetError

Opener = Callable[[Any], Recording]


@dataclass(frozen=True)
class SignalFormat:
    """One format recordings come in.

    Attributes
    ----------
    name : str
        Identifier, unique in the table.
    title : str
        How ``--help`` and messages name it ("EDF/EDF+").
    opener : str or callable
        ``"module:function"`` (imported when first used; ``function`` may be ``Class.method``) or a
        function: a path -> :class:`Recording` for a file format, the object -> :class:`Recording` otherwise.
    suffixes : tuple of str
        File name endings, lower case, each starting with a dot (may hold several: ".signals.csv");
        empty for objects in memory.
    accepts : str or callable, optional
        For objects in memory: ``object -> bool``, whether this entry opens it.
    """

    name: str
    title: str
    opener: str | Opener
    suffixes: tuple[str, ...] = ()
    accepts: str | Callable[[Any], bool] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "suffixes", tuple(s.lower() for s in self.suffixes))
        if not self.name.isidentifier():
            raise IsatSleepNetError(f"signal format name must be an identifier, not {self.name!r}")
        if any(not s.startswith(".") or len(s) < 2 for s in self.suffixes):
            raise IsatSleepNetError(f"signal format {self.name}: suffixes must start with a dot ({self.suffixes})")
        if bool(self.suffixes) == (self.accepts is not None):
            raise IsatSleepNetError(f"signal format {self.name}: give suffixes for a file format, or accepts for "
                                    "objects in memory, not both")

    @property
    def is_file(self) -> bool:
        return bool(self.suffixes)

    def open(self, source: Any) -> Recording:
        """Open ``source`` (a path for a file format) with this entry's opener."""
        return resolve(self.opener)(source)


SIGNAL_FORMATS: dict[str, SignalFormat] = {}
"""The table by name, in order: a suffix claimed by two entries goes to the first."""


def register_signal_format(entry: SignalFormat) -> SignalFormat:
    """Add a signal format at the end of :data:`SIGNAL_FORMATS`.

    Parameters
    ----------
    entry : SignalFormat
        Its name and suffixes must be new.

    Returns
    -------
    SignalFormat
        ``entry``.

    Examples
    --------
    >>> entry = register_signal_format(SignalFormat("npz", "NumPy archive", "numpy:load", (".npz",)))
    >>> ".npz" in signal_suffixes(), unregister_signal_format("npz") is entry
    (True, True)
    """
    if entry.name in SIGNAL_FORMATS:
        raise IsatSleepNetError(f"signal format {entry.name!r} is already registered")
    for other in SIGNAL_FORMATS.values():
        taken = sorted(set(other.suffixes) & set(entry.suffixes))
        if taken:
            raise IsatSleepNetError(f"signal format {entry.name}: {', '.join(taken)} is read by {other.name}")
    SIGNAL_FORMATS[entry.name] = entry
    return entry


def unregister_signal_format(name: str) -> SignalFormat:
    """Remove the signal format ``name`` (a plug-in's, or a test's) and return it.

    Examples
    --------
    >>> unregister_signal_format("wav")
    Traceback (most recent call last):
    ...
    isatsleepnet.errors.IsatSleepNetError: no signal format 'wav' (known: edf, bdf, mne_raw)
    """
    if name not in SIGNAL_FORMATS:
        raise IsatSleepNetError(f"no signal format {name!r} (known: {', '.join(SIGNAL_FORMATS)})")
    return SIGNAL_FORMATS.pop(name)


def signal_suffixes() -> tuple[str, ...]:
    """Every file suffix a recording may have, in table order (what folders are searched for).

    Examples
    --------
    >>> ".bdf" in signal_suffixes()
    True
    """
    return tuple(s for f in SIGNAL_FORMATS.values() for s in f.suffixes)


def signal_file_titles() -> str:
    """The file formats by title, for ``--help``: "EDF/EDF+ or BDF/BDF+ files".

    Examples
    --------
    >>> signal_file_titles()
    'EDF/EDF+ or BDF/BDF+ files'
    """
    titles = [f.title for f in SIGNAL_FORMATS.values() if f.is_file]
    listed = ", ".join(titles[:-1]) + " or " + titles[-1] if len(titles) > 1 else "".join(titles)
    return f"{listed} files"


def signal_format_of(path: str | os.PathLike) -> SignalFormat | None:
    """The file format whose suffix ``path`` ends with (case ignored; the longest suffix wins), or None.

    Examples
    --------
    >>> signal_format_of("SC4001E0-PSG.edf").title
    'EDF/EDF+'
    """
    name = Path(path).name.lower()
    hits = [(len(s), f) for f in SIGNAL_FORMATS.values() for s in f.suffixes if name.endswith(s) and len(name) > len(s)]
    return max(hits, key=lambda hit: hit[0])[1] if hits else None


def open_recording(source: str | os.PathLike | Any) -> Recording:
    """Open a recording: a file by its suffix, an object in memory by the entry that accepts it.

    A :class:`Recording` is returned as it is. A file whose suffix no entry claims is read as
    EDF (its header check then says what the file is not), as `stage` always has.

    Parameters
    ----------
    source : path-like, Recording or object in memory
        A file, an opened recording, or an object an entry accepts (an ``mne.io.Raw``).

    Returns
    -------
    Recording

    Raises
    ------
    DataError
        The file is missing or unreadable (naming it).
    IsatSleepNetError
        An object no entry opens.

    Examples
    --------
    >>> import numpy as np
    >>> from isatsleepnet.data.readers.memory import MemoryRecording
    >>> psg = MemoryRecording.from_arrays(np.zeros((1, 3000)), 100.0, ["C4"])
    >>> open_recording(psg) is psg
    True
    >>> open_recording("missing.edf")
    Traceback (most recent call last):
    ...
    isatsleepnet.errors.DataError: ...file not found
    """
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise DataError(path, "file not found")
        entry = signal_format_of(path) or SIGNAL_FORMATS["edf"]
        return entry.open(path)
    if is_recording(source):
        return source
    for entry in SIGNAL_FORMATS.values():
        if entry.accepts is not None and resolve(entry.accepts)(source):
            return entry.open(source)
    raise IsatSleepNetError(f"cannot read a recording from a {type(source).__name__} (a file, a Recording or one "
                            f"of: {', '.join(f.title for f in SIGNAL_FORMATS.values() if not f.is_file)})")


def is_mne_raw(value: Any) -> bool:
    """Whether ``value`` is an MNE ``Raw`` (without importing MNE when it is not loaded)."""
    mne = sys.modules.get("mne")  # an MNE Raw exists only once MNE is imported
    return mne is not None and isinstance(value, mne.io.BaseRaw)


_READERS = "isatsleepnet.data.readers."
for _entry in (
    SignalFormat("edf", "EDF/EDF+", _READERS + "edf:EdfRecording.open", (".edf", ".rec")),
    SignalFormat("bdf", "BDF/BDF+", _READERS + "edf:EdfRecording.open", (".bdf",)),
    SignalFormat("mne_raw", "MNE Raw", _READERS + "memory:MemoryRecording.from_mne",
                 accepts=_READERS + "formats:is_mne_raw"),
):
    register_signal_format(_entry)
