"""NTFS ``$MFT``: one record per FILE entry, read with the ``mft`` package (Rust), streaming.

A record's fields are the cheap facts (entry, sequence, in use, folder, path below the volume root,
name); its eight times cost a conversion each, so ``fields["times"]`` is a function that reads them
(``FileTimes``) for the few entries a detector wants. The path is the volume's (``inetpub/wwwroot/x.aspx``);
``attrs["drive"]`` is the drive the ``$MFT`` was collected from (``C``).

Damage never stops the read: an entry with a bad signature is a warning with its entry number and offset;
an entry whose update sequence (fixup) bytes do not match is read as the package returns it and warned
about; a file that does not end on a whole entry is warned about as truncated; an entry the package panics
on (it cannot go past it) is warned about and read past, over a view of the file where it reads as zeros.
"""

from __future__ import annotations

import io
import re
import struct
import warnings
from collections.abc import Generator, Iterator
from datetime import datetime
from typing import IO, Any

import mft

from exhunt.model.event import Record
from exhunt.model.evidence import Artifact, ArtifactKind
from exhunt.model.filetimes import FileTimes
from exhunt.parsers.base import MatchNothing, Parser, ParseReport, Prefilter
from exhunt.parsers.evtx import seekable_or_report
from exhunt.sources.base import HostTree

SIGNATURES = (b"FILE", b"BAAD")
DEFAULT_ENTRY_SIZE = 1024
MAX_CONSECUTIVE_ERRORS = 100_000  # an $MFT this broken is given up, with a warning
MAX_RESTARTS = 16  # entries the package may panic on before the rest of the file is given up
_WARN_ENTRY = re.compile(r"\[entry: (\d+)\]")
SI, FN = 0x10, 0x30


def stamp(when: datetime | None) -> str | None:
    """A timezone-aware datetime as ISO 8601 UTC with microseconds (what the package keeps of 100 ns)."""
    if when is None:
        return None
    return f"{when:%Y-%m-%dT%H:%M:%S}.{when.microsecond:06d}Z"


def entry_times(entry: Any, source: str) -> FileTimes:
    """The $STANDARD_INFORMATION and (first) $FILE_NAME times of one ``mft`` entry."""
    si: list[str | None] = [None] * 4
    fn: list[str | None] = [None] * 4
    try:
        attributes = list(entry.attributes())
    except BaseException as exc:  # a panic on a damaged entry: its times are unknown
        if isinstance(exc, KeyboardInterrupt | SystemExit | GeneratorExit):
            raise
        attributes = []
    for attribute in attributes:
        if isinstance(attribute, Exception):
            continue
        code = attribute.type_code
        if code == SI and si[0] is None:
            content = attribute.attribute_content
            si = [stamp(content.created), stamp(content.modified), stamp(content.mft_modified),
                  stamp(content.accessed)]
        elif code == FN and fn[0] is None:
            content = attribute.attribute_content
            fn = [stamp(content.created), stamp(content.modified), stamp(content.mft_modified),
                  stamp(content.accessed)]
    return FileTimes(source, int(entry.entry_id), int(entry.sequence), bool(_in_use(entry)), *si, *fn)


def _in_use(entry: Any) -> bool:
    return "ALLOCATED" in str(entry.flags)


def _drive(path: str) -> str:
    first = path.split("/", 1)[0]
    return first.upper() if len(first) == 1 and first.isalpha() else "C"


class _Masked(io.RawIOBase):
    """A read-only view of an $MFT in which some entries read as zeros (entries the package panics on)."""

    def __init__(self, inner: IO[bytes], masked: set[int], entry_size: int) -> None:
        super().__init__()
        self.inner, self.masked, self.entry_size = inner, masked, entry_size
        self.pos = 0
        inner.seek(0, io.SEEK_END)
        self.size = inner.tell()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.size}[whence]
        self.pos = max(0, base + offset)
        return self.pos

    def tell(self) -> int:
        return self.pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        self.inner.seek(self.pos)
        data = bytearray(self.inner.read(len(view)))
        for number in self.masked:
            start, end = number * self.entry_size - self.pos, (number + 1) * self.entry_size - self.pos
            if end > 0 and start < len(data):
                data[max(start, 0):min(end, len(data))] = bytes(min(end, len(data)) - max(start, 0))
        view[:len(data)] = data
        self.pos += len(data)
        return len(data)


class MftParser(Parser):
    name = "mft"
    kinds = frozenset({ArtifactKind.MFT})

    def parse(self, tree: HostTree, artifact: Artifact, report: ParseReport,
              prefilter: Prefilter | None = None) -> Iterator[Record]:
        try:
            head = tree.read_head(artifact.path, 0x20)
        except OSError as exc:
            report.unreadable(exc)
            return
        if head[:4] not in SIGNATURES:
            report.not_understood = True
            report.warn(f"not an NTFS $MFT (first bytes {head[:4]!r}, expected b'FILE')", code="not-understood")
            return
        size = struct.unpack_from("<I", head, 0x1C)[0] if len(head) >= 0x20 else 0
        entry_size = size if size in (1024, 4096) else DEFAULT_ENTRY_SIZE
        if artifact.size % entry_size:
            report.warn(f"truncated: the last {artifact.size % entry_size} bytes are not a whole "
                        f"{entry_size}-byte entry", code="truncated", offset=artifact.size - artifact.size % entry_size)
        if isinstance(prefilter, MatchNothing):  # nobody needs the entries: count them
            report.records = artifact.size // entry_size
            return
        local = tree.local_path(artifact.path)
        if local is not None:  # the package reads a path twice as fast as a Python file object
            yield from self._entries(str(local), artifact, report, entry_size)
            report.bytes_read = artifact.size
            return
        stream = seekable_or_report(tree, artifact, report)
        if stream is None:
            return
        with stream:
            yield from self._entries(stream, artifact, report, entry_size)
        report.bytes_read = artifact.size

    def _entries(self, stream: IO[bytes] | str, artifact: Artifact, report: ParseReport,
                 entry_size: int) -> Iterator[Record]:
        """Every entry, in order. The package may panic on a damaged entry (it then cannot go on from
        there): the read restarts over a view of the file in which that entry reads as zeros, at most
        ``MAX_RESTARTS`` times, the entries already read being skipped."""
        masked: set[int] = set()
        done = 0  # entries already handed on
        handle: IO[bytes] | None = None
        for _attempt in range(MAX_RESTARTS + 1):
            if masked:
                if handle is None:
                    handle = open(stream, "rb") if isinstance(stream, str) else stream  # noqa: SIM115
                source: IO[bytes] | str | io.RawIOBase = _Masked(handle, masked, entry_size)
            else:
                source = stream
            stuck = yield from self._pass(source, artifact, report, entry_size, done)
            if stuck is None:
                break
            done = stuck + 1
            masked.add(stuck)
            report.warn(f"$MFT entry {stuck}: the mft package failed on it; read on past it", code="bad-record",
                        offset=stuck * entry_size)
        else:
            report.warn(f"more than {MAX_RESTARTS} entries the mft package fails on: the rest of this $MFT "
                        "is not read", code="given-up", offset=done * entry_size)
        if handle is not None and isinstance(stream, str):
            handle.close()

    def _pass(self, source: IO[bytes] | str | io.RawIOBase, artifact: Artifact, report: ParseReport, entry_size: int,
              skip: int) -> Generator[Record, None, int | None]:
        """One pass from the start, yielding the entries from ``skip`` on; the index of the entry the package
        panicked on, or None at the end."""
        drive = _drive(artifact.path)
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            pending: list[str] = []

            def keep(message: Any, *_args: Any, **_kwargs: Any) -> None:
                if len(pending) < 1000:
                    pending.append(str(message))

            warnings.showwarning = keep
            try:
                entries = mft.PyMftParser(source).entries()
            except BaseException as exc:  # a Rust panic is a BaseException
                if isinstance(exc, KeyboardInterrupt | SystemExit | GeneratorExit):
                    raise
                report.failed = True
                report.warn(f"the mft package cannot read this $MFT: {exc}", code="unreadable")
                return None
            index = -1
            errors = 0
            while True:
                index += 1
                try:
                    entry = next(entries)
                except StopIteration:
                    break
                except BaseException as exc:  # a panic: the iterator cannot go past this entry
                    if isinstance(exc, KeyboardInterrupt | SystemExit | GeneratorExit):
                        raise
                    pending.clear()
                    return index
                if index < skip:
                    pending.clear()
                    continue
                if pending:
                    self._flush(pending, report, entry_size)
                report.records += 1
                if isinstance(entry, BaseException):
                    errors += 1
                    report.warn(f"$MFT entry {index}: {entry}", code="bad-record", offset=index * entry_size)
                    if errors >= MAX_CONSECUTIVE_ERRORS:
                        report.warn(f"{errors} damaged entries in a row: the rest of this $MFT is not read",
                                    code="given-up", offset=index * entry_size)
                        return None
                    continue
                errors = 0
                record = self._guarded(entry, index, artifact.path, drive, entry_size, report)
                if record is not None:
                    yield record
            self._flush(pending, report, entry_size)
        return None

    def _guarded(self, entry: Any, index: int, path: str, drive: str, entry_size: int,
                 report: ParseReport) -> Record | None:
        try:
            if index == 0:  # the $MFT's own entry: when the volume was formatted, last grown
                own = entry_times(entry, path)
                report.see_time(own.si_created, offset=0)  # entry 0 opens the file
                report.see_time(own.si_changed, offset=0)
            return self._record(entry, path, path, drive, entry_size)
        except BaseException as exc:  # a panic on one entry's attributes or path: that entry only
            if isinstance(exc, KeyboardInterrupt | SystemExit | GeneratorExit):
                raise
            report.warn(f"$MFT entry {index}: {exc}", code="bad-record", offset=index * entry_size)
            return None

    @staticmethod
    def _flush(pending: list[str], report: ParseReport, entry_size: int) -> None:
        for message in pending:
            found = _WARN_ENTRY.search(message)
            number = int(found.group(1)) if found else None
            text = message.split("]", 2)[-1].strip() if found else message
            report.warn(f"$MFT entry {number if number is not None else '?'}: {text}",
                        code="bad-fixup" if "fixup" in message else "bad-record",
                        offset=None if number is None else number * entry_size)
        pending.clear()

    @staticmethod
    def _record(entry: Any, path: str, source: str, drive: str, entry_size: int) -> Record:
        number: int = entry.entry_id
        flags: str = entry.flags
        full: str = entry.full_path
        in_use = "ALLOCATED" in flags
        directory = "INDEX_PRESENT" in flags
        sequence: int = entry.sequence

        def times() -> FileTimes:  # read on demand: eight datetime conversions
            return entry_times(entry, source)

        fields: dict[str, Any] = {"entry": number, "sequence": sequence, "in_use": in_use, "directory": directory,
                                  "path": full, "name": full.rpartition("/")[2], "times": times}
        raw = f"$MFT entry {number} seq {sequence} {'in use' if in_use else 'NOT IN USE'}: {drive}:/{full}"
        return Record(kind=ArtifactKind.MFT, path=path, fields=fields, raw=raw, record=number,
                      offset=number * entry_size, attrs={"drive": drive})
