"""W3CParser: IIS W3C and Exchange CSV logs. Fixtures are SYNTHETIC (see logfixtures.py) unless they read
the real IIS samples of ../shared/corpus/weblogs."""

from __future__ import annotations

import csv
import random
import tracemalloc
from pathlib import Path

import pytest

from exhunt.detectors.files.samples import MemoryTree
from exhunt.model.event import Record
from exhunt.model.evidence import Artifact, ArtifactKind
from exhunt.parsers.base import ParseReport, Prefilter
from exhunt.parsers.prefilter import build_prefilter
from exhunt.parsers.textfile import MAX_DIRECTIVES
from exhunt.parsers.w3c import W3CParser, split_csv
from exhunt.sources.directory import DirectoryTree
from logfixtures import (
    ECP_ATTACK_EVENT,
    ECP_SERVER_FIELDS,
    HTTPPROXY_ATTACK_CHANGES,
    HTTPPROXY_FIELDS,
    IIS_ATTACKS,
    IIS_FIELDS,
    ecp_benign_event,
    ecp_server_line,
    exchange_header,
    httpproxy_line,
    httpproxy_values,
    iis_header,
    iis_line,
)

IIS_PATH = "C/inetpub/logs/LogFiles/W3SVC1/u_ex210303.log"
PROXY_PATH = "C/Program Files/Microsoft/Exchange Server/V15/Logging/HttpProxy/Ecp/HttpProxy_2021030300-1.LOG"
ECP_PATH = "C/Program Files/Microsoft/Exchange Server/V15/Logging/ECP/Server/ECPServer_2021030300-1.LOG"
CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "weblogs"
DAY = "2021-03-03"


def parse(data: bytes, kind: ArtifactKind = ArtifactKind.IIS, path: str = IIS_PATH,
          prefilter: Prefilter | None = None, block_size: int | None = None) -> tuple[list[Record], ParseReport]:
    tree = MemoryTree({path: data})
    report = ParseReport(path)
    attrs = (("protocol", "Ecp"),) if kind is ArtifactKind.HTTPPROXY else ()
    artifact = Artifact(kind, path, len(data), attrs=attrs)
    records = list(W3CParser(block_size=block_size).parse(tree, artifact, report, prefilter))
    return records, report


def assert_located(data: bytes, records: list[Record]) -> None:
    for record in records:
        assert record.offset is not None and record.line is not None
        assert data[record.offset:].startswith(record.raw.encode()), record.line
        assert data.count(b"\n", 0, record.offset) + 1 == record.line
        assert record.offset == 0 or data[record.offset - 1] in b"\n\xbf"


def codes(report: ParseReport) -> list[str]:
    return [w.code for w in report.warnings]


def iis_log(count: int = 3000, seed: int = 7, attacks: tuple[int, ...] = (700, 1800, 2950)) -> bytes:
    """SYNTHETIC IIS 10 log: ``count`` benign lines with attack lines at the given indexes."""
    rng = random.Random(seed)
    out = [iis_header(DAY)]
    for index in range(count):
        second = index * 10
        if index in attacks:
            clock = f"{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}"
            out.append(IIS_ATTACKS[attacks.index(index) % len(IIS_ATTACKS)].format(d=DAY, t=clock) + "\r\n")
        else:
            out.append(iis_line(rng, DAY, second) + "\r\n")
    return "".join(out).encode()


def httpproxy_log(count: int = 2000, seed: int = 3, attacks: tuple[int, ...] = (500, 1500)) -> bytes:
    """SYNTHETIC Exchange 2019 HttpProxy/Ecp log with ProxyLogon SSRF lines."""
    rng = random.Random(seed)
    out = [exchange_header("HttpProxy Logs", HTTPPROXY_FIELDS, DAY)]
    for index in range(count):
        values = httpproxy_values(rng, DAY, index * 20, "Ecp")
        if index in attacks:
            values.update(HTTPPROXY_ATTACK_CHANGES[attacks.index(index) % len(HTTPPROXY_ATTACK_CHANGES)])
        out.append(httpproxy_line(values) + "\r\n")
    return "".join(out).encode()


def test_iis_columns_bound_by_header_and_values_decoded() -> None:
    data = iis_log()
    records, report = parse(data)
    assert len(records) == 3000 == report.records
    assert report.warnings == [] and not report.not_understood
    attack = [r for r in records if r.get("cs-uri-stem") == "/owa/auth/x.js"]
    assert len(attack) == 1
    fields = attack[0].fields
    assert list(fields) == IIS_FIELDS
    assert fields["cs-method"] == "POST" and fields["c-ip"] == "203.0.113.50"
    assert fields["cs-uri-query"] == "" and fields["cs-username"] == "" and fields["cs(Referer)"] == ""
    assert attack[0].timestamp == f"{DAY}T01:56:40Z"
    agents = {r.get("cs(User-Agent)") for r in records}
    assert "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.13628; Pro)" in agents
    assert report.first_time == f"{DAY}T00:00:00Z" and report.last_time == f"{DAY}T08:19:50Z"
    assert [(n, v) for _, n, v in report.directives] == [
        ("Software", "Microsoft Internet Information Services 10.0"), ("Version", "1.0"),
        ("Date", f"{DAY} 00:00:01")]
    assert_located(data, records)
    assert all(r.kind is ArtifactKind.IIS and r.path == IIS_PATH for r in records)


def test_new_header_block_mid_file_rebinds_columns() -> None:
    first = iis_log(count=50, attacks=())
    fields = [*IIS_FIELDS[:9], "cs-host", *IIS_FIELDS[9:]]
    second = (f"#Software: Microsoft Internet Information Services 10.0\r\n#Version: 1.0\r\n"
              f"#Date: {DAY} 10:00:00\r\n#Fields: {' '.join(fields)}\r\n"
              f"{DAY} 10:00:01 10.0.0.5 GET /owa/ - 443 - 192.168.1.9 mail.contoso.com Mozilla/5.0 - 200 0 0 5\r\n")
    data = first + second.encode()
    records, report = parse(data)
    assert len(records) == 51 and report.warnings == []
    assert records[-1].get("cs-host") == "mail.contoso.com" and records[-1].get("cs(User-Agent)") == "Mozilla/5.0"
    assert records[-1].line == 50 + 4 + 4 + 1
    assert [n for _, n, _ in report.directives].count("Date") == 2  # the changed #Date is kept
    assert report.last_time == f"{DAY}T10:00:01Z"
    assert_located(data, records)


def test_httpproxy_csv_quoting_and_all_columns() -> None:
    data = httpproxy_log()
    records, report = parse(data, ArtifactKind.HTTPPROXY, PROXY_PATH)
    assert len(records) == 2000 and report.warnings == []
    assert len(HTTPPROXY_FIELDS) >= 70 and list(records[0].fields) == HTTPPROXY_FIELDS
    ssrf = [r for r in records if str(r.get("AnchorMailbox")).startswith("ServerInfo~")]
    assert [r.line for r in ssrf] == [506, 1506]
    assert ssrf[0].get("BackEndCookie") == "X-BEResource=EX01/EWS/Exchange.asmx?a=~1942062522"
    assert ssrf[0].get("TargetServerVersion") == "Version 15.2 (Build 792.3)"
    assert ssrf[0].attrs == {"protocol": "Ecp"}
    assert records[0].timestamp == records[0].get("DateTime") == report.first_time
    assert ("Log-type", "HttpProxy Logs") in [(n, v) for _, n, v in report.directives]
    assert ("Version", "15.02.0792.003") in [(n, v) for _, n, v in report.directives]
    assert_located(data, records)


def test_csv_quotes_commas_and_doubled_quotes() -> None:
    rng = random.Random(1)
    lines = [exchange_header("ECP Server Logs", ECP_SERVER_FIELDS, DAY)]
    lines += [ecp_server_line(rng, DAY, i, ecp_benign_event(rng)) + "\r\n" for i in range(300)]
    lines.append(ecp_server_line(rng, DAY, 400, ECP_ATTACK_EVENT) + "\r\n")
    data = "".join(lines).encode()
    records, report = parse(data, ArtifactKind.ECP_SERVER, ECP_PATH)
    assert report.warnings == [] and len(records) == 301
    assert records[-1].get("EventData") == ECP_ATTACK_EVENT
    assert '""' in records[-1].raw and records[-1].get("EventData").count('"') == 8
    assert_located(data, records)


def test_bom_and_crlf() -> None:
    data = b"\xef\xbb\xbf" + iis_log(count=20, attacks=())
    records, report = parse(data)
    assert len(records) == 20 and report.warnings == []
    assert not any("\r" in r.raw or "\ufeff" in r.raw for r in records)
    assert records[0].line == 5 and records[0].offset == data.index(b"\n2021") + 1
    assert report.directives[0] == (1, "Software", "Microsoft Internet Information Services 10.0")
    assert_located(data, records)


@pytest.mark.parametrize("with_prefilter", [False, True])
def test_truncated_last_line_is_parsed_with_a_warning(with_prefilter: bool) -> None:
    data = iis_log(count=10, attacks=()) + f"{DAY} 23:59:59 10.0.0.5 GET /owa/auth/x.js".encode()
    prefilter = build_prefilter(["/owa/auth/x.js"]) if with_prefilter else None
    records, report = parse(data, prefilter=prefilter)
    last = records[-1]
    assert last.get("cs-uri-stem") == "/owa/auth/x.js" and last.get("time-taken") == "" and last.line == 15
    assert report.records == 11 and report.last_time == f"{DAY}T23:59:59Z"
    truncated = [w for w in report.warnings if w.code == "truncated"]
    assert len(truncated) == 1 and truncated[0].line == 15 and truncated[0].offset == last.offset
    assert_located(data, records)


def test_extra_and_missing_trailing_columns() -> None:
    base = iis_log(count=5, attacks=()).decode()
    short = f"{DAY} 01:00:00 10.0.0.5 GET /owa/ - 443 - 192.168.1.1 Mozilla/5.0 - 200 0\r\n"
    long = f"{DAY} 01:00:01 10.0.0.5 GET /owa/ - 443 - 192.168.1.1 Mozilla/5.0 - 200 0 0 5 surplus more\r\n"
    data = (base + short + short + long).encode()
    records, report = parse(data)
    assert len(records) == 8
    assert records[5].get("sc-win32-status") == "" and records[5].get("time-taken") == ""
    assert records[7].get("_extra") == ["surplus", "more"] and records[7].get("time-taken") == "5"
    missing = [w for w in report.warnings if w.code == "missing-columns"]
    assert len(missing) == 1 and missing[0].line == 10 and missing[0].message.startswith("2 ")
    extra = [w for w in report.warnings if w.code == "extra-columns"]
    assert len(extra) == 1 and extra[0].line == 12 and extra[0].offset == records[7].offset


def test_garbage_lines_are_skipped_with_their_location() -> None:
    base = iis_log(count=10, attacks=()).decode()
    junk = "this is not a log line\r\n"
    data = (base + junk + base.split("\r\n", 4)[4]).encode()
    records, report = parse(data)
    assert len(records) == 20 and report.records == 20  # the garbled line is not a record read (#14)
    bad = [w for w in report.warnings if w.code == "bad-line"]
    assert len(bad) == 1 and bad[0].line == 15 and data[bad[0].offset or 0:].startswith(junk.encode())


def test_data_before_any_header() -> None:
    data = f"{DAY} 00:00:00 stray line\r\n".encode() + iis_log(count=3, attacks=())
    records, report = parse(data)
    assert len(records) == 3 and not report.not_understood
    assert [(w.code, w.line, w.offset) for w in report.warnings] == [("no-header", 1, 0)]



def test_lines_without_a_date_have_no_timestamp() -> None:
    """No date column and no #Date header: no line has a time (never a day read as 'None'); a later #Date
    gives the next lines theirs."""
    head = "#Software: Microsoft Internet Information Services 10.0\r\n#Fields: time cs-method cs-uri-stem\r\n"
    data = (head + "10:00:00 GET /owa/\r\n10:00:01 GET /ecp/\r\n#Date: 2021-03-02 10:00:02\r\n"
            "10:00:02 GET /owa/\r\n").encode()
    records, report = parse(data)
    assert [r.timestamp for r in records] == [None, None, "2021-03-02T10:00:02Z"]
    assert [w.code for w in report.warnings] == ["bad-time"]

@pytest.mark.parametrize(("content", "code"), [
    (b"", "empty"),
    (b"\r\n\r\n  \r\n", "empty"),
    (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + bytes(range(256)) * 10, "binary"),
    (b"192.168.114.201, -, 03/20/01, 7:55:20, W3SVC2, SERVER, 172.21.13.45, 4502, 163, 3223, 200, 0, GET,\r\n",
     "no-header"),
])
def test_files_that_are_not_logs_are_not_understood(content: bytes, code: str) -> None:
    records, report = parse(content, path="C/inetpub/logs/LogFiles/W3SVC1/u_ex210303.LOG")
    assert records == [] and report.not_understood
    assert codes(report) == [code] and report.records == 0


def test_a_utf16_iis_log_is_read() -> None:
    """#14: a UTF-16LE IIS log (with its BOM) was reported but not parsed."""
    plain = iis_log(count=10, attacks=())
    records, report = parse(b"\xff\xfe" + plain.decode().encode("utf-16-le"))
    expected, _ = parse(plain)
    assert [r.fields for r in records] == [r.fields for r in expected] and records
    assert [r.line for r in records] == [r.line for r in expected]
    assert codes(report) == ["utf-16"] and not report.not_understood


def test_exchange_log_kind_with_an_iis_header_is_wrong_format() -> None:
    records, report = parse(iis_log(count=5, attacks=()), ArtifactKind.HTTPPROXY, PROXY_PATH)
    assert records == [] and report.not_understood and codes(report) == ["wrong-format"]
    assert report.warnings[0].line == 4


@pytest.mark.parametrize("with_prefilter", [False, True])
@pytest.mark.parametrize("block_size", [None, 1 << 20])
def test_ten_megabyte_line_is_reported_not_parsed(with_prefilter: bool, block_size: int | None) -> None:
    head = iis_log(count=5, attacks=())
    monster = f"{DAY} 00:30:00 10.0.0.5 GET /owa/auth/x.js ".encode() + b"A" * (10 << 20) + b"\r\n"
    tail = f"{DAY} 00:40:00 10.0.0.5 POST /owa/auth/x.js - 443 - 1.2.3.4 UA - 200 0 0 1\r\n".encode()
    data = head + monster + tail
    prefilter = build_prefilter(["x.js"]) if with_prefilter else None
    tracemalloc.start()
    records, report = parse(data, prefilter=prefilter, block_size=block_size)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 60 << 20
    too_long = [w for w in report.warnings if w.code == "too-long"]
    assert len(too_long) == 1 and too_long[0].line == 10 and too_long[0].offset == len(head)
    assert records[-1].line == 11 and records[-1].get("cs-method") == "POST" and report.records == 7
    assert_located(data, records)


def test_invalid_utf8_gives_one_warning_with_location() -> None:
    base = iis_log(count=5, attacks=())
    bad = f"{DAY} 02:00:00 10.0.0.5 GET /owa/".encode() + b"\xff\xfe\xc3" + b" - 443 - 1.2.3.4 UA - 200 0 0 1\r\n"
    data = base + bad + bad + base.split(b"\r\n", 4)[4]
    records, report = parse(data)
    assert len(records) == 12
    decode = [w for w in report.warnings if w.code == "decode"]
    assert len(decode) == 1 and decode[0].line == 10 and decode[0].offset == len(base)
    assert "\ufffd" in records[5].raw and records[5].get("cs-uri-stem").startswith("/owa/")


def test_header_directives_are_bounded() -> None:
    block = iis_log(count=1, attacks=()).decode()
    data = "".join(block.replace("00:00:01", f"00:{i // 60 % 60:02d}:{i % 60:02d}") for i in range(3 * MAX_DIRECTIVES))
    records, report = parse(data.encode())
    assert len(records) == 3 * MAX_DIRECTIVES
    assert len(report.directives) == MAX_DIRECTIVES and "directives" in codes(report)


def _mixed_iis_log(bom: bool = False) -> bytes:
    """Three header blocks, blank lines, a garbage line and attack lines spread over the file."""
    one = iis_log(count=1500, seed=1, attacks=(3, 700, 1499)).decode()
    two = iis_log(count=1500, seed=2, attacks=(0, 900)).decode().replace("00:00:01", "12:00:00")
    three = iis_log(count=800, seed=3, attacks=(799,)).decode().replace("\r\n", "\n")
    text = one + "\r\n" + two + "\n\n" + "garbage /owa/auth/x.js\r\n" + three
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode()


@pytest.mark.parametrize("force_python", [False, True])
@pytest.mark.parametrize("block_size", [None, 4096, 70_001])
@pytest.mark.parametrize("literals", [["/owa/auth/X.JS", "autodiscover.json"], ["zgrab"], ["ActiveSync"], []])
@pytest.mark.parametrize("bom", [False, True])
def test_prefilter_yields_exactly_the_lines_a_full_parse_would(force_python: bool, block_size: int | None,
                                                                literals: list[str], bom: bool) -> None:
    data = _mixed_iis_log(bom)
    full, full_report = parse(data)
    prefilter = build_prefilter(literals, force_python=force_python)
    assert prefilter is not None
    some, report = parse(data, prefilter=prefilter, block_size=block_size)
    wanted = [lit.lower() for lit in literals]
    expected = [(r.line, r.offset, r.fields) for r in full if any(w in r.raw.lower() for w in wanted)]
    assert [(r.line, r.offset, r.fields) for r in some] == expected
    assert report.records == full_report.records
    assert (report.first_time, report.last_time) == (full_report.first_time, full_report.last_time)
    assert report.directives == full_report.directives
    assert_located(data, some)


def test_prefilter_on_httpproxy_log() -> None:
    data = httpproxy_log(count=3000, attacks=(10, 2990))
    prefilter = build_prefilter(["ServerInfo~", "X-BEResource="])
    records, report = parse(data, ArtifactKind.HTTPPROXY, PROXY_PATH, prefilter=prefilter, block_size=65536)
    assert [r.line for r in records] == [16, 2996] and report.records == 3000
    assert report.first_time is not None and report.first_time.startswith(f"{DAY}T00:00:00.")
    assert report.last_time is not None and report.last_time.startswith(f"{DAY}T16:39:40.")


# --- real IIS samples (public test data of plaso and brianary/scripts) --------------------------------------

def _corpus_tree() -> DirectoryTree:
    if not CORPUS.is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS}")
    return DirectoryTree(CORPUS)


def _parse_real(tree: DirectoryTree, path: str) -> tuple[list[Record], ParseReport]:
    size = (CORPUS / path).stat().st_size
    report = ParseReport(path)
    records = list(W3CParser().parse(tree, Artifact(ArtifactKind.IIS, path, size), report))
    return records, report


@pytest.mark.parametrize(("path", "count"), [
    ("plaso/iis10.log", 1), ("plaso/iis10_cookies.log", 3), ("plaso/iis10_edge_cases.log", 15),
    ("plaso/iis6.log", 12), ("plaso/iis7_owa.log", 3), ("plaso/iis7_sqli.log", 2),
    ("plaso/iis_without_date.log", 11), ("brianary/u_ex100815.log", 16), ("brianary/u_ex160110.log", 28),
    ("brianary/ex960101.log", 5), ("brianary/ex031118.log", 4),
])
def test_real_iis_w3c_logs_parse(path: str, count: int) -> None:
    tree = _corpus_tree()
    records, report = _parse_real(tree, path)
    assert len(records) == count == report.records and not report.not_understood
    assert all(r.timestamp for r in records) and report.first_time is not None
    assert all(r.get("cs-uri-stem") for r in records)
    assert set(codes(report)) <= {"missing-columns"}
    assert_located((CORPUS / path).read_bytes(), records)


def test_real_iis_edge_cases_values() -> None:
    tree = _corpus_tree()
    records, _ = _parse_real(tree, "plaso/iis10_edge_cases.log")
    first = records[0]
    assert first.get("cs-username") == "random\\ranuser1" and first.get("c-ip") == "::1"
    assert first.get("cs(User-Agent)") == "Microsoft WinRM Client" and first.get("time-taken") == "15"
    records, _ = _parse_real(tree, "plaso/iis_without_date.log")
    assert records[0].timestamp == "2013-07-30T00:00:00Z"  # the day comes from the #Date directive


@pytest.mark.parametrize(("path", "code"), [("brianary/pf040903.log", "wrong-format"),
                                            ("brianary/ex010320.log", "no-header")])
def test_real_files_that_are_not_iis_w3c_are_not_understood(path: str, code: str) -> None:
    tree = _corpus_tree()
    records, report = _parse_real(tree, path)
    assert records == [] and report.not_understood and codes(report) == [code]
    assert report.warnings[0].line is not None


def test_split_csv_reads_like_the_csv_module() -> None:
    rng = random.Random(11)
    pieces = ["a", "b", ",", '"', '""', " ", "x,y", '"q"', '"a,b"', ',"",', '"""', ",,"]
    for _ in range(20000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randrange(1, 14)))
        assert split_csv(text) == next(csv.reader([text])), text


def test_registry_hands_the_text_logs_to_these_parsers() -> None:
    from exhunt.parsers.oab import OabParser
    from exhunt.parsers.registry import parser_for

    for kind in (ArtifactKind.IIS, ArtifactKind.HTTPPROXY, ArtifactKind.ECP_SERVER, ArtifactKind.ECP_ACTIVITY,
                 ArtifactKind.RPS_HTTP, ArtifactKind.RPS_CMDLET):
        assert isinstance(parser_for(kind), W3CParser)
    assert isinstance(parser_for(ArtifactKind.OABGENERATOR), OabParser)


@pytest.mark.parametrize("block_size", [None, 4096])
def test_directive_lines_read_the_same_in_every_file(block_size: int | None) -> None:
    """Header lines are split once per process (``DirectiveLog.note_line``): the second file with the same
    header, a line of it not valid UTF-8 included, gives the same directives and the same warnings."""
    line = iis_line(random.Random(1), DAY, 0)
    data = (iis_header(DAY) + line + "\r\n").encode().replace(b"#Software: ", b"#Software: \xff")
    first_records, first = parse(data, block_size=block_size)
    second_records, second = parse(data, block_size=block_size)
    assert first.directives and first.directives == second.directives
    assert [(w.code, w.line) for w in first.warnings] == [(w.code, w.line) for w in second.warnings]
    assert any(w.code == "decode" for w in second.warnings)
    assert len(first_records) == len(second_records) == first.records == 1
