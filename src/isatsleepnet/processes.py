"""Worker processes that never outlive the command that started them.

A pool worker whose parent is killed (kill -9, out of memory) would otherwise
go on with its recording, or wait forever for work. Each worker asks the
kernel to kill it when its parent dies (Linux ``PR_SET_PDEATHSIG``) and, where
that is not available, watches its parent's pid.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time


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
