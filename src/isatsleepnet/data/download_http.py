"""A pooch downloader that resumes: the bytes go to ``NAME.part`` and continue from its size.

Why not :class:`pooch.HTTPDownloader`: pooch streams into a fresh temporary file on every
try, so an interrupted 8-GB download of Sleep-EDF starts again from zero. This downloader
keeps what arrived in ``NAME.part`` beside the final file, asks the server for the rest
with an HTTP ``Range`` request, and hands the complete file to pooch, which checks its hash
and only then gives it the final name (a file that fails the check is deleted by pooch).
The standard library's ``urllib`` does the HTTP (proxies from the environment apply).
"""

from __future__ import annotations

import http.client
import os
import re
import urllib.error
import urllib.request
from pathlib import Path

from tqdm.auto import tqdm

from isatsleepnet import __version__
from isatsleepnet.errors import DataError

CHUNK = 1 << 20
"""Bytes read and written at a time."""
_CONTENT_RANGE = re.compile(r"bytes\s+(?:(\d+)-\d+|\*)/(\d+|\*)")


class _NothingAfter(Exception):
    """HTTP 416 to a Range request: the server has no bytes after the part; ``total`` is its size."""

    def __init__(self, total: str) -> None:
        super().__init__(total)
        self.total = total


class ResumingDownloader:
    """Download ``url`` into ``part`` (resuming it), then move it to the file pooch asks for.

    Parameters
    ----------
    part : Path
        Where the bytes accumulate across runs (``NAME.part`` beside the final file).
    size : int or None
        Expected size in bytes, when known: a server offering another size is refused.
    progress : bool
        Show a tqdm bar of the bytes.
    timeout : float
        Seconds without an answer before a connection is given up (the part is kept).

    Examples
    --------
    >>> import pooch, tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> downloader = ResumingDownloader(folder / "SC4001E0-PSG.edf.part", progress=False)
    >>> downloader.part.name
    'SC4001E0-PSG.edf.part'

    ``pooch.retrieve(url, known_hash="sha1:...", fname=..., path=folder, downloader=downloader)``
    then fetches the file, checks it and names it.
    """

    def __init__(self, part: Path, *, size: int | None = None, progress: bool = True, timeout: float = 60.0) -> None:
        self.part = Path(part)
        self.size = size
        self.progress = progress
        self.timeout = timeout
        self.resumed_from = 0
        """Bytes already in the part when the last request was sent (0: started from the beginning)."""

    @property
    def name(self) -> str:
        """The final file name (the part's name without ``.part``)."""
        return self.part.name.removesuffix(".part")

    def __call__(self, url: str, output_file: str, pooch: object | None = None, check_only: bool = False) -> bool | None:
        """pooch's downloader protocol: fill ``output_file`` from ``url`` (``check_only``: is it there?)."""
        if check_only:
            try:
                with self._open(url, method="HEAD"):
                    return True
            except DataError:
                return False
        if self.size is not None and self.part.is_file() and self.part.stat().st_size > self.size:
            self.part.unlink()  # longer than the whole file: not a prefix of it
        offset = self.part.stat().st_size if self.part.is_file() else 0
        if not self._fetch(url, offset):
            self.part.unlink(missing_ok=True)  # the server refused to continue this part: start over once
            self._fetch(url, 0)
        os.replace(self.part, output_file)
        return None

    def _open(self, url: str, *, offset: int = 0, method: str = "GET") -> http.client.HTTPResponse:
        headers = {"User-Agent": f"isatsleepnet/{__version__}"}
        if offset:
            headers["Range"] = f"bytes={offset}-"
        request = urllib.request.Request(url, headers=headers, method=method)
        try:
            return urllib.request.urlopen(request, timeout=self.timeout)  # noqa: S310 - http(s) checked by the caller
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and offset:
                match = _CONTENT_RANGE.match(exc.headers.get("Content-Range", ""))
                raise _NothingAfter(match[2] if match else "*") from None
            raise DataError(self.name, f"the server answered {exc.code} {exc.reason} for {url}") from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", None) or exc
            kept = "; the partial download is kept and resumed on the next run" if offset else ""
            raise DataError(self.name, f"cannot reach {url} ({reason}){kept}") from None
        except ValueError as exc:  # an address urllib cannot parse (a bad --mirror)
            raise DataError(self.name, f"cannot use the address {url} ({exc})") from None

    def _fetch(self, url: str, offset: int) -> bool:
        """Append the rest of the file to the part; False when the server will not continue it."""
        self.resumed_from = offset
        try:
            response = self._open(url, offset=offset)
        except _NothingAfter as nothing:  # the part is whole if the server's size is the part's size
            return nothing.total == str(offset)
        with response:
            if offset and response.status != 206:
                offset = 0  # the server ignored the Range header and sends the whole file
            elif offset:
                match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
                if not match or match[1] != str(offset):
                    return False
            length = response.headers.get("Content-Length")
            total = offset + int(length) if length and length.isdigit() else None
            if self.size is not None and total is not None and total != self.size:
                raise DataError(self.name, f"{url} offers {total} bytes but the checksum table says "
                                           f"{self.size}; not downloaded")
            self._copy(response, offset, total, url)
        return True

    def _copy(self, response: http.client.HTTPResponse, offset: int, total: int | None, url: str) -> None:
        self.part.parent.mkdir(parents=True, exist_ok=True)
        written = offset
        with open(self.part, "ab" if offset else "wb") as out, tqdm(
            total=total, initial=offset, desc=self.name, unit="B", unit_scale=True, unit_divisor=1024,
            leave=False, disable=not self.progress,
        ) as bar:
            try:
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    written += len(chunk)
                    bar.update(len(chunk))
            except (OSError, http.client.HTTPException) as exc:
                raise DataError(self.name, f"the download from {url} stopped after {written} bytes "
                                           f"({type(exc).__name__}: {exc}); it resumes from there on the next run"
                                ) from None
        if total is not None and written != total:
            raise DataError(self.name, f"the server closed the connection after {written} of {total} bytes; "
                                       "the download resumes from there on the next run")
