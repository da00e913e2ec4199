"""USN journal ($J) reader: V2 and V3 records after a sparse zero head; a damaged record or a journal cut
short is a warning with its offset, and the read goes on."""

from __future__ import annotations

import struct
import sys
from pathlib import Path

from exhunt.model.event import Record
from exhunt.model.evidence import Artifact, ArtifactKind
from exhunt.parsers.base import MatchNothing, ParseReport, Prefilter
from exhunt.parsers.usn import BLOCK, FILE_CREATE, FILE_DELETE, UsnParser, filetime_iso, reason_text
from exhunt.sources.directory import DirectoryTree

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from exgen.common import utc
from exgen.ntfs import USN_CLOSE, USN_FILE_CREATE, USN_FILE_DELETE, filetime, usn_record

T1 = utc("2021-03-05 09:14:02.418")
T2 = utc("2021-03-05 09:40:12.733")


def _v3(entry: int, parent: int, when: int, reason: int, name: str) -> bytes:
    """A USN_RECORD_V3 (128-bit file references), as ReFS and recent NTFS write them."""
    encoded = name.encode("utf-16-le")
    length = (76 + len(encoded) + 7) & ~7
    head = struct.pack("<IHH16s16sqqIIIIHH", length, 3, 0, struct.pack("<QQ", entry | (2 << 48), 0),
                       struct.pack("<QQ", parent | (1 << 48), 0), 4096, when, reason, 0, 0, 0x20, len(encoded), 76)
    return (head + encoded).ljust(length, b"\0")


def _journal(head: int = 3 * BLOCK + 4096) -> bytes:
    records = [usn_record(52, 39, 0, T1, USN_FILE_CREATE, "x7.aspx"),
               usn_record(52, 39, 0, T2, USN_FILE_DELETE | USN_CLOSE, "x7.aspx")]
    page = b"".join(records).ljust(4096, b"\0")
    return bytes(head) + page + _v3(77, 5, filetime(T2), FILE_CREATE, "out.7z").ljust(4096, b"\0")


def _parse(tmp_path: Path, data: bytes, prefilter: Prefilter | None = None) -> tuple[list[Record], ParseReport]:
    path = "C/$Extend/$J"
    (tmp_path / "C" / "$Extend").mkdir(parents=True, exist_ok=True)
    (tmp_path / path).write_bytes(data)
    report = ParseReport(path=path)
    records = list(UsnParser().parse(DirectoryTree(tmp_path), Artifact(ArtifactKind.USN, path, len(data)), report,
                                     prefilter))
    return records, report


def test_records_after_a_sparse_head(tmp_path: Path) -> None:
    data = _journal()
    records, report = _parse(tmp_path, data)
    assert report.warnings == []
    assert [r.fields["name"] for r in records] == ["x7.aspx", "x7.aspx", "out.7z"]
    first, second, v3 = records
    assert first.offset == 3 * BLOCK + 4096 and first.fields["file_entry"] == 52 and first.fields["parent_entry"] == 39
    assert first.fields["reason"] & FILE_CREATE and second.fields["reason"] & FILE_DELETE
    assert first.timestamp == "2021-03-05T09:14:02.4180000Z" and first.attrs["drive"] == "C"
    assert "FILE_DELETE" in second.fields["reasons"] and "x7.aspx" in second.raw
    assert v3.fields["version"] == 3 and v3.fields["file_entry"] == 77 and v3.fields["file_seq"] == 2
    assert report.first_time == first.timestamp  # how far back the journal reaches
    assert report.records == 3


def test_damaged_record_skips_to_the_next_page(tmp_path: Path) -> None:
    data = bytearray(_journal(head=4096))
    struct.pack_into("<I", data, 4096, 13)  # an impossible record length (not a multiple of 8)
    records, report = _parse(tmp_path, bytes(data))
    assert [w.code for w in report.warnings] == ["bad-record"]
    assert report.warnings[0].offset == 4096
    assert [r.fields["name"] for r in records] == ["out.7z"]  # the next page is read


def test_truncated_journal_is_warned(tmp_path: Path) -> None:
    data = _journal(head=0)
    cut = data[:4096 + 40]  # inside the V3 record's header
    records, report = _parse(tmp_path, cut)
    assert [r.fields["name"] for r in records] == ["x7.aspx", "x7.aspx"]
    assert [w.code for w in report.warnings] == ["truncated"]
    assert report.warnings[0].offset == 4096


def test_only_zeros(tmp_path: Path) -> None:
    records, report = _parse(tmp_path, bytes(BLOCK + 100))
    assert records == [] and report.records == 0
    assert [w.code for w in report.warnings] == ["empty"]


def test_counted_when_nobody_is_interested(tmp_path: Path) -> None:
    records, report = _parse(tmp_path, _journal(), MatchNothing())
    assert records == [] and report.records == 3 and report.first_time is not None


def test_reason_and_time_helpers() -> None:
    assert reason_text(0x80000200) == "FILE_DELETE|CLOSE"
    assert filetime_iso(0) is None
    assert filetime_iso(filetime(T1)) == "2021-03-05T09:14:02.4180000Z"
