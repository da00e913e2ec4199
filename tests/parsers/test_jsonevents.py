"""JSON-export parser: the OTRF ProxyLogon dataset (real), and each export shape (synthetic, marked)."""

from __future__ import annotations

import json
from pathlib import Path

import evtx
import pytest

from exhunt.model.event import Record
from exhunt.model.evidence import Artifact, ArtifactKind
from exhunt.parsers.base import ParseReport
from exhunt.parsers.evtx import EvtxParser
from exhunt.parsers.jsonevents import JsonEventsParser
from exhunt.sources.directory import DirectoryTree
from exhunt.sources.ziparchive import ZipTree

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
OTRF = SHARED / "otrf"
PROXYLOGON = OTRF / "proxylogon_ssrf_rce_poc.zip"
EVTX_SAMPLES = SHARED / "evtx" / "omerbenamram-evtx"


def parse_tree(tree: DirectoryTree | ZipTree, path: str) -> tuple[list[Record], ParseReport]:
    size = next(e.size for e in tree.walk() if e.path == path)
    report = ParseReport(path)
    records = list(JsonEventsParser().parse(tree, Artifact(ArtifactKind.JSON_EVENTS, path, size), report))
    return records, report


def parse_text(tmp_path: Path, text: str | bytes, name: str = "events.json") -> tuple[list[Record], ParseReport]:
    data = text.encode() if isinstance(text, str) else text
    (tmp_path / name).write_bytes(data)
    return parse_tree(DirectoryTree(tmp_path), name)


def lines(*objects: object) -> str:
    return "".join(json.dumps(o) + "\n" for o in objects)


# --- real data -----------------------------------------------------------------------------------------

@pytest.mark.skipif(not PROXYLOGON.is_file(), reason=f"shared OTRF corpus absent: {PROXYLOGON}")
def test_otrf_proxylogon_dataset() -> None:
    tree = ZipTree(PROXYLOGON)
    try:
        member = tree.member_names()[0]
        records, report = parse_tree(tree, member)
    finally:
        tree.close()
    assert report.records == len(records) == 10487
    assert not report.warnings and not report.not_understood
    assert report.first_time == "2021-03-14T01:39:32.609000Z"
    whoami = [r for r in records if r.fields.get("EventID") == 1 and r.fields.get("CommandLine") == "cmd /c whoami"]
    assert len(whoami) == 2
    child = whoami[0]
    assert child.fields["ParentImage"] == "C:\\Windows\\System32\\inetsrv\\w3wp.exe"
    assert child.fields["Provider_Name"] == "Microsoft-Windows-Sysmon"
    assert child.fields["Computer"] == "MXS01.azsentinel.local"
    assert child.fields["Channel"] == child.attrs["channel"] == "Microsoft-Windows-Sysmon/Operational"
    assert child.fields["Level"] == 4 and child.line == child.record and child.offset is not None
    written = [r for r in records if r.fields.get("EventID") == 11
               and str(r.fields.get("TargetFilename", "")).endswith("\\owa\\auth\\ohyeah.aspx")]
    assert written
    cmdlets = [r for r in records if r.fields.get("Channel") == "MSExchange Management"]
    assert len(cmdlets) == 3
    assert "Set-OabVirtualDirectory" in cmdlets[0].fields["Message"]


@pytest.mark.skipif(not (EVTX_SAMPLES / "issue_201.evtx").is_file(), reason="shared EVTX corpus absent")
def test_evtx_dump_lines_give_the_evtx_parser_fields(tmp_path: Path) -> None:
    source = EVTX_SAMPLES / "sysmon.evtx"
    dumped: list[str] = []
    for item in evtx.PyEvtxParser(str(source)).records_json():
        assert item is not None
        dumped.append(str(item["data"]).replace("\n", ""))
        if len(dumped) == 50:
            break
    records, report = parse_text(tmp_path, "\n".join(dumped[:50]) + "\n", "sysmon.jsonl")
    direct = list(EvtxParser().parse(DirectoryTree(source.parent),
                                     Artifact(ArtifactKind.EVTX, source.name, source.stat().st_size),
                                     ParseReport(source.name)))
    assert report.records == 50 and not report.warnings
    assert [r.fields for r in records] == [r.fields for r in direct[:50]]


# --- each shape (synthetic events written as these tools write them) ---------------------------------

def test_velociraptor_parse_evtx_rows(tmp_path: Path) -> None:  # synthetic
    row = {"System": {"Provider": {"Name": "Microsoft-Windows-Security-Auditing", "Guid": "{54849625}"},
                      "EventID": {"Value": 4720}, "Level": 0, "Task": 13824, "Keywords": 9232379236109516800,
                      "TimeCreated": {"SystemTime": 1615686015.5}, "EventRecordID": 901, "Channel": "Security",
                      "Computer": "EX01.contoso.local", "Security": {}},
           "EventData": {"TargetUserName": "backup$svc", "TargetDomainName": "EX01", "SamAccountName": "backup$svc"},
           "Message": "A user account was created."}
    benign = {"System": {"Provider": {"Name": "Microsoft-Windows-Security-Auditing"}, "EventID": {"Value": 4624},
                         "Channel": "Security", "TimeCreated": {"SystemTime": 1615686000}},
              "EventData": {"LogonType": 3}}
    records, report = parse_text(tmp_path, lines(benign, row))
    assert report.records == 2 and not report.warnings
    fields = records[1].fields
    assert fields["EventID"] == 4720 and fields["Level"] == 0 and fields["EventRecordID"] == 901
    assert fields["TimeCreated"] == "2021-03-14T01:40:15.500000Z"
    assert fields["Provider_Name"] == "Microsoft-Windows-Security-Auditing"
    assert fields["TargetUserName"] == "backup$svc" and fields["Message"] == "A user account was created."
    assert records[0].fields["LogonType"] == "3"


def test_velociraptor_hunter_rows(tmp_path: Path) -> None:  # synthetic: Windows.EventLogs.EvtxHunter
    row = {"EventTime": "2021-03-14T01:40:12.987Z", "Computer": "EX01", "Channel": "MSExchange Management",
           "EventID": 1, "EventRecordID": 77,
           "EventData": {"Data": ["New-MailboxExportRequest", "-Mailbox \"ceo\" -FilePath \"\\\\ex01\\c$\\x.pst\""]},
           "Message": None}
    records, _ = parse_text(tmp_path, lines(row))
    fields = records[0].fields
    assert fields["Channel"] == "MSExchange Management" and fields["EventID"] == 1
    assert fields["Data"].startswith("New-MailboxExportRequest -Mailbox")
    assert fields["Message"] == fields["Data"]


UM_WORKER = "C:\\Program Files\\Microsoft\\Exchange Server\\V15\\Bin\\UMWorkerProcess.exe"


def test_winlogbeat_documents(tmp_path: Path) -> None:  # synthetic
    doc = {"@timestamp": "2022-10-02T09:12:44.123Z", "message": "Process Create: ...",
           "log": {"level": "information"}, "event": {"code": "1"},
           "winlog": {"channel": "Microsoft-Windows-Sysmon/Operational", "event_id": 1,
                      "provider_name": "Microsoft-Windows-Sysmon", "computer_name": "EX01.contoso.local",
                      "record_id": 5512, "user": {"identifier": "S-1-5-18"},
                      "event_data": {"Image": "C:\\Windows\\System32\\cmd.exe",
                                     "ParentImage": UM_WORKER,
                                     "CommandLine": "cmd.exe /c whoami /all"}}}
    records, report = parse_text(tmp_path, lines(doc), "winlogbeat.ndjson")
    assert report.records == 1 and not report.warnings
    fields = records[0].fields
    assert (fields["EventID"], fields["Level"], fields["EventRecordID"]) == (1, 4, 5512)
    assert fields["Channel"] == "Microsoft-Windows-Sysmon/Operational" and fields["SecurityUserID"] == "S-1-5-18"
    assert fields["ParentImage"].endswith("UMWorkerProcess.exe") and fields["Message"] == "Process Create: ..."
    assert records[0].timestamp == "2022-10-02T09:12:44.123000Z"


def test_splunk_result_rows_classic_and_xml(tmp_path: Path) -> None:  # synthetic
    classic = {"preview": False, "result": {
        "_time": "2021-03-14T01:40:15.000+01:00", "EventCode": "4688", "LogName": "Security",
        "ComputerName": "EX01.contoso.local", "SourceName": "Microsoft Windows security auditing.",
        "RecordNumber": "123456", "New_Process_Name": "C:\\Windows\\System32\\net.exe",
        "Creator_Process_Name": "C:\\Windows\\System32\\inetsrv\\w3wp.exe",
        "Process_Command_Line": "net user admin2 P@ss /add", "_raw": "03/14/2021 01:40:15 AM\nLogName=Security",
        "_serial": "0"}}
    xml = ("<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>"
           "<Provider Name='Microsoft-Windows-Sysmon' Guid='{5770385f}'/><EventID>11</EventID><Level>4</Level>"
           "<Task>11</Task><Keywords>0x8000000000000000</Keywords>"
           "<TimeCreated SystemTime='2021-03-14T06:40:13.6598140Z'/><EventRecordID>5521</EventRecordID>"
           "<Channel>Microsoft-Windows-Sysmon/Operational</Channel><Computer>EX01</Computer>"
           "<Security UserID='S-1-5-18'/></System><EventData><Data Name='Image'>System</Data>"
           "<Data Name='TargetFilename'>C:\\inetpub\\wwwroot\\aspnet_client\\x.aspx</Data></EventData></Event>")
    records, report = parse_text(tmp_path, lines(classic, {"result": {"_raw": xml, "sourcetype": "XmlWinEventLog"}}))
    assert report.records == 2 and not report.warnings
    first = records[0].fields
    assert first["EventID"] == 4688 and first["EventRecordID"] == 123456
    assert first["NewProcessName"] == "C:\\Windows\\System32\\net.exe"
    assert first["ParentProcessName"].endswith("w3wp.exe") and first["CommandLine"] == "net user admin2 P@ss /add"
    assert first["TimeCreated"] == "2021-03-14T00:40:15.000000Z"
    second = records[1].fields
    assert second["EventID"] == 11 and second["SecurityUserID"] == "S-1-5-18"
    assert second["TargetFilename"].endswith("x.aspx") and second["TimeCreated"] == "2021-03-14T06:40:13.659814Z"


def test_flat_helk_style_and_array_one_per_line(tmp_path: Path) -> None:  # synthetic
    text = ('[\n'
            '{"event_id": 4732, "log_name": "Security", "source_name": "Microsoft-Windows-Security-Auditing", '
            '"host_name": "EX01", "@timestamp": "2021-03-14 01:40:15.123", "TargetUserName": "Administrators", '
            '"MemberSid": "S-1-5-21-1-2-3-1111"},\n'
            '{"event_id": 4624, "log_name": "Security", "@timestamp": "2021-03-14 01:40:16.000", "LogonType": "3"}\n'
            ']\n')
    records, report = parse_text(tmp_path, text)
    assert report.records == 2 and not report.warnings
    fields = records[0].fields
    assert fields["EventID"] == 4732 and fields["Channel"] == "Security" and fields["Computer"] == "EX01"
    assert fields["Provider_Name"] == "Microsoft-Windows-Security-Auditing"
    assert fields["TimeCreated"] == "2021-03-14T01:40:15.123000Z" and records[0].line == 2


def test_powershell_convertto_json_pretty_array_streams(tmp_path: Path) -> None:  # synthetic
    events = [{"Id": 1, "ProviderName": "MSExchange CmdletLogs", "LogName": "MSExchange Management",
               "MachineName": "EX01", "RecordId": 3229, "LevelDisplayName": "Information", "Level": 4,
               "TimeCreated": "/Date(1615685999123)/",
               "Properties": [{"Value": "Set-OabVirtualDirectory"},
                              {"Value": "-ExternalUrl \"http://x/#<script>function Page_Load(){}</script>\""}],
               "Message": None}]
    text = json.dumps(events, indent=4)
    records, report = parse_text(tmp_path, "\ufeff" + text)
    assert report.records == 1 and not report.warnings
    assert records[0].line == 2 and records[0].offset == len("\ufeff[\n".encode())
    fields = records[0].fields
    assert fields["EventID"] == 1 and fields["Channel"] == "MSExchange Management"
    assert fields["Data"].startswith("Set-OabVirtualDirectory -ExternalUrl") and "<script>" in fields["Message"]
    assert fields["TimeCreated"] == "2021-03-14T01:39:59.123000Z"


def test_concatenated_pretty_objects_stream(tmp_path: Path) -> None:  # synthetic: evtx_dump's default output
    event = {"Event": {"System": {"Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon"}}, "EventID": 11,
                                  "Channel": "Microsoft-Windows-Sysmon/Operational",
                                  "TimeCreated": {"#attributes": {"SystemTime": "2025-10-24T23:43:34.136421Z"}}},
                       "EventData": {"Image": "C:\\Windows\\explorer.exe", "TargetFilename": "C:\\x\\{a}.txt"}}}
    text = json.dumps(event, indent=2) + "\n" + json.dumps(event, indent=2) + "\n" + json.dumps(event, indent=2)[:-40]
    records, report = parse_text(tmp_path, text)
    assert report.records == 2
    assert records[1].line == len(json.dumps(event, indent=2).splitlines()) + 1
    assert records[0].fields["TargetFilename"] == "C:\\x\\{a}.txt" and records[0].fields["EventID"] == 11
    assert [w.code for w in report.warnings] == ["truncated"]


def test_one_line_array_is_read_whole(tmp_path: Path) -> None:  # synthetic
    text = json.dumps([{"EventID": 4720, "Channel": "Security"}, {"EventID": 4624, "Channel": "Security"}])
    records, report = parse_text(tmp_path, text)
    assert report.records == 2 and [w.code for w in report.warnings] == ["read-whole"]
    assert records[1].record == 2


def test_utf16_export_is_read(tmp_path: Path) -> None:  # synthetic: PowerShell 5 Out-File writes UTF-16
    text = json.dumps([{"EventID": 4720, "Channel": "Security", "TargetUserName": "evil"}])
    records, report = parse_text(tmp_path, text.encode("utf-16"))
    assert report.records == 1 and records[0].fields["TargetUserName"] == "evil"


def test_bad_lines_are_warned_with_line_and_offset(tmp_path: Path) -> None:  # synthetic
    good = json.dumps({"EventID": 4624, "Channel": "Security"})
    text = f"{good}\n{good[:20]}\n{good}\n\"just a string\"\n{good}\n"
    records, report = parse_text(tmp_path, text)
    assert report.records == len(records) == 3
    bad = report.warnings[0]
    assert bad.code == "bad-json" and bad.line == 2 and bad.offset == len(good) + 1
    assert report.warnings[1].code == "not-understood" and report.warnings[1].line == 4
    assert not report.not_understood


@pytest.mark.parametrize(("text", "code"), [
    ("", "not-understood"),
    ("#Fields: date time cs-method\n2021-03-14 01:40:15 GET\n", "not-understood"),
    ('{"name": "exhunt", "version": "1.0", "dependencies": {"a": "1"}}\n', "not-understood"),
])
def test_files_that_are_not_event_exports(tmp_path: Path, text: str, code: str) -> None:
    records, report = parse_text(tmp_path, text)
    assert records == [] and report.not_understood
    assert report.warnings[-1].code == code


def test_many_foreign_objects_stop_early(tmp_path: Path) -> None:
    text = lines(*({"id": i, "kind": "package"} for i in range(500)))
    records, report = parse_text(tmp_path, text)
    assert records == [] and report.not_understood and report.bytes_read < len(text)


REGRESSION = SHARED / "sigmahq-regression"


@pytest.mark.skipif(not REGRESSION.is_dir(), reason=f"shared SigmaHQ regression data absent: {REGRESSION}")
def test_sigmahq_regression_json_matches_its_evtx() -> None:
    """Each regression folder holds one event as .evtx and as evtx_dump's pretty JSON: same events."""
    folders = sorted(info.parent for info in REGRESSION.rglob("info.yml"))
    compared = 0
    for folder in folders:
        for dumped in sorted(folder.glob("*.json")):
            original = dumped.with_suffix(".evtx")
            if not original.is_file():
                continue
            tree = DirectoryTree(folder)
            records, report = parse_tree(tree, dumped.name)
            direct = list(EvtxParser().parse(tree, Artifact(ArtifactKind.EVTX, original.name,
                                                            original.stat().st_size), ParseReport(original.name)))
            assert not report.warnings and not report.not_understood, dumped
            assert len(records) == len(direct) >= 1, dumped
            for ours, theirs in zip(records, direct, strict=True):
                assert ours.fields.keys() == theirs.fields.keys(), dumped
                assert (ours.fields["EventID"], ours.fields["TimeCreated"]) == (
                    theirs.fields["EventID"], theirs.fields["TimeCreated"]), dumped
            compared += 1
    assert compared >= 50
