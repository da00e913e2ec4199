"""NTFS USN change journal (``$Extend/$UsnJrnl:$J``): ``USN_RECORD_V2`` and ``V3`` records, streaming.

A small reader of the documented structure (winioctl.h): RecordLength (u32), MajorVersion, MinorVersion
(u16 each), file and parent file references (8 bytes each in V2, 16 in V3), Usn (i64), TimeStamp (FILETIME),
Reason, SourceInfo, SecurityId, FileAttributes (u32 each), FileNameLength, FileNameOffset (u16), the name in
UTF-16LE; records are 8-byte aligned and never cross a 4 KiB page. No maintained PyPI library reads ``$J``
(``usnparser`` was last released in 2021), hence this one.

A collected ``$J`` is mostly zeros at its start (the journal's deallocated head, sparse on disk): whole zero
blocks are skipped by one comparison each. Damage never stops the read: a record with an impossible length
or version is warned about with its offset and the reader moves on to the next page; a journal cut in the
middle of a record is warned about as truncated. V4 records (ranges, no name) are counted and skipped.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from exhunt.model.event import Record
from exhunt.model.evidence import Artifact, ArtifactKind
from exhunt.parsers.base import MatchNothing, Parser, ParseReport, Prefilter
from exhunt.sources.base import HostTree

BLOCK = 1 << 20  # read size; a multiple of PAGE
PAGE = 4096
_ZERO = bytes(BLOCK)
_V2 = struct.Struct("<IHHQQqqIIIIHH")  # 60 bytes
_V3 = struct.Struct("<IHH16s16sqqIIIIHH")  # 76 bytes
_HEAD = struct.Struct("<IHH")
_TIME_V2 = struct.Struct("<q")  # TimeStamp at offset 32 (V2) or 48 (V3)
_TIME_V3 = _TIME_V2
_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)
MAX_RECORD = 64 * 1024
_NON_ZERO = re.compile(rb"[^\x00]")
_REASON_TEXT: dict[int, str] = {}

REASONS = (
    (0x00000001, "DATA_OVERWRITE"), (0x00000002, "DATA_EXTEND"), (0x00000004, "DATA_TRUNCATION"),
    (0x00000010, "NAMED_DATA_OVERWRITE"), (0x00000020, "NAMED_DATA_EXTEND"), (0x00000040, "NAMED_DATA_TRUNCATION"),
    (0x00000100, "FILE_CREATE"), (0x00000200, "FILE_DELETE"), (0x00000400, "EA_CHANGE"),
    (0x00000800, "SECURITY_CHANGE"), (0x00001000, "RENAME_OLD_NAME"), (0x00002000, "RENAME_NEW_NAME"),
    (0x00004000, "INDEXABLE_CHANGE"), (0x00008000, "BASIC_INFO_CHANGE"), (0x00010000, "HARD_LINK_CHANGE"),
    (0x00020000, "COMPRESSION_CHANGE"), (0x00040000, "ENCRYPTION_CHANGE"), (0x00080000, "OBJECT_ID_CHANGE"),
    (0x00100000, "REPARSE_POINT_CHANGE"), (0x00200000, "STREAM_CHANGE"), (0x00400000, "TRANSACTED_CHANGE"),
    (0x00800000, "INTEGRITY_CHANGE"), (0x80000000, "CLOSE"),
)
FILE_CREATE, FILE_DELETE, RENAME_OLD, RENAME_NEW = 0x100, 0x200, 0x1000, 0x2000
WRITE = 0x1 | 0x2 | 0x4 | 0x10 | 0x20 | 0x40
BASIC_INFO_CHANGE = 0x8000


def reason_text(reason: int) -> str:
    text = _REASON_TEXT.get(reason)
    if text is None:
        text = "|".join(name for bit, name in REASONS if reason & bit) or f"0x{reason:08x}"
        if len(_REASON_TEXT) < 4096:
            _REASON_TEXT[reason] = text
    return text


_LAST_SECOND: list[object] = [-1, ""]  # records come in time order: one conversion per second of journal


def filetime_iso(ticks: int) -> str | None:
    """FILETIME (100 ns since 1601) as ISO 8601 UTC with the full 7-digit fraction; None when impossible."""
    if ticks <= 0:
        return None
    second, fraction = divmod(ticks, 10_000_000)
    if _LAST_SECOND[0] != second:
        try:
            text = (_EPOCH + timedelta(seconds=second)).isoformat()[:19]
        except OverflowError:
            return None
        _LAST_SECOND[0], _LAST_SECOND[1] = second, text
    return f"{_LAST_SECOND[1]}.{fraction:07d}Z"


def _drive(path: str) -> str:
    first = path.split("/", 1)[0]
    return first.upper() if len(first) == 1 and first.isalpha() else "C"


class UsnParser(Parser):
    name = "usn"
    kinds = frozenset({ArtifactKind.USN})

    def parse(self, tree: HostTree, artifact: Artifact, report: ParseReport,
              prefilter: Prefilter | None = None) -> Iterator[Record]:
        """Yield every record (``fields``: usn, time, reason, reasons, name, file and parent entry numbers and
        sequences, attributes, version). With ``MatchNothing`` the records are counted, not yielded."""
        try:
            handle = tree.open(artifact.path)
        except OSError as exc:
            report.unreadable(exc)
            return
        drive = _drive(artifact.path)
        count_only = isinstance(prefilter, MatchNothing)
        names = None if count_only or prefilter is None else prefilter
        span = [0, 0, 0, 0]  # earliest FILETIME seen and its record's offset, latest and its offset
        with handle:
            yield from self._read(handle, artifact, report, drive, count_only, names, span)
        report.see_time(filetime_iso(span[0]), offset=span[1])
        report.see_time(filetime_iso(span[2]), offset=span[3])
        report.bytes_read = artifact.size
        if report.records == 0 and not report.failed and not report.warnings:
            report.warn("no USN record in this journal (only zeros)", code="empty")

    def _read(self, handle: object, artifact: Artifact, report: ParseReport, drive: str, count_only: bool,
              names: Prefilter | None, span: list[int]) -> Iterator[Record]:
        """Every record counted and its time kept for the journal's window; a record is decoded and yielded
        only when ``names`` (the detectors' literals, matched on the lowercased file name) may want it."""
        read = handle.read  # type: ignore[attr-defined]
        base = 0  # file offset of buf[0]
        buf = b""
        skip = 0  # bytes still to skip after a damaged record (up to the next page)
        while True:
            block = read(BLOCK)
            if not block:
                break
            if skip:
                cut = min(skip, len(block))
                block, skip, base = block[cut:], skip - cut, base + cut
                if not block:
                    continue
            if not buf and len(block) == BLOCK and block == _ZERO:
                base += BLOCK  # a sparse zero run: skipped by one comparison
                continue
            buf = buf + block if buf else block
            pos = 0
            end = len(buf)
            while pos + 8 <= end:
                length, major, _minor = _HEAD.unpack_from(buf, pos)
                if length == 0:
                    # padding to the end of a page, or a zero run: find the next non-zero byte
                    found = _NON_ZERO.search(buf, pos)
                    if found is None:
                        pos = end
                        break
                    nxt = found.start() & ~7
                    if nxt <= pos:  # a zero length with bytes after it: damage, not padding
                        report.warn(f"damaged USN record at offset {base + pos} (length 0, version {major}): "
                                    "skipped to the next page", code="bad-record", offset=base + pos)
                        nxt = ((base + pos) // PAGE + 1) * PAGE - base
                    pos = nxt
                    continue
                if length < _HEAD.size or length > MAX_RECORD or length % 8 or major not in (2, 3, 4):
                    report.warn(f"damaged USN record at offset {base + pos} (length {length}, version {major}): "
                                "skipped to the next page", code="bad-record", offset=base + pos)
                    pos = ((base + pos) // PAGE + 1) * PAGE - base
                    continue
                if pos + length > end:
                    break  # the record continues in the next block
                report.records += 1
                if major != 4:
                    ticks = _TIME_V2.unpack_from(buf, pos + 32)[0] if major == 2 else \
                        _TIME_V3.unpack_from(buf, pos + 48)[0]
                    if ticks > 0:
                        if not span[0] or ticks < span[0]:
                            span[0], span[1] = ticks, base + pos
                        if ticks > span[2]:
                            span[2], span[3] = ticks, base + pos
                    if not count_only and (names is None or self._wanted(buf, pos, length, major, names)):
                        record = self._record(buf, pos, length, major, base + pos, artifact, report, drive)
                        if record is not None:
                            yield record
                pos += length
            if pos >= end:
                skip, buf, base = pos - end, b"", base + end
            else:
                buf, base = buf[pos:], base + pos
        if buf.strip(b"\0"):
            report.warn(f"truncated: {len(buf)} bytes at offset {base} end in the middle of a USN record",
                        code="truncated", offset=base)

    @staticmethod
    def _wanted(buf: bytes, pos: int, length: int, major: int, names: Prefilter) -> bool:
        at = pos + (56 if major == 2 else 72)
        if at + 4 > pos + length:
            return True  # damaged: decoded, and warned about there
        name_len, name_off = struct.unpack_from("<HH", buf, at)
        name = buf[pos + name_off:pos + name_off + name_len].decode("utf-16-le", "replace").lower()
        return bool(names.scan(name.encode("utf-8")))

    @staticmethod
    def _record(buf: bytes, pos: int, length: int, major: int, offset: int, artifact: Artifact,
                report: ParseReport, drive: str) -> Record | None:
        try:
            if major == 2:
                (_, _, _, fref, pref, usn, ticks, reason, _src, _sec, attributes, name_len,
                 name_off) = _V2.unpack_from(buf, pos)
                file_entry, file_seq = fref & 0xFFFFFFFFFFFF, fref >> 48
                parent_entry, parent_seq = pref & 0xFFFFFFFFFFFF, pref >> 48
            else:
                (_, _, _, fref16, pref16, usn, ticks, reason, _src, _sec, attributes, name_len,
                 name_off) = _V3.unpack_from(buf, pos)
                low, high = struct.unpack("<QQ", fref16)
                file_entry, file_seq = low & 0xFFFFFFFFFFFF, low >> 48
                low, _ = struct.unpack("<QQ", pref16)
                parent_entry, parent_seq = low & 0xFFFFFFFFFFFF, low >> 48
                del high
        except struct.error:
            report.warn(f"USN record at offset {offset} shorter than its header", code="bad-record", offset=offset)
            return None
        if name_off + name_len > length:
            report.warn(f"USN record at offset {offset}: name outside the record", code="bad-record", offset=offset)
            return None
        name = buf[pos + name_off:pos + name_off + name_len].decode("utf-16-le", "replace")
        when = filetime_iso(ticks)
        reasons = reason_text(reason)
        raw = (f"USN {usn} {when or '?'} {reasons} entry {file_entry}-{file_seq} parent {parent_entry}-"
               f"{parent_seq} {name}")
        fields = {"usn": usn, "time": when, "reason": reason, "reasons": reasons, "name": name,
                  "file_entry": file_entry, "file_seq": file_seq, "parent_entry": parent_entry,
                  "parent_seq": parent_seq, "attributes": attributes, "version": major}
        return Record(kind=ArtifactKind.USN, path=artifact.path, fields=fields, raw=raw, offset=offset,
                      timestamp=when, attrs={"drive": drive})
