"""The mark that `synth` leaves in its EDF headers, and what it means downstream.

Synthetic files look like downloaded ones on purpose, so a prepared store, and a
model trained on it, could pass for real sleep data. `synth` therefore writes
:data:`SYNTHETIC_TOKEN` into the EDF+ patient field ("additional" subfield) and the
recording field (equipment subfield) of every PSG and hypnogram file. Detection
reads only the 256-byte main header, so it costs one small read per file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from isatsleepnet.errors import DataError

SYNTHETIC_TOKEN = "ISATSLEEPNET-SYNTHETIC"
"""Written into the EDF+ patient and recording identification of every synthetic file."""

_PATIENT = slice(8, 88)
_RECORDING = slice(88, 168)


def is_marked_synthetic(path: str | Path) -> bool:
    """True when the EDF's patient or recording identification holds :data:`SYNTHETIC_TOKEN`.

    Parameters
    ----------
    path
        An EDF/EDF+/BDF file. Only its first 256 bytes are read.

    Returns
    -------
    bool
        Whether `synth` (or anyone copying its mark) wrote the file.

    Raises
    ------
    DataError
        When the file cannot be read or is shorter than an EDF main header.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.edf"
    >>> _ = p.write_bytes(b"0       " + b"X X X X".ljust(80) + b"Startdate X X X X".ljust(80) + b" " * 88)
    >>> is_marked_synthetic(p)
    False
    """
    path = Path(path)
    try:
        with path.open("rb") as f:
            header = f.read(256)
    except OSError as exc:
        raise DataError(path, f"cannot read its EDF header ({exc.strerror or exc})") from None
    if len(header) < 256:
        raise DataError(path, f"not an EDF file: {len(header)} bytes, shorter than the 256-byte header")
    token = SYNTHETIC_TOKEN.encode("ascii")
    return token in header[_PATIENT] or token in header[_RECORDING]


def synthetic_training_warning(training: dict[str, Any] | None) -> str | None:
    """The warning a model trained on synthetic recordings must carry, or None.

    Models saved before the counts existed (no ``synthetic_recordings`` key) get
    None: absence says nothing either way, and a guess would be worse.

    Examples
    --------
    >>> synthetic_training_warning({"synthetic_recordings": 2, "real_recordings": 0})
    'this model was trained on synthetic recordings (2 of 2): its stages of a real recording are not sleep staging'
    >>> synthetic_training_warning({"synthetic_recordings": 0, "real_recordings": 5}) is None
    True
    """
    training = training or {}
    n = training.get("synthetic_recordings")
    if not n:
        return None
    total = int(n) + int(training.get("real_recordings") or 0)
    return (f"this model was trained on synthetic recordings ({int(n)} of {total}): "
            "its stages of a real recording are not sleep staging")
