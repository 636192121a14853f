"""Worker processes that never outlive the command that started them.

A pool worker whose parent is killed (kill -9, out of memory) would otherwise
go on with its recording, or wait forever for work. Each worker asks the
kernel to kill it when its parent dies (Linux ``PR_SET_PDEATHSIG``) and, where
that is not available, watches its parent's pid.

Ctrl+C is the parent's: a terminal sends SIGINT to every process of the command,
and each idle worker would print its own KeyboardInterrupt traceback. Workers of
:func:`worker_pool` ignore it; the parent stops them and says it was interrupted once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor


def die_with_parent() -> None:
    """Pool initializer: end this process as soon as the process that started it is gone."""
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            pr_set_pdeathsig = 1
            libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover - exotic libc
            pass
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="die-with-parent", daemon=True).start()


def quiet_worker() -> None:
    """Pool initializer: die with the parent (:func:`die_with_parent`) and leave Ctrl+C to the parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent()


@contextlib.contextmanager
def worker_pool(workers: int) -> Iterator[ProcessPoolExecutor]:
    """A process pool of :func:`quiet_worker` workers, shut down when the block ends.

    On Ctrl+C (or any other error) in the block the workers are ended at once rather than
    waited for; what they were writing is temporary files, which the next run clears.
    """
    pool = ProcessPoolExecutor(max_workers=workers, initializer=quiet_worker)
    try:
        yield pool
    except BaseException:
        processes = list((getattr(pool, "_processes", None) or {}).values())  # no public handle before 3.14
        for process in processes:
            with contextlib.suppress(OSError, ValueError):
                process.terminate()
        for process in processes:
            with contextlib.suppress(OSError, ValueError, AssertionError):
                process.join(5.0)
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
