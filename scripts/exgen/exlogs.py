"""ECP Server, OABGenerator, Rps_Http and Rps_Cmdlet logs. Their field lists are the examples' own design,
modelled on what is publicly known of these logs (see examples/README.md): synthetic, not verbatim."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from exgen.common import HostFiles, Rng, field_list, iso_ms
from exgen.weblogs import EXCHANGE, Server, csv_line, exchange_header

ECP_FIELDS = [
    "DateTime", "ServerName", "RequestId", "ActivityId", "ProcessId", "ThreadId", "AuthenticatedUser",
    "ClientIpAddress", "UrlStem", "HttpMethod", "HttpStatus", "Cmdlet", "ActivityContextLifeTime",
    "GenericInfo", "GenericErrors",
]
RPS_HTTP_FIELDS = field_list(
    "DateTime,StartTime,RequestId,MajorVersion,MinorVersion,BuildVersion,RevisionVersion,ClientRequestId,"
    "UrlHost,UrlStem,AuthenticationType,IsAuthenticated,AuthenticatedUser,Organization,ManagedOrganization,"
    "ClientIpAddress,ServerHostName,FrontEndServer,HttpStatus,SubStatus,ErrorCode,Action,CommandId,CommandName,"
    "SessionId,ShellId,FailFast,ContributeToFailFast,RequestBytes,ClientInfo,CPU,Memory,ActivityContextLifeTime,"
    "TotalTime,UrlQuery,GenericLatency,GenericInfo,GenericErrors"
)
RPS_CMDLET_FIELDS = field_list(
    "DateTime,StartTime,RequestId,ClientRequestId,MajorVersion,MinorVersion,BuildVersion,RevisionVersion,"
    "ServerHostName,ProcessId,ProcessName,ThreadId,CultureInfo,Organization,AuthenticatedUser,ExecutingUserSid,"
    "EffectiveOrganization,UserServicePlan,IsAdmin,ClientApplication,Cmdlet,Parameters,CmdletUniqueId,"
    "UserBudgetOnStart,ContributeToFailFast,RunspaceSettingsCreationHint,ADViewEntireForest,ADRecipientViewRoot,"
    "ADConfigurationDomainControllers,ADPreferredGlobalCatalogs,ADPreferredDomainControllers,"
    "ADUserConfigurationDomainController,ADUserPreferredGlobalCatalog,ADuserPreferredDomainControllers,"
    "ThrottlingInfo,DelayInfo,ThrottlingDelay,IsOutputObjectRedacted,CmdletProxyStage,CmdletProxyRemoteServer,"
    "CmdletProxyRemoteServerVersion,CmdletProxyMethod,ProxiedObjectCount,CmdletProxyLatency,OutputObjectCount,"
    "ParameterBinding,BeginProcessing,ProcessRecord,EndProcessing,StopProcessing,BizLogic,PowerShellLatency,"
    "UserInteractionLatency,ProvisioningLayerLatency,ActivityContextLifeTime,TotalTime,ErrorType,ExecutionResult,"
    "CacheHitCount,CacheMissCount,GenericLatency,GenericInfo,GenericErrors,ObjectGuid,"
    "ExternalDirectoryOrganizationId,ExternalDirectoryObjectId,NonPiiParameters"
)


@dataclass
class Line:
    """One row of a #Fields log: time, values by field name, and an optional attack mark."""

    t: datetime
    values: dict[str, str]
    server: Server
    mark: str = ""


def write_fields_log(
    host: HostFiles, folder: str, prefix: str, log_type: str, fields: list[str], lines: list[Line],
) -> None:
    """One file per UTC day named for the hour of its first row (prefixYYYYMMDDHH-1.LOG), rows in time
    order, header (#Version, #Date) from the first row."""
    by_day: dict[str, list[Line]] = defaultdict(list)
    for line in lines:
        by_day[line.t.strftime("%Y%m%d")].append(line)
    for day in sorted(by_day):
        rows = sorted(by_day[day], key=lambda x: x.t)
        start = rows[0].t
        header = exchange_header(rows[0].server, log_type, start, fields)
        text = [(csv_line([row.values.get(f, "") for f in fields]), row.mark) for row in rows]
        name = f"{prefix}{start.strftime('%Y%m%d%H')}-1.LOG"
        host.add_log(f"{EXCHANGE}/Logging/{folder}/{name}", header, text, rows[-1].t)


def ecp_line(rng: Rng, t: datetime, server: Server, user: str, ip: str, cmd: str, params: str, mark: str = "",
             stem: str = "/ecp/DDI/DDIService.svc/SetObject") -> Line:
    generic = f"S:CMD={cmd}.{params}" if params else f"S:CMD={cmd}"
    return Line(t, {
        "DateTime": iso_ms(t), "ServerName": server.name, "RequestId": rng.guid(), "ActivityId": rng.guid(),
        "ProcessId": "7316", "ThreadId": str(rng.randint(8, 90)), "AuthenticatedUser": user,
        "ClientIpAddress": ip, "UrlStem": stem, "HttpMethod": "POST", "HttpStatus": "200", "Cmdlet": cmd,
        "ActivityContextLifeTime": str(rng.randint(40, 900)), "GenericInfo": generic,
    }, server, mark)


def oab_text(t: datetime, thread: int, level: str, message: str) -> str:
    """OABGenerator log line (synthetic layout): time, thread, level, component, message."""
    return f"{iso_ms(t)} [{thread:>3}] {level:<7} OABGeneratorAssistant: {message}"


def write_oab_log(host: HostFiles, server: Server, lines: list[tuple[datetime, str, str]]) -> None:
    """Logging/OABGeneratorLog/OABGenerator_YYYYMMDD00-1.LOG: plain text lines, no #Fields header."""
    by_day: dict[str, list[tuple[datetime, str, str]]] = defaultdict(list)
    for item in lines:
        by_day[item[0].strftime("%Y%m%d")].append(item)
    for day in sorted(by_day):
        rows = sorted(by_day[day], key=lambda x: x[0])
        name = f"OABGenerator_{rows[0][0].strftime('%Y%m%d%H')}-1.LOG"
        host.add_log(f"{EXCHANGE}/Logging/OABGeneratorLog/{name}", [],
                     [(text, mark) for _t, text, mark in rows], rows[-1][0])


def benign_oab(rng: Rng, day: datetime, oab_guid: str) -> list[tuple[datetime, str, str]]:
    """The OAB generation cycle, every 8 hours, including the benign 'temporary file' cleanup message."""
    out = []
    root = f"C:\\Program Files\\Microsoft\\Exchange Server\\V15\\ClientAccess\\OAB\\{oab_guid}"
    for hour in (2, 10, 18):
        t = day + timedelta(hours=hour, minutes=rng.randint(0, 20), seconds=rng.randint(0, 59))
        thread = rng.randint(10, 99)
        steps = [
            ("Info", "Starting generation of OAB '\\Default Offline Address Book'."),
            ("Info", f"Downloading OAB files from mailbox SystemMailbox{{{rng.guid()}}}."),
            ("Info", f"Download completed for file '{root}\\oab.xml'."),
        ]
        if rng.random() < 0.4:
            tmp = f"{root}\\{rng.guid()}-lng{rng.randint(400, 499):x}.lzx.tmp"
            steps.append(("Warning", f"Download failed and temporary file '{tmp}' needs to be removed."))
            steps.append(("Info", f"Temporary file '{tmp}' removed."))
        steps.append(("Info", f"Generation of OAB '\\Default Offline Address Book' completed: "
                              f"{rng.randint(180, 260)} entries, {rng.randint(1, 3)} files."))
        for i, (level, msg) in enumerate(steps):
            ts = t + timedelta(seconds=i * 3, milliseconds=rng.randint(0, 999))
            out.append((ts, oab_text(ts, thread, level, msg), ""))
    return out


def rps_http_line(rng: Rng, t: datetime, server: Server, user: str, ip: str, query: str, status: int = 200,
                  action: str = "Receive", mark: str = "", front_end: str = "", auth: str = "Kerberos") -> Line:
    major, minor, build, rev = server.build
    return Line(t, {
        "DateTime": iso_ms(t), "StartTime": iso_ms(t - timedelta(milliseconds=rng.randint(5, 400))),
        "RequestId": rng.guid(), "MajorVersion": str(major), "MinorVersion": str(minor),
        "BuildVersion": str(build), "RevisionVersion": str(rev), "UrlHost": server.fqdn,
        "UrlStem": "/powershell", "AuthenticationType": auth, "IsAuthenticated": "True" if user else "False",
        "AuthenticatedUser": user, "ClientIpAddress": ip, "ServerHostName": server.name,
        "FrontEndServer": front_end or server.fqdn, "HttpStatus": str(status), "SubStatus": "0", "Action": action,
        "CommandId": rng.guid() if action == "Command" else "", "SessionId": rng.guid(), "ShellId": rng.guid(),
        "FailFast": "False", "ContributeToFailFast": "False", "RequestBytes": str(rng.randint(600, 9000)),
        "CPU": str(rng.randint(0, 60)), "Memory": str(rng.randint(1, 40)),
        "ActivityContextLifeTime": str(rng.randint(5, 900)), "TotalTime": str(rng.randint(5, 900)),
        "UrlQuery": f"?{query}" if query else "",
        "GenericLatency": f"WSManOperationComplete={rng.randint(1, 30)};ProcessRecord={rng.randint(0, 9)}",
    }, server, mark)


def rps_cmdlet_line(rng: Rng, t: datetime, server: Server, user: str, sid: str, app: str, cmdlet: str,
                    params: str, mark: str = "", result: str = "Success") -> Line:
    major, minor, build, rev = server.build
    start = t - timedelta(milliseconds=rng.randint(20, 2000))
    total = int((t - start).total_seconds() * 1000)
    return Line(t, {
        "DateTime": iso_ms(t), "StartTime": iso_ms(start),
        "RequestId": rng.guid(), "MajorVersion": str(major), "MinorVersion": str(minor),
        "BuildVersion": str(build), "RevisionVersion": str(rev), "ServerHostName": server.name,
        "ProcessId": "9840", "ProcessName": "w3wp#MSExchangePowerShellAppPool", "ThreadId": str(rng.randint(8, 80)),
        "AuthenticatedUser": user, "ExecutingUserSid": sid, "IsAdmin": "True" if app != "ActiveMonitor" else "False",
        "ClientApplication": app, "Cmdlet": cmdlet, "Parameters": params, "CmdletUniqueId": rng.guid(),
        "RunspaceSettingsCreationHint": "GCRandomly", "ADViewEntireForest": "False",
        "ADRecipientViewRoot": "contoso.local", "ADConfigurationDomainControllers": "DC01.contoso.local",
        "ADPreferredGlobalCatalogs": "DC01.contoso.local", "ADPreferredDomainControllers": "DC01.contoso.local",
        "OutputObjectCount": str(rng.randint(0, 30)), "ParameterBinding": "0",
        "BeginProcessing": str(rng.randint(1, 9)),
        "ProcessRecord": str(rng.randint(1, 40)), "EndProcessing": "0", "BizLogic": str(rng.randint(1, 60)),
        "ActivityContextLifeTime": str(total), "TotalTime": str(total), "ExecutionResult": result,
        "GenericLatency": f"ExchangeRunspaceConfiguration={rng.randint(10, 60)};BizLogic.C={rng.randint(1, 30)};",
        "GenericInfo": f"PSSenderInfo={user.lower()};",
        "NonPiiParameters": params,
    }, server, mark)
