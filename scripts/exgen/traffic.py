"""Benign Exchange client traffic: OWA, ECP, EWS, ActiveSync, MAPI/HTTP, Autodiscover, OAB, RPC/HTTP,
remote PowerShell and Managed Availability probes, from internal workstations and external phones."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from exgen.common import Rng
from exgen.weblogs import Req, Server

FIRST = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
         "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "wendy", "yusuf", "zoe"]
LAST = ["brown", "smith", "jones", "garcia", "miller", "davis", "martin", "lee", "walker", "hall", "young",
        "king", "wright", "lopez", "hill", "scott", "green", "adams", "baker", "nelson", "carter", "perez"]

UA_BROWSERS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/88.0.4324.190 "
    "Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/88.0.4324.190 "
    "Safari/537.36 Edg/88.0.705.81",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:86.0) Gecko/20100101 Firefox/86.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 11_2_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/14.0.3 "
    "Safari/605.1.15",
]
UA_OUTLOOK = [
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.13801; Pro)",
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.13628; Pro)",
]
UA_MAPI = "MapiHttpClient"
UA_MAC = "MacOutlook/16.46.21021202 (Intelx64 Mac OS X 11.2.1 (Build 20D74))"
UA_PHONES = [("iPhone", "Apple-iPhone12C1/1804.48"), ("iPhone", "Apple-iPhone11C8/1804.48"),
             ("Android", "Android-SAMSUNG-SM-G991B/101.10000"), ("Outlook", "Outlook-iOS/723.4027091.prod.iphone")]
UA_PROBE = "AMProbe/Local/ClientAccess"


@dataclass(frozen=True)
class User:
    sam: str
    upn: str
    ws_ip: str
    phone_ip: str
    device_id: str
    device: tuple[str, str]
    browser: str
    outlook: str
    mailbox_guid: str
    sid: str


@dataclass(frozen=True)
class Org:
    server: Server
    users: list[User]
    admins: list[User]
    probe_user: str
    oab_guid: str
    netbios: str = "CONTOSO"
    mail_domain: str = "contoso.com"


def make_org(rng: Rng, server: Server, n_users: int) -> Org:
    users = []
    names = [(f, lname) for f in FIRST for lname in LAST]
    rng.shuffle(names)
    for index, (first, lname) in enumerate(sorted(names[:n_users])):
        sam = f"{first}.{lname}"
        users.append(User(
            sam=sam, upn=f"{sam}@contoso.com", ws_ip=f"10.10.20.{21 + index}",
            phone_ip=f"198.51.100.{rng.randint(10, 250)}", device_id=rng.alnum(32, "0123456789ABCDEF"),
            device=rng.choice(UA_PHONES), browser=rng.choice(UA_BROWSERS), outlook=rng.choice(UA_OUTLOOK),
            mailbox_guid=rng.guid(), sid=f"S-1-5-21-3623811015-3361044348-30300820-{1105 + index}",
        ))
    admins = users[:2]
    probe = f"HealthMailbox{rng.hexstr(7)}{rng.hexstr(24)}@contoso.com"
    return Org(server=server, users=users, admins=admins, probe_user=probe, oab_guid=rng.guid())


def _owa(rng: Rng, t: datetime, u: User, org: Org) -> list[Req]:
    ip = rng.choice([u.ws_ip, u.ws_ip, u.phone_ip])
    actions = ["GetConversationItems", "FindConversation", "GetItem", "FindItem", "GetFolder", "SyncFolderItems",
               "CreateItem", "UpdateItem", "GetAttachment", "GetMailTips"]
    page = Req(t=t, ip=ip, method="GET", stem="/owa/", query="", ua=u.browser, status=200,
               taken=rng.randint(40, 300), protocol="Owa", auth="Cookie", upn=u.upn, user=u.upn,
               anchor=f"Smtp~{u.upn}", referer="https://mail.contoso.com/owa/auth/logon.aspx",
               extra={"DatabaseGuid": u.mailbox_guid})
    out = [page]
    for i in range(rng.randint(1, 3)):
        action = rng.choice(actions)
        out.append(replace(
            page, t=t + timedelta(seconds=5 + 17 * i + rng.randint(0, 9)), method="POST", stem="/owa/service.svc",
            query=f"action={action}&app=Mail&n={rng.randint(10, 300)}", taken=rng.randint(15, 250), action=action,
            referer="https://mail.contoso.com/owa/",
        ))
    return out


def _owa_logon(rng: Rng, t: datetime, u: User, org: Org) -> list[Req]:
    ip = rng.choice([u.ws_ip, u.phone_ip])
    return [
        Req(t=t, ip=ip, method="GET", stem="/owa/auth/logon.aspx",
            query="url=https%3a%2f%2fmail.contoso.com%2fowa%2f&reason=0", ua=u.browser, status=200,
            taken=rng.randint(5, 40), protocol="Owa"),
        Req(t=t + timedelta(seconds=rng.randint(4, 20)), ip=ip, method="POST", stem="/owa/auth.owa", query="",
            ua=u.browser, status=302, taken=rng.randint(30, 120), protocol="Owa", auth="Basic", upn=u.upn,
            user=u.upn, referer="https://mail.contoso.com/owa/auth/logon.aspx?url=https%3a%2f%2fmail.contoso"
            ".com%2fowa%2f&reason=0", anchor=f"Smtp~{u.upn}"),
    ]


def _ews(rng: Rng, t: datetime, u: User, org: Org) -> list[Req]:
    ua = rng.choice([u.outlook, UA_MAC])
    action = rng.choice(["GetUserAvailability", "GetUserOofSettings", "SyncFolderItems", "GetItem", "FindItem"])
    return [Req(t=t, ip=u.ws_ip, method="POST", stem="/EWS/Exchange.asmx", query="", ua=ua, status=200,
                taken=rng.randint(10, 200), protocol="Ews", auth="Negotiate", upn=u.upn,
                user=f"{org.netbios}\\{u.sam}", action=action, anchor=f"Sid~{u.sid}",
                extra={"DatabaseGuid": u.mailbox_guid})]


def _mapi(rng: Rng, t: datetime, u: User, org: Org) -> list[Req]:
    out = []
    for i in range(rng.randint(1, 4)):
        endpoint = rng.choice(["emsmdb", "emsmdb", "emsmdb", "nspi"])
        action = rng.choice(["Execute", "Execute", "NotificationWait", "Connect"]) if endpoint == "emsmdb" \
            else rng.choice(["Bind", "QueryRows", "GetMatches", "DNToMId"])
        out.append(Req(
            t=t + timedelta(seconds=i * rng.randint(1, 30)), ip=u.ws_ip, method="POST", stem=f"/mapi/{endpoint}/",
            query=f"MailboxId={u.mailbox_guid}@contoso.com", ua=UA_MAPI, status=200, taken=rng.randint(5, 900),
            protocol="Mapi", auth="Negotiate", upn=u.upn, user=f"{org.netbios}\\{u.sam}", action=action,
            anchor=f"MailboxGuidWithDomain~{u.mailbox_guid}@contoso.com", extra={"DatabaseGuid": u.mailbox_guid},
        ))
    return out


def _eas(rng: Rng, t: datetime, u: User, org: Org) -> list[Req]:
    device_type, ua = u.device
    cmd = rng.choice(["Ping", "Ping", "Sync", "Sync", "FolderSync", "SendMail", "ItemOperations"])
    return [Req(t=t, ip=u.phone_ip, method="POST", stem="/Microsoft-Server-ActiveSync/default.eas",
                query=f"Cmd={cmd}&User={u.upn}&DeviceId={u.device_id}&DeviceType={device_type}", ua=ua,
                status=200, taken=rng.randint(20, 480000) if cmd == "Ping" else rng.randint(20, 600),
                protocol="Eas", auth="Basic", upn=u.upn, user=u.upn, action=cmd, anchor=f"Smtp~{u.upn}")]


def _autodiscover(rng: Rng, t: datetime, u: User, org: Org) -> list[Req]:
    ua = rng.choice([u.outlook, u.outlook, UA_MAC])
    return [Req(t=t, ip=u.ws_ip, method="POST", stem="/Autodiscover/Autodiscover.xml", query="", ua=ua,
                status=200, taken=rng.randint(8, 90), protocol="Autodiscover", auth="Negotiate", upn=u.upn,
                user=f"{org.netbios}\\{u.sam}", anchor=f"Smtp~{u.upn}")]


def _oab(rng: Rng, t: datetime, u: User, org: Org) -> list[Req]:
    out = [Req(t=t, ip=u.ws_ip, method="GET", stem=f"/OAB/{org.oab_guid}/oab.xml", query="", ua=u.outlook,
               status=200, taken=rng.randint(3, 30), protocol="OAB", auth="Negotiate", upn=u.upn,
               user=f"{org.netbios}\\{u.sam}")]
    if rng.random() < 0.3:
        out.append(Req(t=t + timedelta(seconds=2), ip=u.ws_ip, method="GET",
                       stem=f"/OAB/{org.oab_guid}/{rng.guid()}-data-{rng.randint(1, 9)}.lzx", query="",
                       ua=u.outlook, status=200, taken=rng.randint(20, 400), protocol="OAB", auth="Negotiate",
                       upn=u.upn, user=f"{org.netbios}\\{u.sam}"))
    return out


def _rpc(rng: Rng, t: datetime, u: User, org: Org) -> list[Req]:
    host = f"{u.mailbox_guid}@contoso.com:6001"
    return [Req(t=t, ip=u.ws_ip, method=m, stem="/rpc/rpcproxy.dll", query=host, ua="MSRPC", status=200,
                taken=rng.randint(50, 90000), protocol="RpcHttp", auth="Ntlm", upn=u.upn,
                user=f"{org.netbios}\\{u.sam}", anchor=f"MailboxGuidWithDomain~{u.mailbox_guid}@contoso.com")
            for m in ("RPC_IN_DATA", "RPC_OUT_DATA")]


def _ecp_admin(rng: Rng, t: datetime, u: User, org: Org) -> list[Req]:
    a = rng.choice(org.admins)
    schema = rng.choice(["MailboxService", "RecipientManagement", "VirtualDirectory", "ServersService"])
    canary = rng.alnum(64, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    page = Req(t=t, ip=a.ws_ip, method="GET", stem="/ecp/", query="", ua=a.browser, status=200,
               taken=rng.randint(50, 400), protocol="Ecp", auth="Cookie", upn=a.upn, user=a.upn,
               anchor=f"Smtp~{a.upn}")
    return [page, replace(page, t=t + timedelta(seconds=rng.randint(3, 40)), method="POST",
                          stem="/ecp/DDI/DDIService.svc/GetList", query=f"schema={schema}&msExchEcpCanary={canary}",
                          taken=rng.randint(80, 900), referer="https://mail.contoso.com/ecp/", action="GetList")]


def _noise(rng: Rng, t: datetime, u: User, org: Org) -> list[Req]:
    """Everyday odds and ends: the site root redirect, a missing favicon, a phone with a stale password."""
    kind = rng.choice(["root", "favicon", "eas401"])
    if kind == "root":
        return [Req(t=t, ip=u.phone_ip, method="GET", stem="/", query="", ua=u.browser, status=302,
                    taken=rng.randint(0, 3))]
    if kind == "favicon":
        return [Req(t=t, ip=u.ws_ip, method="GET", stem="/favicon.ico", query="", ua=u.browser, status=404,
                    taken=rng.randint(0, 2), win32=2)]
    device_type, ua = u.device
    return [Req(t=t, ip=u.phone_ip, method="POST", stem="/Microsoft-Server-ActiveSync/default.eas",
                query=f"Cmd=Ping&User={u.upn}&DeviceId={u.device_id}&DeviceType={device_type}", ua=ua, status=401,
                substatus=1, win32=2148074254, taken=rng.randint(1, 9), protocol="Eas", auth="Basic",
                backend_status=0)]


def _probe(rng: Rng, t: datetime, org: Org) -> list[Req]:
    stem, protocol, method = rng.choice([
        ("/owa/", "Owa", "GET"), ("/ecp/", "Ecp", "GET"), ("/EWS/Exchange.asmx", "Ews", "POST"),
        ("/Microsoft-Server-ActiveSync/default.eas", "Eas", "POST"), ("/mapi/emsmdb/", "Mapi", "POST"),
        ("/Autodiscover/Autodiscover.xml", "Autodiscover", "POST"), (f"/OAB/{org.oab_guid}/oab.xml", "OAB", "GET"),
    ])
    return [Req(t=t, ip="127.0.0.1", method=method, stem=stem, query="", ua=UA_PROBE, status=200,
                taken=rng.randint(5, 120), protocol=protocol, auth="Basic", upn=org.probe_user,
                user=org.probe_user, host="localhost", anchor=f"Smtp~{org.probe_user}")]


def _powershell_monitor(rng: Rng, t: datetime, org: Org) -> list[Req]:
    return [Req(t=t, ip=org.server.ip, method="POST", stem="/powershell",
                query="clientApplication=ActiveMonitor;PSVersion=5.1.17763.1728", ua="Microsoft WinRM Client",
                status=200, taken=rng.randint(10, 400), port=80, protocol="PowerShell", auth="Kerberos",
                upn=org.probe_user, user=f"{org.netbios}\\{org.probe_user.split('@')[0]}", host=org.server.fqdn)]


Template = Callable[[Rng, datetime, User, Org], list[Req]]
TEMPLATES: list[tuple[Template, int]] = [
    (_owa, 14), (_owa_logon, 5), (_ews, 12), (_mapi, 18), (_eas, 16), (_autodiscover, 8), (_oab, 4),
    (_rpc, 2), (_ecp_admin, 2), (_noise, 3),
]


def benign_day(rng: Rng, org: Org, day: datetime, sessions: int) -> list[Req]:
    """One UTC day of traffic: ``sessions`` client sessions weighted to office hours, plus probes."""
    out: list[Req] = []
    weights = [1, 1, 1, 1, 1, 2, 4, 9, 12, 12, 11, 10, 9, 11, 12, 11, 9, 6, 4, 3, 2, 2, 1, 1]
    if day.weekday() >= 5:
        weights = [1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1]
        sessions //= 3
    funcs = [f for f, _ in TEMPLATES]
    fweights = [w for _, w in TEMPLATES]
    for _ in range(sessions):
        hour = rng.choices(range(24), weights)[0]
        t = day + timedelta(hours=hour, seconds=rng.randint(0, 3599), milliseconds=rng.randint(0, 999))
        func = rng.choices(funcs, fweights)[0]
        out.extend(func(rng, t, rng.choice(org.users), org))
    for hour in range(24):
        t = day + timedelta(hours=hour, minutes=rng.randint(0, 59), seconds=rng.randint(0, 59))
        out.extend(_probe(rng, t, org))
        if hour % 4 == 1:
            out.extend(_powershell_monitor(rng, t + timedelta(minutes=3), org))
    for r in out:
        r.server = org.server
    return out
