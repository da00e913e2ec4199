"""Parsing a host's text logs in worker processes.

The expensive part of a text log is reading and scanning it; only the few candidate lines become records.
Workers read, scan and parse whole files and send back those records with the file's report; the calling
process consumes them in artifact order and runs the detectors, so the result is the same as a serial run.
A file that yields more than ``RECORD_LIMIT`` records, or records holding more than ``RECORD_BYTES`` of raw
text, is parsed again by the caller, streaming, so memory stays bounded whatever a file holds (however many
records, however wide its lines).

A file that gives records is cited, so it is hashed (SHA-256). The pool can start hashing the logs before
the detection content is compiled (``prehash``), while a core would otherwise wait; files not yet begun
when parsing starts are hashed by their parse task, from its first record on as the parser reads the file
(``HashingTree``), and read a second time only when the parser did not read the whole file front to back.
"""

from __future__ import annotations

import multiprocessing
import pickle
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import cast

from exhunt.model.event import Record
from exhunt.model.evidence import Artifact
from exhunt.parsers.base import MatchNothing, Parser, ParseReport, Prefilter
from exhunt.parsers.hashing import HashingTree, file_sha256
from exhunt.parsers.prefilter import build_prefilter
from exhunt.sources.base import HostTree

RECORD_LIMIT = 20_000  # records a worker sends back for one file; beyond, the caller parses it itself
RECORD_BYTES = 2 << 20  # ... and raw text they may hold: wide lines (500 columns) make a record cost ~50x its line
AHEAD = 2  # files in flight per worker


@dataclass(frozen=True, slots=True)
class PrefilterSpec:
    """What the detectors want from one kind of log, as plain data that crosses to a worker."""

    mode: str  # "all": every record; "nothing": none (coverage only); "literals"
    literals: tuple[str, ...] = ()
    requirements: tuple[tuple[frozenset[str], ...], ...] = field(default_factory=tuple)

    def build(self) -> Prefilter | None:
        """The prefilter, built once per thread and spec: a host of thousands of hourly logs asks for the
        same few (one per kind of log) once per file."""
        if self.mode == "all":
            return None
        if self.mode == "nothing":
            return MatchNothing()
        cache: dict[PrefilterSpec, object] = _built.__dict__.setdefault("specs", {})
        built = cache.get(self, _MISSING)
        if built is _MISSING:
            built = build_prefilter(self.literals, requirements=self.requirements)
            if len(cache) >= _BUILT_LIMIT:
                cache.pop(next(iter(cache)))
            cache[self] = built
        assert built is not _MISSING
        return cast("Prefilter | None", built)


_MISSING = object()
_BUILT_LIMIT = 16
_built = threading.local()  # per thread, as the prefilters' Hyperscan scratch spaces must be


def parse_all(parser: Parser, tree: HostTree, artifact: Artifact, report: ParseReport,
              spec: PrefilterSpec, gate: Prefilter | None = None) -> Iterator[Record]:
    """Serial parsing, read errors turned into a failed report. ``gate``: a record gate (EVTX) to use
    instead of the spec's prefilter."""
    try:
        yield from parser.parse(tree, artifact, report, gate if gate is not None else spec.build())
    except OSError as exc:
        report.failed = True
        report.warn(f"cannot read: {exc}", code="unreadable")


def parse_in_worker(parser: Parser, tree: HostTree, artifact: Artifact,
                    spec: PrefilterSpec, hash_it: bool = True) -> tuple[list[Record] | None, ParseReport]:
    report = ParseReport(path=artifact.path)
    hashing = HashingTree(tree, artifact.path) if hash_it else None
    records: list[Record] = []
    held = 0
    for record in parse_all(parser, tree if hashing is None else hashing, artifact, report, spec):
        if hashing is not None and not records:
            hashing.start()  # the file will be cited: hash it from here (see HashingTree)
        records.append(record)
        held += len(record.raw)
        if len(records) > RECORD_LIMIT or held > RECORD_BYTES:
            return None, ParseReport(path=artifact.path)
    if hashing is not None and records and not report.failed:  # only a file with records can be cited
        report.sha256 = hashing.sha256(artifact.size) or file_sha256(tree, artifact.path)
    return records, report


class ParsePool:
    """Runs ``parse_in_worker`` for the text logs of one host, a few files ahead of the consumer."""

    def __init__(self, workers: int, tree: HostTree) -> None:
        self.workers = workers
        self.tree = tree
        self.executor: ProcessPoolExecutor | None = None
        self.futures: dict[int, Future[tuple[list[Record] | None, ParseReport]]] = {}
        self.hashes: dict[str, Future[str | None]] = {}
        self._hashing = False
        self._to_hash: list[str] = []
        self._lock = threading.Lock()
        if workers > 1 and _sendable(tree):
            context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods()
                                                  else "spawn")
            self.executor = ProcessPoolExecutor(max_workers=workers, mp_context=context)

    @property
    def active(self) -> bool:
        return self.executor is not None

    def prehash(self, paths: list[str]) -> None:
        """Start hashing these files, one file at a time in each worker but one, so that the caller keeps a
        core to compile the content on (see module doc)."""
        if self.executor is None:
            return
        with self._lock:
            self._hashing = True
            self._to_hash = [p for p in reversed(paths) if p not in self.hashes]
        for _ in range(max(1, self.workers - 1)):
            self._hash_next()

    def _hash_next(self, _done: object = None) -> None:
        with self._lock:
            if not self._hashing or not self._to_hash or self.executor is None:
                return
            path = self._to_hash.pop()
            future = self.executor.submit(file_sha256, self.tree, path)
            self.hashes[path] = future
        future.add_done_callback(self._hash_next)

    def _stop_prehash(self) -> None:
        """Parsing starts: no further file is hashed ahead; those being hashed will be waited for."""
        with self._lock:
            self._hashing = False
            self._to_hash = []

    def submit(self, index: int, parser: Parser, artifact: Artifact, spec: PrefilterSpec) -> None:
        if self._hashing:
            self._stop_prehash()
        if self.executor is not None and index not in self.futures and len(self.futures) < self.workers * AHEAD:
            self.futures[index] = self.executor.submit(parse_in_worker, parser, self.tree, artifact, spec,
                                                       artifact.path not in self.hashes)

    def take(self, index: int, path: str) -> tuple[list[Record] | None, ParseReport] | None:
        future = self.futures.pop(index, None)
        if future is None:
            return None
        records, report = future.result()
        if records is not None:  # None: the caller parses the file again and asks ``digest`` if need be
            hashed = self.hashes.pop(path, None)
            if hashed is not None and records and not report.failed:
                report.sha256 = hashed.result()
        return records, report

    def digest(self, path: str) -> str | None:
        """The SHA-256 of a file hashed ahead (waiting for it if need be), or None."""
        future = self.hashes.pop(path, None)
        return None if future is None else future.result()

    def close(self) -> None:
        self._stop_prehash()
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)


def _sendable(tree: HostTree) -> bool:
    try:
        pickle.dumps(tree)
    except (TypeError, AttributeError, pickle.PicklingError):
        return False
    return True
