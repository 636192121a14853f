"""Where a staged night's recording is: the ``Recording`` entries of its sidecar ``NAME.hypnogram.json``.

`stage` writes them (:func:`recording_entries`); `review` and ``prepare --dataset reviewed`` find the
recording with them (:meth:`SidecarRecording.locate`), the one place that reads them, so that the
signals a reviewer scored are the ones fine-tuning reads, from whatever folder either runs in.

Why two paths: a lab that moves a study's staged folder together with its recordings keeps the path
relative to the sidecar's folder (``Recording``) and loses the absolute one; a staged folder copied
alone (to a reviewer's machine, say) keeps the absolute one (``RecordingAbsolute``) and loses the
relative one. Which file is the one staged is the SHA1's to say (``RecordingSHA1``), never a path's:
a path other than ``Recording`` read from the sidecar's folder is taken only when the SHA1 recorded
matches it. Sidecars written before ``RecordingAbsolute`` existed hold one relative path, from the
folder `stage` ran in; it is tried from the current folder, after the sidecar's.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from isatsleepnet.errors import DataError

RECORDING = "Recording"
"""The recording's path relative to the sidecar's folder (absolute where none exists: another drive)."""
RECORDING_ABSOLUTE = "RecordingAbsolute"
"""Its absolute path when it was staged."""
RECORDING_SHA1 = "RecordingSHA1"
"""Its SHA1 when it was staged: what tells the file staged from another of the same name."""


def recording_entries(file: str | os.PathLike | None, folder: Path, sha1: str | None) -> dict[str, str | None]:
    """The sidecar's entries for the recording ``file`` (a path from the current folder, as `stage` was given
    it), for a sidecar that will lie in ``folder``.

    The relative path is formed between the real folders (symbolic links resolved), as the system follows
    ``..`` from the sidecar's folder; the absolute one is the path as the user named it.

    Examples
    --------
    >>> entries = recording_entries("raw/night.edf", Path("staged"), "ab" * 20)
    >>> entries["Recording"], Path(entries["RecordingAbsolute"]).is_absolute()
    ('../raw/night.edf', True)
    >>> recording_entries(None, Path("staged"), None)["Recording"] is None
    True
    """
    if file is None:
        return {RECORDING: None, RECORDING_ABSOLUTE: None, RECORDING_SHA1: sha1}
    absolute = os.path.abspath(file)
    try:
        # the file's folder resolved, not the file: a recording that is a symbolic link stays named by its link,
        # which moves with a study's folder where its target may not
        named = Path(os.path.abspath(file))
        relative: str | None = Path(os.path.relpath(named.parent.resolve() / named.name, folder.resolve())).as_posix()
    except ValueError:  # another drive (Windows): no relative path exists
        relative = None
    return {RECORDING: relative or absolute, RECORDING_ABSOLUTE: absolute, RECORDING_SHA1: sha1}


@dataclass(frozen=True)
class SidecarRecording:
    """The recording a sidecar names, as it names it.

    Attributes
    ----------
    sidecar : Path
        The ``NAME.hypnogram.json``, whose folder a relative ``named`` is read from.
    named : str or None
        ``Recording``: relative to the sidecar's folder (or, in older sidecars, to the folder `stage` ran
        in), or absolute; None for a night staged from memory.
    absolute : str or None
        ``RecordingAbsolute``: where it was when staged (None in older sidecars).
    sha1 : str or None
        ``RecordingSHA1``.
    """

    sidecar: Path
    named: str | None
    absolute: str | None = None
    sha1: str | None = None

    @classmethod
    def of(cls, sidecar: Path, meta: Mapping[str, Any], *, owner: Path | None = None) -> SidecarRecording:
        """The entries of the sidecar ``sidecar`` (its parsed JSON ``meta``); a value that is not text is
        ``owner``'s one-line error (default: the sidecar's).

        Examples
        --------
        >>> SidecarRecording.of(Path("s/n.hypnogram.json"), {"Recording": "../raw/n.edf"}).named
        '../raw/n.edf'
        """
        values = [meta.get(key) for key in (RECORDING, RECORDING_ABSOLUTE, RECORDING_SHA1)]
        for key, value in zip((RECORDING, RECORDING_ABSOLUTE, RECORDING_SHA1), values):
            if value is not None and not isinstance(value, str):
                where = f" in {sidecar.name}" if owner is not None else ""
                raise DataError(owner or sidecar, f"{key}{where} is {value!r}, not a path or a checksum")
        named, absolute, sha1 = (value or None for value in values)
        return cls(sidecar, named, absolute, sha1)

    @property
    def beside(self) -> Path | None:
        """``Recording`` read from the sidecar's folder (as it is, if absolute): where it is looked for first."""
        return self.sidecar.parent / self.named if self.named else None

    def candidates(self) -> list[Path]:
        """Where the recording is looked for, in order: ``Recording`` from the sidecar's folder, then (only
        with a SHA1 to check it by) ``RecordingAbsolute``, or in an older sidecar without it, ``Recording``
        from the current folder."""
        paths = [self.beside] if self.beside is not None else []
        if self.absolute and (self.sha1 or not paths):  # without a SHA1, only where nothing else is named
            paths.append(Path(self.absolute))
        elif self.sha1 and self.named and not Path(self.named).is_absolute():
            paths.append(Path(self.named))
        unique: list[Path] = []
        for path in paths:
            if os.path.abspath(path) not in {os.path.abspath(p) for p in unique}:
                unique.append(path)
        return unique

    def locate(self, owner: Path) -> Path:
        """The recording staged, found from any folder; ``owner``'s one-line error (naming where it looked)
        when it is not there or no file found has the SHA1 recorded.

        Examples
        --------
        >>> SidecarRecording(Path("s/n.hypnogram.json"), None).locate(Path("s/n.hypnogram.csv"))
        Traceback (most recent call last):
        ...
        isatsleepnet.errors.DataError: n.hypnogram.csv: n.hypnogram.json names no recording file ...
        """
        from isatsleepnet.data.hashing import sha1_of

        if self.named is None and self.absolute is None:
            raise DataError(owner, f"{self.sidecar.name} names no recording file (staged from a recording in "
                                   "memory): there are no signals to read")
        tried, other = [], None
        for path in self.candidates():
            if not path.is_file():
                tried.append(path.resolve())
                continue
            if not self.sha1:
                return path.resolve()
            found = sha1_of(path)
            if found.lower() == self.sha1.lower():
                return path.resolve()
            other = other or (path.resolve(), found)
        if other is not None:
            raise DataError(owner, f"its recording {other[0]} is not the one staged (SHA1 {other[1]}; "
                                   f"{self.sidecar.name} records {self.sha1})")
        older = ("; an older sidecar (without RecordingAbsolute) names it from the folder `stage` ran in: run "
                 "from that folder, or stage it again"
                 if self.absolute is None and self.named is not None and not Path(self.named).is_absolute() else "")
        raise DataError(owner, f"its recording {self.named or self.absolute} is not there (looked for "
                               f"{', '.join(str(p) for p in tried)}){older}")
