"""What the pipeline reads of a recording: the :class:`Recording` protocol.

Why written down: the channel vocabulary (:mod:`isatsleepnet.data.channels`), derivations
(:mod:`isatsleepnet.data.derivations`) and staging (:class:`~isatsleepnet.inference.raw.RawRecording`)
read any recording through these members only, so a new file format needs a reader that
offers them (and an entry in :data:`~isatsleepnet.data.readers.formats.SIGNAL_FORMATS`), nothing
else. :class:`~isatsleepnet.data.readers.edf.EdfRecording` (EDF/EDF+/BDF) and
:class:`~isatsleepnet.data.readers.memory.MemoryRecording` (arrays, an MNE ``Raw`` through
:meth:`~isatsleepnet.data.readers.memory.MemoryRecording.from_mne`) implement it.

Samples are read by index on each channel's own grid and returned in µV (float64); the
channel's header (:class:`~isatsleepnet.data.readers.edf_header.SignalHeader`) gives its label,
unit (``physical_dimension``) and exact rate (``rate``, a Fraction).

Examples
--------
>>> import numpy as np
>>> from isatsleepnet.data.readers.memory import MemoryRecording
>>> isinstance(MemoryRecording.from_arrays(np.zeros((1, 3000)), 100.0, ["C4"]), Recording)
True
>>> isinstance("night.edf", Recording), is_recording("night.edf")
(False, False)
"""

from __future__ import annotations

import datetime as dt
import inspect
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np

    from isatsleepnet.data.readers.edf import Annotation
    from isatsleepnet.data.readers.edf_header import SignalHeader


@runtime_checkable
class Recording(Protocol):
    """An opened recording: its channels, their samples in µV, its start, duration and annotations."""

    @property
    def path(self) -> Path:
        """The file, or a name as a path for one in memory: errors (``DataError``) and outputs name it."""

    @property
    def signals(self) -> list[SignalHeader]:
        """The data channels in order (no annotation signal); ``index`` is each one's position."""

    @property
    def channel_names(self) -> list[str]:
        """The labels of :attr:`signals`, in order."""

    @property
    def notes(self) -> list[str]:
        """What reading the file changed and a user should know (a partial last record dropped)."""

    @property
    def duration(self) -> float:
        """Seconds covered by the data."""

    @property
    def start(self) -> dt.datetime | None:
        """Clock time of the first sample (local, no time zone), or None when unknown."""

    @property
    def annotations(self) -> list[Annotation]:
        """Events (onset and duration in seconds from the start, text): lights off/on are read from them."""

    def signal(self, label: str) -> SignalHeader:
        """The channel labelled ``label``; a ``DataError`` naming the file if there is none."""

    def microvolts_per_unit(self, signal: SignalHeader, *, assume_unit: str | None = None) -> float:
        """µV per unit of ``signal``'s values; a ``DataError`` when its unit is not a voltage.
        ``assume_unit`` stands for a blank unit."""

    def n_samples(self, signal: SignalHeader) -> int:
        """Samples of ``signal`` in the recording."""

    def read_samples(self, signal: SignalHeader, first: int, stop: int, *,
                     assume_unit: str | None = None) -> np.ndarray:
        """Samples ``first <= j < stop`` of ``signal`` in µV, float64."""


RECORDING_MEMBERS = ("path", "signals", "channel_names", "notes", "duration", "start", "annotations", "signal",
                     "microvolts_per_unit", "n_samples", "read_samples")
"""The members of :class:`Recording`, by name."""


def is_recording(value: Any) -> bool:
    """Whether ``value`` offers every member of :class:`Recording`, without reading any.

    Why not ``isinstance(value, Recording)``: before Python 3.12 that reads each property, so an
    EDF's annotations would be parsed (and their errors raised) just to ask.

    Examples
    --------
    >>> import numpy as np
    >>> from isatsleepnet.data.readers.memory import MemoryRecording
    >>> is_recording(MemoryRecording.from_arrays(np.zeros((1, 3000)), 100.0, ["C4"])), is_recording(3)
    (True, False)
    """
    missing = object()
    return all(inspect.getattr_static(value, name, missing) is not missing for name in RECORDING_MEMBERS)
