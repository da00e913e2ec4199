"""One example host under construction: its benign life (traffic, logs, events, stock files) and the writers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from exgen import blobs
from exgen.common import HostFiles, Rng, days, utc
from exgen.events import Event, write_events
from exgen.exlogs import (
    ECP_FIELDS,
    RPS_CMDLET_FIELDS,
    RPS_HTTP_FIELDS,
    Line,
    benign_oab,
    ecp_line,
    rps_cmdlet_line,
    rps_http_line,
    write_fields_log,
    write_oab_log,
)
from exgen.ntfs import Change, NtfsFile, compose_mft, compose_usn, volume_files
from exgen.traffic import Org, benign_day, make_org
from exgen.weblogs import EXCHANGE, Req, Server, write_httpproxy, write_iis
from exgen.winbenign import application_day, host_procs, management_day, security_day, sysmon_day

USN_CREATE = 0x00000100 | 0x00000002 | 0x80000000  # FILE_CREATE | DATA_EXTEND | CLOSE
OWA_AUTH = f"{EXCHANGE}/FrontEnd/HttpProxy/owa/auth"
ASPNET_CLIENT = "C/inetpub/wwwroot/aspnet_client"


@dataclass
class Volume:
    sessions: int = 55  # client sessions per weekday
    sysmon: int = 10  # benign Sysmon events per day
    application: int = 12
    security: int = 8
    events: bool = True  # whether the host has an event export at all
    ntfs: bool = True  # whether the collection holds C/$MFT and C/$Extend/$J (KAPE layout)


@dataclass
class Builder:
    host: HostFiles
    rng: Rng
    org: Org
    computer: str
    reqs: list[Req] = field(default_factory=list)
    ecp: list[Line] = field(default_factory=list)
    oab: list[tuple[datetime, str, str]] = field(default_factory=list)
    rps_http: list[Line] = field(default_factory=list)
    rps_cmdlet: list[Line] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    volume: Volume = field(default_factory=Volume)
    gone: list[NtfsFile] = field(default_factory=list)  # files deleted before the collection (volume paths)
    ntfs_times: dict[str, NtfsFile] = field(default_factory=dict)  # host path -> times other than its mtime
    journal: list[Change] = field(default_factory=list)  # USN records beyond the creation of every file

    def add_req(self, r: Req, server: Server | None = None) -> Req:
        r.server = server or self.org.server
        self.reqs.append(r)
        return r

    def finish(self) -> HostFiles:
        write_iis(self.host, self.reqs)
        write_httpproxy(self.host, self.reqs, self.rng)
        if self.ecp:
            write_fields_log(self.host, "ECP/Server", "ECPServer", "ECP Server Logs", ECP_FIELDS, self.ecp)
        if self.oab:
            write_oab_log(self.host, self.org.server, self.oab)
        if self.rps_http:
            write_fields_log(self.host, "RpsHttp", "Rps_Http_", "Rps Http Logs", RPS_HTTP_FIELDS, self.rps_http)
        if self.rps_cmdlet:
            write_fields_log(self.host, "CmdletInfra/Powershell-Proxy/Cmdlet", "Rps_Cmdlet_", "Rps Cmdlet Logs",
                             RPS_CMDLET_FIELDS, self.rps_cmdlet)
        if self.events:
            write_events(self.host, self.computer, self.events)
        if self.volume.ntfs:
            self._ntfs()
        return self.host

    def _ntfs(self) -> None:
        """C/$MFT and C/$Extend/$J as KAPE collects them: every live file of C (its times from its mtime),
        the deleted ones, and a journal of their creations plus the extra changes."""
        formatted = utc("2019-06-14 08:02:11.250")
        live = volume_files(self.host.files, self.host.mtimes, "C", formatted, self.ntfs_times)
        mft, volume = compose_mft([*live, *self.gone], formatted)
        first = min(self.host.mtimes.values()) - timedelta(days=1)
        changes = [Change(f.path, f.fn[0] if f.fn else f.si[0], USN_CREATE) for f in live
                   if (f.fn[0] if f.fn else f.si[0]) >= first]
        changes.extend(self.journal)
        changes.sort(key=lambda c: (c.when, c.path.lower(), c.reason))
        self.host.add("C/$MFT", mft, self.host_collected())
        self.host.add("C/$Extend/$J", compose_usn(volume, changes, sparse_head=8192),
                      self.host_collected())

    def host_collected(self) -> datetime:
        return max(self.host.mtimes.values()) + timedelta(hours=2)


def new_host(name: str, server: Server, first: str, last: str, volume: Volume) -> Builder:
    rng = Rng(f"exhunt-examples:{name}")
    org = make_org(rng, server, 22)
    b = Builder(HostFiles(name), rng, org, f"{server.name}.contoso.local", volume=volume)
    add_stock_files(b, utc_day(first))
    for day in days(first, last):
        benign_life(b, day, volume)
    return b


def utc_day(text: str) -> datetime:
    return days(text, text)[0]


def add_stock_files(b: Builder, first: datetime) -> None:
    installed = first - timedelta(days=73, hours=5)
    for name, text in blobs.stock_owa_auth().items():
        b.host.add(f"{OWA_AUTH}/{name}", text, installed)
    b.host.add("C/inetpub/wwwroot/iisstart.htm", f"<!DOCTYPE html>\r\n<!-- {blobs.SYNTHETIC} -->\r\n<html><head>"
               "<title>IIS Windows Server</title></head><body></body></html>\r\n", installed)
    b.host.add("C/Windows/Temp/MpCmdRun.log", "-------------------------------------------------------------------"
               "-------------------\r\nMpCmdRun: Command Line: \"C:\\Program Files\\Windows Defender\\MpCmdRun.exe\" "
               "-SignatureUpdate -ScheduleJob -RestrictPrivileges\r\nStart Time: Mon Mar 01 2021 03:12:45\r\n"
               "Update completed successfully. no updates needed\r\nMpCmdRun: End Time: Mon Mar 01 2021 03:13:02\r\n",
               first + timedelta(days=1, hours=3))


def benign_life(b: Builder, day: datetime, v: Volume) -> None:
    rng, org, server = b.rng, b.org, b.org.server
    for r in benign_day(rng, org, day, v.sessions):
        b.add_req(r)
    b.oab.extend(benign_oab(rng, day, org.oab_guid))
    admin = org.admins[0]
    if day.weekday() < 5:
        for _ in range(rng.randint(3, 7)):
            t = day + timedelta(hours=rng.randint(8, 16), minutes=rng.randint(0, 59), seconds=rng.randint(0, 59),
                                milliseconds=rng.randint(0, 999))
            u = rng.choice(org.users)
            cmd, params = rng.choice([
                ("Get-Mailbox", f"Identity='{u.upn}'"), ("Get-MailboxStatistics", f"Identity='{u.upn}'"),
                ("Get-Recipient", "ResultSize='500'"), ("Get-OabVirtualDirectory", f"Server='{server.name}'"),
                ("Get-ExchangeServer", ""), ("Set-Mailbox", f"Identity='{u.upn}'.ProhibitSendQuota='9.5 GB'"),
            ])
            stem = "/ecp/DDI/DDIService.svc/GetList" if cmd.startswith("Get-") else "/ecp/DDI/DDIService.svc/SetObject"
            b.ecp.append(ecp_line(rng, t, server, f"CONTOSO\\{admin.sam}", admin.ws_ip, cmd, params, stem=stem))
    for hour in range(1, 24, 4):
        t = day + timedelta(hours=hour, minutes=rng.randint(0, 59), seconds=rng.randint(0, 59),
                            milliseconds=rng.randint(0, 999))
        probe = org.probe_user.split("@")[0]
        b.rps_http.append(rps_http_line(rng, t, server, f"CONTOSO\\{probe}", "127.0.0.1",
                                        "clientApplication=ActiveMonitor;PSVersion=5.1.17763.1728",
                                        action="New-PSSession:Receive"))
        b.rps_cmdlet.append(rps_cmdlet_line(rng, t + timedelta(seconds=1), server, probe, admin.sid.rsplit("-", 1)[0]
                                            + "-1131", "ActiveMonitor", "Get-Mailbox", '-ResultSize "1"'))
    if day.weekday() < 5:
        t = day + timedelta(hours=rng.randint(8, 15), minutes=rng.randint(0, 59), seconds=rng.randint(0, 59),
                            milliseconds=rng.randint(0, 999))
        b.rps_http.append(rps_http_line(rng, t, server, f"CONTOSO\\{admin.sam}", admin.ws_ip,
                                        "serializationLevel=Full;clientApplication=ManagementShell",
                                        action="New-PSSession:Receive"))
        for i in range(rng.randint(2, 5)):
            u = rng.choice(org.users)
            cmdlet, params = rng.choice([
                ("Get-Mailbox", f'-Identity "{u.sam}"'), ("Get-MessageTrackingLog", f'-Sender "{u.upn}"'),
                ("Get-MailboxDatabaseCopyStatus", f'-Server "{server.name}"'), ("Get-ExchangeServer", ""),
                ("Set-CASMailbox", f'-Identity "{u.sam}" -ActiveSyncEnabled $true'),
            ])
            b.rps_cmdlet.append(rps_cmdlet_line(rng, t + timedelta(minutes=i, seconds=rng.randint(0, 59)), server,
                                                f"CONTOSO\\{admin.sam}", admin.sid, "ManagementShell", cmdlet, params))
    if v.events:
        procs = host_procs(day)
        b.events.extend(sysmon_day(rng, day, procs, v.sysmon, f"CONTOSO\\{admin.sam}"))
        b.events.extend(application_day(rng, day, v.application, um_error=day.day % 3 == 0))
        b.events.extend(security_day(rng, day, org, v.security))
        b.events.extend(management_day(rng, day, org))


NEAR = "near-miss: "


def mark_near_misses(b: Builder) -> None:
    """Label the benign look-alikes of a host so examples/README.md lists what must stay quiet."""
    for index, (t, text, mark) in enumerate(b.oab):
        if not mark and "Download failed and temporary file" in text:
            b.oab[index] = (t, text, NEAR + "benign OAB temp-file message, path under ClientAccess\\OAB")
    for e in b.events:
        if e.mark:
            continue
        data = e.data
        if e.event_id == 1 and str(data.get("Image", "")).endswith("csc.exe"):
            e.mark = NEAR + "w3wp spawns csc.exe (ASP.NET compilation)"
        elif e.event_id == 10 and "lsass" in str(data.get("TargetImage", "")):
            e.mark = NEAR + "Defender opens lsass with a query-only mask (0x1000)"
        elif e.provider == "MSExchange Unified Messaging" and e.level == 2:
            e.mark = NEAR + "UM error without InvalidCastException"


def mk_server(name: str, ip: str, build: tuple[int, int, int, int]) -> Server:
    return Server(name=name, fqdn=f"{name.lower()}.contoso.local", ip=ip, build=build)


__all__ = ["ASPNET_CLIENT", "OWA_AUTH", "Builder", "Volume", "make_org", "mk_server", "new_host"]
