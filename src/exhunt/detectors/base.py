"""The detector interface and the per-host context detectors share."""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from exhunt.model.coverage import HostCoverage, InputWarning
from exhunt.model.event import Record
from exhunt.model.evidence import Artifact, ArtifactKind
from exhunt.model.filetimes import FileTimes
from exhunt.model.finding import Finding
from exhunt.parsers.base import RecordGateFn
from exhunt.parsers.columns import ScopedRequirement
from exhunt.sources.base import HostTree
from exhunt.sources.listing import ArtifactList, Listing


@dataclass(frozen=True, slots=True)
class Interest:
    """Which records of one artifact kind a detector needs.

    ``literals`` None means every record; otherwise only records whose raw text contains one of the
    literals (case-insensitive) can matter to the detector, so parsers may skip the others unparsed.
    """

    literals: frozenset[str] | None
    # Optional, finer: a record can matter only if, for one requirement, each group has one of its literals
    # in the raw text (e.g. a rule needing "post" AND ".js" AND one of "/ecp/", "/owa/auth/"). Parsers use it
    # to skip lines that hold a literal but cannot satisfy any rule. None: any literal is enough.
    requirements: tuple[tuple[frozenset[str], ...], ...] | None = None
    # Event records (EVTX): called once per route with (lowercase channel or None, event id or None); answers
    # False (no record of the route is of use), True (every one may be) or a test of a record's raw JSON,
    # applied before the record is decoded. None: every record must be decoded.
    record_gate: RecordGateFn | None = None
    # Finer still and stateless: whether the detector would do anything with this decoded record (for Sigma:
    # a rule matches it, or fails on it), asked in parse workers (EVTX ranges, text logs) with the state the
    # detector had when the host's logs were planned. Parse workers send the caller only the records one
    # interested detector may use, when every interested detector has one. None: every record that passed
    # the gate.
    record_filter: Callable[[Record], bool] | None = None
    # Finer than ``requirements`` for logs with named columns: each literal group scoped to the fields it can
    # be in (``parsers/columns.py``; lowercase names after the detector's own mapping, derived fields given
    # as the columns they join; None: anywhere). A record can matter only if, for one requirement, every
    # term holds on its fields. None: the requirements (or literals) hold anywhere in the line.
    scoped: tuple[ScopedRequirement, ...] | None = None


_ALGOS = (("md5", 16), ("sha1", 20), ("sha256", 32))
_LENGTHS = tuple(1 + sum(size for bit, (_, size) in enumerate(_ALGOS) if mask >> bit & 1)
                 for mask in range(1 << len(_ALGOS)))  # a record's length, by its first byte


class Digests:
    """Digests of a host's files, kept as raw bytes: the YARA sweep hashes every file it reads, and a host
    may hold hundreds of thousands. Given the host's ``Listing``, a listed file's digests are found by its
    position (one 8-byte offset per file into one packed buffer, no key per file); any other path is kept
    by name."""

    __slots__ = ("_at", "_count", "_listing", "_near", "_packed", "_raw")

    def __init__(self, listing: Listing | None = None) -> None:
        self._listing = listing if listing is not None and listing.ordered else None  # positions need order
        self._at: array[int] | None = None  # per listed file, where its record starts in _packed (-1: none)
        self._packed = bytearray()  # records: one byte saying which digests follow, then the digests
        self._near = -1  # the position found last: a sweep asks in listing order
        self._count = 0  # listed files with digests
        self._raw: dict[str, bytes] = {}  # paths not in the listing -> their record

    def _position(self, path: str) -> int | None:
        if self._listing is None:
            return None
        found = self._listing.find(path, self._near)
        if found is not None:
            self._near = found
        return found

    def _record(self, path: str, position: int | None) -> bytes | None:
        if position is None:
            return self._raw.get(path)
        if self._at is None or self._at[position] < 0:
            return None
        start = self._at[position]
        return bytes(self._packed[start:start + _LENGTHS[self._packed[start]]])

    def get(self, path: str) -> dict[str, str]:
        """The digests known for ``path`` (algorithm -> lowercase hex), empty when none."""
        return self._digests(self._record(path, self._position(path)))

    @staticmethod
    def _digests(raw: bytes | None) -> dict[str, str]:
        if raw is None:
            return {}
        found: dict[str, str] = {}
        mask, at = raw[0], 1
        for bit, (name, size) in enumerate(_ALGOS):
            if mask >> bit & 1:
                found[name] = raw[at:at + size].hex()
                at += size
        return found

    def put(self, path: str, digests: dict[str, str]) -> None:
        """Add ``digests`` (algorithm -> hex) to what is known for ``path``."""
        position = self._position(path)  # found once: a sweep puts tens of thousands
        given = {k: v.lower() for k, v in digests.items()}
        fresh = position is not None and (self._at is None or self._at[position] < 0)  # the common case
        merged = given if fresh else self._digests(self._record(path, position)) | given
        mask, parts = 0, []
        for bit, (name, size) in enumerate(_ALGOS):
            value = merged.get(name)
            if value is not None and len(value) == 2 * size:
                mask |= 1 << bit
                parts.append(bytes.fromhex(value))
        record = bytes([mask]) + b"".join(parts)
        if position is None or self._listing is None:
            self._raw[path] = record
            return
        if self._at is None:
            self._at = array("q", [-1]) * len(self._listing)
        if self._at[position] < 0:
            self._count += 1
        self._at[position] = len(self._packed)  # a record given again is written anew (rare: merges)
        self._packed += record

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and self._record(path, self._position(path)) is not None

    def __len__(self) -> int:
        return self._count + len(self._raw)

    def __iter__(self) -> Iterator[str]:
        if self._at is not None and self._listing is not None:
            listing = self._listing
            yield from (listing.path(n) for n, start in enumerate(self._at) if start >= 0)
        yield from self._raw


class SeenAtStart:
    """Which artifacts a detector already handled in ``start()``: those in ``ctx.artifacts`` then. The engine
    gives every artifact back to ``on_file`` in the same order, so they are recognised by position and
    equality instead of a set of every path; any other artifact is remembered by path (a few at most)."""

    __slots__ = ("_count", "_next", "_others")

    def __init__(self) -> None:
        self._count = 0  # artifacts present at start
        self._next = 0  # position of the next one on_file should be given
        self._others: set[str] = set()

    def started(self, ctx: HostContext) -> None:
        self._count = len(ctx.artifacts)

    def first_time(self, artifact: Artifact, ctx: HostContext) -> bool:
        """Whether ``artifact`` is new to the detector (and from now on, seen)."""
        at = self._next
        if at < self._count and ctx.artifacts[at] == artifact:  # artifacts are only ever added
            self._next += 1
            return False
        if artifact.path in self._others:
            return False
        self._others.add(artifact.path)
        return True


@dataclass
class HostContext:
    """Everything a detector may consult about the host being assessed."""

    host: str
    tree: HostTree
    artifacts: list[Artifact] | ArtifactList  # the host's files, packed (made as read) when from classify
    coverage: HostCoverage
    options: dict[str, Any] = field(default_factory=dict)
    exchange_root: str | None = None  # relative path of the Exchange install folder (…/V15), if found
    _hashes: dict[str, str] = field(default_factory=dict)
    # digests a detector already computed, shared so each file is read for hashing once per host:
    # path -> {"md5": ..., "sha1": ..., "sha256": ...} (the YARA sweep fills it for the files it reads)
    digests: Digests = field(default_factory=Digests)
    # NTFS times of evidence files, by evidence path, from the host's $MFT (the fs detector fills it); the
    # correlation step puts them in place of the copy's modification time
    file_times: dict[str, FileTimes] = field(default_factory=dict)

    def sha256(self, path: str) -> str | None:
        """SHA-256 of an evidence file, computed once, lazily (only files that are cited pay for it)."""
        if path in self._hashes:
            return self._hashes[path]
        known = self.digests.get(path).get("sha256")
        if known is not None:
            return known
        digest = hashlib.sha256()
        try:
            with self.tree.open(path) as handle:
                while chunk := handle.read(1 << 20):
                    digest.update(chunk)
        except OSError as exc:
            self.coverage.warn(InputWarning(path=path, message=f"cannot hash: {exc}", code="unreadable"))
            return None
        self._hashes[path] = digest.hexdigest()
        return self._hashes[path]


class Detector:
    """A per-host detector instance. Built fresh for each host from compiled content. Every hook is optional."""

    name: str = ""

    def start(self, ctx: HostContext) -> None:
        """Called once per host after its artifacts are classified and before any log is parsed.

        A detector may look at ``ctx.artifacts`` here (e.g. note suspicious file names so that
        ``interest()`` can ask for the log lines that request them).
        """

    def interest(self, kind: ArtifactKind) -> Interest | None:
        """Which records of ``kind`` this detector wants; None: none at all."""
        return None

    def on_record(self, record: Record, ctx: HostContext) -> None:
        """Called for every record the parsers yield for a kind this detector is interested in."""

    def on_file(self, artifact: Artifact, ctx: HostContext) -> None:
        """Called once for every artifact of the host (of any kind), after the logs were read."""

    def finish(self, ctx: HostContext) -> list[Finding]:
        """Findings of this host. Called once, after every record and file was seen."""
        return []
