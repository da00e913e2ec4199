"""File-system findings end to end on composed (synthetic) hosts: a web shell created, requested and deleted;
timestomping; true file times from the $MFT; a copy's time never placed in the chain; shipped fs rule samples."""

from __future__ import annotations

import dataclasses
import os
import sys
from datetime import datetime
from pathlib import Path

import pytest

from exhunt.content.bundle import ContentBundle, ContentSpec
from exhunt.detectors.base import HostContext
from exhunt.detectors.fs import family
from exhunt.detectors.fs.detector import FsDetector
from exhunt.detectors.fs.rules import FsRuleSet
from exhunt.detectors.registry import load_content
from exhunt.engine import assess_host
from exhunt.model.coverage import HostCoverage
from exhunt.model.event import Record
from exhunt.model.evidence import ArtifactKind
from exhunt.model.filetimes import FileTimes
from exhunt.model.finding import EvidenceRef, Outcome, Severity
from exhunt.model.result import HostResult
from exhunt.sources.directory import DirectoryTree
from logfixtures import iis_header

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "scripts"))
from exgen.common import utc
from exgen.ntfs import (
    USN_CLOSE,
    USN_DATA_EXTEND,
    USN_FILE_CREATE,
    USN_FILE_DELETE,
    Change,
    NtfsFile,
    compose_mft,
    compose_usn,
)

AUTH = "Program Files/Microsoft/Exchange Server/V15/FrontEnd/HttpProxy/owa/auth"
IIS = "C/inetpub/logs/LogFiles/W3SVC1/u_ex210305.log"
CREATED, DELETED = utc("2021-03-05 09:14:02.418"), utc("2021-03-05 09:40:12.733")
DUMPED = utc("2021-03-03 02:38:54.118")
COPIED = datetime(2026, 12, 1, 8, 0, 0).timestamp()  # when the evidence was copied (a checkout)


def _iis_line(clock: str, method: str, stem: str, status: int = 200) -> str:
    return (f"2021-03-05 {clock} 10.10.10.11 {method} {stem} - 443 - 203.0.113.91 antSword/v2.1 - {status} 0 0 "
            "187")


def _host(root: Path, ntfs: bool) -> Path:
    """A synthetic host: IIS log, an LSASS dump whose copy's mtime is the copy's time, and (ntfs) the
    $MFT and $J recording a web shell created, used and deleted."""
    files = {
        IIS: iis_header("2021-03-05") + "\r\n".join([
            _iis_line("09:15:10", "POST", "/owa/auth/x7.aspx"),
            _iis_line("09:16:00", "GET", "/owa/auth/logon.aspx"),
            _iis_line("11:22:11", "POST", "/owa/auth/other.aspx", 404),
        ]) + "\r\n",
        "C/Windows/Temp/lsass.dmp": "MDMP synthetic",
    }
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="")
        os.utime(path, (COPIED, COPIED))
    if ntfs:
        t4 = (CREATED, CREATED, DELETED, CREATED)
        d4 = (DUMPED, DUMPED, DUMPED, DUMPED)
        gone = NtfsFile(f"{AUTH}/x7.aspx", t4, in_use=False, size=900)
        mft, volume = compose_mft([gone, NtfsFile("Windows/Temp/lsass.dmp", d4, size=14),
                                   NtfsFile("inetpub/logs/LogFiles/W3SVC1/u_ex210305.log", t4, size=10)],
                                  utc("2019-06-14 08:02:11"))
        journal = compose_usn(volume, [Change(gone.path, CREATED, USN_FILE_CREATE),
                                       Change(gone.path, CREATED, USN_FILE_CREATE | USN_DATA_EXTEND | USN_CLOSE),
                                       Change(gone.path, DELETED, USN_FILE_DELETE | USN_CLOSE)])
        (root / "C" / "$Extend").mkdir(parents=True)
        (root / "C" / "$MFT").write_bytes(mft)
        (root / "C" / "$Extend" / "$J").write_bytes(journal)
    return root


@pytest.fixture(scope="module")
def bundle() -> ContentBundle:
    return load_content(ContentBundle(spec=ContentSpec()))


def _scan(root: Path, bundle: ContentBundle) -> HostResult:
    return assess_host(DirectoryTree(root), bundle)


def test_deleted_web_shell_tied_to_its_requests(tmp_path: Path, bundle: ContentBundle) -> None:
    result = _scan(_host(tmp_path, ntfs=True), bundle)
    gone = [f for f in result.findings if f.rule_id == "EXH-FS-WEBSHELL-GONE"]
    assert len(gone) == 1
    finding = gone[0]
    assert finding.outcome is Outcome.CONFIRMED and finding.severity is Severity.CRITICAL
    assert "created 2021-03-05 09:14:02, deleted 2021-03-05 09:40:12" in finding.title
    assert finding.first_seen == "2021-03-05T09:14:02.418Z" and finding.last_seen == "2021-03-05T09:40:12.733Z"
    assert finding.attr_values("url") == ["/owa/auth/x7.aspx"]
    assert finding.attr_values("client_ip") == ["203.0.113.91"]
    cited = {(e.path, e.line) for e in finding.evidence}
    assert (IIS, 5) in cited and any(p == "C/$Extend/$J" for p, _ in cited) and any(p == "C/$MFT" for p, _ in cited)
    assert all(e.sha256 for e in finding.evidence)
    coverage = {s.source: s for s in result.coverage.sources.values()}
    assert coverage["usn_journal"].first_time == "2021-03-05T09:14:02.418Z"
    assert coverage["mft"].records > 16
    assert any(n.startswith("NTFS USN journal ($J) starts 2021-03-05 09:14:02") for n in result.coverage.notes)


def test_file_times_come_from_the_mft(tmp_path: Path, bundle: ContentBundle) -> None:
    result = _scan(_host(tmp_path, ntfs=True), bundle)
    dump = next(f for f in result.findings if f.rule_id == "EXH-FILE-LSASS-DUMP")
    assert dump.first_seen == "2021-03-03T02:38:54.118Z"
    ref = next(e for e in dump.evidence if e.path == "C/Windows/Temp/lsass.dmp")
    assert ref.timestamp == "2021-03-03T02:38:54.118Z" and "$STANDARD_INFORMATION" in ref.note
    assert ("time_source", "$MFT $STANDARD_INFORMATION modified") in dump.attributes
    assert dump.attr_values("mft_si_created") == ["2021-03-03T02:38:54.118000Z"]
    assert all(not str(e["time"] or "").startswith("2026") for e in result.timeline)


def test_copy_time_is_never_an_event_time(tmp_path: Path, bundle: ContentBundle) -> None:
    result = _scan(_host(tmp_path, ntfs=False), bundle)
    dump = next(f for f in result.findings if f.rule_id == "EXH-FILE-LSASS-DUMP")
    assert dump.first_seen is None and dump.last_seen is None
    assert ("write_time", "unknown") in dump.attributes
    assert "later than the evidence's last log line (2021-03-05T11:22:11.000Z)" in dump.description
    entry = next(e for e in result.timeline if e["rule_id"] == "EXH-FILE-LSASS-DUMP")
    assert entry["time"] is None and entry["time_note"] == "write time unknown"
    assert any(n.startswith("NTFS $MFT not in the evidence") for n in result.coverage.notes)
    assert not [f for f in result.findings if f.detector == "fs"]


def _record(path: str, in_use: bool, times: FileTimes, number: int = 40) -> Record:
    drive, rest = path.split("/", 1)
    times = dataclasses.replace(times, in_use=in_use, entry=number)
    fields = {"entry": number, "sequence": 1, "in_use": in_use, "directory": False, "path": rest,
              "name": rest.rsplit("/", 1)[-1], "size": 10, "times": lambda: times}
    return Record(ArtifactKind.MFT, f"{drive}/$MFT", fields, raw=f"$MFT entry {number}", record=number,
                  offset=number * 1024, attrs={"drive": drive})


def _shipped() -> FsRuleSet:
    content = ContentBundle(spec=ContentSpec())
    family.load(content)
    assert content.errors == []
    rules = content.parts[family.PART]
    assert isinstance(rules, FsRuleSet)
    return rules


def _ids(rules: FsRuleSet, path: str, deleted: bool, times: FileTimes, tmp_path: Path,
         written: bool = False) -> set[str]:
    detector = FsDetector(rules, {})
    ctx = HostContext(host="h", tree=DirectoryTree(tmp_path), artifacts=[], coverage=HostCoverage())
    detector.start(ctx)
    if written:  # as a logged exploit's line naming the path would (see test_exploit_written_path_...)
        source = next(name for r in rules.rules for name in r.written_by)
        detector.written[path.lower()] = (source, EvidenceRef(path="C/x.LOG", line=5, note="written"))
    detector.on_record(_record(path, not deleted, times), ctx)
    return {f.rule_id for f in detector.finish(ctx) if f.outcome is not Outcome.INFORMATIONAL}


PLAIN = FileTimes("C/$MFT", 40, 1, True, *(["2021-03-05T09:14:02.418000Z"] * 8))


@pytest.mark.parametrize("rule", _shipped().rules, ids=lambda r: r.rule_id)
def test_shipped_fs_rule_samples(rule: object, tmp_path: Path) -> None:
    rules = _shipped()
    assert rule in rules.rules
    for path, deleted, written in rule.positive:  # type: ignore[attr-defined]
        found = _ids(rules, path, deleted, PLAIN, tmp_path, written)
        assert rule.rule_id in found, path  # type: ignore[attr-defined]
    for path, deleted, written in rule.negative:  # type: ignore[attr-defined]
        found = _ids(rules, path, deleted, PLAIN, tmp_path, written)
        assert rule.rule_id not in found, path  # type: ignore[attr-defined]
    assert rule.positive and rule.negative  # type: ignore[attr-defined]


def test_timestomp_on_a_selected_file(tmp_path: Path) -> None:
    stomped = FileTimes("C/$MFT", 41, 1, True, "2020-11-04T03:12:41.000000Z", "2020-11-04T03:12:41.000000Z",
                        "2021-03-03T02:22:15.091000Z", "2020-11-04T03:12:41.000000Z",
                        *(["2021-03-03T02:21:40.512000Z"] * 4))
    path = "C/inetpub/wwwroot/aspnet_client/system_web/s.aspx"
    assert _ids(_shipped(), path, False, stomped, tmp_path) == {"EXH-FS-TIMESTOMP"}
    assert _ids(_shipped(), "C/Users/a/Desktop/s.aspx", False, stomped, tmp_path) == set()
    whole = FileTimes("C/$MFT", 41, 1, True, *(["2021-03-03T02:21:40.000000Z"] * 4),
                      *(["2021-03-03T02:21:40.512000Z"] * 4))
    assert _ids(_shipped(), path, False, whole, tmp_path) == {"EXH-FS-TIMESTOMP"}


def test_bulk_deletion_is_informational(tmp_path: Path) -> None:
    rules = _shipped()
    detector = FsDetector(rules, {})
    ctx = HostContext(host="h", tree=DirectoryTree(tmp_path), artifacts=[], coverage=HostCoverage())
    detector.start(ctx)
    for i in range(12):  # a cumulative update replacing pages
        detector.on_record(_record(f"C/{AUTH}/15.2.721/page{i}.aspx", False, PLAIN, 40 + i), ctx)
    findings = detector.finish(ctx)
    assert len(findings) == 1 and findings[0].outcome is Outcome.INFORMATIONAL
    assert findings[0].evidence_total == 12 and "12 web shell files deleted together" in findings[0].title


def test_exploit_written_path_deleted_outside_the_web_folders(tmp_path: Path, bundle: ContentBundle) -> None:
    """CVE-2021-26858 wrote a file where no folder rule looks; the OAB generator's line names it; it was
    deleted: the $MFT entry, tied to the line, is a confirmed finding."""
    when = utc("2021-03-03 02:21:40.512")
    t4 = (when, when, when, when)
    target = "ProgramData/Microsoft/Crypto/up.aspx"
    mft, _ = compose_mft([NtfsFile(target, t4, in_use=False, size=200)], utc("2019-06-14 08:02:11"))
    (tmp_path / "C").mkdir()
    (tmp_path / "C" / "$MFT").write_bytes(mft)
    oab = tmp_path / "C/Program Files/Microsoft/Exchange Server/V15/Logging/OABGeneratorLog/OABGenerator_1.LOG"
    oab.parent.mkdir(parents=True)
    oab.write_text("2021-03-03T02:21:40.512Z,0x1F3A,OABGen,Download failed and temporary file "
                   "'C:\\ProgramData\\Microsoft\\Crypto\\up.aspx' needs to be removed.\r\n", newline="")
    result = _scan(tmp_path, bundle)
    [finding] = [f for f in result.findings if f.rule_id == "EXH-FS-EXPLOIT-WRITTEN-GONE"]
    assert finding.outcome is Outcome.CONFIRMED and finding.severity is Severity.CRITICAL
    assert ("written_by", "oab-temporary-file") in finding.attributes
    assert any(e.path == str(oab.relative_to(tmp_path)) and e.line == 1 for e in finding.evidence)
    assert finding.first_seen == "2021-03-03T02:21:40.512Z"
