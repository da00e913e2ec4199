"""Windows event log files (.evtx), read with the ``evtx`` package (Rust, omerbenamram/evtx).

``evtx.PyEvtxParser`` reads a path or a seekable binary stream. Evidence inside a zip comes as a
stream that cannot seek: it is copied, 1 MiB at a time, into a ``SpooledTemporaryFile`` that stays in
memory up to ``SPOOL_IN_MEMORY`` bytes and rolls over to an anonymous temporary file on disk beyond;
members larger than ``SPOOL_LIMIT`` are refused with a warning (EVTX files are capped by Windows
configuration, 20 MiB to a few GiB in practice).

Records come from ``records_json()``, which measured faster than ``records()`` (XML) and needs no XML
parser; each JSON text is loaded with orjson and flattened by :mod:`exhunt.parsers.winevent`.

Damaged files: the crate raises ``RuntimeError`` for a bad chunk or record and the iterator goes on
with the next one, so every readable record is recovered; each error becomes a warning naming the
last good record before it (the crate's message names the chunk or record number).
"""

from __future__ import annotations

import io
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import evtx
import orjson

from exhunt.model.event import Record
from exhunt.model.evidence import Artifact, ArtifactKind
from exhunt.parsers.base import Parser, ParseReport, Prefilter, RecordGate, RouteGate
from exhunt.parsers.winevent import flatten_event, iso_utc
from exhunt.sources.base import HostTree

EVTX_MAGIC = b"ElfFile\x00"
SPOOL_IN_MEMORY = 64 << 20
SPOOL_LIMIT = 16 << 30
MAX_CONSECUTIVE_ERRORS = 10_000  # a file this broken is given up, with a warning
_BLOCK = 1 << 20


FILE_HEADER, CHUNK = 4096, 64 << 10


@dataclass(slots=True)
class RangeRead:
    """What reading a range of chunks leaves for the caller to account for as a serial read would: the items
    the reader gave, the last record id seen, and the damage skipped, whose warnings name the last good
    record before it, which may lie in an earlier range (so the caller words them)."""

    items: int = 0
    last_id: int | None = None
    seen_id: bool = False  # ``last_id`` was set in this range (else the caller's applies)
    # each skip: (the last id before it if seen in this range, the reader's message, the consecutive errors
    # counted in this range, no item came before it in this range)
    damage: list[tuple[bool, int | None, str, int, bool]] = field(default_factory=list)
    trailing: int = 0  # consecutive errors at the end of the range
    # what ``finish`` would say of the file's header (``truncation``), from the copy of it the range was read
    # through: the caller need not open the file again
    missing: str | None = None
    sha256: str | None = None  # the whole file's, when the range held all of it and the worker hashed it
    whole: bytes | None = None  # the file's bytes when the range is all of it: used in the worker, never sent


_CHUNK_HEADER_ERROR = re.compile(r"Failed to parse chunk number (\d+)(: Failed to parse chunk header: .*)", re.DOTALL)


def chunk_error_in_file(error: str, first: int) -> str | None:
    """The reader's message for a damaged chunk header met in a range starting at chunk ``first``, numbered
    as in the whole file (the reader counts the range's chunks from 0); None for any other message, whose
    positions may not be the file's (such a range is read again by the caller)."""
    found = _CHUNK_HEADER_ERROR.fullmatch(error)
    if found is None:
        return None
    return f"Failed to parse chunk number {int(found[1]) + first}{found[2]}"


def damage_message(last_id: int | None, error: str) -> str:
    where = f"after record {last_id}" if last_id is not None else "before the first record"
    return f"damaged data skipped {where}: {error}"


def truncation(header: bytes, size: int) -> str | None:
    """What a file cut short is missing, from its header's chunk count and its real size; None when whole."""
    if len(header) < 44 or not header.startswith(EVTX_MAGIC):
        return None
    chunks = int.from_bytes(header[42:44], "little")
    expected = FILE_HEADER + chunks * CHUNK
    if size >= expected:
        return None
    whole, rest = divmod(max(0, size - FILE_HEADER), CHUNK)
    next_record = int.from_bytes(header[24:32], "little")
    return (f"truncated: the header declares {chunks} chunk(s) ({expected} bytes) but the file holds {size} bytes "
            f"({whole} whole chunk(s){' and part of one' if rest else ''}): the records of the missing "
            f"{chunks - whole} chunk(s) are lost (the header's next record number is {next_record})")


class EvtxParser(Parser):
    name = "evtx"
    kinds = frozenset({ArtifactKind.EVTX})

    def parse(self, tree: HostTree, artifact: Artifact, report: ParseReport,
              prefilter: Prefilter | None = None, skip: int = 0) -> Iterator[Record]:
        """Yield every readable record; with a ``RecordGate``, only those a detector may use (the others are
        counted and their times kept for coverage, without being decoded). ``skip``: the first so many
        items of the reader are accounted for as usual but not yielded (they were delivered already, from
        ranges read in workers)."""
        try:
            head = tree.read_head(artifact.path, len(EVTX_MAGIC))
        except OSError as exc:
            report.unreadable(exc)
            return
        if not head:
            report.not_understood = True
            report.warn("empty file, not an EVTX log", code="not-understood")
            return
        if head != EVTX_MAGIC:
            report.not_understood = True
            report.warn(f"not an EVTX file (magic {head!r}, expected {EVTX_MAGIC!r})", code="not-understood")
            return
        stream = seekable_or_report(tree, artifact, report)
        if stream is None:
            return
        with stream:
            yield from self._records(stream, artifact, report, prefilter, skip=skip)
        finish(tree, artifact, report)

    def parse_range(self, tree: HostTree, artifact: Artifact, report: ParseReport, prefilter: Prefilter | None,
                    first: int, count: int, read: RangeRead) -> Iterator[Record]:
        """The records of chunks ``first`` .. ``first + count - 1`` (the last range: to the end of the file),
        read through a copy of the file header followed by those chunks: the reader takes each chunk on its
        own, so the ranges of a file, in order, give exactly the records of the whole file. No end-of-file
        checks (``finish``); ``read`` gets what the reader gave (for ``parse(skip=...)``), the damage
        skipped (not warned here: see ``RangeRead``), what the header says of truncation, and the bytes
        when the range is the whole file (``RangeRead.whole``)."""
        with tree.open(artifact.path) as handle:
            if not handle.seekable():
                raise OSError("not seekable: read whole")
            header = handle.read(FILE_HEADER)
            handle.seek(FILE_HEADER + first * CHUNK)
            body = handle.read(count * CHUNK if count > 0 else -1)
        data = header + body
        read.missing = truncation(header, artifact.size)
        read.whole = data if first == 0 and count <= 0 else None
        with io.BytesIO(data) as stream:
            yield from self._records(stream, artifact, report, prefilter, whole=False, read=read)

    def _records(self, stream: IO[bytes], artifact: Artifact, report: ParseReport, prefilter: Prefilter | None,
                 skip: int = 0, whole: bool = True, read: RangeRead | None = None) -> Iterator[Record]:
        try:
            records = evtx.PyEvtxParser(stream, number_of_threads=1).records_json()
        except (OSError, RuntimeError, ValueError) as exc:
            report.failed = True
            report.warn(f"EVTX header cannot be read: {exc}", code="damaged")
            return
        except BaseException as exc:
            if not _is_panic(exc):
                raise
            report.failed = True
            report.warn(f"the EVTX reader failed on the header: {exc}", code="damaged")
            return
        default_channel = artifact.attr("channel")
        gate = prefilter if isinstance(prefilter, RecordGate) else None
        routes: dict[tuple[str, str], RouteGate] = {}  # the gate's answer per (raw channel, raw event id)
        skipped_first: str | None = None  # time window of the records skipped undecoded
        skipped_last: str | None = None
        path = artifact.path
        last_id: int | None = None
        errors = 0
        given = 0  # items the reader gave (records, whatever their shape)
        try:
            while True:
                try:
                    item = next(records)
                except StopIteration:
                    break
                except (RuntimeError, OSError, ValueError) as exc:
                    errors += 1
                    if read is not None:  # worded by the caller, who knows the records of earlier ranges
                        read.damage.append((read.seen_id, last_id, str(exc), errors, given == 0))
                    else:
                        report.warn(damage_message(last_id, str(exc)), code="damaged")
                    if errors >= MAX_CONSECUTIVE_ERRORS:
                        report.warn(f"gave up after {errors} consecutive errors", code="damaged")
                        break
                    continue
                except BaseException as exc:
                    if not _is_panic(exc):
                        raise
                    where = f"after record {last_id}" if last_id is not None else "before the first record"
                    report.warn(f"the EVTX reader failed {where}, rest of the file not read: {exc}", code="damaged")
                    break
                errors = 0
                given += 1
                if not isinstance(item, dict):
                    continue
                if gate is not None:  # hot path: most records are counted here, never decoded
                    data = item.get("data")
                    head = None
                    if type(data) is str:
                        head = _compact_head(data) or _loose_head(data, default_channel)
                    if head is not None:  # else no event id readable raw: the record is decoded
                        channel, event_id, system_time = head
                        route = routes.get((channel, event_id))
                        if route is None:
                            route = routes[channel, event_id] = gate.for_route(channel.lower() or None, int(event_id))
                        if route is False or (route is not True and not route(data)):  # type: ignore[arg-type]
                            # counted, its time kept, never decoded
                            if (system_time is not None and len(system_time) == 27 and system_time[10] == "T"
                                    and system_time[19] == "." and system_time[26] == "Z"):
                                stamp: str | None = system_time  # exhunt's form already (``_raw_time``)
                            else:
                                stamp = _raw_time(item, system_time)
                            record_id = item.get("event_record_id")
                            if type(record_id) is int:
                                last_id = record_id
                                if read is not None:
                                    read.seen_id = True
                            report.records += 1
                            if stamp is not None:
                                if skipped_first is None or stamp < skipped_first:
                                    skipped_first = stamp
                                if skipped_last is None or stamp > skipped_last:
                                    skipped_last = stamp
                            continue
                record = _record(item, path, default_channel, report)
                if record is None:
                    continue
                last_id = record.record
                if read is not None:
                    read.seen_id = True
                report.records += 1
                report.see_time(record.timestamp)
                if given > skip:
                    yield record
        finally:
            report.see_time(skipped_first)
            report.see_time(skipped_last)
            if read is not None:
                read.items, read.last_id, read.trailing = given, last_id, errors
        if whole and report.records == 0 and not report.warnings:
            report.warn("EVTX file holds no records", code="empty")


def finish(tree: HostTree, artifact: Artifact, report: ParseReport, header_read: RangeRead | None = None) -> None:
    """What is said of a whole file once its records are read: its size, and what a cut-short file lost
    (from ``header_read``, a range's reading of the same header, when given; else the header is read)."""
    report.bytes_read = artifact.size
    if header_read is not None:
        missing = header_read.missing
    else:
        try:
            missing = truncation(tree.read_head(artifact.path, FILE_HEADER), artifact.size)
        except OSError:
            missing = None
    if missing:
        report.partial = True
        report.warn(f"{missing}; {report.records} record(s) read", code="truncated", offset=artifact.size)


# the event id plain or with Qualifiers, as a number or (forwarded events) a quoted number
_EVENT_ID = re.compile(r'"EventID":\s*(?:"?(\d+)|\{(?:[^{}]|\{[^{}]*\})*?"#text":\s*"?(\d+))')
_CHANNEL = re.compile(r'"Channel":\s*"([^"\\]*)"')


_SYSTEM_TIME = re.compile(r'"SystemTime":\s*"([^"]*)"')
_EVENT_ID_AT = re.compile(r'"?(\d+)|\{(?:[^{}]|\{[^{}]*\})*?"#text":"?(\d+)')


def _loose_head(data: str, default_channel: str) -> tuple[str, str, str | None] | None:
    """The regexes, for JSON not written compactly in the reader's order (whitespace, other key orders)."""
    found = _EVENT_ID.search(data)
    if found is None:
        return None
    channel = _CHANNEL.search(data)
    stamp = _SYSTEM_TIME.search(data)
    return channel[1] if channel else default_channel or "", found[1] or found[2], stamp[1] if stamp else None


def _compact_head(data: str) -> tuple[str, str, str | None] | None:
    """The common case with ``str.find`` (several times faster than the regexes): System as the reader
    writes it, compactly and in this order; None otherwise."""
    at = data.find('"EventID":')
    if at < 0:
        return None
    end = data.find(",", at + 10)
    event_id = data[at + 10:end]
    if not (event_id.isdigit() and event_id.isascii()):  # not a plain number: {"#attributes":..,"#text":N}
        found = _EVENT_ID_AT.match(data, at + 10)
        if found is None:
            return None
        event_id, end = found[1] or found[2], found.end()
    at = data.find('"SystemTime":"', end)
    if at < 0:
        return None
    end = data.find('"', at + 14)
    if end < 0:
        return None
    stamp = data[at + 14:end]
    at = data.find('"Channel":"')  # the first one, and after the time (none before it: one search, not two)
    if at < end:
        return None
    end = data.find('"', at + 11)
    channel = data[at + 11:end]
    if end < 0 or "\\" in channel:
        return None
    return channel, event_id, stamp


def _raw_time(item: dict[str, Any], system_time: str | None) -> str | None:
    """The time a decoded record would get (System/TimeCreated as written raw, else the reader's)."""
    if system_time is not None:
        if len(system_time) >= 27 and system_time[10] == "T" and system_time[19] == "." and system_time[-1] == "Z":
            return system_time if len(system_time) == 27 else system_time[:26] + "Z"  # exhunt's form already
        stamp = iso_utc(system_time)
        if stamp is not None:
            return stamp
    return iso_utc(str(item.get("timestamp", "")).removesuffix(" UTC"))


def _record(item: dict[str, Any], path: str, default_channel: str, report: ParseReport) -> Record | None:
    data: str = item.get("data") or ""
    record_id = item.get("event_record_id")
    try:
        event = orjson.loads(data).get("Event")
    except (orjson.JSONDecodeError, AttributeError) as exc:
        report.warn(f"record {record_id}: unreadable JSON from the EVTX reader: {exc}", code="damaged")
        return None
    if not isinstance(event, dict):
        report.warn(f"record {record_id}: no Event element", code="damaged")
        return None
    fields = flatten_event(event)
    stamp = fields.get("TimeCreated") or iso_utc(str(item.get("timestamp", "")).removesuffix(" UTC"))
    channel = fields.get("Channel") or default_channel
    return Record(kind=ArtifactKind.EVTX, path=path, fields=fields, raw=data,
                  record=record_id if isinstance(record_id, int) else fields.get("EventRecordID"),
                  timestamp=stamp, attrs={"channel": channel} if channel else {})


def _is_panic(exc: BaseException) -> bool:
    """A Rust panic surfaces as pyo3's ``PanicException`` (a ``BaseException``): a damaged file, not a stop."""
    return type(exc).__name__ == "PanicException"


def seekable_or_report(tree: HostTree, artifact: Artifact, report: ParseReport) -> IO[bytes] | None:
    """The file as a seekable stream, or None when it cannot be read (said in ``report``)."""
    try:
        return _seekable(tree, artifact, report)
    except OSError as exc:
        report.unreadable(exc)
        return None


def _seekable(tree: HostTree, artifact: Artifact, report: ParseReport) -> IO[bytes] | None:
    """The file as a seekable stream: as opened when it can seek, else a bounded spooled copy."""
    handle = tree.open(artifact.path)
    if handle.seekable():
        return handle
    with handle:
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115 - returned open
        copied = 0
        while block := handle.read(_BLOCK):
            copied += len(block)
            if copied > SPOOL_LIMIT:
                spool.close()
                report.failed = True
                report.warn(f"larger than {SPOOL_LIMIT} bytes inside a container: not read", code="too-large")
                return None
            spool.write(block)
    spool.seek(0)
    return spool
