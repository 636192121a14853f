"""What :meth:`StagingModel.stage` accepts as a recording, opened for a model.

* a path (``str`` or path-like) to an EDF, EDF+ or BDF file;
* an ``mne.io.BaseRaw`` (MNE holds volts; read in µV);
* a tuple ``(data, sfreq, ch_names)``: ``data`` channels x samples in µV;
* a :class:`~isatsleepnet.data.readers.memory.MemoryRecording` (other units, a start time, annotations).

Anything else, or arrays that cannot be a recording, is one line naming the problem.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from isatsleepnet.data.readers.formats import is_mne_raw, open_recording
from isatsleepnet.data.readers.memory import MemoryRecording
from isatsleepnet.data.readers.recording import Recording
from isatsleepnet.errors import DataError, IsatSleepNetError
from isatsleepnet.inference.raw import ModelInputs, RawRecording

VOLTS_BELOW = 0.01  # µV: a tuple whose largest value is below this holds volts (or nothing)
SOURCE_KINDS = "a path to an EDF/BDF file, an mne.io.Raw, or a tuple (data, sfreq, ch_names)"
DEFAULT_NAME = "recording"


def _open_raw(raw: Any, name: str) -> Recording:
    """An MNE Raw opened by the signal table's ``mne_raw`` entry (:func:`open_recording`), named ``name``.

    Why renamed: the API names a Raw's recording (its errors, its summary) as its outputs are
    named, ``name=`` or the stem of the Raw's file, where the table's reader keeps the file name.
    """
    try:
        opened = open_recording(raw)
    except DataError as exc:
        raise DataError(name, exc.problem) from None
    return dataclasses.replace(opened, name=name) if isinstance(opened, MemoryRecording) else opened


def check_arrays(source: tuple) -> tuple[Any, Any, Any]:
    """``(data, sfreq, ch_names)`` unpacked, refusing the mistakes the arrays' own checks cannot explain.

    The rest (numbers, one distinct name per channel, rates) is checked by
    :meth:`~isatsleepnet.data.readers.memory.MemoryRecording.from_arrays`.

    Examples
    --------
    >>> import numpy as np
    >>> data, sfreq, names = check_arrays((np.zeros((2, 6000)), 100, ["C4-M1", "E1-M2"]))
    >>> data.shape, sfreq, names
    ((2, 6000), 100, ['C4-M1', 'E1-M2'])
    >>> check_arrays((np.zeros((6000, 2)), 100, ["C4-M1", "E1-M2"]))
    Traceback (most recent call last):
    ...
    isatsleepnet.errors.IsatSleepNetError: data has 6000 rows for 2 channel names: give it as channels x samples
    >>> check_arrays((np.zeros((2, 6000)), 100))
    Traceback (most recent call last):
    ...
    isatsleepnet.errors.IsatSleepNetError: a recording as a tuple is (data, sfreq, ch_names), not 2 items
    """
    if len(source) != 3:
        raise IsatSleepNetError(f"a recording as a tuple is (data, sfreq, ch_names), not {len(source)} items")
    data, sfreq, names = source
    shape = data.shape if isinstance(data, np.ndarray) else None
    if (shape is not None and len(shape) == 2 and isinstance(names, Sequence) and not isinstance(names, str)
            and shape[0] != len(names) and shape[1] == len(names)):
        raise IsatSleepNetError(f"data has {shape[0]} rows for {len(names)} channel names: give it as "
                                "channels x samples")
    if shape is not None and data.size and np.issubdtype(data.dtype, np.number):
        largest = float(np.nanmax(np.abs(data))) if np.isfinite(data).any() else 0.0
        if 0.0 < largest < VOLTS_BELOW:  # EEG in µV reaches tens of µV; in volts it stays below 1e-3
            raise IsatSleepNetError(f"data look like volts (largest |value| {largest:.3g}): a tuple holds µV; "
                                    "multiply by 1e6, or pass the mne.io.Raw itself")
    return data, sfreq, names


def check_name(name: Any) -> str | None:
    """A recording's name, as its output files are named: a plain file name (no folder, not '.' or '..')."""
    if name is None:
        return None
    if not isinstance(name, str) or not name.strip():
        raise IsatSleepNetError(f"name= must be a non-empty string, not {name!r}")
    if name in (".", "..") or "/" in name or "\\" in name or name != name.strip():
        raise IsatSleepNetError(f"name= {name!r} is not a plain file name (it names the output files)")
    return name


def open_source(
    source: Any,
    inputs: ModelInputs,
    *,
    overrides: Mapping[str, Sequence[str]],
    assume_unit: str | None,
    name: str | None,
) -> tuple[RawRecording, str, Path | None]:
    """Open ``source`` for ``inputs``: the recording, its default name, and the path errors name (None: its own)."""
    name = check_name(name)
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise IsatSleepNetError(f"{path}: {'a folder, not a recording' if path.is_dir() else 'file not found'}")
        return RawRecording.open(path, inputs, overrides=overrides, assume_unit=assume_unit), path.stem, path
    if is_mne_raw(source):
        filenames = [f for f in (getattr(source, "filenames", None) or ()) if f]
        default = Path(filenames[0]).stem if filenames else DEFAULT_NAME
        source = _open_raw(source, name or default)
    elif isinstance(source, tuple):
        data, sfreq, names = check_arrays(source)
        default = DEFAULT_NAME
        source = MemoryRecording.from_arrays(data, sfreq, names, name=name or DEFAULT_NAME)
    elif isinstance(source, MemoryRecording):
        default = source.name or DEFAULT_NAME
    else:
        raise IsatSleepNetError(f"a recording to stage is {SOURCE_KINDS}; not {type(source).__name__}")
    return RawRecording.open(source, inputs, overrides=overrides, assume_unit=assume_unit), default, None
