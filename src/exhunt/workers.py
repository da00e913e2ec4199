"""Worker processes bound to the life of the process that started them.

A pool's workers are forked children; when their parent dies (killed on Ctrl-C by a fleet pool, or out of
memory), nothing else would stop them: a forked child does not inherit ``PR_SET_PDEATHSIG``. Every pool
exhunt starts (a fleet's hosts, a host's log parsing, EVTX ranges, the file sweep) gives its workers
``bind_to_parent`` first, so that a fleet worker running a large host's own pools takes them with it.
"""

from __future__ import annotations

import os
import signal
import threading
import time


def bind_to_parent(parent: int) -> None:
    """Die with ``parent`` (its pid, taken before the fork): on Linux, a signal the kernel sends when the
    parent dies; elsewhere, a thread that watches the parent's pid."""
    bound = False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        bound = libc.prctl(1, signal.SIGKILL, 0, 0, 0) == 0  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent died before the worker was bound to it
        os._exit(1)
    if not bound:
        def watch() -> None:
            while os.getppid() == parent:
                time.sleep(1.0)
            os._exit(1)

        threading.Thread(target=watch, daemon=True).start()
