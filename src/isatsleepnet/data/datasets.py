"""Every dataset `prepare` reads and `cv` evaluates on, in one table.

A :class:`Dataset` entry says everything the rest of the code needs to know about
one dataset: how its files are found and paired, its channels, whether its nights
are trimmed, how its stages are read, its evaluation protocol and where its files
come from. ``prepare --dataset`` and ``cv --protocol`` offer the names of this
table, their help lists its descriptions, and :mod:`isatsleepnet.training.folds`
draws folds from its protocols, so adding a dataset is adding one entry
(``docs/architecture.md``, "Adding a dataset").

Functions are named as ``"module:function"`` strings and imported only when used
(:func:`isatsleepnet.references.resolve`), so that reading the table (for ``--help``, say) imports nothing
heavy.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from isatsleepnet.data.labels import STAGE_CODINGS
from isatsleepnet.data.sources import hypnogram_names
from isatsleepnet.references import is_reference, resolve
from isatsleepnet.errors import DataError, IsatSleepNetError

if TYPE_CHECKING:
    from isatsleepnet.data.sources import RecordingSource

KFOLD = "kfold"
"""The protocol of any dataset, ``n_folds`` subject-wise folds (:mod:`isatsleepnet.training.folds`): no
dataset may take this name."""
ROLES = ("eeg", "eeg2", "eog")
"""Channel roles in the order they are stored."""

EDF_READER = "isatsleepnet.data.prepare:read_recording"
"""The reader of EDF/BDF recordings: resampled 30-s epochs on the hypnogram's grid."""
GENERIC_STAGES = "isatsleepnet.data.datasets_generic:read_stages"
"""Stages from the hypnogram beside a PSG (EDF+, NSRR/Profusion XML, CSV/TSV) or inside it."""

_NAME = re.compile(r"^[a-z][a-z0-9-]*$")


@dataclass(frozen=True)
class Dataset:
    """One dataset: how `prepare` finds and reads it, and how `cv` evaluates on it.

    Attributes
    ----------
    name : str
        What ``dataset=`` (``prepare``) and ``protocol=`` (``cv``) say: lower case,
        digits and dashes.
    description : str
        One line, shown by ``prepare --help`` and the README.
    find : str
        ``"module:function"`` of ``find(data_dir: Path, config: PrepareConfig) ->
        (list[RecordingSource], list[DataError])``: the recordings under ``data_dir``, each
        PSG paired with its hypnogram, and one error per PSG that cannot be paired.
    channels : dict[str, tuple[str, ...]]
        Per role (``eeg``, ``eeg2``, ``eog``) the accepted labels, tried in order (aliases
        and derivations ``A-B`` allowed, :mod:`isatsleepnet.data.channels`); the
        ``eeg``/``eeg2``/``eog`` settings replace them.
    needs_eeg : bool
        The files have no fixed labels: the ``eeg`` setting must name at least one channel.
    trim : bool
        Keep only ``trim_minutes`` of wake around sleep unless the ``trim`` setting says
        otherwise (Sleep-EDF nights are mostly wake around a short night).
    stages : str or None
        ``"module:function"`` of ``read(source, psg_start, *, epoch_seconds, stage_codes) ->
        Hypnogram`` (``psg_start``: the PSG's start time, or None); None where ``reader``
        takes the labels from the files themselves.
    stage_codes : {"aasm", "rk"} or None
        How bare integer stages of this dataset's hypnograms are numbered, unless the
        ``stage_codes`` setting says; None decides per file.
    subject_pattern : bool
        Its finder reads the ``subject_pattern`` setting (subject and night from file names);
        the setting is refused for a dataset whose file names say them.
    coverage_rule : bool
        Refuse a hypnogram covering under ``min_hypnogram_coverage`` of its PSG's epochs, as likely
        another recording's. False where the finder binds each night's stages to their PSG by the
        file's content (``reviewed``: the SHA1 the sidecar records), so that a night scored in part
        is still its own.
    reader : str
        ``"module:function"`` of ``read(source, config) -> (epochs, labels, onsets, meta)``.
    folds : int or None
        The evaluation protocol as subject-wise folds (every subject tested once).
    test_fraction : float or None
        The evaluation protocol as one subject-wise train/test split (SHHS: 0.3).
    download : str or None
        ``"module:function"`` of ``files(dataset, subjects=None, nights=None) ->
        list[RemoteFile]``, where the files can be downloaded.
    access : str
        How to obtain the files where they cannot be downloaded.

    Examples
    --------
    >>> entry = Dataset("mylab", "our lab's nights", find="mylab_files:find", folds=5,
    ...                 channels={"eeg": ("C4-M1",), "eog": ("E1-M2",)})
    >>> entry.protocol
    '5 subject-wise folds'
    """

    name: str
    description: str
    find: str
    channels: dict[str, tuple[str, ...]] = field(default_factory=dict, hash=False)
    needs_eeg: bool = False
    trim: bool = False
    stages: str | None = GENERIC_STAGES
    stage_codes: str | None = None
    subject_pattern: bool = False
    coverage_rule: bool = True
    reader: str = EDF_READER
    folds: int | None = None
    test_fraction: float | None = None
    download: str | None = None
    access: str = ""

    def __post_init__(self) -> None:
        where = f"dataset {self.name!r}"
        if not _NAME.match(self.name):
            raise IsatSleepNetError(f"{where}: a name is lower case letters, digits and dashes")
        if not self.description.strip() or "\n" in self.description:
            raise IsatSleepNetError(f"{where}: the description must be one line")
        for label, ref in (("find", self.find), ("stages", self.stages), ("reader", self.reader),
                           ("download", self.download)):
            if ref is not None and not is_reference(ref):
                raise IsatSleepNetError(f"{where}: {label} must be a 'module:function' string (got {ref!r})")
        unknown = sorted(set(self.channels) - set(ROLES))
        if unknown:
            raise IsatSleepNetError(f"{where}: unknown channel role(s) {', '.join(unknown)}; roles: {', '.join(ROLES)}")
        object.__setattr__(self, "channels", {r: tuple(self.channels[r]) for r in ROLES if r in self.channels})
        if self.stage_codes is not None and self.stage_codes not in STAGE_CODINGS:
            raise IsatSleepNetError(f"{where}: stage_codes must be one of {', '.join(STAGE_CODINGS)}")
        if self.folds is not None and self.test_fraction is not None:
            raise IsatSleepNetError(f"{where}: a protocol is either folds or a test fraction, not both")
        if self.folds is not None and self.folds < 2:
            raise IsatSleepNetError(f"{where}: folds must be at least 2 (got {self.folds})")
        if self.test_fraction is not None and not 0 < self.test_fraction < 1:
            raise IsatSleepNetError(f"{where}: test_fraction must lie between 0 and 1 (got {self.test_fraction})")

    @property
    def protocol(self) -> str | None:
        """The evaluation protocol in words, or None where the dataset has none."""
        if self.folds is not None:
            return f"{self.folds} subject-wise folds"
        if self.test_fraction is not None:
            test = round(100 * self.test_fraction)
            return f"{100 - test}/{test} subject-wise train/test split"
        return None


DATASETS: dict[str, Dataset] = {}
"""Every known dataset by name, in the order ``--help`` lists them."""


def register_dataset(entry: Dataset) -> Dataset:
    """Add ``entry`` to the table, refusing a name that is already taken.

    Examples
    --------
    >>> register_dataset(Dataset("mylab", "our lab's nights", find="mylab_files:find"))  # doctest: +SKIP
    >>> unregister_dataset("mylab")  # doctest: +SKIP
    """
    if entry.name in DATASETS or entry.name == KFOLD:
        raise IsatSleepNetError(f"dataset {entry.name!r} is already registered")
    DATASETS[entry.name] = entry
    return entry


def unregister_dataset(name: str) -> None:
    """Remove a dataset from the table (a test's own entry, say); an unknown name is an error.

    Examples
    --------
    >>> unregister_dataset("mylab")  # doctest: +SKIP
    """
    get_dataset(name)
    del DATASETS[name]


def get_dataset(name: str) -> Dataset:
    """The table's entry for ``name``.

    Examples
    --------
    >>> get_dataset("shhs").protocol
    '70/30 subject-wise train/test split'
    """
    try:
        return DATASETS[name]
    except KeyError:
        raise IsatSleepNetError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}") from None


def protocols(*, kfold: bool = False) -> list[str]:
    """Names of the datasets that have an evaluation protocol, in table order; then ``kfold`` if asked.

    Examples
    --------
    >>> protocols()[:2]
    ['sleep-edf-20', 'sleep-edf-78']
    >>> protocols(kfold=True)[-1]
    'kfold'
    """
    return [name for name, entry in DATASETS.items() if entry.protocol is not None] + ([KFOLD] if kfold else [])


class DatasetSettings(Protocol):
    """What :func:`find_recordings` reads of its configuration (a ``PrepareConfig``): the dataset's name.

    A Protocol rather than ``PrepareConfig`` itself, because ``prepare_config`` imports this table
    (for its defaults): the import runs one way.
    """

    @property
    def dataset(self) -> str: ...


def find_recordings(data_dir: str | Path, config: DatasetSettings) -> tuple[list[RecordingSource], list[DataError]]:
    """The recordings of ``config.dataset`` under ``data_dir``, and one error per PSG left unpaired.

    Refused before any work: a folder where the dataset's finder finds nothing, and two files that
    would be stored as one recording (``a/night.edf`` and ``b/night.edf``, or two reviewed copies of one
    night: the second would be lost).

    Examples
    --------
    >>> from isatsleepnet.data.prepare_config import PrepareConfig
    >>> sources, errors = find_recordings("~/mne_data", PrepareConfig(dataset="sleep-edf-20"))  # doctest: +SKIP
    """
    sources, errors = resolve(get_dataset(config.dataset).find)(Path(data_dir), config)
    if not sources and not errors:
        raise IsatSleepNetError(f"{data_dir}: no recordings of dataset {config.dataset!r} found")
    refuse_shared_names([(s.recording, s.file, s.psg) for s in sources]
                        + [(e.recording, e.path, None) for e in errors if getattr(e, "recording", None)])
    return sources, errors


def refuse_shared_names(named: list[tuple[str, Path, Path | None]]) -> None:
    """Refuse two files that would be prepared as one recording (one folder ``recordings/NAME``).

    Each entry is ``(name, file, psg)``: the recording name, the file the night was found as (its PSG, or
    a reviewed night's table) and its PSG where known. Two files of one name are refused even where they
    name one PSG (two reviewers' copies of a night): the second would never be prepared, its stages lost
    without a word. Names are compared ignoring case: on macOS and Windows ``Night`` and ``night`` are one
    folder.

    Examples
    --------
    >>> refuse_shared_names([("night", Path("a/night.edf"), None), ("night", Path("b/night.edf"), None)])
    Traceback (most recent call last):
    ...
    isatsleepnet.errors.IsatSleepNetError: a/night.edf and b/night.edf would both be prepared as recording 'night': ...
    """
    seen: dict[str, tuple[Path, Path | None]] = {}
    for name, file, psg in named:
        first, first_psg = seen.setdefault(name.casefold(), (file, psg))
        if first == file:
            continue
        if psg is not None and psg == first_psg:
            raise IsatSleepNetError(f"{first} and {file} are two copies of one night (both of {psg}) and would both "
                                    f"be prepared as recording {name!r}: only one can be; leave the one to prepare "
                                    "under the data folder and move the other out")
        raise IsatSleepNetError(f"{first} and {file} would both be prepared as recording {name!r}: "
                                "rename or move one of them")


def help_lines() -> list[str]:
    """``name  description; protocol`` per dataset, for ``prepare --help`` and the README.

    Examples
    --------
    >>> help_lines()[0]
    'sleep-edf-20  Sleep-EDF Expanded, Sleep Cassette subjects 0-19 (39 nights); cv: 20 subject-wise folds'
    """
    width = max(len(name) for name in DATASETS)
    lines = []
    for entry in DATASETS.values():
        protocol = f"; cv: {entry.protocol}" if entry.protocol else ""
        lines.append(f"{entry.name.ljust(width)}  {entry.description}{protocol}")
    return lines


_SLEEP_EDF = "isatsleepnet.data.datasets_sleep_edf"
_SLEEP_EDF_DOWNLOAD = "isatsleepnet.data.download_sleep_edf:public_files"
_SLEEP_EDF_CHANNELS = {"eeg": ("EEG Fpz-Cz",), "eeg2": ("EEG Pz-Oz",), "eog": ("EOG horizontal",)}
_SLEEP_EDF_COMMON: dict[str, Any] = dict(channels=_SLEEP_EDF_CHANNELS, trim=True, stages=f"{_SLEEP_EDF}:read_stages")

for _entry in (
    Dataset("sleep-edf-20", "Sleep-EDF Expanded, Sleep Cassette subjects 0-19 (39 nights)",
            find=f"{_SLEEP_EDF}:find_cassette_20", folds=20, download=_SLEEP_EDF_DOWNLOAD, **_SLEEP_EDF_COMMON),
    Dataset("sleep-edf-78", "all Sleep Cassette subjects (153 nights)",
            find=f"{_SLEEP_EDF}:find_cassette", folds=10, download=_SLEEP_EDF_DOWNLOAD, **_SLEEP_EDF_COMMON),
    Dataset("sleep-edf-st", "Sleep-EDF Expanded, Sleep Telemetry, 22 subjects (44 nights); its folds are "
                            "ours, not a published protocol",
            find=f"{_SLEEP_EDF}:find_telemetry", folds=10, download=_SLEEP_EDF_DOWNLOAD, **_SLEEP_EDF_COMMON),
    Dataset("sleep-edf", "every Sleep-EDF PSG found (cassette and telemetry)",
            find=f"{_SLEEP_EDF}:find_all", **_SLEEP_EDF_COMMON),
    Dataset("shhs", "SHHS EDF + NSRR XML (or Profusion XML) annotations",
            find="isatsleepnet.data.datasets_shhs:find", test_fraction=0.3,
            channels={"eeg": ("EEG",), "eeg2": ("EEG(sec)", "EEG2", "EEG 2", "EEG sec", "EEG(SEC)"),
                      "eog": ("EOG(L)",)},
            access="an NSRR account and a data request at https://sleepdata.org/datasets/shhs; then put its "
                   "polysomnography/edfs/ and polysomnography/annotations-events-nsrr/ folders under the data folder"),
    Dataset("edf", "any EDF/EDF+/BDF; choose channels with --eeg/--eeg2/--eog; hypnogram beside each PSG "
                   f"({hypnogram_names()}) or as stage annotations inside the EDF+",
            find="isatsleepnet.data.datasets_generic:find_edf", needs_eeg=True, subject_pattern=True),
    Dataset("reviewed", "nights checked with `isatsleepnet review`: each NAME.reviewed.csv and the PSG its sidecar "
                        "names (checked by SHA1); only the epochs a reviewer set or accepted are kept, whatever "
                        "part of the night was staged (choose channels with --eeg/--eeg2/--eog)",
            find="isatsleepnet.data.datasets_reviewed:find_reviewed", needs_eeg=True, subject_pattern=True,
            stages="isatsleepnet.data.datasets_reviewed:read_reviewed_stages", coverage_rule=False),
    Dataset("npz", "import DeepSleepNet/AttnSleep npz files (x, y, fs, ch_label)",
            find="isatsleepnet.data.datasets_generic:find_npz", stages=None, subject_pattern=True,
            reader="isatsleepnet.data.datasets_generic:read_npz_source"),
):
    register_dataset(_entry)
del _entry
