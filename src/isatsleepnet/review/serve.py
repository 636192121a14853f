"""Start and stop the review server: uvicorn on a local port, in a thread of this process.

Why a thread: the same server serves the command line (which waits for Ctrl+C) and a
notebook (``night.review()`` returns at once and the kernel keeps serving). The port is
bound before the server starts, so a port in use is one clear line and nothing runs.
"""

from __future__ import annotations

import contextlib
import errno
import html
import ipaddress
import logging
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from isatsleepnet.data.readers.recording import Recording
from isatsleepnet.errors import IsatSleepNetError, SettingError
from isatsleepnet.review.server import new_token, review_app
from isatsleepnet.review.session import Review

logger = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"


@dataclass
class ReviewServer:
    """A running review server; :meth:`stop` ends it (and lets the night go).

    Attributes
    ----------
    url : str
        The page's address with its token: ``http://127.0.0.1:PORT/?token=...``.
    """

    reviews: list[Review]
    url: str
    _server: Any = field(repr=False)
    _thread: threading.Thread = field(repr=False)
    _stopped: bool = field(default=False, repr=False)

    @property
    def review(self) -> Review:
        """The first (or only) night's review."""
        return self.reviews[0]

    def __str__(self) -> str:
        return self.url

    def _repr_html_(self) -> str:
        """A notebook shows the running server as a link to its page."""
        url = html.escape(self.url, quote=True)
        return f'<a href="{url}" target="_blank" rel="noopener">Review page: {url}</a>'

    def stop(self) -> None:
        """Stop serving, wait for the server's thread, and close the reviews (again: nothing more)."""
        if self._stopped:
            return
        self._stopped = True
        self._server.should_exit = True
        self._thread.join(timeout=10)
        for review in self.reviews:
            review.close()

    def wait(self) -> None:
        """Serve until interrupted (Ctrl+C), then stop cleanly."""
        try:
            while self._thread.is_alive():
                self._thread.join(timeout=0.5)
        finally:
            self.stop()


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (0: a free port); a port in use is one line naming it."""
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise SettingError("port", f"must be 0 (a free port) or a port number up to 65535, not {port!r}")
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(64)
    except OSError as exc:
        with contextlib.suppress(NameError):
            sock.close()
        if isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL:  # the host is the problem
            raise SettingError("host", f"{host} is not an address of this machine ({exc.strerror or exc}); use "
                                       "127.0.0.1 (the default), or one of this machine's addresses") from None
        raise SettingError("port", f"{port} on {host} cannot be used ({exc.strerror or exc}); choose another "
                                   "port, or 0 for a free one") from None
    return sock


def is_loopback(host: str) -> bool:
    """Whether ``host`` reaches this machine only.

    Examples
    --------
    >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0")
    (True, True, False)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def start_server(nights: Sequence[tuple[Review, Recording | None]], *, host: str = LOOPBACK, port: int = 0,
                 token: str | None = None, sock: socket.socket | None = None) -> ReviewServer:
    """Serve ``nights`` (each a review and its recording) on ``host:port`` in a background thread.

    Returns once the server answers; the reviews are closed by :meth:`ReviewServer.stop`. ``sock``: the
    socket :func:`bind` made for ``host:port`` beforehand (so that a bad address is said before any file
    is written); None: bound here.

    Examples
    --------
    >>> review = Review.open("staged/", reviewer="ana")  # doctest: +SKIP
    >>> server = start_server([(review, open_recording_of(review))])  # doctest: +SKIP
    >>> print(server.url)  # doctest: +SKIP
    http://127.0.0.1:40321/?token=...
    >>> server.stop()  # doctest: +SKIP
    """
    import uvicorn

    token = token or new_token()
    try:  # the app reads each EDF+D's record time stamps: a bad one is one line, and the socket is let go
        app = review_app(nights, token)
    except BaseException:
        if sock is not None:
            sock.close()
        raise
    sock = sock if sock is not None else bind(host, port)
    if not is_loopback(host):  # (once it serves there: a host it cannot bind gets its own one line)
        logger.warning("serving on %s: anyone who can reach this machine and has the address with its token can "
                       "see and change this review", host)
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="isatsleepnet-review",
                              daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise IsatSleepNetError(f"the review server did not start on {host}:{sock.getsockname()[1]}")
        time.sleep(0.02)
    shown = f"[{host}]" if ":" in host else host
    return ReviewServer([review for review, _ in nights], f"http://{shown}:{sock.getsockname()[1]}/?token={token}",
                        server, thread)


def open_recording_of(review: Review) -> Recording:
    """The recording the review's night was staged from, found as its sidecar says from any folder
    (:meth:`~isatsleepnet.data.staged_sidecar.SidecarRecording.locate`, as ``prepare --dataset reviewed``
    finds it); one line when it is gone or is not the file staged."""
    from isatsleepnet.data.readers.formats import open_recording
    from isatsleepnet.data.staged_sidecar import SidecarRecording

    night = review.night
    source = night.source or SidecarRecording(  # a night made in code, not read: its recording as it is
        night.csv, str(night.recording.absolute()) if night.recording else None, sha1=night.recording_sha1)
    return open_recording(source.locate(night.csv))


def open_nights(staged: str | Path, *, reviewer: str, second_scorer: str | Path | None = None,
                stage_codes: str | None = None) -> list[tuple[Review, Recording]]:
    """The reviews (and recordings) of ``staged``: one NAME.hypnogram.csv, or every one in a folder.

    All or nothing: a night that cannot be opened (its recording gone or changed, its
    review open elsewhere) is one line, and the nights opened before it are let go.

    Examples
    --------
    >>> [review.night.name for review, _ in open_nights("staged/", reviewer="ana")]  # doctest: +SKIP
    ['SC4001E0-PSG', 'SC4011E0-PSG']
    """
    from isatsleepnet.errors import DataError
    from isatsleepnet.review.staged import STAGED_SUFFIX

    staged = Path(staged)
    tables = sorted(staged.glob("*" + STAGED_SUFFIX)) if staged.is_dir() else [staged]
    if not tables:
        raise DataError(staged, f"holds no staged recordings (NAME{STAGED_SUFFIX})")
    if second_scorer is not None and len(tables) > 1:
        raise SettingError("second_scorer", f"is one night's hypnogram, and {staged} holds {len(tables)} nights: "
                                            "name one of them")
    opened: list[tuple[Review, Recording]] = []
    try:
        for table in tables:
            review = Review.open(table, reviewer=reviewer, second_scorer=second_scorer, stage_codes=stage_codes)
            opened.append((review, None))  # type: ignore[arg-type] - its recording next, closed on failure
            opened[-1] = (review, open_recording_of(review))
    except BaseException:
        for review, _ in opened:
            review.close()
        raise
    return opened
