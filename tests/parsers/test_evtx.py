"""EVTX parser: real files from the shared corpus (benign, MSExchange Management, damaged) and bad input."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from exhunt.model.event import Record
from exhunt.model.evidence import Artifact, ArtifactKind
from exhunt.parsers.base import ParseReport, RecordGate, RouteGate
from exhunt.parsers.evtx import EvtxParser, _compact_head, _loose_head
from exhunt.sources.directory import DirectoryTree
from exhunt.sources.ziparchive import ZipTree

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "evtx"
SAMPLES = CORPUS / "omerbenamram-evtx"

needs_corpus = pytest.mark.skipif(not SAMPLES.is_dir(), reason=f"shared EVTX corpus absent: {SAMPLES}")


def parse(tree: DirectoryTree | ZipTree, path: str, channel: str = "") -> tuple[list[Record], ParseReport]:
    size = next((e.size for e in tree.walk() if e.path == path), 0)
    artifact = Artifact(ArtifactKind.EVTX, path, size, attrs=(("channel", channel),) if channel else ())
    report = ParseReport(path)
    return list(EvtxParser().parse(tree, artifact, report)), report


@needs_corpus
def test_security_log_system_fields_and_coverage() -> None:
    records, report = parse(DirectoryTree(SAMPLES), "security.evtx")
    assert report.records == len(records) == 2261
    assert not report.warnings and not report.not_understood and not report.failed
    assert report.first_time == "2016-07-08T18:12:51.681640Z"
    assert report.last_time == "2017-04-14T01:21:10.906949Z"
    first = records[0]
    assert first.fields["EventID"] == 4608 and isinstance(first.fields["EventID"], int)
    assert first.fields["Provider_Name"] == "Microsoft-Windows-Security-Auditing"
    assert first.fields["Channel"] == "Security" and first.attrs["channel"] == "Security"
    assert first.fields["Level"] == 0 and first.fields["EventRecordID"] == first.record == 1
    assert first.timestamp is not None and first.timestamp.endswith("Z")
    assert first.timestamp == first.fields["TimeCreated"]
    assert first.raw.startswith('{"Event"')
    logons = [r for r in records if r.fields["EventID"] == 4624]
    assert logons and {"TargetUserName", "LogonType", "IpAddress"} <= set(logons[0].fields)
    assert all(isinstance(r.fields.get("LogonType"), str) for r in logons)


@needs_corpus
def test_sysmon_process_creation_fields() -> None:
    records, report = parse(DirectoryTree(SAMPLES), "sysmon.evtx")
    created = [r for r in records if r.fields["EventID"] == 1]
    assert created
    ping = next(r for r in created if r.record == 1743)
    assert ping.fields["Image"] == "C:\\Windows\\SysWOW64\\PING.EXE"
    assert ping.fields["CommandLine"] == "ping  -n 6 127.0.0.1 "
    assert ping.fields["ParentImage"] == "C:\\Windows\\SysWOW64\\cmd.exe"
    assert ping.fields["ProcessId"] == "4188"  # numbers as Windows renders them: text
    assert ping.fields["SecurityUserID"] == "S-1-5-18"
    # sysmon.evtx has trailing chunks that are not chunks: every one is warned about, with its number
    assert report.records == 358
    assert [w.code for w in report.warnings] == ["damaged"] * 8
    assert "chunk number 9" in report.warnings[0].message


@needs_corpus
@pytest.mark.parametrize("name", ["MSExchange_Management_wec.evtx", "issue_201.evtx"])
def test_msexchange_management_channel(name: str) -> None:
    records, report = parse(DirectoryTree(SAMPLES), name)
    assert report.records == 1 and not report.warnings
    fields = records[0].fields
    assert fields["Channel"] == "MSExchange Management" and fields["EventID"] == 1
    assert fields["Provider_Name"] == "MSExchange CmdletLogs"
    # unnamed data: the cmdlet and its parameters, joined as the text an analyst reads
    assert fields["Data"].startswith('Set-Mailbox -Identity "Administrateur" -DeliverToMailboxAndForward')
    assert "ForwardingSmtpAddress" in fields["Message"]
    assert "w3wp#MSExchangePowerShellAppPool" in fields["Data"]


@needs_corpus
@pytest.mark.parametrize(("name", "records", "warnings", "hint"), [
    ("sample_with_a_bad_chunk_magic.evtx", 270, 2, "chunk number 6"),
    ("sample-with-zero-data-size-event.evtx", 335, 1, "data size"),
    ("Application_no_crc32.evtx", 17, 0, ""),
    ("security_bad_string_cache.evtx", 2261, 0, ""),
])
def test_damaged_files_yield_every_readable_record(name: str, records: int, warnings: int, hint: str) -> None:
    got, report = parse(DirectoryTree(SAMPLES), name)
    assert report.records == len(got) == records
    assert len(report.warnings) == warnings
    assert not report.failed and not report.not_understood
    if hint:
        assert hint in report.warnings[0].message
        assert report.warnings[0].path == name
        assert "after record" in report.warnings[0].message


@needs_corpus
def test_account_creation_in_plaso_sample() -> None:
    records, _ = parse(DirectoryTree(CORPUS / "plaso"), "System2.evtx")
    created = [r for r in records if r.fields["EventID"] == 4720]
    assert created and created[0].fields["Channel"] == "Security"
    assert created[0].fields["TargetUserName"]


@needs_corpus
def test_userdata_is_flattened_by_leaf_name() -> None:
    records, _ = parse(DirectoryTree(SAMPLES), "system.evtx")
    missing = next(r for r in records if r.fields["EventID"] == 10114)
    assert missing.fields["Dependency"] == "WUDFPf"
    records, _ = parse(DirectoryTree(SAMPLES),
                       "2-vss_0-Microsoft-Windows-TerminalServices-RemoteConnectionManager%4Operational.evtx")
    listener = next(r for r in records if r.fields["EventID"] == 261)
    assert listener.fields["listenerName"] == "RDP-Tcp"


@needs_corpus
def test_evtx_inside_a_zip_is_read_through_a_spool(tmp_path: Path) -> None:
    archive = tmp_path / "host.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        out.write(SAMPLES / "security.evtx", "C/Windows/System32/winevt/Logs/Security.evtx")
    tree = ZipTree(archive)
    try:
        records, report = parse(tree, "C/Windows/System32/winevt/Logs/Security.evtx", "Security")
    finally:
        tree.close()
    direct, _ = parse(DirectoryTree(SAMPLES), "security.evtx")
    assert report.records == 2261 and not report.warnings
    assert [r.fields for r in records] == [r.fields for r in direct]


@needs_corpus
def test_truncated_file_keeps_the_complete_chunks(tmp_path: Path) -> None:
    data = (SAMPLES / "security.evtx").read_bytes()
    (tmp_path / "cut.evtx").write_bytes(data[: 4096 + 65536 * 3 + 1000])  # header, 3 chunks, a scrap
    records, report = parse(DirectoryTree(tmp_path), "cut.evtx")
    assert records and report.records == len(records)
    assert not report.not_understood
    cut = [w for w in report.warnings if w.code == "truncated"]  # #14: it read without a word before
    assert report.partial and len(cut) == 1 and "whole chunk" in cut[0].message


@pytest.mark.parametrize(("content", "why"), [
    (b"", "empty"),
    (b"MZ\x90\x00" + b"\x00" * 5000, "magic"),
    (b"<Events><Event/></Events>", "magic"),
])
def test_not_evtx_is_not_understood(tmp_path: Path, content: bytes, why: str) -> None:
    (tmp_path / "x.evtx").write_bytes(content)
    records, report = parse(DirectoryTree(tmp_path), "x.evtx")
    assert records == []
    assert report.not_understood
    assert report.warnings[0].code == "not-understood" and why in report.warnings[0].message


def test_header_only_file_warns_and_never_crashes(tmp_path: Path) -> None:
    (tmp_path / "zero.evtx").write_bytes(b"ElfFile\x00" + b"\x00" * 8000)
    records, report = parse(DirectoryTree(tmp_path), "zero.evtx")
    assert records == [] and report.warnings


def test_unreadable_file_fails_with_a_warning(tmp_path: Path) -> None:
    tree = DirectoryTree(tmp_path)
    report = ParseReport("gone.evtx")
    assert list(EvtxParser().parse(tree, Artifact(ArtifactKind.EVTX, "gone.evtx", 10), report)) == []
    assert report.failed and report.warnings[0].code == "unreadable"


@needs_corpus
def test_application_unnamed_data_is_joined_into_data_and_message() -> None:
    records, _ = parse(DirectoryTree(SAMPLES), "Application_no_crc32.evtx")
    spp = next(r for r in records if r.fields["EventID"] == 1066)
    assert spp.fields["Provider_Name"] == "Microsoft-Windows-Security-SPP"
    assert spp.fields["Data"].startswith("C:\\Windows\\system32\\sppwinob.dll, msft:spp/")
    assert spp.fields["Message"] == spp.fields["Data"]


def test_record_gate_skips_undecoded_records_but_keeps_coverage() -> None:
    """Records no detector can use are counted, their times kept, and never decoded."""
    path = CORPUS / "omerbenamram-evtx" / "security.evtx"
    if not path.exists():
        pytest.skip(f"shared corpus not present: {path}")
    tree = DirectoryTree(path.parent)
    artifact = Artifact(ArtifactKind.EVTX, path.name, path.stat().st_size)
    full_report, gated_report = ParseReport(path.name), ParseReport(path.name)
    every = list(EvtxParser().parse(tree, artifact, full_report))
    seen: list[tuple[str | None, int | None]] = []
    tested: list[str] = []

    def only_interactive_logons(channel: str | None, event_id: int | None) -> RouteGate:
        seen.append((channel, event_id))
        if event_id != 4624:
            return False
        return lambda raw: tested.append(raw) is None and '"LogonType":2' in raw

    some = list(EvtxParser().parse(tree, artifact, gated_report, RecordGate([only_interactive_logons])))
    logons = [r for r in every if r.get("EventID") == 4624]
    assert [r.record for r in some] == [r.record for r in logons if str(r.get("LogonType")) == "2"]
    assert 0 < len(some) < len(logons)
    # asked once per route, in the order routes first appear; the raw test once per record of the route
    routes = [(str(r.get("Channel")).lower(), r.get("EventID")) for r in every]
    assert seen == list(dict.fromkeys(routes))
    assert tested == [r.raw for r in logons]
    assert gated_report.records == full_report.records
    assert (gated_report.first_time, gated_report.last_time) == (full_report.first_time, full_report.last_time)


def test_record_gate_routes_forwarded_events_with_quoted_event_ids() -> None:
    """Forwarded (WEC) records write ``"EventID":{"#attributes":..,"#text":"1"}``: still routed undecoded."""
    path = CORPUS / "omerbenamram-evtx" / "MSExchange_Management_wec.evtx"
    if not path.exists():
        pytest.skip(f"shared corpus not present: {path}")
    seen: list[tuple[str | None, int | None]] = []

    def refuse(channel: str | None, event_id: int | None) -> RouteGate:
        seen.append((channel, event_id))
        return False

    report = ParseReport(path.name)
    artifact = Artifact(ArtifactKind.EVTX, path.name, path.stat().st_size)
    assert list(EvtxParser().parse(DirectoryTree(path.parent), artifact, report, RecordGate([refuse]))) == []
    assert seen == [("msexchange management", 1)]
    assert report.records == 1 and report.first_time == "2021-11-19T16:52:33.833733Z"


COMPACT = ('{"Event":{"#attributes":{"xmlns":"http://schemas.microsoft.com/win/2004/08/events/event"},"System":'
           '{"Provider":{"#attributes":{"Name":"Microsoft-Windows-Security-Auditing"}},"EventID":4688,"Version":2,'
           '"TimeCreated":{"#attributes":{"SystemTime":"2021-03-02T10:11:12.123456Z"}},"EventRecordID":7,'
           '"Channel":"Security","Computer":"EX01"},"EventData":{"CommandLine":"whoami"}}}')


def test_the_raw_route_of_compact_json_and_of_other_layouts() -> None:
    """The reader's compact layout is read with ``str.find``; any other layout (whitespace, a Channel key
    before System's, no closing quote) falls to the regexes, which give the first match of each key."""
    expected = ("Security", "4688", "2021-03-02T10:11:12.123456Z")
    assert _compact_head(COMPACT) == expected == _loose_head(COMPACT, "")
    spaced = COMPACT.replace('":', '": ')
    assert _compact_head(spaced) is None and _loose_head(spaced, "") == expected
    channel_first = '{"Channel":"Other",' + COMPACT[1:]
    assert _compact_head(channel_first) is None and _loose_head(channel_first, "")[0] == "Other"  # type: ignore[index]
    no_channel = COMPACT.replace('"Channel":"Security",', "")
    assert _compact_head(no_channel) is None and _loose_head(no_channel, "default") == ("default", "4688",
                                                                                       expected[2])
    cut = COMPACT[:COMPACT.index("SystemTime") + 20]
    assert _compact_head(cut) is None
    escaped = COMPACT.replace('"Channel":"Security"', '"Channel":"Sec\\\\urity"')
    assert _compact_head(escaped) is None


@needs_corpus
def test_a_merged_literal_gate_passes_the_records_the_tests_ored_pass() -> None:
    """Two detectors' literal tests scanned as one union (``LiteralTest``) decode exactly the records that
    the two tests asked one after the other would, with the same coverage."""
    from exhunt.detectors.literalscan import LiteralScan

    path = SAMPLES / "security.evtx"
    tree = DirectoryTree(path.parent)
    artifact = Artifact(ArtifactKind.EVTX, path.name, path.stat().st_size)
    first, second = LiteralScan(["explorer.exe", "0x3e7", "ntlm", "kerberos"]), LiteralScan(
        ["s-1-5-18", "winlogon", "advapi", "workstation"])

    def merged(_channel: str | None, _event_id: int | None) -> RouteGate:
        return first.gate()

    def other(_channel: str | None, _event_id: int | None) -> RouteGate:
        return second.gate()

    def ored(_channel: str | None, _event_id: int | None) -> RouteGate:
        return lambda raw: first.any(raw) or second.any(raw)

    reports = ParseReport(path.name), ParseReport(path.name)
    got = list(EvtxParser().parse(tree, artifact, reports[0], RecordGate([merged, other])))
    want = list(EvtxParser().parse(tree, artifact, reports[1], RecordGate([ored])))
    assert [r.record for r in got] == [r.record for r in want] and 0 < len(want) < reports[1].records
    assert reports[0] == reports[1]
