"""The Exchange family rules (ProxyShell, ProxyNotShell, OWASSRF, ProxyToken, CVE-2020-0688, CVE-2021-42321).

Every rule loads through the project's Sigma loader, fires on each positive sample and stays quiet on each
negative one (evaluated by the project's evaluator), grades its outcome as documented, and fires with
evidence on realistic log lines read by the W3C parser. A benign Exchange host (admin exports to a backup
share, certificate renewal, health probes, Outlook and OWA traffic) yields nothing above informational.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import pytest

from exhunt.detectors.base import HostContext
from exhunt.detectors.sigma.compiled import CompiledRule, LoadResult
from exhunt.detectors.sigma.detector import SigmaDetector
from exhunt.detectors.sigma.family import SigmaContent
from exhunt.detectors.sigma.loader import RuleLoader
from exhunt.detectors.sigma.pipeline import load_pipelines
from exhunt.detectors.sigma.view import EventView
from exhunt.exposure import assess_exposure, observations_from_directives, patched_at
from exhunt.model.coverage import HostCoverage
from exhunt.model.event import Record
from exhunt.model.evidence import Artifact, ArtifactKind
from exhunt.model.finding import Finding, Outcome, Severity
from exhunt.parsers.base import ParseReport
from exhunt.parsers.w3c import W3CParser
from exhunt.sources.directory import DirectoryTree

RULES = Path(__file__).resolve().parents[2] / "src" / "exhunt" / "rules" / "exchange"
FAMILIES = ("proxyshell", "proxynotshell", "owassrf", "proxytoken", "cve-2020-0688", "cve-2021-42321",
            "webshell-access")
CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def _load() -> LoadResult:
    loader = RuleLoader(load_pipelines())
    for family in FAMILIES:
        loader.load_tree(RULES / family, RULES)
    return loader.result


RESULT = _load()
BY_ID = {rule.rule_id: rule for rule in RESULT.rules}


def test_every_rule_loads() -> None:
    assert RESULT.errors == [] and RESULT.unsupported == []
    files = sorted(p for f in FAMILIES for p in (RULES / f).glob("*.yml"))
    assert len(RESULT.rules) == len(files) >= 20  # one rule per file


@pytest.mark.parametrize("rule", RESULT.rules, ids=lambda r: r.rule_id)
def test_rule_metadata(rule: CompiledRule) -> None:
    assert UUID.match(rule.sigma_id), rule.file
    assert rule.ext.rule_id and rule.ext.rule_id.startswith("EXH-")
    # family-specific rules live in their family's folder; family-agnostic post-exploitation rules
    # (mail collection, forwarding) say so with the shared "exchange-postexploit" family
    assert rule.ext.family == "exchange-postexploit" or rule.file.startswith(rule.ext.family + "/")
    assert rule.file.split("/")[0] in FAMILIES
    assert rule.ext.step
    assert rule.attack, "every rule carries ATT&CK tags"
    assert rule.ext.samples.get("positive") and rule.ext.samples.get("negative")


def test_ids_are_unique() -> None:
    assert len({r.rule_id for r in RESULT.rules}) == len(RESULT.rules)
    assert len({r.sigma_id for r in RESULT.rules}) == len(RESULT.rules)


def _cases(kind: str) -> list[tuple[CompiledRule, int, dict[str, Any]]]:
    return [(r, i, s) for r in RESULT.rules for i, s in enumerate(r.ext.samples.get(kind, ()))]


@pytest.mark.parametrize(("rule", "index", "sample"), _cases("positive"),
                         ids=lambda v: v.rule_id if isinstance(v, CompiledRule) else str(v)[:0])
def test_positive_sample_fires(rule: CompiledRule, index: int, sample: dict[str, Any]) -> None:
    assert rule.matcher(EventView(sample)), f"{rule.rule_id} positive #{index} did not fire"


@pytest.mark.parametrize(("rule", "index", "sample"), _cases("negative"),
                         ids=lambda v: v.rule_id if isinstance(v, CompiledRule) else str(v)[:0])
def test_negative_sample_stays_quiet(rule: CompiledRule, index: int, sample: dict[str, Any]) -> None:
    assert not rule.matcher(EventView(sample)), f"{rule.rule_id} negative #{index} fired"


@pytest.mark.parametrize(("rule_id", "index", "outcome"), [
    ("EXH-PS-IIS-AUTODISCOVER-SSRF", 0, Outcome.SUCCEEDED),  # 200
    ("EXH-PS-IIS-AUTODISCOVER-SSRF", 1, Outcome.ATTEMPTED),  # 401
    ("EXH-PS-IIS-AUTODISCOVER-SSRF", 2, Outcome.SUCCEEDED),  # 302
    ("EXH-PS-HTTPPROXY-AUTODISCOVER-SSRF", 1, Outcome.ATTEMPTED),
    ("EXH-PS-EXPORT-TO-WEBROOT", 0, Outcome.SUCCEEDED),
    ("EXH-PS-EXPORT-REQUEST", 0, Outcome.INFORMATIONAL),
    ("EXH-PS-EXPORT-REQUEST-REMOVED", 0, Outcome.INFORMATIONAL),
    ("EXH-PNS-IIS-AUTODISCOVER-POWERSHELL", 1, Outcome.ATTEMPTED),
    ("EXH-PNS-RPSHTTP-SCRIPT-CLIENT", 0, Outcome.SUCCEEDED),
    ("EXH-PNS-RPSHTTP-SCRIPT-CLIENT", 1, Outcome.ATTEMPTED),
    ("EXH-OWASSRF-IIS-OWA-POWERSHELL", 0, Outcome.SUCCEEDED),
    ("EXH-OWASSRF-IIS-OWA-POWERSHELL", 1, Outcome.ATTEMPTED),
    ("EXH-PT-IIS-ECP-SECURITYTOKEN", 0, Outcome.SUSPICIOUS),  # graded by the inbox rule: correlate/proof.py
    ("EXH-PT-IIS-ECP-SECURITYTOKEN", 1, Outcome.ATTEMPTED),
    ("EXH-0688-ECP-VIEWSTATE", 0, Outcome.SUCCEEDED),
    ("EXH-0688-ECP-VIEWSTATE", 1, Outcome.ATTEMPTED),
    ("EXH-WS-IIS-FOREIGN-PAGE", 0, Outcome.SUSPICIOUS),  # GET 200 (the published March 2021 case)
    ("EXH-WS-IIS-FOREIGN-PAGE", 1, Outcome.SUCCEEDED),  # POST 200
    ("EXH-WS-HTTPPROXY-FOREIGN-PAGE", 0, Outcome.SUCCEEDED),
])
def test_outcome_grading(rule_id: str, index: int, outcome: Outcome) -> None:
    rule = BY_ID[rule_id]
    sample = rule.ext.samples["positive"][index]
    assert rule.ext.outcome(EventView(sample), Outcome.SUSPICIOUS) is outcome


@pytest.mark.parametrize(("rule_id", "data", "fires"), [
    # a .pst written inside a web folder is still the ProxyShell pattern
    ("EXH-PS-EXPORT-TO-WEBROOT", 'New-MailboxExportRequest -Mailbox "a" -FilePath "D:\\inetpub\\wwwroot\\x.pst"', True),
    ("EXH-PS-EXPORT-TO-WEBROOT", 'New-MailboxExportRequest -Mailbox a -FilePath "\\\\fs01\\pst\\a.aspx.pst"', False),
    ("EXH-PS-EXPORT-REQUEST", 'New-MailboxExportRequest -Mailbox a -FilePath "\\\\fs01\\pst\\a.pst"', True),
    ("EXH-PT-MAILBOX-FORWARDING", 'Set-Mailbox -Identity "bob" -ForwardingAddress "carol"', True),
    ("EXH-PT-MAILBOX-FORWARDING", 'Set-Mailbox -Identity "bob" -ForwardingSmtpAddress ""', False),
    ("EXH-PS-CERT-REQUEST-WEBROOT",
     'New-ExchangeCertificate -GenerateRequest "True" -RequestFile "\\\\fs01\\certs\\mail.req"', False),
])
def test_more_vectors(rule_id: str, data: str, fires: bool) -> None:
    assert BY_ID[rule_id].matcher(EventView({"Channel": "MSExchange Management", "EventID": 1, "Data": data})) is fires


@pytest.mark.parametrize(("path", "rule_id"), [
    ("\\\\fs01.contoso.local\\PSTBackup\\a.pst", "EXH-PS-EXPORT-REQUEST"),
    ("E:\\Exports\\a.pst", "EXH-PS-EXPORT-REQUEST"),
    ("\\\\EX01\\C$\\ProgramData\\x\\a.pst", "EXH-PS-EXPORT-TO-STAGING"),
    ("C:\\Windows\\Temp\\a.pst", "EXH-PS-EXPORT-TO-STAGING"),
    ("\\\\127.0.0.1\\c$\\inetpub\\wwwroot\\aspnet_client\\a.aspx", "EXH-PS-EXPORT-TO-WEBROOT"),
    ("\\\\EX01\\C$\\Program Files\\Microsoft\\Exchange Server\\V15\\FrontEnd\\HttpProxy\\owa\\auth\\a.aspx",
     "EXH-PS-EXPORT-TO-WEBROOT"),
])
def test_each_export_has_exactly_one_verdict(path: str, rule_id: str) -> None:
    data = f'New-MailboxExportRequest -Mailbox "alice@contoso.com" -FilePath "{path}"'
    view = {"Channel": "MSExchange Management", "EventID": 1, "Data": data}
    export_rules = ("EXH-PS-EXPORT-REQUEST", "EXH-PS-EXPORT-TO-STAGING", "EXH-PS-EXPORT-TO-WEBROOT")
    fired = [r for r in export_rules if BY_ID[r].matcher(EventView(view))]
    assert fired == [rule_id]
    rps = {"Cmdlet": "New-MailboxExportRequest", "Parameters": f'-Mailbox "alice" -FilePath "{path}"'}
    rps_rules = [r.replace("EXH-PS-", "EXH-PS-RPS-") for r in export_rules]
    rps_fired = [r for r in rps_rules if BY_ID[r].matcher(EventView(rps))]
    assert rps_fired == [rule_id.replace("EXH-PS-", "EXH-PS-RPS-")]


def test_export_path_is_captured_for_correlation() -> None:
    rule = BY_ID["EXH-PS-EXPORT-TO-WEBROOT"]
    view = EventView(dict(rule.ext.samples["positive"][0]))
    captured = {c.name: c.value(view) for c in rule.ext.captures}
    assert captured["written_path"] == ("\\\\127.0.0.1\\c$\\Program Files\\Microsoft\\Exchange Server\\V15\\"
                                        "FrontEnd\\HttpProxy\\owa\\auth\\f7a1.aspx")


# ---- line-level fixtures (synthetic, in the real header and field layouts) ------------------------------



def _cols(text: str) -> list[str]:
    return text.split(",")


IIS_FIELDS = ("date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) "
              "cs(Referer) sc-status sc-substatus sc-win32-status time-taken")
HTTPPROXY_FIELDS = _cols(
    "DateTime,RequestId,MajorVersion,MinorVersion,BuildVersion,RevisionVersion,ClientRequestId,Protocol,UrlHost,"
    "UrlStem,ProtocolAction,AuthenticationType,IsAuthenticated,AuthenticatedUser,Organization,AnchorMailbox,"
    "UserAgent,ClientIpAddress,ServerHostName,HttpStatus,BackEndStatus,ErrorCode,Method,ProxyAction,TargetServer,"
    "TargetServerVersion,RoutingType,RoutingHint,BackEndCookie,ServerLocatorHost,ServerLocatorLatency,"
    "RequestBytes,ResponseBytes,TargetOutstandingRequests,AuthModulePerfContext,HttpPipelineLatency,"
    "CalculateTargetBackEndLatency,GlsLatencyBreakup,TotalGlsLatency,AccountForestLatencyBreakup,"
    "TotalAccountForestLatency,ResourceForestLatencyBreakup,TotalResourceForestLatency,ADLatency,"
    "SharedCacheLatencyBreakup,TotalSharedCacheLatency,ActivityContextLifeTime,ModuleToHandlerSwitchingLatency,"
    "ClientReqStreamLatency,BackendReqInitLatency,BackendReqStreamLatency,BackendProcessingLatency,"
    "BackendRespInitLatency,BackendRespStreamLatency,ClientRespStreamLatency,KerberosAuthHeaderLatency,"
    "HandlerCompletionLatency,RequestHandlerLatency,HandlerToModuleSwitchingLatency,ProxyTime,CoreLatency,"
    "RoutingLatency,HttpProxyOverhead,TotalRequestTime,UrlQuery,BackEndGenericInfo,GenericInfo,GenericErrors,"
    "EdgeTraceId,DatabaseGuid,UserADObjectGuid,PartitionEndpointLookupLatency,RoutingStatus")
RPS_HTTP_FIELDS = _cols(
    "DateTime,StartTime,RequestId,MajorVersion,MinorVersion,BuildVersion,RevisionVersion,ClientRequestId,UrlHost,"
    "UrlStem,AuthenticationType,IsAuthenticated,AuthenticatedUser,Organization,ManagedOrganization,"
    "ClientIpAddress,ServerHostName,FrontEndServer,HttpStatus,SubStatus,ErrorCode,Action,CommandId,CommandName,"
    "SessionId,ShellId,FailFast,ContributeToFailFast,RequestBytes,ClientInfo,CPU,Memory,ActivityContextLifeTime,"
    "TotalTime,UrlQuery,GenericLatency,GenericInfo,GenericErrors")
RPS_CMDLET_FIELDS = _cols(
    "DateTime,StartTime,RequestId,ClientRequestId,MajorVersion,MinorVersion,BuildVersion,RevisionVersion,"
    "ServerHostName,ProcessId,ProcessName,ThreadId,CultureInfo,Organization,AuthenticatedUser,ExecutingUserSid,"
    "EffectiveOrganization,UserServicePlan,IsAdmin,ClientApplication,Cmdlet,Parameters,CmdletUniqueId,"
    "UserBudgetOnStart,ContributeToFailFast,RunspaceSettingsCreationHint,OutputObjectCount,ParameterBinding,"
    "BeginProcessing,ProcessRecord,EndProcessing,StopProcessing,BizLogic,PowerShellLatency,"
    "UserInteractionLatency,ActivityContextLifeTime,TotalTime,ExecutionResult,Error,GenericInfo,GenericLatency,"
    "GenericErrors")

EX = "C/Program Files/Microsoft/Exchange Server/V15/Logging"
UA_OUTLOOK = "Microsoft+Office/16.0+(Windows+NT+10.0;+Microsoft+Outlook+16.0.5095;+Pro)"
UA_BROWSER = "Mozilla/5.0+(Windows+NT+10.0;+Win64;+x64)+AppleWebKit/537.36+(KHTML,+like+Gecko)+Chrome/92.0"


def _iis(day: str, rows: list[str]) -> str:
    head = ["#Software: Microsoft Internet Information Services 10.0", "#Version: 1.0",
            f"#Date: {day} 00:00:03", f"#Fields: {IIS_FIELDS}"]
    return "\r\n".join(head + rows) + "\r\n"


def _benign_iis(day: str) -> list[str]:
    rows = []
    for i in range(6):
        t = f"{day} 0{i}:1{i}:0{i}"
        rows += [
            f"{t} 10.0.0.5 POST /mapi/emsmdb/ mailboxId=7d9c@contoso.com 443 alice@contoso.com 10.0.1.{20 + i} "
            f"{UA_OUTLOOK} - 200 0 0 31",
            f"{t} 10.0.0.5 GET /owa/ &ExpiredPassword=0 443 CONTOSO\\bob 10.0.1.{40 + i} {UA_BROWSER} - 200 0 0 120",
            f"{t} 10.0.0.5 POST /EWS/Exchange.asmx - 443 CONTOSO\\carol 10.0.1.{60 + i} "
            f"ExchangeServicesClient/15.00.0913.015 - 200 0 0 45",
            f"{t} 10.0.0.5 POST /Microsoft-Server-ActiveSync/default.eas Cmd=Sync&User=dave&DeviceId=AB12&"
            f"DeviceType=iPhone 443 dave 10.0.2.{i + 1} Apple-iPhone13C2/1805.77 - 200 0 0 1550",
            f"{t} 10.0.0.5 POST /autodiscover/autodiscover.json Email=alice%40contoso.com&Protocol=ActiveSync&"
            f"RedirectCount=1 443 - 10.0.1.{20 + i} {UA_OUTLOOK} - 200 0 0 15",
            f"{t} 127.0.0.1 GET /ecp/ - 443 - 127.0.0.1 AMProbe/Local/ClientAccess - 302 0 0 3",
            f"{t} 10.0.0.5 POST /powershell clientApplication=ActiveMonitor;PSVersion=5.1.17763.1728 444 "
            f"CONTOSO\\HealthMailbox0a1b2c 10.0.0.5 Microsoft+WinRM+Client - 200 0 0 88",
        ]
    return rows


def _csv(values: dict[str, str], fields: list[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow([values.get(f, "") for f in fields])
    return buf.getvalue()


def _exchange_log(log_type: str, version: str, day: str, fields: list[str], rows: list[dict[str, str]]) -> str:
    head = ["#Software: Microsoft Exchange Server", f"#Version: {version}", f"#Log-type: {log_type}",
            f"#Date: {day}T00:00:00.000Z", "#Fields: " + ",".join(fields)]
    return "\r\n".join(head + [_csv(r, fields) for r in rows]) + "\r\n"


def _proxy(t: str, protocol: str, stem: str, query: str, user: str, ip: str, ua: str, status: str) -> dict[str, str]:
    return {"DateTime": t, "RequestId": "5f0e2d4b-1c7a-4c1e-9d55-0b1a2c3d4e5f", "MajorVersion": "15",
            "MinorVersion": "1", "BuildVersion": "2242", "RevisionVersion": "4", "Protocol": protocol,
            "UrlHost": "mail.contoso.com", "UrlStem": stem, "AuthenticatedUser": user,
            "IsAuthenticated": "True" if user else "False", "UserAgent": ua, "ClientIpAddress": ip,
            "ServerHostName": "EX01", "HttpStatus": status, "BackEndStatus": status, "Method": "POST",
            "ProxyAction": "Proxy", "TargetServer": "ex01.contoso.local", "UrlQuery": query}


def _rps_http(t: str, user: str, ip: str, client: str, status: str) -> dict[str, str]:
    return {"DateTime": t, "StartTime": t, "MajorVersion": "15", "MinorVersion": "1", "BuildVersion": "2242",
            "RevisionVersion": "4", "UrlHost": "ex01.contoso.local", "UrlStem": "/powershell",
            "AuthenticationType": "Kerberos", "IsAuthenticated": "True", "AuthenticatedUser": user,
            "ClientIpAddress": ip, "ServerHostName": "EX01", "HttpStatus": status, "Action": "Receive",
            "ClientInfo": client, "UrlQuery": "?serializationLevel=Full;clientApplication=ManagementShell"}


def _cmdlet(t: str, user: str, app: str, cmdlet: str, params: str) -> dict[str, str]:
    return {"DateTime": t, "StartTime": t, "MajorVersion": "15", "MinorVersion": "1", "BuildVersion": "2242",
            "RevisionVersion": "4", "ServerHostName": "EX01", "ProcessId": "9840",
            "ProcessName": "w3wp#MSExchangePowerShellAppPool", "AuthenticatedUser": user, "IsAdmin": "True",
            "ClientApplication": app, "Cmdlet": cmdlet, "Parameters": params, "ExecutionResult": "Success"}


def _benign_admin(day: str) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    admin = "contoso.com/Users/Administrator"
    cmdlets = [
        _cmdlet(f"{day}T08:01:00.000Z", admin, "EMS", "Get-Mailbox", "ResultSize=Unlimited"),
        _cmdlet(f"{day}T08:02:00.000Z", admin, "EMS", "New-ManagementRoleAssignment",
                "Role=Mail Recipients;SecurityGroup=Helpdesk"),
        _cmdlet(f"{day}T08:03:00.000Z", admin, "EMS", "New-MailboxExportRequest",
                "Mailbox=leaver@contoso.com;FilePath=\\\\fs01.contoso.local\\PSTBackup\\leaver.pst"),
        _cmdlet(f"{day}T08:04:00.000Z", admin, "EMS", "New-ExchangeCertificate",
                "GenerateRequest=True;SubjectName=cn=mail.contoso.com;RequestFile=C:\\Certs\\mail-2021.req"),
        _cmdlet(f"{day}T08:05:00.000Z", admin, "EMS", "Import-ExchangeCertificate",
                "FileData=System.Byte[];PrivateKeyExportable=True"),
        _cmdlet(f"{day}T08:06:00.000Z", "contoso.com/Users/HealthMailbox0a1b2c", "ActiveMonitor",
                "Get-ExchangeServer", "Identity=EX01"),
    ]
    rps = [_rps_http(f"{day}T08:0{i}:00.000Z", admin, "10.0.0.30", "Microsoft WinRM Client", "200") for i in range(4)]
    rps += [_rps_http(f"{day}T09:0{i}:00.000Z", "HealthMailbox0a1b2c@contoso.com", "10.0.0.5",
                      "Exchange BackEnd Probes", "200") for i in range(3)]
    return cmdlets, rps


def _write(root: Path, rel: str, text: str) -> Artifact:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))
    return Artifact(_kind(rel), rel, len(text))


def _kind(rel: str) -> ArtifactKind:
    if "inetpub" in rel:
        return ArtifactKind.IIS
    if "/HttpProxy/" in rel:
        return ArtifactKind.HTTPPROXY
    if "/RpsHttp/" in rel:
        return ArtifactKind.RPS_HTTP
    return ArtifactKind.RPS_CMDLET


def _attacked_host(root: Path) -> list[Artifact]:
    day = "2021-08-13"
    attack_iis = [
        f"{day} 10:15:20 10.0.0.5 GET /autodiscover/autodiscover.json @evil.corp/mapi/nspi/?&Email=autodiscover/"
        f"autodiscover.json%3F@evil.corp 443 - 203.0.113.7 python-requests/2.26.0 - 401 0 0 12",
        f"{day} 10:15:22 10.0.0.5 POST /autodiscover/autodiscover.json @evil.corp/powershell/?X-Rps-CAT=VgEAVAdXaW5"
        f"&Email=autodiscover/autodiscover.json%3F@evil.corp 443 - 203.0.113.7 python-requests/2.26.0 - 200 0 0 85",
        f"{day} 11:02:10 10.0.0.5 POST /ecp/victim@contoso.com/RulesEditor/InboxRules.svc/NewObject "
        f"SecurityToken=&msExchEcpCanary=x1 443 - 203.0.113.9 python-requests/2.26.0 - 200 0 0 40",
        f"{day} 11:30:00 10.0.0.5 GET /ecp/default.aspx __VIEWSTATEGENERATOR=B97B4E27&__VIEWSTATE=%2FwEy 443 "
        f"CONTOSO\\bob 198.51.100.40 {UA_BROWSER} - 500 0 0 77",
        f"{day} 12:00:00 10.0.0.5 POST /owa/mastermailbox%40outlook.com/powershell clientApplication=x 443 "
        f"CONTOSO\\bob 198.51.100.23 python-requests/2.28.1 - 200 0 0 70",
    ]
    rows = _benign_iis(day)
    iis_rows = rows[:20] + attack_iis + rows[20:]
    arts = [_write(root, f"C/inetpub/logs/LogFiles/W3SVC1/u_ex{day[2:].replace('-', '')}.log", _iis(day, iis_rows))]
    proxy_rows = [_proxy(f"{day}T0{i}:00:00.000Z", "Autodiscover", "/autodiscover/autodiscover.json",
                         "?Email=alice%40contoso.com&Protocol=Ews", "", f"10.0.1.{i + 2}", "Outlook", "200")
                  for i in range(5)]
    proxy_rows.insert(3, _proxy(f"{day}T10:15:22.120Z", "Autodiscover", "/autodiscover/autodiscover.json",
                                "?@evil.corp/powershell/?X-Rps-CAT=VgEAVAdXaW5&Email=autodiscover/autodiscover.json"
                                "%3F@evil.corp", "", "203.0.113.7", "python-requests/2.26.0", "200"))
    arts.append(_write(root, f"{EX}/HttpProxy/Autodiscover/HttpProxy_2021081310-1.LOG",
                       _exchange_log("HttpProxy Logs", "15.01.2242.004", day, HTTPPROXY_FIELDS, proxy_rows)))
    cmdlets, rps = _benign_admin(day)
    cmdlets += [
        _cmdlet(f"{day}T10:16:00.000Z", "contoso.com/Users/Administrator", "", "New-ManagementRoleAssignment",
                "Role=Mailbox Import Export;User=administrator@contoso.com"),
        _cmdlet(f"{day}T10:17:00.000Z", "contoso.com/Users/Administrator", "", "New-MailboxExportRequest",
                "Mailbox=administrator@contoso.com;IncludeFolders=#Drafts#;FilePath=\\\\127.0.0.1\\c$\\Program Files"
                "\\Microsoft\\Exchange Server\\V15\\FrontEnd\\HttpProxy\\owa\\auth\\f7a1.aspx"),
        _cmdlet(f"{day}T10:19:00.000Z", "contoso.com/Users/Administrator", "", "Remove-MailboxExportRequest",
                "Identity=administrator\\MailboxExport;Confirm=False"),
    ]
    rps.append(_rps_http(f"{day}T12:00:01.000Z", "bob@contoso.com", "198.51.100.23", "python-requests/2.28.1", "200"))
    arts.append(_write(root, f"{EX}/CmdletInfra/Others/Rps_Cmdlet_2021081300-1.LOG",
                       _exchange_log("Rps_Cmdlet Logs", "15.01.2242.004", day, RPS_CMDLET_FIELDS,
                                     sorted(cmdlets, key=lambda r: r["DateTime"]))))
    arts.append(_write(root, f"{EX}/RpsHttp/Rps_Http_2021081300-1.LOG",
                       _exchange_log("Rps_Http Logs", "15.01.2242.004", day, RPS_HTTP_FIELDS,
                                     sorted(rps, key=lambda r: r["DateTime"]))))
    return arts


def _benign_host(root: Path) -> list[Artifact]:
    day = "2021-09-02"
    arts = [_write(root, "C/inetpub/logs/LogFiles/W3SVC1/u_ex210902.log", _iis(day, _benign_iis(day)))]
    cmdlets, rps = _benign_admin(day)
    arts.append(_write(root, f"{EX}/CmdletInfra/Others/Rps_Cmdlet_2021090200-1.LOG",
                       _exchange_log("Rps_Cmdlet Logs", "15.02.0922.013", day, RPS_CMDLET_FIELDS, cmdlets)))
    arts.append(_write(root, f"{EX}/RpsHttp/Rps_Http_2021090200-1.LOG",
                       _exchange_log("Rps_Http Logs", "15.02.0922.013", day, RPS_HTTP_FIELDS, rps)))
    return arts


def _run(root: Path, arts: list[Artifact]) -> tuple[list[Finding], list[ParseReport]]:
    content = SigmaContent([(str(RULES / f), str(RULES)) for f in FAMILIES])
    assert content.result.errors == []
    tree = DirectoryTree(root, "ex01")
    ctx = HostContext("ex01", tree, arts, HostCoverage())
    detector = SigmaDetector(content)
    parser = W3CParser()
    reports = []
    for art in arts:
        report = ParseReport(art.path)
        for record in parser.parse(tree, art, report):
            assert isinstance(record, Record)
            detector.on_record(record, ctx)
        assert not report.failed and not report.not_understood, report.warnings
        reports.append(report)
    return detector.finish(ctx), reports


def test_attacked_host_line_level(tmp_path: Path) -> None:
    findings, reports = _run(tmp_path, _attacked_host(tmp_path))
    got = {(f.rule_id, f.outcome) for f in findings}
    expected = {
        ("EXH-PS-IIS-AUTODISCOVER-SSRF", Outcome.ATTEMPTED),
        ("EXH-PS-IIS-AUTODISCOVER-SSRF", Outcome.SUCCEEDED),
        ("EXH-PS-HTTPPROXY-AUTODISCOVER-SSRF", Outcome.SUCCEEDED),
        ("EXH-PS-RPS-ROLE-IMPORT-EXPORT", Outcome.SUSPICIOUS),
        ("EXH-PS-RPS-EXPORT-TO-WEBROOT", Outcome.SUCCEEDED),
        ("EXH-PS-RPS-ROLE-IMPORT-EXPORT", Outcome.SUSPICIOUS),
        # NewObject answered 200: suspicious at the rule; the correlation grades it by the inbox rule it leaves
        ("EXH-PT-IIS-ECP-SECURITYTOKEN", Outcome.SUSPICIOUS),
        ("EXH-0688-ECP-VIEWSTATE", Outcome.SUCCEEDED),
        ("EXH-OWASSRF-IIS-OWA-POWERSHELL", Outcome.SUCCEEDED),
        ("EXH-PNS-RPSHTTP-SCRIPT-CLIENT", Outcome.SUCCEEDED),
        ("EXH-PS-RPS-EXPORT-REQUEST-REMOVED", Outcome.INFORMATIONAL),  # the intruder's clean-up
        ("EXH-PS-RPS-EXPORT-REQUEST", Outcome.INFORMATIONAL),  # the admin's export to the backup share
    }
    assert expected <= got, sorted(got)
    # nothing else: the benign lines around the attack stay quiet
    assert got - expected == set(), sorted(got - expected)
    export = next(f for f in findings if f.rule_id == "EXH-PS-RPS-EXPORT-TO-WEBROOT")
    assert export.attr_values("written_path") == [
        "\\\\127.0.0.1\\c$\\Program Files\\Microsoft\\Exchange Server\\V15\\FrontEnd\\HttpProxy\\owa\\auth\\f7a1.aspx"]
    ssrf = next(f for f in findings if f.rule_id == "EXH-PS-IIS-AUTODISCOVER-SSRF" and f.outcome is Outcome.SUCCEEDED)
    (ref,) = ssrf.evidence
    assert ref.line == 26 and ref.path.endswith("u_ex210813.log") and "X-Rps-CAT" in ref.excerpt
    assert ssrf.cves == ("CVE-2021-34473", "CVE-2021-34523")
    assert ssrf.first_seen is not None and ssrf.first_seen.startswith("2021-08-13T10:15:22")
    # the same logs date the build: 15.1.2242.4 (2016 CU20) on 2021-08-13 had ProxyShell open
    observations = [o for r in reports for o in observations_from_directives(r.path, r.directives, r.first_time)]
    assert {o.build for o in observations} == {"15.1.2242.4"}
    assert patched_at(observations, "CVE-2021-34473", ssrf.first_seen) is False
    exposure = assess_exposure(observations)
    assert exposure["label"] == "Exchange Server 2016 CU20"
    shell = next(f for f in exposure["families"] if f["id"] == "proxyshell")
    assert shell["exposed_now"] is True and shell["exposed_during_exploitation"] == "yes"


def test_benign_host_stays_quiet_or_informational(tmp_path: Path) -> None:
    findings, _ = _run(tmp_path, _benign_host(tmp_path))
    assert all(f.severity is Severity.INFO and f.outcome is Outcome.INFORMATIONAL for f in findings), [
        (f.rule_id, f.outcome) for f in findings]
    # the admin's export to the backup share is reported, informational, with its path and the reason
    (export,) = findings
    assert export.rule_id == "EXH-PS-RPS-EXPORT-REQUEST"
    assert export.attr_values("written_path") == ["\\\\fs01.contoso.local\\PSTBackup\\leaver.pst"]
    assert "legitimate" in export.description.lower() or "informational" in export.description.lower()


def test_real_msexchange_management_event() -> None:
    """Real MSExchange Management events (omerbenamram/evtx samples): Set-Mailbox with a forwarding address."""
    path = CORPUS / "evtx" / "omerbenamram-evtx" / "issue_201.evtx"
    if not path.exists():
        pytest.skip(f"shared corpus not present ({path})")
    from exhunt.parsers.evtx import EvtxParser

    tree = DirectoryTree(path.parent, "corpus")
    art = Artifact(ArtifactKind.EVTX, path.name, path.stat().st_size, attrs=(("channel", "MSExchange Management"),))
    content = SigmaContent([(str(RULES / f), str(RULES)) for f in FAMILIES])
    detector = SigmaDetector(content)
    ctx = HostContext("corpus", tree, [art], HostCoverage())
    report = ParseReport(art.path)
    for record in EvtxParser().parse(tree, art, report):
        detector.on_record(record, ctx)
    findings = detector.finish(ctx)
    assert [f.rule_id for f in findings] == ["EXH-PT-MAILBOX-FORWARDING"]
    assert findings[0].attr_values("forward_to") == ["smtp:test2@example.com"]


def test_real_proxylogon_telemetry_is_not_attributed_to_other_families(tmp_path: Path) -> None:
    """OTRF's recording of a real ProxyLogon PoC (w3wp.exe of the ECP pool spawning cmd.exe, OAB vdir changes):
    none of these family rules may claim it (their families' requests and pools are absent)."""
    archive = CORPUS / "otrf" / "proxylogon_ssrf_rce_poc.zip"
    if not archive.exists():
        pytest.skip(f"shared corpus not present ({archive})")
    import zipfile

    from exhunt.parsers.jsonevents import JsonEventsParser

    with zipfile.ZipFile(archive) as zf:
        name = zf.namelist()[0]
        zf.extract(name, tmp_path)
    tree = DirectoryTree(tmp_path, "otrf")
    art = Artifact(ArtifactKind.JSON_EVENTS, name, (tmp_path / name).stat().st_size)
    content = SigmaContent([(str(RULES / f), str(RULES)) for f in FAMILIES])
    detector = SigmaDetector(content)
    ctx = HostContext("otrf", tree, [art], HostCoverage())
    report = ParseReport(art.path)
    records = 0
    for record in JsonEventsParser().parse(tree, art, report):
        records += 1
        detector.on_record(record, ctx)
    assert records > 10_000
    assert detector.finish(ctx) == []


@pytest.mark.parametrize("name", ["iis7_owa.log", "iis10_edge_cases.log"])
def test_real_benign_exchange_iis_logs_stay_quiet(name: str) -> None:
    """plaso's IIS test logs of benign Exchange traffic (OWA, EWS, ActiveSync, back-end PowerShell on 444)."""
    path = CORPUS / "weblogs" / "plaso" / name
    if not path.exists():
        pytest.skip(f"shared corpus not present ({path})")
    tree = DirectoryTree(path.parent, "plaso")
    art = Artifact(ArtifactKind.IIS, path.name, path.stat().st_size)
    content = SigmaContent([(str(RULES / f), str(RULES)) for f in FAMILIES])
    detector = SigmaDetector(content)
    ctx = HostContext("plaso", tree, [art], HostCoverage())
    report = ParseReport(art.path)
    records = 0
    for record in W3CParser().parse(tree, art, report):
        records += 1
        detector.on_record(record, ctx)
    assert records > 0
    assert detector.finish(ctx) == []
