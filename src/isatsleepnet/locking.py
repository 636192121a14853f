"""One command at a time per output folder.

Two runs writing the same folder would delete each other's temporary files
or interleave their results. Each command that writes a folder holds an
advisory lock on ``FOLDER/.isatsleepnet.lock`` (``flock``): the kernel
releases it when the process exits, however it exits (kill -9 included), so a
stale lock never blocks the next run. A second command refuses at once and
says who holds the folder.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

from isatsleepnet.atomic import remove_stale_temporaries
from isatsleepnet.errors import IsatSleepNetError

LOCK_FILE = ".isatsleepnet.lock"


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text())
        return f"`isatsleepnet {info['command']}` (pid {info['pid']} on {info['host']}, since {info['since']})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another isatsleepnet command"


@contextlib.contextmanager
def folder_lock(folder: str | Path, command: str, *, clean: bool = False) -> Iterator[Path]:
    """Hold ``folder`` (created if needed) for ``command``; IsatSleepNetError if another process holds it.

    ``clean``: once held, delete the temporary files a killed run of this folder left
    (:func:`clear_stale_temporaries`), so that a rerun ends with none; only the holder may,
    as a live writer's temporary files look the same.

    Examples
    --------
    >>> import tempfile
    >>> with folder_lock(tempfile.mkdtemp(), "prepare") as lock:
    ...     lock.name
    '.isatsleepnet.lock'
    """
    import fcntl

    folder = Path(folder)
    path = folder / LOCK_FILE
    if _secondary_rank():  # a process that DDP started for a run whose first process holds the lock
        yield path
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise IsatSleepNetError(f"{folder}: in use by {_holder(path)}; wait for it to finish, "
                                "or write to another folder") from None
    try:
        info = {"command": command, "pid": os.getpid(), "host": socket.gethostname(),
                "since": dt.datetime.now().isoformat(timespec="seconds")}
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(info).encode())
        if clean:
            clear_stale_temporaries(folder)
        yield path
    finally:
        with contextlib.suppress(OSError):
            path.unlink()  # while still held: a waiting process then finds no lock to inherit
        os.close(fd)


def clear_stale_temporaries(folder: str | Path) -> int:
    """Delete the ``.tmp-*`` entries of :mod:`isatsleepnet.atomic` in ``folder`` and its subfolders; how many.

    A subfolder with a lock file of its own is another command's output folder (held now, or
    left by a killed run): its temporary files are that command's to clear, and it is not entered.
    Symbolic links are not followed. Call it only while holding ``folder``.
    """
    folder = Path(folder)
    removed = remove_stale_temporaries(folder)
    for sub in sorted(folder.iterdir()) if folder.is_dir() else []:
        if sub.is_dir() and not sub.is_symlink() and not (sub / LOCK_FILE).exists():
            removed += clear_stale_temporaries(sub)
    return removed


def _secondary_rank() -> bool:
    """Whether this process is a non-first rank of a multi-process (DDP) run, per Lightning's environment."""
    return any(os.environ.get(name, "0") not in ("", "0") for name in ("LOCAL_RANK", "NODE_RANK"))


def ensure_writable_folder(folder: str | Path, what: str = "output folder") -> Path:
    """Create ``folder``; a one-line error when it is a file, cannot be created or is not writable."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise IsatSleepNetError(f"{folder}: the {what} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise IsatSleepNetError(f"{folder}: cannot create the {what} ({exc.strerror or exc})") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise IsatSleepNetError(f"{folder}: the {what} is not writable")
    return folder
