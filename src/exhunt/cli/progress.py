"""Progress of a scan on stderr: hosts done / total, bytes done / total (known after the walk), an estimate.

On a terminal, a live bar; elsewhere (a log file, CI), one line per finished host when there are several; with
``--quiet``, nothing. Host names are evidence: shown escaped, never as markup.
"""

from __future__ import annotations

import threading
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
        self.paths = paths
        # the totals come from a walk of their own, in a thread, so the scan starts at once (the bar has no
        # total until the walk is done; a line printed before then says "?")
        self.hosts_total: int | None = None
        self.bytes_total: int | None = None
        self.per_host: dict[tuple[str, str], int] = {}
        self.walker = threading.Thread(target=self._walk, name="exhunt-progress-walk", daemon=True)
        self.hosts_done = 0
        self.finished: list[tuple[str, str]] = []
        self.pending = ""
        self.started = time.monotonic()
        self.bar: Progress | None = None
        self.task: TaskID | None = None

    def _walk(self) -> None:
        try:
            hosts, total, per_host = evidence_totals(self.paths)
        except Exception:  # progress must never stop a scan; the totals stay unknown ("?")
            return
        self.per_host = per_host
        self.hosts_total, self.bytes_total = hosts, total
        if self.bar is not None and self.task is not None:
            self.bar.update(self.task, total=total or None, description=self._label())

    def __enter__(self) -> ScanProgress:
        if self.live:
            self.bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(),
                                TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(),
                                console=self.err, transient=True)
            self.bar.__enter__()
            self.task = self.bar.add_task(self._label(), total=None)
        if self.live or len(self.paths) > 1:
            self.walker.start()
        # one path and no bar: no walk of its own (it would slow a single host's scan for nothing shown); the
        # lines of a folder of several hosts then say "?" for the totals
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.bar is not None:
            self.bar.__exit__(kind, exc, tb)

    def _label(self) -> str:
        return f"hosts {self.hosts_done}/{'?' if self.hosts_total is None else self.hosts_total}"

    def on_file(self, _path: str, size: int) -> None:
        if self.bar is not None and self.task is not None:
            self.bar.advance(self.task, size)

    @property
    def bytes_hosts_done(self) -> int:
        per_host = self.per_host
        return sum(per_host.get(key, 0) for key in self.finished)

    def on_host(self, result: HostResult) -> None:
        self.hosts_done += 1
        self.finished.append((result.evidence, result.host))
        if not self.live and self.walker.is_alive():
            self.walker.join()  # lines, unlike a bar, cannot be corrected later: wait once for the totals
        if self.bar is not None and self.task is not None:
            self.bar.update(self.task, completed=self.bytes_hosts_done, description=self._label())
        elif self.hosts_total is not None:
            if self.hosts_total > 1:
                self.err.print(self._line(result), highlight=False, soft_wrap=True)
        elif self.hosts_done == 1:
            self.pending = self._line(result)  # printed only if a second host follows
        else:
            for line in (self.pending, self._line(result)):
                if line:
                    self.err.print(line, highlight=False, soft_wrap=True)
            self.pending = ""

    def _line(self, result: HostResult) -> str:
        elapsed = time.monotonic() - self.started
        left = ""
        total = self.bytes_total
        if total is not None and self.bytes_hosts_done and total > self.bytes_hosts_done:
            rest = elapsed * (total - self.bytes_hosts_done) / self.bytes_hosts_done
            left = f", about {rest:.0f} s left"
        line = (f"host {self.hosts_done}/{'?' if self.hosts_total is None else self.hosts_total} done: "
                f"{markup_safe(result.host)} ({markup_safe(result.verdict.value)})")
        if total is None:
            return f"{line}; {elapsed:.0f} s"
        return f"{line}; {self.bytes_hosts_done / 1e6:.1f}/{total / 1e6:.1f} MB{left}"
