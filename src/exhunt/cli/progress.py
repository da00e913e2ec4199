"""Progress of a scan on stderr: hosts done / total, bytes done / total (known after the walk), an estimate.

On a terminal, a live bar; elsewhere (a log file, CI), one line per finished host when there are several; with
``--quiet``, nothing. Host names are evidence: shown escaped, never as markup.
"""

from __future__ import annotations

import time
from pathlib import Path
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from exhunt.model.result import HostResult
from exhunt.report.safetext import markup_safe
from exhunt.sources.base import EvidenceError
from exhunt.sources.registry import open_evidence


def evidence_totals(paths: list[Path]) -> tuple[int, int, dict[tuple[str, str], int]]:
    """(hosts, bytes, bytes per (evidence, host)) of the evidence, from one walk of each tree."""
    hosts = 0
    total = 0
    per_host: dict[tuple[str, str], int] = {}
    for path in paths:
        try:
            trees = open_evidence(path)
        except (EvidenceError, OSError):
            continue  # the scan itself reports it
        for tree in trees:
            size = sum(entry.size for entry in tree.walk())
            per_host[(tree.origin, tree.name)] = size
            hosts += 1
            total += size
            tree.close()
    return hosts, total, per_host


class ScanProgress:
    """Context manager; ``on_file`` and ``on_host`` are the callbacks the fleet runner takes."""

    def __init__(self, err: Console, paths: list[Path], live: bool) -> None:
        self.err = err
        self.live = live
        self.hosts_total, self.bytes_total, self.per_host = evidence_totals(paths)
        self.hosts_done = 0
        self.bytes_hosts_done = 0
        self.started = time.monotonic()
        self.bar: Progress | None = None
        self.task: TaskID | None = None

    def __enter__(self) -> ScanProgress:
        if self.live:
            self.bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(),
                                TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(),
                                console=self.err, transient=True)
            self.bar.__enter__()
            self.task = self.bar.add_task(self._label(), total=self.bytes_total or None)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.bar is not None:
            self.bar.__exit__(kind, exc, tb)

    def _label(self) -> str:
        return f"hosts {self.hosts_done}/{self.hosts_total}"

    def on_file(self, _path: str, size: int) -> None:
        if self.bar is not None and self.task is not None:
            self.bar.advance(self.task, size)

    def on_host(self, result: HostResult) -> None:
        self.hosts_done += 1
        self.bytes_hosts_done += self.per_host.get((result.evidence, result.host), 0)
        if self.bar is not None and self.task is not None:
            self.bar.update(self.task, completed=self.bytes_hosts_done, description=self._label())
        elif self.hosts_total > 1:
            self.err.print(self._line(result), highlight=False, soft_wrap=True)

    def _line(self, result: HostResult) -> str:
        elapsed = time.monotonic() - self.started
        left = ""
        if self.bytes_hosts_done and self.bytes_total > self.bytes_hosts_done:
            rest = elapsed * (self.bytes_total - self.bytes_hosts_done) / self.bytes_hosts_done
            left = f", about {rest:.0f} s left"
        return (f"host {self.hosts_done}/{self.hosts_total} done: {markup_safe(result.host)} "
                f"({markup_safe(result.verdict.value)}); {self.bytes_hosts_done / 1e6:.1f}/"
                f"{self.bytes_total / 1e6:.1f} MB{left}")
