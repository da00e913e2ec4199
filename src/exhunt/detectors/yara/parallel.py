"""Scan many plain files on several cores: one process per core, one YARA-X scanner per process.

Only plain data crosses the process boundary: the serialized rules once per worker, then (path, facts)
jobs in and ``ScanResult`` values out.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from exhunt.detectors.yara.scanner import DEFAULT_WINDOW, FileScanner, ScanResult
from exhunt.detectors.yara.sweep import FileFacts

_WORKER: FileScanner | None = None


def _init(rules_data: bytes, timeout: int, window: int) -> None:
    global _WORKER
    _WORKER = FileScanner(rules_data, timeout=timeout, window=window)


def scan_one(scanner: FileScanner, path: Path, facts: FileFacts) -> ScanResult:
    try:
        if path.stat().st_size <= scanner.window:
            return scanner.scan_local(path, facts)
        with path.open("rb") as handle:
            return scanner.scan_stream(handle, facts)
    except OSError as exc:
        return ScanResult(error=f"cannot read: {exc}", code="unreadable")


def _job(job: tuple[str, FileFacts]) -> ScanResult:
    assert _WORKER is not None, "worker not initialised"
    return scan_one(_WORKER, Path(job[0]), job[1])


def scan_files(rules_data: bytes, jobs: Sequence[tuple[str, FileFacts]], workers: int,
               timeout: int = 60, window: int = DEFAULT_WINDOW) -> Iterator[ScanResult]:
    """Results in the order of ``jobs``. ``workers`` <= 1 scans in this process."""
    if workers <= 1 or len(jobs) < 2:
        scanner = FileScanner(rules_data, timeout=timeout, window=window)
        for path, facts in jobs:
            yield scan_one(scanner, Path(path), facts)
        return
    chunk = max(1, min(256, len(jobs) // (workers * 8) or 1))
    with ProcessPoolExecutor(max_workers=workers, initializer=_init,
                             initargs=(rules_data, timeout, window)) as pool:
        yield from pool.map(_job, jobs, chunksize=chunk)
