"""Download the public datasets into MNE's cache layout, each file checked against the package's table.

Why a table in the package: a corrupted or altered file must be refused without trusting
the server that sent it, so the SHA1 of every file travels with the code
(``data/checksums/sleep-edfx.csv``, written by ``tools/make_checksums.py`` from the hashes
MNE-Python ships). Files land where MNE itself looks (``OUT/physionet-sleep-data/NAME``),
so that ``prepare`` and ``mne.datasets.sleep_physionet`` both find them. pooch does the
fetching and checking; :mod:`isatsleepnet.data.download_http` adds resuming.
"""

from __future__ import annotations

import contextlib
import csv
import logging
import re
import urllib.parse
from collections.abc import Iterable, Iterator, Sequence
from numbers import Integral as numbers_Integral
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from isatsleepnet.errors import DataError, IsatSleepNetError, SettingError

logger = logging.getLogger("isatsleepnet")

PHYSIONET = "https://physionet.org/files/"
"""Prefix of every path in the checksum tables; a mirror replaces it."""
LOCAL_FOLDERS = {"sleep-edfx/": "physionet-sleep-data"}
"""Remote path prefix -> folder under OUT where MNE keeps those files."""


@dataclass(frozen=True)
class RemoteFile:
    """One file of a public dataset: ``path`` below :data:`PHYSIONET`, its SHA1 and size (None: unknown)."""

    path: str
    sha1: str
    size: int | None = None

    @property
    def name(self) -> str:
        """The file name, as it is kept on disk."""
        return self.path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class ChecksumRow:
    """A row of a checksum table: the file, and the subject and night it belongs to."""

    file: RemoteFile
    subject: int
    night: int


@dataclass(frozen=True)
class DownloadResult:
    """What :func:`download` did: files fetched now, and files already there whose SHA1 matched."""

    folder: Path
    downloaded: tuple[Path, ...]
    present: tuple[Path, ...]

    @property
    def files(self) -> tuple[Path, ...]:
        """Every file the selection needs, all verified."""
        return tuple(sorted(self.downloaded + self.present))


def checksum_table(name: str = "sleep-edfx") -> list[ChecksumRow]:
    """The checksum table ``data/checksums/NAME.csv`` kept in the package.

    Examples
    --------
    >>> rows = checksum_table()
    >>> rows[0].file.path, rows[0].subject, rows[0].night
    ('sleep-edfx/1.0.0/sleep-cassette/SC4001E0-PSG.edf', 0, 1)
    >>> len(rows)
    394
    """
    source = resources.files("isatsleepnet.data").joinpath("checksums", f"{name}.csv")
    if not source.is_file():
        raise IsatSleepNetError(f"no checksum table {name}.csv in the package (reinstall isatsleepnet)")
    with source.open(encoding="utf-8", newline="") as handle:
        return [
            ChecksumRow(RemoteFile(row["path"], row["sha1"], int(row["size"]) if row["size"] else None),
                        int(row["subject"]), int(row["night"]))
            for row in csv.DictReader(handle)
        ]


def url_of(file: RemoteFile, mirror: str | None = None) -> str:
    """Where ``file`` is fetched from: PhysioNet, or ``mirror`` in place of its ``/files/`` prefix.

    Examples
    --------
    >>> f = RemoteFile("sleep-edfx/1.0.0/sleep-cassette/SC4001E0-PSG.edf", "0" * 40)
    >>> url_of(f)
    'https://physionet.org/files/sleep-edfx/1.0.0/sleep-cassette/SC4001E0-PSG.edf'
    >>> url_of(f, "http://mirror.example.org/physionet")
    'http://mirror.example.org/physionet/sleep-edfx/1.0.0/sleep-cassette/SC4001E0-PSG.edf'
    """
    prefix = PHYSIONET if mirror is None else mirror.rstrip("/") + "/"
    try:
        parts = urllib.parse.urlsplit(prefix)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise SettingError("mirror", f"is not a valid address ({exc}): {mirror!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingError("mirror", f"must be an http:// or https:// address with a host, got {mirror!r}")
    return prefix + file.path


def local_path(out: str | Path, file: RemoteFile) -> Path:
    """Where ``file`` is kept under ``out``, in MNE's cache layout.

    Examples
    --------
    >>> f = RemoteFile("sleep-edfx/1.0.0/sleep-cassette/SC4001E0-PSG.edf", "0" * 40)
    >>> local_path("mne_data", f).as_posix()
    'mne_data/physionet-sleep-data/SC4001E0-PSG.edf'
    """
    for prefix, folder in LOCAL_FOLDERS.items():
        if file.path.startswith(prefix):
            return Path(out) / folder / file.name
    raise IsatSleepNetError(f"{file.path}: no local folder is known for this remote path")


def remote_files(dataset: str, *, subjects: Sequence[int] | None = None,
                 nights: Sequence[int] | None = None) -> list[RemoteFile]:
    """The files ``dataset``'s protocol needs, from the dataset table's ``download`` entry.

    Raises IsatSleepNetError with the dataset's access text where it cannot be downloaded (SHHS).

    Examples
    --------
    >>> [f.name for f in remote_files("sleep-edf-20", subjects=[0], nights=[1])]
    ['SC4001E0-PSG.edf', 'SC4001EC-Hypnogram.edf']
    """
    from isatsleepnet.data.datasets import DATASETS
    from isatsleepnet.references import resolve

    public = ", ".join(name for name, e in DATASETS.items() if e.download)
    entry = DATASETS.get(dataset)
    if entry is None:
        raise SettingError("dataset", f"{dataset!r} is not a dataset that can be downloaded; downloadable: {public}")
    if not entry.download and entry.access:
        raise IsatSleepNetError(f"{dataset} cannot be downloaded by isatsleepnet; it needs {entry.access}")
    if not entry.download:
        raise SettingError("dataset", f"{dataset} reads recordings you already have, it has no files of its own "
                                      f"to download; downloadable: {public}")
    subjects = _selection("subjects", subjects)
    nights = _selection("nights", nights)
    return list(resolve(entry.download)(dataset, subjects=subjects, nights=nights))


def _selection(setting: str, value: object) -> list[int] | None:
    """``subjects``/``nights`` as a list of whole numbers: None (all), or a non-empty sequence of ints."""
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise SettingError(setting, f"must be a list of whole numbers such as [0, 1], got {value!r}")
    numbers = list(value)
    if not numbers:
        raise SettingError(setting, "is empty; leave it out (None) for all of them")
    wrong = [n for n in numbers if isinstance(n, bool) or not isinstance(n, numbers_Integral)]
    if wrong:
        raise SettingError(setting, f"must be whole numbers, got {wrong[0]!r}")
    return [int(n) for n in numbers]


def download(dataset: str, out: str | Path, *, subjects: Sequence[int] | None = None,
             nights: Sequence[int] | None = None, mirror: str | None = None, progress: bool = True) -> DownloadResult:
    """Fetch the files of ``dataset`` (optionally some subjects/nights) into ``out`` and verify each.

    A file already there with the right SHA1 is kept; a partial download (``NAME.part``)
    resumes; a file whose SHA1 does not match the checksum table is deleted and reported
    in one line, so that no file under its final name has failed its check.

    Parameters
    ----------
    dataset : str
        ``sleep-edf-20``, ``sleep-edf-78`` or ``sleep-edf-st``.
    out : str or Path
        Root of MNE's cache layout (``~/mne_data``): files go to ``out/physionet-sleep-data/``.
    subjects, nights : sequence of int, optional
        Only these subjects (numbered by the digits of the file names) and nights (1, 2).
    mirror : str, optional
        Address replacing ``https://physionet.org/files/`` (institutional mirrors, tests).
    progress : bool
        tqdm bars of the files and bytes.

    Examples
    --------
    >>> result = download("sleep-edf-20", "~/mne_data", subjects=[0], nights=[1])  # doctest: +SKIP
    >>> [p.name for p in result.files]  # doctest: +SKIP
    ['SC4001E0-PSG.edf', 'SC4001EC-Hypnogram.edf']
    """
    from tqdm.auto import tqdm

    from isatsleepnet.locking import folder_lock

    files = remote_files(dataset, subjects=subjects, nights=nights)
    urls = [url_of(f, mirror) for f in files]  # a bad mirror is refused before anything is written
    out = Path(out).expanduser()
    targets = [local_path(out, f) for f in files]
    downloaded: list[Path] = []
    present: list[Path] = []
    if out.exists() and not out.is_dir():
        raise SettingError("out", f"{out} is a file; name a folder (the root of the MNE-style data folder)")
    with contextlib.ExitStack() as stack:
        for folder in sorted({t.parent for t in targets}):
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DataError(folder, f"cannot create the download folder ({exc.strerror or exc})") from None
            stack.enter_context(folder_lock(folder, "download"))
            _remove_stale_temporaries(folder)
        bar = stack.enter_context(tqdm(total=len(files), desc=f"{dataset} files", unit="file",
                                       disable=not progress))
        for file, url, target in zip(files, urls, targets):
            if _verified(target, file):
                present.append(target)
            else:
                _fetch(file, url, target, progress=progress)
                downloaded.append(target)
            bar.update(1)
    return DownloadResult(targets[0].parent if targets else out, tuple(downloaded), tuple(present))


_POOCH_TEMPORARY = re.compile(r"tmp[a-z0-9_]{8}")
"""Names of the temporary files pooch creates beside the final one (``tempfile``'s pattern)."""


def _remove_stale_temporaries(folder: Path) -> None:
    """Delete the temporary files a killed run left: pooch names them ``tmpXXXXXXXX`` beside the final file.

    Called with the folder's lock held, so no other download is using them.
    """
    for path in folder.iterdir():
        if _POOCH_TEMPORARY.fullmatch(path.name) and path.is_file():
            logger.debug("%s: removed, a temporary file of an interrupted download", path)
            path.unlink(missing_ok=True)


def _verified(target: Path, file: RemoteFile) -> bool:
    """Whether ``target`` is there with the right SHA1; a wrong one is deleted (never kept under the name)."""
    import pooch

    if not target.is_file():
        return False
    if pooch.file_hash(str(target), alg="sha1") == file.sha1:
        return True
    logger.warning("%s: on disk with a SHA1 that does not match the checksum table; deleted and downloaded again",
                   target.name)
    target.unlink()
    return False


def _fetch(file: RemoteFile, url: str, target: Path, *, progress: bool) -> None:
    """Download one file through pooch (resuming ``NAME.part``); only a verified file gets ``target``'s name."""
    import pooch

    from isatsleepnet.data.download_http import ResumingDownloader

    part = target.with_name(target.name + ".part")
    downloader = ResumingDownloader(part, size=file.size, progress=progress)
    with _quiet_pooch():
        try:
            pooch.retrieve(url, known_hash=f"sha1:{file.sha1}", fname=target.name, path=target.parent,
                           downloader=downloader, progressbar=False)
        except ValueError:  # pooch's hash mismatch: it has deleted the file already
            part.unlink(missing_ok=True)
            raise DataError(target, f"the file from {url} does not match its SHA1 in the checksum table "
                                    f"({file.sha1}); deleted, nothing kept under its name") from None


@contextlib.contextmanager
def _quiet_pooch() -> Iterator[None]:
    """pooch logs each download at INFO to stderr; the tqdm bars already say it."""
    import pooch

    log = pooch.get_logger()
    before = log.level
    log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        log.setLevel(before)
