"""Parsing a host's text logs in worker processes.

The expensive part of a text log is reading and scanning it; only the few candidate lines become records.
Workers read, scan and parse whole files and send back those records with the file's report; the calling
process consumes them in artifact order and runs the detectors, so the result is the same as a serial run.
A file that yields more than ``RECORD_LIMIT`` records, or records holding more than ``RECORD_BYTES`` of raw
text, is parsed again by the caller, streaming, so memory stays bounded whatever a file holds (however many
records, however wide its lines).

A file that gives records is cited, so it is hashed (SHA-256): by its parse task, from its first record on
as the parser reads the file (``HashingTree``), and read a second time only when the parser did not read
the whole file front to back. (Hashing every log ahead, while the content compiled, was dropped: the
workers send back only the records a detector may use, so nearly no log is cited.)
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import multiprocessing
import os
import pickle
import shutil
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, cast

from exhunt.content.cache import note_problem, take_problems
from exhunt.model.event import Record
from exhunt.model.evidence import Artifact, ArtifactKind
from exhunt.model.timefmt import canonical
from exhunt.parsers.base import MatchNothing, Parser, ParseReport, Prefilter, RecordGate
from exhunt.parsers.columns import ColumnGate, ScopedRequirement
from exhunt.parsers.evtx import (
    CHUNK,
    FILE_HEADER,
    MAX_CONSECUTIVE_ERRORS,
    EvtxParser,
    RangeRead,
    chunk_error_in_file,
    damage_message,
    finish,
)
from exhunt.parsers.hashing import HashingTree, file_sha256
from exhunt.parsers.prefilter import BlockPrefilter, build_prefilter
from exhunt.sources.base import HostTree
from exhunt.workers import bind_to_parent

RECORD_LIMIT = 20_000  # records a worker sends back for one file; beyond, the caller parses it itself
RECORD_BYTES = 2 << 20  # ... and raw text they may hold: wide lines (500 columns) make a record cost ~50x its line
AHEAD = 2  # batches in flight per worker
BATCH_FILES = 64  # files in one worker task at most
BATCH_BYTES = 8 << 20  # file bytes in one worker task: more only when one file is bigger
MIN_BATCH_BYTES = 1 << 20  # ... and at least this much (small hosts: few tasks)
SPILL_CHUNK = RECORD_BYTES  # raw text per chunk of spilled records (what the caller holds of them at once)
SPILL_BYTES = 256 << 20  # raw text one file may spill; beyond, the caller parses the file itself, streaming


@dataclass(frozen=True, slots=True)
class PrefilterSpec:
    """What the detectors want from one kind of log, as plain data that crosses to a worker."""

    mode: str  # "all": every record; "nothing": none (coverage only); "literals"
    literals: tuple[str, ...] = ()
    requirements: tuple[tuple[frozenset[str], ...], ...] = field(default_factory=tuple)
    # the same requirements, each literal group scoped to the fields it can be in (``parsers/columns.py``):
    # ``#Fields`` logs (IIS, Exchange's CSV logs) judge a candidate line on its columns before making a record
    scoped: tuple[ScopedRequirement, ...] = field(default_factory=tuple)
    # the hash, worked out once: a host's thousands of logs look their spec up once each, and hashing its
    # nested terms again cost ~70 us a file; never pickled (a string's hash differs between processes)
    _hash: int | None = field(default=None, init=False, repr=False, compare=False)

    def __hash__(self) -> int:
        found = self._hash
        if found is None:
            found = hash((self.mode, self.literals, self.requirements, self.scoped))
            object.__setattr__(self, "_hash", found)
        return found

    def __reduce__(self) -> tuple[type[PrefilterSpec], tuple[object, ...]]:
        return (PrefilterSpec, (self.mode, self.literals, self.requirements, self.scoped))

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
            built = self._scoped()
            if built is None:
                built = build_prefilter(self.literals, requirements=self.requirements)
            if len(cache) >= _BUILT_LIMIT:
                cache.pop(next(iter(cache)))
            cache[self] = built
        assert built is not _MISSING
        return cast("Prefilter | None", built)

    def _scoped(self) -> Prefilter | None:
        """With scoped requirements: the block scan, whose candidate lines the column gate then judges on
        their columns; None when there is no such gate."""
        columns = ColumnGate.build(self.scoped) if self.scoped else None
        if columns is None:
            return None
        built = build_prefilter(self.literals, requirements=self.requirements)
        return built.with_columns(columns) if isinstance(built, BlockPrefilter) else None

    def adopt(self, built: bytes) -> None:
        """Take this spec's prefilter as built (and pickled) by the caller, unless this thread has one."""
        cache: dict[PrefilterSpec, object] = _built.__dict__.setdefault("specs", {})
        if self in cache:
            return
        if len(cache) >= _BUILT_LIMIT:
            cache.pop(next(iter(cache)))
        cache[self] = pickle.loads(built)  # made by the calling process for this pool (ParsePool.plan)


_MISSING = object()
# record filters of the text logs planned in this process, by token (``ParsePool.plan``): forked workers find
# them here; a process not forked from the planner finds none and sends back every record
_filters: dict[int, dict[ArtifactKind, Callable[[Record], bool]]] = {}
_BUILT_LIMIT = 16
_built = threading.local()  # per thread, as the prefilters' Hyperscan scratch spaces must be


def parse_all(parser: Parser, tree: HostTree, artifact: Artifact, report: ParseReport,
              spec: PrefilterSpec, gate: Prefilter | None = None, skip: int = 0) -> Iterator[Record]:
    """Serial parsing, read errors turned into a failed report. ``gate``: a record gate (EVTX) to use
    instead of the spec's prefilter; ``skip`` (EVTX): records already delivered from worker ranges."""
    prefilter = gate if gate is not None else spec.build()
    try:
        if skip:
            assert isinstance(parser, EvtxParser)
            yield from parser.parse(tree, artifact, report, prefilter, skip=skip)
        else:
            yield from parser.parse(tree, artifact, report, prefilter)
    except OSError as exc:
        report.unreadable(exc)


def parse_in_worker(parser: Parser, tree: HostTree, artifact: Artifact,
                    spec: PrefilterSpec, hash_it: bool = True, spill_dir: str | None = None,
                    budget: int | None = None, built: Prefilter | None = None,
                    keep: Callable[[Record], bool] | None = None) -> tuple[Records | None, ParseReport]:
    """One file's candidate records and report. Records past ``budget`` bytes of raw text (or past
    ``RECORD_LIMIT`` records) are written to a file in ``spill_dir`` (see ``Spilled``) when one is given, up
    to ``SPILL_BYTES``; without one, or past that, None: the caller parses the file itself, streaming.
    ``built``: ``spec.build()`` when the caller has it at hand (a batch asks once per spec, not per file).
    ``keep``: whether a record may be of use to a detector (``Interest.record_filter``); the others are
    counted by the parser as read but not sent back, and a file that sends none is not hashed (not cited)."""
    budget = RECORD_BYTES if budget is None else budget
    report = ParseReport(path=artifact.path)
    hashing = HashingTree(tree, artifact.path) if hash_it else None
    records: list[Record] = []
    held = 0
    spill: _SpillWriter | None = None
    gave = False
    for record in parse_all(parser, tree if hashing is None else hashing, artifact, report, spec, built):
        if keep is not None and not keep(record):
            continue
        if hashing is not None and not gave:
            hashing.start()  # the file will be cited: hash it from here (see HashingTree)
        gave = True
        records.append(record)
        held += len(record.raw)
        if spill is None and (len(records) > RECORD_LIMIT or held > budget):
            if spill_dir is None:
                return None, ParseReport(path=artifact.path)
            spill = _SpillWriter(spill_dir)
        if spill is not None and (len(records) > RECORD_LIMIT or held > SPILL_CHUNK):
            if not spill.write(records):
                return None, ParseReport(path=artifact.path)
            records, held = [], 0
    if spill is not None and not spill.finish(records):
        return None, ParseReport(path=artifact.path)
    if hashing is not None and gave and not report.failed:  # only a file with records can be cited
        report.sha256 = hashing.sha256(artifact.size) or file_sha256(tree, artifact.path)
    return (records if spill is None else Spilled(spill.path)), report


class Spilled:
    """A file's records that a worker wrote to a temporary file rather than hold them (a big log where many
    lines pass the literal gate): pickled chunks of at most ``SPILL_CHUNK`` bytes of raw text, read back in
    order, one chunk at a time, and removed once read. The file lies in the pool's private temporary folder
    (removed when the pool closes, whatever happened) and holds only what the worker wrote: records, as the
    pipe from a worker would carry them."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __iter__(self) -> Iterator[Record]:
        try:
            with open(self.path, "rb") as handle:
                while True:
                    try:
                        chunk: Packed = pickle.load(handle)
                    except EOFError:
                        break
                    yield from unpack(chunk)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(self.path)


Records = list[Record] | Spilled

# Records cross from a worker as plain tuples, their field names shared by every record of a header: pickling
# a Record (a slots dataclass) and its fields dict costs about twice as much, on both sides, and a host where
# one line in ten passes the literal gate ships hundreds of thousands of them.
Packed = list[tuple[Any, ...]]


def pack(records: list[Record]) -> Packed:
    names: dict[tuple[str, ...], tuple[str, ...]] = {}
    packed: Packed = []
    for r in records:
        keys = tuple(r.fields)
        keys = names.setdefault(keys, keys)  # one object per distinct header: pickled once
        packed.append((r.kind, r.path, keys, tuple(r.fields.values()), r.raw, r.line, r.record, r.offset,
                       r.timestamp, r.attrs, r.matched))
    return packed


def unpack(packed: Packed) -> list[Record]:
    return [Record(kind, path, dict(zip(keys, values, strict=True)), raw, line, record, offset, stamp, attrs, matched)
            for kind, path, keys, values, raw, line, record, offset, stamp, attrs, matched in packed]


class PackedRecords:
    """A file's records as they cross from a worker (``pack``)."""

    def __init__(self, records: list[Record]) -> None:
        self.packed = pack(records)


class _SpillWriter:
    def __init__(self, directory: str) -> None:
        handle, self.path = tempfile.mkstemp(dir=directory, suffix=".records")
        self.handle = os.fdopen(handle, "wb")
        self.written = 0

    def write(self, records: list[Record]) -> bool:
        """False (and the file removed) once the file would pass ``SPILL_BYTES``: then the caller streams."""
        self.written += sum(len(record.raw) for record in records)
        if self.written > SPILL_BYTES:
            self.handle.close()
            with contextlib.suppress(OSError):
                os.unlink(self.path)
            return False
        pickle.dump(pack(records), self.handle, protocol=pickle.HIGHEST_PROTOCOL)
        return True

    def finish(self, records: list[Record]) -> bool:
        if records and not self.write(records):
            return False
        self.handle.close()
        return True


Work = tuple[int, Parser, Artifact, PrefilterSpec]  # (plan position, parser, file, what is wanted)
Result = tuple[Records | None, ParseReport]
Shipped = tuple[PackedRecords | Spilled | None, ParseReport]


def parse_batch_in_worker(tree: HostTree, batch: list[tuple[Parser, Artifact, PrefilterSpec]],
                          spill_dir: str | None = None, prebuilt: dict[PrefilterSpec, bytes] | None = None,
                          token: int = 0) -> list[Shipped | None]:
    """Several files in one task: a host of thousands of small hourly logs would otherwise pay a task's
    round trip (pickling, two pipe writes, a wake-up of the consumer) per file. The records a batch holds
    in memory are bounded as one file's are (``RECORD_BYTES``); past that, they are spilled (see
    ``Spilled``), or without a spill folder the files left are not parsed here (None: the caller parses them
    itself, streaming). ``token``: the record filters published for this host's plan (``ParsePool.plan``),
    found here when this worker was forked after they were (else every record is sent back)."""
    for spec, serialised in (prebuilt or {}).items():
        spec.adopt(serialised)
    keeps = _filters.get(token, {})
    results: list[Shipped | None] = []
    held = 0
    built: dict[int, object] = {}  # the prefilter of each spec of the batch (one object per spec once unpickled)
    for parser, artifact, spec in batch:
        if held > RECORD_BYTES and spill_dir is None:
            results.append(None)
            continue
        prefilter = built.get(id(spec), _MISSING)
        if prefilter is _MISSING:
            prefilter = built[id(spec)] = spec.build()
        records, report = parse_in_worker(parser, tree, artifact, spec, True, spill_dir,
                                          max(0, RECORD_BYTES - held), cast("Prefilter | None", prefilter),
                                          keeps.get(artifact.kind))
        if isinstance(records, list):
            held += sum(len(record.raw) for record in records)
            results.append((PackedRecords(records), report))
        else:
            results.append((records, report))
    return results


class ParsePool:
    """Runs ``parse_in_worker`` for the text logs of one host in batches of consecutive files, a few
    batches ahead of the consumer, which takes the results in plan order."""

    def __init__(self, workers: int, tree: HostTree) -> None:
        self.workers = workers
        self.tree = tree
        self.executor: ProcessPoolExecutor | None = None
        self._work: deque[Work] = deque()  # planned, not yet sent
        self._sent: deque[tuple[list[int], Future[list[Shipped | None]]]] = deque()
        self._batch_of: dict[int, Future[list[Shipped | None]]] = {}
        self._results: dict[int, Shipped | None] = {}
        self._batch_bytes = BATCH_BYTES
        self._spill_dir: str | None = None
        self._prebuilt: dict[PrefilterSpec, bytes] = {}  # pickled prefilters (their databases serialised)
        self._token = 0  # the record filters this pool's workers find in ``_filters`` (0: none)
        if workers > 1 and _sendable(tree):
            context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods()
                                                  else "spawn")
            self.executor = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=bind_to_parent,
                                                initargs=(os.getpid(),))
            try:  # private (0700), removed on close
                self._spill_dir = tempfile.mkdtemp(prefix="exhunt-records-")
            except OSError:  # no temporary folder: a file with many records is parsed by the caller
                self._spill_dir = None

    @property
    def active(self) -> bool:
        return self.executor is not None

    @property
    def filters(self) -> bool:
        """Whether the workers apply the record filters given to ``plan`` (they find them when forked)."""
        return self.executor is not None and "fork" in multiprocessing.get_all_start_methods()

    def plan(self, work: list[Work], keep: dict[ArtifactKind, Callable[[Record], bool]] | None = None) -> None:
        """The files the workers are to parse, in the order the consumer will ``take`` them. Batches are cut
        so that each worker gets several (the last ones small, so that no worker is left with a big tail).

        ``keep``: per kind of log, whether a parsed record may be of use to a detector; the workers send back
        only those. The functions hold the compiled content and the detectors' state (not sendable): they
        are published in this module before the first task is submitted, which is when the executor forks
        its workers; without ``fork``, nothing is filtered."""
        if self.executor is None or not work:
            return
        if keep and self.filters:
            self._token = next(_tokens)
            _filters[self._token] = dict(keep)
        for spec in {spec for _, _, _, spec in work}:  # built once here, loaded by each worker (not compiled)
            try:
                self._prebuilt[spec] = pickle.dumps(spec.build(), protocol=pickle.HIGHEST_PROTOCOL)
            except Exception:  # not sendable: each worker builds its own, as it would anyway
                self._prebuilt.pop(spec, None)
        self._work.extend(work)
        total = sum(artifact.size for _, _, artifact, _ in work)
        self._batch_bytes = max(MIN_BATCH_BYTES, min(BATCH_BYTES, total // (self.workers * 8) or 1))
        self._top_up()

    def _top_up(self) -> None:
        while self.executor is not None and self._work and len(self._sent) < self.workers * AHEAD:
            positions: list[int] = []
            batch: list[tuple[Parser, Artifact, PrefilterSpec]] = []
            size = 0
            while self._work and len(batch) < BATCH_FILES and (not batch or size < self._batch_bytes):
                position, parser, artifact, spec = self._work.popleft()
                positions.append(position)
                batch.append((parser, artifact, spec))
                size += artifact.size
            try:
                prebuilt = {spec: self._prebuilt[spec] for _, _, spec in batch if spec in self._prebuilt}
                future = self.executor.submit(parse_batch_in_worker, self.tree, batch, self._spill_dir, prebuilt,
                                              self._token)
            except Exception:  # a broken pool (a worker died): the rest is parsed by the caller
                self.executor = None
                self._work.clear()
                return
            self._sent.append((positions, future))
            for position in positions:
                self._batch_of[position] = future

    def _collect(self) -> None:
        """Waits for the oldest batch sent and files its results."""
        positions, future = self._sent.popleft()
        try:
            results: list[Shipped | None] = future.result()
        except Exception:  # a worker's fault: those files are parsed by the caller, where it is contained
            results = [None] * len(positions)
        for position, result in zip(positions, results, strict=True):
            self._batch_of.pop(position, None)
            self._results[position] = result
        self._top_up()

    def take(self, index: int) -> Result | None:
        """The result for plan position ``index``; None when the caller is to parse the file itself."""
        while index in self._batch_of:
            self._collect()
        done = self._results.pop(index, None)
        if done is None:
            return None
        shipped, report = done
        records: Records | None = unpack(shipped.packed) if isinstance(shipped, PackedRecords) else shipped
        return records, report

    def close(self) -> None:
        self._work.clear()
        _filters.pop(self._token, None)
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)
        if self._spill_dir is not None:
            shutil.rmtree(self._spill_dir, ignore_errors=True)
            self._spill_dir = None


def _sendable(tree: HostTree) -> bool:
    try:
        pickle.dumps(tree)
    except (TypeError, AttributeError, pickle.PicklingError):
        return False
    return True


# --- EVTX on every core -------------------------------------------------------------------------------------
#
# An EVTX file is a 4 KiB header and independent 64 KiB chunks: workers read ranges of ``RANGE_CHUNKS``
# chunks (each through a copy of the header) and send back the records their record gate lets through; the
# caller consumes the ranges in file order, so the detectors see exactly what a serial run gives them. The
# gate holds the compiled content (Hyperscan databases, rule closures) and cannot be pickled: it is
# published in this module before the EVTX workers are forked, and the workers find it there (without
# ``fork``, EVTX is read by the caller as before). Damaged data the reader skips (a bad chunk or record)
# comes back as such (``RangeRead.damage``) and the caller words its warnings as the serial read does, naming
# the last good record before it even when that lies in an earlier range. A range that says anything else
# (a reader panic, an odd time, a file that is no EVTX, errors enough to give up) is not used: the caller
# reads the file itself from there on, through the serial parser, which accounts for the ranges already
# delivered without delivering their records again.

RANGE_CHUNKS = 32  # 2 MiB of EVTX per task: bounds what a task holds (its records) whatever the file size
RANGE_AHEAD = 4  # range tasks in flight per worker
RANGE_BYTES = 64 << 20  # raw JSON a range may send back; beyond, the caller reads the file itself
# a file this large that gives records (so will be cited) is hashed by a worker while its ranges are read,
# rather than by the caller after its last range (a serial tail: ~2 s for 1 GiB)
HASH_IN_WORKER = 4 * RANGE_CHUNKS * CHUNK

_published: dict[int, RecordGate | None] = {}
_tokens = itertools.count(1)


@dataclass(slots=True)
class RangeResult:
    records: list[Record] | None  # None: not usable (the caller reads the file itself)
    report: ParseReport
    read: RangeRead = field(default_factory=RangeRead)  # what the reader gave, the damage it skipped
    problems: list[tuple[str, str]] = field(default_factory=list)  # compiled-content cache entries rebuilt


def ranges_of(size: int) -> list[tuple[int, int]]:
    """(first chunk, chunk count) of each range of a file of ``size`` bytes; the last count is 0: to the end."""
    chunks = max(0, size - FILE_HEADER) // CHUNK
    starts = list(range(0, max(chunks, 1), RANGE_CHUNKS))
    return [(first, RANGE_CHUNKS) for first in starts[:-1]] + [(starts[-1], 0)]


def parse_range_in_worker(parser: EvtxParser, tree: HostTree, artifact: Artifact, token: int,
                          first: int, count: int) -> RangeResult:
    report = ParseReport(path=artifact.path)
    if token not in _published:  # not forked from the publishing process
        return RangeResult(None, report)
    gate = _published[token]
    records: list[Record] = []
    read = RangeRead()
    held = 0
    try:
        keep = gate.keep if gate is not None else None
        for record in parser.parse_range(tree, artifact, report, gate, first, count, read):
            record.timestamp = canonical(record.timestamp)  # as the caller does before any detector sees it
            if keep is not None and not keep(record):
                continue  # no detector can use it: counted in the report, not sent
            records.append(record)
            held += len(record.raw)
            if held > RANGE_BYTES:
                return RangeResult(None, report)
    except OSError as exc:
        report.warn(f"cannot read: {exc}", code="unreadable")
    if report.warnings or report.warnings_dropped or report.failed or report.not_understood or report.partial:
        return RangeResult(None, report)
    for number, (seen, before, error, errors, leading) in enumerate(read.damage):
        in_file = chunk_error_in_file(error, first)
        if in_file is None:  # a message whose positions may be the range's: the caller reads the file itself
            return RangeResult(None, report)
        read.damage[number] = (seen, before, in_file, errors, leading)
    whole, read.whole = read.whole, None  # not sent back
    if records and whole is not None:  # the whole file, which may be cited: hashed here, not by the caller
        read.sha256 = hashlib.sha256(whole).hexdigest()
    return RangeResult(records, report, read)


def parse_ranges_in_worker(parser: EvtxParser, tree: HostTree, pieces: list[tuple[Artifact, int, int]],
                           token: int) -> list[RangeResult]:
    """Several ranges in one task (small files are batched: one task per file would cost more in
    inter-process traffic than the file's reading)."""
    results = [parse_range_in_worker(parser, tree, artifact, token, first, count) for artifact, first, count in pieces]
    if results:  # a damaged cache entry met here is reported by the caller's detectors (``take_problems``)
        results[-1].problems = take_problems()
    return results


Piece = tuple[Artifact, int, int]


class RangePool:
    """Reads the EVTX files of one host by chunk ranges in worker processes, in file order."""

    def __init__(self, workers: int, tree: HostTree, parser: EvtxParser, gate: RecordGate | None,
                 artifacts: Sequence[Artifact]) -> None:
        self.tree = tree
        self.parser = parser
        self.gate = gate
        self.workers = workers
        self.token = next(_tokens)
        self.tasks: deque[Piece] = deque(
            (artifact, first, count) for artifact in artifacts for first, count in ranges_of(artifact.size))
        self.futures: deque[tuple[list[str], Future[list[RangeResult]]]] = deque()
        self.done: deque[tuple[str, RangeResult | None]] = deque()  # results of finished tasks, in order
        self.executor: ProcessPoolExecutor | None = None
        if workers > 1 and "fork" in multiprocessing.get_all_start_methods() and _sendable(tree):
            _published[self.token] = gate
            try:
                self.executor = ProcessPoolExecutor(max_workers=workers,
                                                    mp_context=multiprocessing.get_context("fork"),
                                                    initializer=bind_to_parent, initargs=(os.getpid(),))
            except (OSError, ValueError, AssertionError):  # e.g. a daemonic process may not have children
                self.executor = None
        self.paths = {artifact.path for artifact in artifacts} if self.executor is not None else set()

    def _top_up(self) -> None:
        while self.executor is not None and self.tasks and len(self.futures) < self.workers * RANGE_AHEAD:
            batch: list[Piece] = []
            chunks = 0
            while self.tasks and chunks < RANGE_CHUNKS:
                artifact, first, count = piece = self.tasks.popleft()
                batch.append(piece)
                chunks += count or max(1, (artifact.size - FILE_HEADER) // CHUNK - first)
            try:
                future = self.executor.submit(parse_ranges_in_worker, self.parser, self.tree, batch, self.token)
            except Exception:  # a broken pool: what is left is read by the caller
                self.executor = None
                self.tasks.extendleft(reversed(batch))
                return
            self.futures.append(([artifact.path for artifact, _, _ in batch], future))

    def _next(self) -> tuple[str, RangeResult | None] | None:
        """The next range's (path, result) in plan order; result None when its task failed; None at the end."""
        if not self.done:
            self._top_up()
            if not self.futures:
                return None
            paths, future = self.futures.popleft()
            try:
                results: list[RangeResult | None] = list(future.result())
            except Exception:  # a worker's fault: those files are read here, where it is contained
                results = [None] * len(paths)
            self.done.extend(zip(paths, results, strict=True))
            self._top_up()
        return self.done.popleft()

    def records(self, artifact: Artifact, report: ParseReport) -> Iterator[Record]:
        """The records of ``artifact`` (the next file of the plan), ``report`` filled as a serial read would."""
        path = artifact.path
        ranges = len(ranges_of(artifact.size))
        merged = ParseReport(path=path)
        damage: list[str] = []  # warnings of the damage skipped, added once the whole file is read
        last_id: int | None = None  # the last record id of the ranges before (as the serial read tracks it)
        run = 0  # consecutive reader errors at the end of the ranges before
        given = 0
        done = 0
        hashing: Future[str | None] | None = None
        header_read: RangeRead | None = None  # a range's reading of the file header (for ``finish``)
        digest: str | None = None  # hashed by the worker that read the whole file
        while done < ranges:
            item = self._next()
            if item is None:
                break
            if item[0] != path:
                continue  # left over by a file whose reading stopped early
            result = item[1]
            done += 1
            for problem in result.problems if result is not None else ():
                note_problem(*problem)
            if result is None or result.records is None:
                break
            read = result.read
            worded = []
            for seen, before, error, count, leading in read.damage:
                if (run + count if leading else count) >= MAX_CONSECUTIVE_ERRORS:
                    break  # the serial read gives up here: it says so itself
                worded.append(damage_message(before if seen else last_id, error))
            else:
                damage.extend(worded)
                run = run + read.trailing if read.items == 0 else read.trailing
                last_id = read.last_id if read.seen_id else last_id
            if len(worded) < len(read.damage):
                break
            header_read = read
            digest = read.sha256 if ranges == 1 and result.records else None
            merged.records += result.report.records
            for stamp in (result.report.first_time, result.report.last_time):
                merged.see_time(stamp)
            given += read.items
            if hashing is None and result.records and artifact.size >= HASH_IN_WORKER and self.executor is not None:
                try:
                    hashing = self.executor.submit(file_sha256, self.tree, path)
                except Exception:  # a broken pool: hashed by the caller when cited, as for small files
                    hashing = None
            yield from result.records
        else:
            report.records = merged.records
            report.first_time, report.last_time = merged.first_time, merged.last_time
            for message in damage:
                report.warn(message, code="damaged")
            if report.records == 0 and not report.warnings:
                report.warn("EVTX file holds no records", code="empty")
            finish(self.tree, artifact, report, header_read)
            if digest is not None:
                report.sha256 = digest
            if hashing is not None:
                try:
                    report.sha256 = hashing.result()  # None when unreadable: the caller hashes it and says so
                except Exception:
                    report.sha256 = None
            return
        while self.tasks and not self.futures and not self.done and self.tasks[0][0].path == path:
            self.tasks.popleft()  # not yet sent: not wanted (sent ones are skipped by the next file)
        yield from parse_all(self.parser, self.tree, artifact, report, PrefilterSpec("all"), self.gate, skip=given)

    def close(self) -> None:
        _published.pop(self.token, None)
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)
