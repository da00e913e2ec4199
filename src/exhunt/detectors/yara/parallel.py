"""Scan many files of one host on several cores: one process per core, one YARA-X scanner per process.

Only plain data crosses the process boundary: once per worker the serialized rules and the pickled host
tree (a plain folder view: root path and names; trees that hold open handles, like zip archives, cannot be
pickled and are scanned in the calling process instead), then host-relative paths in and ``ScanResult``
values out. Each worker opens the files itself through the tree, so the tree's path checks run in
parallel too.
"""

from __future__ import annotations

import os
import pickle
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor

from exhunt.detectors.yara.scanner import DEFAULT_WINDOW, FileScanner, ScanResult
from exhunt.detectors.yara.sweep import hash_file
from exhunt.sources.base import HostTree
from exhunt.workers import bind_to_parent

_WORKER: tuple[FileScanner, HostTree] | None = None


def _init(parent: int, rules_data: bytes, tree_blob: bytes, timeout: int, window: int, hash_all: bool) -> None:
    global _WORKER
    bind_to_parent(parent)
    _WORKER = (FileScanner(rules_data, timeout=timeout, window=window, hash_all=hash_all),
               pickle.loads(tree_blob))


_PER_THREAD = threading.local()


def thread_scanner(data: bytes, timeout: int, window: int, hash_all: bool) -> FileScanner:
    """One scanner per thread, kept by the thread: a yara_x Scanner is unsendable, and a Dask worker's
    profiler holds task frames and drops them on its event-loop thread, where a scanner last referenced by
    such a frame would be dropped ("Scanner is unsendable, but is being dropped on another thread")."""
    key = (data, timeout, window, hash_all)
    kept: tuple[tuple[bytes, int, int, bool], FileScanner] | None = getattr(_PER_THREAD, "scanner", None)
    if kept is None or kept[0] != key:
        kept = (key, FileScanner(data, timeout=timeout, window=window, hash_all=hash_all))
        _PER_THREAD.scanner = kept
    return kept[1]


def release_thread_scanner() -> None:
    """Drop this thread's scanner, here (a thread that ends may leave it to be dropped elsewhere)."""
    _PER_THREAD.scanner = None


def scan_one(scanner: FileScanner, tree: HostTree, path: str, size: int | None = None) -> ScanResult:
    """Scan the host file ``path`` (host-relative) through ``tree``; hash it when a rule matched."""
    try:
        with tree.open(path) as handle:
            result = scanner.scan_handle(handle, path, size)
        if result.hits and result.hashes is None:
            result.hashes = hash_file(tree, path)
        return result
    except OSError as exc:
        return ScanResult(error=f"cannot read: {exc}", code="unreadable")


def _job(job: tuple[str, int]) -> ScanResult:
    assert _WORKER is not None, "worker not initialised"
    return scan_one(_WORKER[0], _WORKER[1], job[0], job[1])


def picklable(tree: HostTree) -> bytes | None:
    try:
        return pickle.dumps(tree)
    except (TypeError, AttributeError, pickle.PicklingError):
        return None


class ScanPool:
    """One process pool for a whole sweep, fed batch by batch: at most two batches are in flight (the one
    whose results are being read and the next, submitted while the caller selects the one after), so what
    is held grows with the batch size, never with the number of files of the host."""

    def __init__(self, rules_data: bytes, tree_blob: bytes, workers: int, timeout: int = 60,
                 window: int = DEFAULT_WINDOW, hash_all: bool = False) -> None:
        self.workers = workers
        self._pool = ProcessPoolExecutor(max_workers=workers, initializer=_init,
                                         initargs=(os.getpid(), rules_data, tree_blob, timeout, window, hash_all))

    def submit(self, jobs: Sequence[tuple[str, int]]) -> Iterator[ScanResult]:
        """Start scanning ``jobs`` (host-relative path, listed size) now; their results, in order."""
        chunk = max(1, min(256, len(jobs) // (self.workers * 8) or 1))
        return self._pool.map(_job, jobs, chunksize=chunk)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

