"""Web requests and how IIS (W3C) and the Exchange HttpProxy log write them."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from exgen.common import CRLF, HostFiles, Rng, field_list, iso_ms

EXCHANGE = "C/Program Files/Microsoft/Exchange Server/V15"
IIS_DIR = "C/inetpub/logs/LogFiles"

IIS_FIELDS = [  # IIS writes its #Fields list space-separated
    "date", "time", "s-ip", "cs-method", "cs-uri-stem", "cs-uri-query", "s-port", "cs-username", "c-ip",
    "cs(User-Agent)", "cs(Referer)", "sc-status", "sc-substatus", "sc-win32-status", "time-taken",
]

HTTPPROXY_FIELDS = field_list(
    "DateTime,RequestId,MajorVersion,MinorVersion,BuildVersion,RevisionVersion,ClientRequestId,Protocol,"
    "UrlHost,UrlStem,ProtocolAction,AuthenticationType,IsAuthenticated,AuthenticatedUser,Organization,"
    "AnchorMailbox,UserAgent,ClientIpAddress,ServerHostName,HttpStatus,BackEndStatus,ErrorCode,Method,"
    "ProxyAction,TargetServer,TargetServerVersion,RoutingType,RoutingHint,BackEndCookie,ServerLocatorHost,"
    "ServerLocatorLatency,RequestBytes,ResponseBytes,TargetOutstandingRequests,AuthModulePerfContext,"
    "HttpPipelineLatency,CalculateTargetBackEndLatency,GlsLatencyBreakup,TotalGlsLatency,"
    "AccountForestLatencyBreakup,TotalAccountForestLatency,ResourceForestLatencyBreakup,"
    "TotalResourceForestLatency,ADLatency,SharedCacheLatencyBreakup,TotalSharedCacheLatency,"
    "ActivityContextLifeTime,ModuleToHandlerSwitchingLatency,ClientReqStreamLatency,BackendReqInitLatency,"
    "BackendReqStreamLatency,BackendProcessingLatency,BackendRespInitLatency,BackendRespStreamLatency,"
    "ClientRespStreamLatency,KerberosAuthHeaderLatency,HandlerCompletionLatency,RequestHandlerLatency,"
    "HandlerToModuleSwitchingLatency,ProxyTime,CoreLatency,RoutingLatency,HttpProxyOverhead,TotalRequestTime,"
    "UrlQuery,BackEndGenericInfo,GenericInfo,GenericErrors,EdgeTraceId,DatabaseGuid,UserADObjectGuid,"
    "PartitionEndpointLookupLatency,RoutingStatus"
)

PROTOCOLS = ("Autodiscover", "Eas", "Ecp", "Ews", "Mapi", "OAB", "Owa", "PowerShell", "RpcHttp")


@dataclass(frozen=True)
class Server:
    name: str  # EX01
    fqdn: str  # ex01.contoso.local
    ip: str
    build: tuple[int, int, int, int]  # 15, 2, 792, 3

    @property
    def version_header(self) -> str:
        major, minor, build, rev = self.build
        return f"{major:02d}.{minor:02d}.{build:04d}.{rev:03d}"

    @property
    def version_text(self) -> str:
        major, minor, build, rev = self.build
        return f"Version {major}.{minor} (Build {build}.{rev})"


@dataclass
class Req:
    """One HTTP request as both logs see it. ``protocol`` None: IIS only (not proxied by Exchange)."""

    t: datetime
    ip: str
    method: str
    stem: str
    query: str
    ua: str
    status: int
    user: str = ""  # IIS cs-username
    port: int = 443
    referer: str = ""
    substatus: int = 0
    win32: int = 0
    taken: int = 15
    protocol: str | None = None
    upn: str = ""  # HttpProxy AuthenticatedUser
    auth: str = ""  # HttpProxy AuthenticationType
    anchor: str = ""
    backend_status: int | None = None
    backend_cookie: str = ""
    action: str = ""
    error: str = ""
    routing_hint: str = ""
    generic_info: str = ""
    generic_errors: str = ""
    host: str = "mail.contoso.com"
    server: Server | None = None  # set by the host builder: the build the logs carry at that time
    iis_mark: str = ""
    proxy_mark: str = ""
    extra: dict[str, str] = field(default_factory=dict)


def iis_line(r: Req) -> str:
    s = r.server
    assert s is not None
    end = r.t + timedelta(milliseconds=r.taken)

    def w(v: str) -> str:
        return v if v else "-"

    return " ".join([
        end.strftime("%Y-%m-%d"), end.strftime("%H:%M:%S"), s.ip, r.method, r.stem, w(r.query), str(r.port),
        w(r.user), r.ip, w(r.ua.replace(" ", "+")), w(r.referer), str(r.status), str(r.substatus),
        str(r.win32), str(r.taken),
    ])


def _latencies(rng: Rng, total: int) -> dict[str, str]:
    backend = max(0, total - rng.randint(2, 9))
    return {
        "HttpPipelineLatency": str(rng.randint(0, 3)),
        "CalculateTargetBackEndLatency": str(rng.randint(0, 2)),
        "ADLatency": str(rng.choice([0, 0, 1, 2, 4])),
        "ActivityContextLifeTime": str(total + rng.randint(0, 2)),
        "ModuleToHandlerSwitchingLatency": "0",
        "ClientReqStreamLatency": "0",
        "BackendReqInitLatency": str(rng.randint(0, 3)),
        "BackendReqStreamLatency": str(rng.randint(0, 2)),
        "BackendProcessingLatency": str(backend),
        "BackendRespInitLatency": str(backend),
        "BackendRespStreamLatency": str(rng.randint(0, 1)),
        "ClientRespStreamLatency": str(rng.randint(0, 2)),
        "KerberosAuthHeaderLatency": "",
        "HandlerCompletionLatency": "0",
        "RequestHandlerLatency": str(rng.randint(0, 3)),
        "HandlerToModuleSwitchingLatency": "0",
        "ProxyTime": str(total - 1),
        "CoreLatency": str(rng.randint(1, 6)),
        "RoutingLatency": str(rng.randint(0, 3)),
        "HttpProxyOverhead": str(rng.randint(2, 9)),
        "TotalRequestTime": str(total),
    }


def be_version(build: tuple[int, int, int, int]) -> int:
    """The back-end version number Exchange puts in FEAuth=BEVersion-N and X-BEResource (~N)."""
    major, minor, number, _rev = build
    return 0x70000000 | (major << 22) | (minor << 16) | 0x8000 | number


def httpproxy_values(r: Req, rng: Rng) -> list[str]:
    s = r.server
    assert s is not None and r.protocol is not None
    major, minor, build, rev = s.build
    proxied = r.backend_status != 0 and (r.status not in (401, 404) or bool(r.anchor))
    end = r.t + timedelta(milliseconds=r.taken)
    begin = iso_ms(r.t)
    v: dict[str, str] = {name: "" for name in HTTPPROXY_FIELDS}
    generic = f"BeginRequest={begin};CorrelationID=<empty>;"
    if proxied:
        generic += f"ProxyState-Run=None;FEAuth=BEVersion-{be_version(s.build)};"
        generic += f"BeginGetResponse={begin};OnResponseReady={iso_ms(end)};ProxyState-Complete=ProxyResponseData;"
    generic += f"SharedCacheGuard=0;EndRequest={iso_ms(end)};"
    v.update({
        "DateTime": iso_ms(end),
        "RequestId": rng.guid(),
        "MajorVersion": str(major), "MinorVersion": str(minor), "BuildVersion": str(build),
        "RevisionVersion": str(rev),
        "ClientRequestId": rng.guid() if r.protocol in ("Owa", "Ews") and r.upn else "",
        "Protocol": r.protocol, "UrlHost": r.host, "UrlStem": r.stem, "ProtocolAction": r.action,
        "AuthenticationType": r.auth, "IsAuthenticated": "true" if r.upn else "false",
        "AuthenticatedUser": r.upn, "AnchorMailbox": r.anchor,
        "UserAgent": r.ua.replace(",", " "),  # Exchange writes commas in user agents as spaces
        "ClientIpAddress": r.ip, "ServerHostName": s.name, "HttpStatus": str(r.status),
        "BackEndStatus": str(r.backend_status or r.status) if proxied else "",
        "ErrorCode": r.error, "Method": r.method,
        "ProxyAction": "Proxy" if proxied else "",
        "TargetServer": s.fqdn if proxied else "",
        "TargetServerVersion": f"{major:02d}.{minor:02d}.{build:04d}.000" if proxied else "",
        "RoutingType": "IntraForest" if proxied else "",
        "RoutingHint": (r.routing_hint or ("AnchorMailboxHeader" if r.anchor else "WindowsIdentity"))
        if proxied else "",
        "BackEndCookie": r.backend_cookie,
        "RequestBytes": str(rng.randint(200, 4000) if r.method == "POST" else 0),
        "ResponseBytes": str(rng.randint(200, 60000) if r.status == 200 else rng.randint(0, 900)),
        "AuthModulePerfContext": f"UAuth-S={rng.randint(0, 3)};UAuth-E={rng.randint(0, 3)}" if r.upn else "",
        "ResourceForestLatencyBreakup": f"ResourceForest-{s.fqdn.split('.', 1)[1]}={rng.randint(0, 3)};"
        if r.upn else "",
        "TotalResourceForestLatency": str(rng.randint(0, 3)) if r.upn else "",
        "SharedCacheLatencyBreakup": f"AnchorMailboxCache={rng.randint(0, 2)};ServerLocator={rng.randint(0, 2)};"
        if proxied else "",
        "TotalSharedCacheLatency": str(rng.randint(0, 4)) if proxied else "",
        "UrlQuery": f"?{r.query}" if r.query else "",
        "GenericInfo": r.generic_info or generic,
        "GenericErrors": r.generic_errors,
        "DatabaseGuid": r.extra.get("DatabaseGuid", ""),
        "RoutingStatus": "CafeV1" if proxied else "",
    })
    if proxied:
        v.update(_latencies(rng, r.taken))
    else:
        v["TotalRequestTime"] = str(r.taken)
        v["ActivityContextLifeTime"] = str(r.taken)
    v.update({k: val for k, val in r.extra.items() if k in v})
    return [v[name] for name in HTTPPROXY_FIELDS]


def csv_line(values: list[str]) -> str:
    """One RFC 4180 record as Exchange writes it: quote only fields holding a comma, quote or line break."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="", quoting=csv.QUOTE_MINIMAL).writerow(values)
    return buf.getvalue()


def exchange_header(server: Server, log_type: str, date: datetime, fields: list[str]) -> list[str]:
    return [
        "#Software: Microsoft Exchange Server",
        f"#Version: {server.version_header}",
        f"#Log-type: {log_type}",
        f"#Date: {iso_ms(date)}",
        "#Fields: " + ",".join(fields),
    ]


def write_iis(host: HostFiles, reqs: list[Req], site: str = "W3SVC1") -> None:
    """One u_exYYMMDD.log per UTC day, as IIS 10 writes by default (a #Date line at first write)."""
    by_day: dict[str, list[Req]] = defaultdict(list)
    for r in reqs:
        by_day[(r.t + timedelta(milliseconds=r.taken)).strftime("%y%m%d")].append(r)
    for day in sorted(by_day):
        rows = sorted(by_day[day], key=lambda r: r.t + timedelta(milliseconds=r.taken))
        first = rows[0].t + timedelta(milliseconds=rows[0].taken)
        header = [
            "#Software: Microsoft Internet Information Services 10.0",
            "#Version: 1.0",
            f"#Date: {first.strftime('%Y-%m-%d %H:%M:%S')}",
            "#Fields: " + " ".join(IIS_FIELDS),
        ]
        last = rows[-1].t + timedelta(milliseconds=rows[-1].taken)
        host.add_log(f"{IIS_DIR}/{site}/u_ex{day}.log", header, [(iis_line(r), r.iis_mark) for r in rows], last)


def write_httpproxy(host: HostFiles, reqs: list[Req], rng: Rng) -> None:
    """Logging/HttpProxy/<Protocol>/HttpProxy_YYYYMMDDHH-1.LOG, named for the hour of the first write; here
    one file per protocol and UTC day (a real server rolls every hour: the examples keep the file count down)."""
    groups: dict[tuple[str, str], list[Req]] = defaultdict(list)
    for r in reqs:
        if r.protocol is not None:
            groups[(r.protocol, r.t.strftime("%Y%m%d"))].append(r)
    for protocol, day in sorted(groups):
        rows = sorted(groups[(protocol, day)], key=lambda r: r.t + timedelta(milliseconds=r.taken))
        start = rows[0].t + timedelta(milliseconds=rows[0].taken)
        server = rows[0].server
        assert server is not None
        header = exchange_header(server, "HttpProxy Logs", start, HTTPPROXY_FIELDS)
        lines = [(csv_line(httpproxy_values(r, rng)), r.proxy_mark) for r in rows]
        last = rows[-1].t + timedelta(milliseconds=rows[-1].taken)
        name = f"HttpProxy_{start.strftime('%Y%m%d%H')}-1.LOG"
        host.add_log(f"{EXCHANGE}/Logging/HttpProxy/{protocol}/{name}", header, lines, last)


__all__ = ["CRLF", "EXCHANGE", "PROTOCOLS", "Req", "Server", "write_httpproxy", "write_iis"]
