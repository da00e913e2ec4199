"""The C allocator's settings in a Dask worker process.

Dask's nanny starts each worker with ``MALLOC_TRIM_THRESHOLD_=65536`` (``distributed.nanny.pre-spawn-environ``),
so that freed memory goes back to the system soon. Setting it also turns off glibc's dynamic mmap threshold:
every buffer over 128 KiB (a log file read whole, a read block) is then mapped and unmapped by the kernel on
each use, and the heap is trimmed after nearly every free. exhunt's assessment of a host ran 1.6-1.9x slower in
such a worker than in a process with the defaults (measured on the bench fleet: same host, same code).

While exhunt's content is loaded on a worker (``ContentPreload``), the thresholds are raised to values close to
glibc's own dynamic behaviour (buffers up to 32 MiB, its maximum on 64-bit, come from the heap; the heap is
trimmed when 64 MiB are free at its top); when the plugin is removed the trim threshold the worker was started
with is put back. Only on Linux with glibc, only when the environment variable is set (a worker started
otherwise keeps its defaults); anything unexpected leaves the settings as they are.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable

M_TRIM_THRESHOLD = -1  # glibc <malloc.h>
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20  # glibc's upper bound for it on 64-bit systems
TRIM_THRESHOLD = 64 << 20
_VARIABLE = "MALLOC_TRIM_THRESHOLD_"


def _mallopt() -> Callable[[int, int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        mallopt: Callable[[int, int], int] = ctypes.CDLL("libc.so.6").mallopt
        return mallopt
    except (OSError, AttributeError):  # musl or another C library: not glibc's knobs
        return None


def relax() -> bool:
    """Raise the thresholds when the worker was started with a small trim threshold; True when done."""
    mallopt = _mallopt()
    if mallopt is None or not os.environ.get(_VARIABLE, "").isdigit():
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1)


def restore() -> None:
    """Put back the trim threshold the worker was started with (the mmap threshold stays where ``relax`` put it:
    glibc cannot be given its dynamic behaviour back)."""
    mallopt = _mallopt()
    value = os.environ.get(_VARIABLE, "")
    if mallopt is not None and value.isdigit():
        mallopt(M_TRIM_THRESHOLD, int(value))
