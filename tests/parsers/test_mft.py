"""$MFT parser: composed (synthetic) volumes read back through the ``mft`` package; damage is a warning with
its entry and offset, and the read goes on."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from exhunt.model.event import Record
from exhunt.model.evidence import Artifact, ArtifactKind
from exhunt.parsers.base import MatchNothing, ParseReport
from exhunt.parsers.mft import MftParser
from exhunt.sources.directory import DirectoryTree

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from exgen.common import utc
from exgen.ntfs import NtfsFile, compose_mft

FORMATTED = utc("2019-06-14 08:02:11.250")
WRITTEN = utc("2021-03-03 02:14:05.330")
STOMPED = utc("2020-11-04 03:12:41")
SHELL = "Program Files/Microsoft/Exchange Server/V15/FrontEnd/HttpProxy/owa/auth/x7.aspx"


def _volume() -> tuple[bytes, dict[str, int]]:
    t4 = (WRITTEN, WRITTEN, WRITTEN, WRITTEN)
    files = [
        NtfsFile(SHELL, t4, data=b'<%@ Page Language="Jscript"%>'),  # synthetic
        NtfsFile("Windows/Temp/lsass.dmp", t4, in_use=False, size=48_000_000),
        NtfsFile("inetpub/wwwroot/aspnet_client/system_web/s.aspx", (STOMPED, STOMPED, WRITTEN, STOMPED), fn=t4),
    ]
    data, volume = compose_mft(files, FORMATTED)
    return data, volume.entries


def _parse(tmp_path: Path, data: bytes, name: str = "C/$MFT") -> tuple[list[Record], ParseReport]:
    target = tmp_path / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    tree = DirectoryTree(tmp_path)
    artifact = Artifact(ArtifactKind.MFT, name, len(data))
    report = ParseReport(path=name)
    return list(MftParser().parse(tree, artifact, report)), report


def test_entries_paths_and_times(tmp_path: Path) -> None:
    data, entries = _volume()
    records, report = _parse(tmp_path, data)
    assert report.warnings == []
    assert report.records == len(data) // 1024
    by_path = {r.fields["path"]: r for r in records}
    shell = by_path[SHELL]
    assert shell.fields["in_use"] and not shell.fields["directory"]
    assert shell.record == entries[SHELL.lower()] and shell.offset == shell.record * 1024
    assert shell.attrs["drive"] == "C"
    times = shell.fields["times"]()
    assert times.si_created == "2021-03-03T02:14:05.330000Z" and times.fn_created == times.si_created
    assert times.written() == ("2021-03-03T02:14:05.330000Z", "si_modified")
    gone = by_path["Windows/Temp/lsass.dmp"]
    assert not gone.fields["in_use"] and "NOT IN USE" in gone.raw
    stomped = by_path["inetpub/wwwroot/aspnet_client/system_web/s.aspx"].fields["times"]()
    assert stomped.stomped() and stomped.written() == ("2021-03-03T02:14:05.330000Z", "fn_created")
    assert report.first_time == "2019-06-14T08:02:11.250000Z"  # the volume's format time ($MFT entry 0)


def test_bad_fixup_is_warned_and_the_entry_still_read(tmp_path: Path) -> None:
    data, entries = _volume()
    damaged = bytearray(data)
    number = entries[SHELL.lower()]
    damaged[number * 1024 + 510] ^= 0xFF  # the end of the first sector no longer holds the update sequence
    records, report = _parse(tmp_path, bytes(damaged))
    fixups = [w for w in report.warnings if w.code == "bad-fixup"]
    assert fixups and fixups[0].offset == number * 1024 and f"entry {number}" in fixups[0].message
    assert SHELL in {r.fields["path"] for r in records}
    assert len(records) == len(data) // 1024


def test_bad_signature_and_truncation_are_warned_and_the_rest_read(tmp_path: Path) -> None:
    data, entries = _volume()
    damaged = bytearray(data)
    number = entries["inetpub/wwwroot/aspnet_client/system_web/s.aspx"]
    damaged[number * 1024:number * 1024 + 4] = b"XXXX"
    damaged = damaged[:-300]  # the collection stopped inside the last entry
    records, report = _parse(tmp_path, bytes(damaged))
    codes = {w.code for w in report.warnings}
    assert {"bad-record", "truncated"} <= codes
    bad = next(w for w in report.warnings if w.code == "bad-record")
    assert bad.offset == number * 1024
    paths = {r.fields["path"] for r in records}
    assert SHELL in paths and "inetpub/wwwroot/aspnet_client/system_web/s.aspx" not in paths
    assert "Windows/Temp/lsass.dmp" not in paths  # the last entry, cut short


def test_not_an_mft(tmp_path: Path) -> None:
    records, report = _parse(tmp_path, b"MZ\x90\x00" + bytes(2044))
    assert records == [] and report.not_understood
    assert report.warnings[0].code == "not-understood"


def test_nobody_interested_counts_without_reading(tmp_path: Path) -> None:
    data, _ = _volume()
    (tmp_path / "C").mkdir()
    (tmp_path / "C" / "$MFT").write_bytes(data)
    report = ParseReport(path="C/$MFT")
    records = list(MftParser().parse(DirectoryTree(tmp_path), Artifact(ArtifactKind.MFT, "C/$MFT", len(data)),
                                     report, MatchNothing()))
    assert records == [] and report.records == len(data) // 1024


@pytest.mark.parametrize("name", ["D/$MFT", "$MFT"])
def test_drive_from_the_collection_path(tmp_path: Path, name: str) -> None:
    data, _ = _volume()
    records, _ = _parse(tmp_path, data, name)
    assert records[0].attrs["drive"] == ("D" if name.startswith("D/") else "C")


def test_random_damage_never_stops_the_read(tmp_path: Path) -> None:
    """Bytes flipped at random (fixed seed) in the $MFT and the journal: every pass ends, no exception escapes
    (the package panics on some entries: the read goes on past them), every warning has its offset."""
    import random

    from exgen.ntfs import USN_FILE_CREATE, USN_FILE_DELETE, Change, compose_usn

    from exhunt.parsers.usn import UsnParser

    t4 = (WRITTEN, WRITTEN, WRITTEN, WRITTEN)
    files = [NtfsFile(f"inetpub/wwwroot/aspnet_client/f{i}.aspx", t4, in_use=i % 2 == 0, data=b"x" * (i * 37 % 500))
             for i in range(30)]
    data, volume = compose_mft(files, FORMATTED)
    journal = compose_usn(volume, [Change(f.path, WRITTEN, USN_FILE_CREATE if i % 2 else USN_FILE_DELETE)
                                   for i, f in enumerate(files)], 8192)
    rng = random.Random(20210303)
    (tmp_path / "C" / "$Extend").mkdir(parents=True)
    tree = DirectoryTree(tmp_path)
    for _ in range(40):
        mft_bytes, usn_bytes = bytearray(data), bytearray(journal)
        for _ in range(rng.randint(1, 40)):
            mft_bytes[rng.randrange(len(mft_bytes))] = rng.randrange(256)
            usn_bytes[rng.randrange(len(usn_bytes))] = rng.randrange(256)
        (tmp_path / "C" / "$MFT").write_bytes(mft_bytes)
        (tmp_path / "C" / "$Extend" / "$J").write_bytes(usn_bytes)
        report = ParseReport(path="C/$MFT")
        for record in MftParser().parse(tree, Artifact(ArtifactKind.MFT, "C/$MFT", len(mft_bytes)), report):
            record.fields["times"]()
        assert all(w.offset is not None for w in report.warnings if w.code != "more-warnings")
        journal_report = ParseReport(path="C/$Extend/$J")
        list(UsnParser().parse(tree, Artifact(ArtifactKind.USN, "C/$Extend/$J", len(usn_bytes)), journal_report))
        assert all(w.offset is not None for w in journal_report.warnings)
