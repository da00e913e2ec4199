"""Small but valid NTFS metadata files: a ``$MFT`` and a USN journal ``$J``, composed from their documentation.

``$MFT``: 1024-byte FILE records with an update sequence array (fixups at the end of each 512-byte sector),
resident ``$STANDARD_INFORMATION`` (0x10), ``$FILE_NAME`` (0x30) and ``$DATA`` (0x80) attributes; entries
0-15 are the metafiles, entry 5 the root folder. Folders are made for every parent path. The journal holds
``USN_RECORD_V2`` records (60-byte header + UTF-16LE name, 8-byte aligned) after a run of zeros, as the
sparse head of a real ``$UsnJrnl:$J`` reads. Synthetic: nothing here was taken from a real volume.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

RECORD_SIZE = 1024
SECTOR = 512
_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)

# USN reason flags (winioctl.h)
USN_DATA_OVERWRITE = 0x00000001
USN_DATA_EXTEND = 0x00000002
USN_FILE_CREATE = 0x00000100
USN_FILE_DELETE = 0x00000200
USN_RENAME_OLD_NAME = 0x00001000
USN_RENAME_NEW_NAME = 0x00002000
USN_BASIC_INFO = 0x00008000
USN_CLOSE = 0x80000000

FILE_ATTRIBUTE_ARCHIVE = 0x20
FILE_ATTRIBUTE_DIRECTORY = 0x10


def filetime(when: datetime) -> int:
    """A datetime as a Windows FILETIME (100 ns ticks since 1601-01-01 UTC)."""
    delta = when - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 10_000_000 + delta.microseconds * 10


Times = tuple[datetime, datetime, datetime, datetime]  # created, modified, MFT changed, accessed


@dataclass
class NtfsFile:
    """One file of the volume: its path below the root ('/' separated), $SI and $FN times, content."""

    path: str
    si: Times
    fn: Times | None = None  # $FILE_NAME times; default: the same as $SI
    in_use: bool = True
    data: bytes = b""  # kept resident when small (as NTFS does for files under ~700 bytes)
    size: int | None = None  # the logical size when ``data`` is not given in full


@dataclass
class Volume:
    """The files of one volume, numbered as they are added (metafiles first)."""

    files: list[NtfsFile] = field(default_factory=list)
    entries: dict[str, int] = field(default_factory=dict)  # lowercased path -> entry number

    def entry_of(self, path: str) -> int:
        return self.entries[path.lower()]


def _attr(type_code: int, content: bytes, attr_id: int, indexed: bool = False) -> bytes:
    length = (24 + len(content) + 7) & ~7
    header = struct.pack("<IIBBHHHIHBB", type_code, length, 0, 0, 0, 0, attr_id, len(content), 24,
                         1 if indexed else 0, 0)
    return (header + content).ljust(length, b"\0")


def _si(times: Times, attributes: int) -> bytes:
    stamps = [filetime(t) for t in times]
    return struct.pack("<QQQQIIIIIIQQ", *stamps, attributes, 0, 0, 0, 0, 0x100, 0, 0)


def _fn(parent: int, parent_seq: int, times: Times, size: int, attributes: int, name: str) -> bytes:
    stamps = [filetime(t) for t in times]
    encoded = name.encode("utf-16-le")
    return struct.pack("<QQQQQQQIIBB", parent | (parent_seq << 48), *stamps, (size + 4095) & ~4095, size,
                       attributes, 0, len(name), 1) + encoded  # namespace 1: Win32


def file_record(entry: int, seq: int, flags: int, attributes: list[bytes], usn: int = 1) -> bytes:
    """One FILE record with its fixups applied (what is on disk)."""
    body = bytearray(RECORD_SIZE)
    first_attr = 0x38
    used = first_attr + sum(len(a) for a in attributes) + 8
    struct.pack_into("<4sHHQHHHHIIQHHI", body, 0, b"FILE", 0x30, 1 + RECORD_SIZE // SECTOR, 0, seq, 1,
                     first_attr, flags, used, RECORD_SIZE, 0, len(attributes), 0, entry)
    pos = first_attr
    for attribute in attributes:
        body[pos:pos + len(attribute)] = attribute
        pos += len(attribute)
    struct.pack_into("<II", body, pos, 0xFFFFFFFF, 0)
    struct.pack_into("<H", body, 0x30, usn)
    for sector in range(RECORD_SIZE // SECTOR):
        end = (sector + 1) * SECTOR - 2
        body[0x32 + 2 * sector:0x34 + 2 * sector] = body[end:end + 2]
        struct.pack_into("<H", body, end, usn)
    return bytes(body)


def _entry(number: int, name: str, parent: int, times: Times, fn_times: Times, directory: bool, in_use: bool,
           data: bytes | None, size: int) -> bytes:
    attributes = FILE_ATTRIBUTE_DIRECTORY if directory else FILE_ATTRIBUTE_ARCHIVE
    attrs = [_attr(0x10, _si(times, attributes), 0),
             _attr(0x30, _fn(parent, 1, fn_times, size, attributes, name), 1, indexed=True)]
    if not directory:
        attrs.append(_attr(0x80, data or b"", 2))
    flags = (0x01 if in_use else 0) | (0x02 if directory else 0)
    return file_record(number, 1, flags, attrs)


_METAFILES = ("$MFT", "$MFTMirr", "$LogFile", "$Volume", "$AttrDef", ".", "$Bitmap", "$Boot", "$BadClus",
              "$Secure", "$UpCase", "$Extend")


def compose_mft(files: Iterable[NtfsFile], formatted: datetime) -> tuple[bytes, Volume]:
    """The ``$MFT`` of a volume holding ``files`` (folders added as needed), and the entry numbers."""
    volume = Volume()
    t4: Times = (formatted, formatted, formatted, formatted)
    records: list[bytes] = []
    for number, name in enumerate(_METAFILES):
        directory = name in (".", "$Extend")
        records.append(_entry(number, name, 5, t4, t4, directory, True, None if directory else b"", 0))
    for number in range(len(_METAFILES), 16):  # reserved entries: formatted, not in use
        records.append(file_record(number, 0, 0, []))
    volume.entries["$extend"] = 11
    pending = sorted(files, key=lambda f: f.path.lower())
    for item in pending:
        parts = item.path.split("/")
        parent = 5
        for depth in range(1, len(parts)):
            folder = "/".join(parts[:depth])
            if folder.lower() not in volume.entries:
                number = len(records)
                records.append(_entry(number, parts[depth - 1], parent, item.si, item.si, True, True, None, 0))
                volume.entries[folder.lower()] = number
            parent = volume.entries[folder.lower()]
        number = len(records)
        size = item.size if item.size is not None else len(item.data)
        resident = item.data if len(item.data) <= 600 else b""
        records.append(_entry(number, parts[-1], parent, item.si, item.fn or item.si, False, item.in_use,
                              resident, size))
        volume.entries[item.path.lower()] = number
        volume.files.append(item)
    return b"".join(records), volume


def usn_record(file_entry: int, parent_entry: int, usn: int, when: datetime, reason: int, name: str,
               attributes: int = FILE_ATTRIBUTE_ARCHIVE, seq: int = 1) -> bytes:
    """One USN_RECORD_V2 (major version 2, minor 0), padded to 8 bytes."""
    encoded = name.encode("utf-16-le")
    length = (60 + len(encoded) + 7) & ~7
    header = struct.pack("<IHHQQqqIIIIHH", length, 2, 0, file_entry | (seq << 48), parent_entry | (1 << 48), usn,
                         filetime(when), reason, 0, 0, attributes, len(encoded), 60)
    return (header + encoded).ljust(length, b"\0")


@dataclass(frozen=True)
class Change:
    """One journal entry to write: which file (its path in the volume), when, why."""

    path: str
    when: datetime
    reason: int


def compose_usn(volume: Volume, changes: Iterable[Change], sparse_head: int = 64 * 1024) -> bytes:
    """A ``$J`` stream: ``sparse_head`` zero bytes (the deallocated start of the journal), then the records,
    never crossing a 4 KiB page (the rest of a page is zeros, as Windows writes it)."""
    out = bytearray(sparse_head)
    for change in changes:
        parts = change.path.rsplit("/", 1)
        parent = volume.entries[parts[0].lower()] if len(parts) == 2 else 5
        record = usn_record(volume.entry_of(change.path), parent, len(out), change.when, change.reason, parts[-1])
        if len(out) // 4096 != (len(out) + len(record) - 1) // 4096:
            out.extend(b"\0" * (4096 - len(out) % 4096))
            record = usn_record(volume.entry_of(change.path), parent, len(out), change.when, change.reason,
                                parts[-1])
        out.extend(record)
    return bytes(out)


def volume_files(files: dict[str, bytes], mtimes: dict[str, datetime], drive: str, default: datetime,
                 overrides: dict[str, NtfsFile] | None = None) -> list[NtfsFile]:
    """The live files of one drive of a host as NTFS files: every time is the file's own write time (a
    file written once), unless ``overrides`` (by host path) says otherwise."""
    out: list[NtfsFile] = []
    prefix = drive + "/"
    for path in sorted(files):
        if not path.startswith(prefix) or path.rsplit("/", 1)[-1] in ("$MFT", "$J"):
            continue
        if overrides and path in overrides:
            out.append(overrides[path])
            continue
        when = mtimes.get(path, default)
        out.append(NtfsFile(path[len(prefix):], (when, when, when, when), size=len(files[path])))
    return out
