"""Benign Windows events of an Exchange server: Application, Security, Sysmon and MSExchange Management."""

from __future__ import annotations

from datetime import datetime, timedelta

from exgen.common import Rng
from exgen.events import Event, Proc, classic, cmdlet_event, security, sysmon_access, sysmon_file, sysmon_proc
from exgen.traffic import Org

EXBIN = "C:\\Program Files\\Microsoft\\Exchange Server\\V15\\Bin"
INETSRV = "c:\\windows\\system32\\inetsrv\\w3wp.exe"
SYSTEM = "NT AUTHORITY\\SYSTEM"


def w3wp(pool: str, pid: int, t: datetime) -> Proc:
    cmd = (f"{INETSRV} -ap \"{pool}\" -v \"v4.0\" -c \"C:\\Program Files\\Microsoft\\Exchange Server\\V15\\bin\\"
           f"GenericAppPoolConfigWithGCServerEnabledFalse.config\" -a \\\\.\\pipe\\iisipm{pid:x}e72bd3c "
           f"-h \"C:\\inetpub\\temp\\apppools\\{pool}\\{pool}.config\" -w \"\" -m 0")
    return Proc(pid, "C:\\Windows\\System32\\inetsrv\\w3wp.exe", cmd, SYSTEM, t)


def default_pool(t: datetime) -> Proc:
    """w3wp of the Default Web Site's root application (aspnet_client is served by it)."""
    cmd = (f"{INETSRV} -ap \"DefaultAppPool\" -v \"v4.0\" -l \"webengine4.dll\" -a \\\\.\\pipe\\iisipm1e2f7c3a "
           "-h \"C:\\inetpub\\temp\\apppools\\DefaultAppPool\\DefaultAppPool.config\" -w \"\" -m 0 -t 20")
    return Proc(7788, "C:\\Windows\\System32\\inetsrv\\w3wp.exe", cmd, SYSTEM, t)


def host_procs(day0: datetime) -> dict[str, Proc]:
    boot = day0 - timedelta(days=9, hours=3)
    return {
        "owa": w3wp("MSExchangeOWAAppPool", 10844, boot),
        "ecp": w3wp("MSExchangeECPAppPool", 6712, boot),
        "ps": w3wp("MSExchangePowerShellAppPool", 9840, boot),
        "hm": Proc(12252, f"{EXBIN}\\MSExchangeHMWorker.exe",
                   f"\"{EXBIN}\\MSExchangeHMWorker.exe\" -pipe:3208 -workerListening", SYSTEM, boot),
        "svchost": Proc(1168, "C:\\Windows\\System32\\svchost.exe", "C:\\Windows\\system32\\svchost.exe -k netsvcs -p",
                        SYSTEM, boot),
        "explorer": Proc(6120, "C:\\Windows\\explorer.exe", "C:\\Windows\\Explorer.EXE", "CONTOSO\\alice.brown", boot),
        "lsass": Proc(712, "C:\\Windows\\system32\\lsass.exe", "C:\\Windows\\system32\\lsass.exe", SYSTEM, boot),
        "defender": Proc(3312, "C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.2101.9-0\\MsMpEng.exe",
                         "\"C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.2101.9-0\\MsMpEng.exe\"",
                         SYSTEM, boot),
    }


def sysmon_day(rng: Rng, day: datetime, procs: dict[str, Proc], per_day: int, admin: str) -> list[Event]:
    out: list[Event] = []
    pid = 20000 + day.day * 500
    for _ in range(per_day):
        pid += rng.randint(4, 60)
        t = day + timedelta(seconds=rng.randint(0, 86399), milliseconds=rng.randint(0, 999))
        kind = rng.choices(["netsh", "defender", "tasks", "files"], [5, 1, 2, 3])[0]
        if kind == "netsh":
            child = Proc(pid, "C:\\Windows\\System32\\netsh.exe", "\"netsh\" interface tcp show global", SYSTEM, t)
            out.append(sysmon_proc(t, child, procs["hm"]))
            conhost = Proc(pid + 4, "C:\\Windows\\System32\\conhost.exe", "\\??\\C:\\Windows\\system32\\conhost.exe "
                           "0xffffffff -ForceV1", SYSTEM, t)
            out.append(sysmon_proc(t + timedelta(milliseconds=9), conhost, child))
        elif kind == "defender":
            child = Proc(pid, "C:\\Program Files\\Windows Defender\\MpCmdRun.exe",
                         "\"C:\\Program Files\\Windows Defender\\MpCmdRun.exe\" -SignatureUpdate -ScheduleJob",
                         SYSTEM, t)
            out.append(sysmon_proc(t, child, procs["svchost"]))
        elif kind == "tasks":
            child = Proc(pid, "C:\\Windows\\System32\\tasklist.exe", "tasklist /svc /fo csv", SYSTEM, t)
            parent = Proc(pid - 3, "C:\\Windows\\System32\\cmd.exe",
                          "C:\\Windows\\system32\\cmd.exe /c \"C:\\Scripts\\inventory.cmd\"", SYSTEM, t)
            out.append(sysmon_proc(t, parent, procs["svchost"]))
            out.append(sysmon_proc(t + timedelta(milliseconds=40), child, parent))
        else:
            target = (f"C:\\Windows\\Microsoft.NET\\Framework64\\v4.0.30319\\Temporary ASP.NET Files\\owa\\"
                      f"{rng.hexstr(8)}\\{rng.hexstr(8)}\\App_Web_{rng.alnum(8)}.dll")
            out.append(sysmon_file(t, procs["owa"], target))
    # ASP.NET compiles a page after the daily app pool recycle: w3wp -> csc.exe -> cvtres.exe (benign)
    t = day + timedelta(hours=1, minutes=rng.randint(30, 50), seconds=rng.randint(0, 59))
    folder = (f"C:\\Windows\\Microsoft.NET\\Framework64\\v4.0.30319\\Temporary ASP.NET Files\\owa\\"
              f"{rng.hexstr(8)}\\{rng.hexstr(8)}")
    csc = Proc(pid + 100, "C:\\Windows\\Microsoft.NET\\Framework64\\v4.0.30319\\csc.exe",
               f"\"C:\\Windows\\Microsoft.NET\\Framework64\\v4.0.30319\\csc.exe\" /noconfig /fullpaths "
               f"@\"{folder}\\{rng.alnum(8)}.cmdline\"", SYSTEM, t)
    cvt = Proc(pid + 104, "C:\\Windows\\Microsoft.NET\\Framework64\\v4.0.30319\\cvtres.exe",
               f"C:\\Windows\\Microsoft.NET\\Framework64\\v4.0.30319\\cvtres.exe /NOLOGO /READONLY /MACHINE:IX86 "
               f"\"/OUT:C:\\Windows\\TEMP\\RES{rng.hexstr(4).upper()}.tmp\" "
               f"\"{folder}\\CSC{rng.hexstr(8).upper()}.TMP\"",
               SYSTEM, t)
    out.append(sysmon_proc(t, csc, procs["owa"], cwd="C:\\Windows\\system32\\inetsrv\\"))
    out.append(sysmon_proc(t + timedelta(milliseconds=310), cvt, csc, cwd="C:\\Windows\\system32\\inetsrv\\"))
    out.append(sysmon_file(t + timedelta(milliseconds=200), csc, f"C:\\Windows\\Temp\\CSC{rng.hexstr(6)}.tmp"))
    # Defender's periodic scan opens lsass with a query-only access mask (not a dump)
    t2 = day + timedelta(hours=3, minutes=rng.randint(0, 59))
    out.append(sysmon_access(t2, procs["defender"], procs["lsass"], "0x1000"))
    if day.weekday() < 5:  # an administrator opens the Exchange Management Shell
        t3 = day + timedelta(hours=rng.randint(8, 15), minutes=rng.randint(0, 59))
        ps = Proc(pid + 200, "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
                  "\"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe\" -noexit -command \". "
                  "'C:\\Program Files\\Microsoft\\Exchange Server\\V15\\bin\\RemoteExchange.ps1'; "
                  "Connect-ExchangeServer -auto -ClientApplication:ManagementShell \"", admin, t3)
        out.append(sysmon_proc(t3, ps, procs["explorer"], cwd="C:\\Users\\alice.brown\\"))
    return out


APP_INFO = [
    ("MSExchange ADAccess", 2080, "Process MSExchangeHMWorker.exe (PID=12252). Exchange Active Directory Provider "
                                  "has discovered the following servers: DC01.contoso.local CDG 1 7 7 1 0 1 1 7 1"),
    ("ESENT", 326, "Microsoft.Exchange.Store.Worker (18412,D,50) DB01: The database engine attached a database "
                   "(1, E:\\DB01\\DB01.edb)."),
    ("MSExchangeFastSearch", 1009, "The indexing of mailbox database DB01 has been resumed."),
    ("MSExchange Unified Messaging", 1001, "The Microsoft Exchange Unified Messaging service check completed."),
    ("MSExchange Assistants", 9018, "Service MSExchangeMailboxAssistants. Time-based assistant completed its "
                                    "work cycle for database DB01."),
    ("Microsoft-Windows-Security-SPP", 16384, "Successfully scheduled Software Protection service for re-start."),
]


def application_day(rng: Rng, day: datetime, per_day: int, um_error: bool) -> list[Event]:
    out: list[Event] = []
    for _ in range(per_day):
        t = day + timedelta(seconds=rng.randint(0, 86399), milliseconds=rng.randint(0, 999))
        provider, eid, text = rng.choice(APP_INFO)
        out.append(classic(t, provider, eid, 4, [text], text))
    t = day + timedelta(hours=rng.randint(7, 18), minutes=rng.randint(0, 59))
    text = ("Event code: 3005. An unhandled exception has occurred. Application virtual path: /owa. "
            "Exception type: HttpException. Exception message: A potentially dangerous Request.Path value was "
            "detected from the client (:).")
    out.append(classic(t, "ASP.NET 4.0.30319.0", 1309, 3, [text], text))
    if um_error:  # a benign UM error: a network failure, not the deserialization cast failure of CVE-2021-26857
        t = day + timedelta(hours=rng.randint(0, 23), minutes=rng.randint(0, 59))
        text = ("The Microsoft Exchange Unified Messaging service encountered an error while processing a request: "
                "System.Net.Sockets.SocketException (10060): A connection attempt failed because the connected "
                "party did not properly respond after a period of time.")
        out.append(classic(t, "MSExchange Unified Messaging", 1400, 2, [text], text))
    return out


def security_day(rng: Rng, day: datetime, org: Org, per_day: int) -> list[Event]:
    out: list[Event] = []
    for _ in range(per_day):
        u = rng.choice(org.users)
        t = day + timedelta(seconds=rng.randint(0, 86399), milliseconds=rng.randint(0, 999))
        logon_id = f"0x{rng.randint(0x100000, 0xFFFFFF):x}"
        common = {"SubjectUserSid": "S-1-0-0", "SubjectUserName": "-", "SubjectDomainName": "-",
                  "SubjectLogonId": "0x0", "TargetUserSid": u.sid, "TargetUserName": u.sam,
                  "TargetDomainName": "CONTOSO"}
        if rng.random() < 0.08:
            out.append(security(t, 4625, {**common, "Status": "0xc000006d", "FailureReason": "%%2313",
                                          "SubStatus": "0xc000006a", "LogonType": 3, "IpAddress": u.ws_ip,
                                          "IpPort": "0", "ProcessName": "C:\\Windows\\System32\\inetsrv\\w3wp.exe"},
                                failure=True))
            continue
        out.append(security(t, 4624, {**common, "TargetLogonId": logon_id, "LogonType": 3,
                                      "LogonProcessName": "Kerberos", "AuthenticationPackageName": "Kerberos",
                                      "WorkstationName": "-", "IpAddress": u.ws_ip, "IpPort": "0",
                                      "ProcessName": "-", "ImpersonationLevel": "%%1833"}))
        out.append(security(t + timedelta(seconds=rng.randint(1, 60)), 4634,
                            {"TargetUserSid": u.sid, "TargetUserName": u.sam, "TargetDomainName": "CONTOSO",
                             "TargetLogonId": logon_id, "LogonType": 3}))
    return out


def management_day(rng: Rng, day: datetime, org: Org) -> list[Event]:
    out: list[Event] = []
    if day.weekday() >= 5:
        return out
    admin = org.admins[0]
    for _ in range(rng.randint(3, 8)):
        t = day + timedelta(hours=rng.randint(8, 16), minutes=rng.randint(0, 59), seconds=rng.randint(0, 59))
        u = rng.choice(org.users)
        cmdlet, params = rng.choice([
            ("Get-Mailbox", f"-Identity \"{u.sam}\""),
            ("Get-MailboxStatistics", f"-Identity \"{u.upn}\""),
            ("Set-Mailbox", f"-Identity \"{u.sam}\" -ProhibitSendQuota \"9.5 GB\""),
            ("Get-MessageTrackingLog", f"-Sender \"{u.upn}\" -Start \"{day:%m/%d/%Y} 00:00:00\""),
            ("Get-ExchangeServer", ""),
            ("Get-MailboxDatabaseCopyStatus", "-Server \"EX01\""),
        ])
        out.append(cmdlet_event(t, cmdlet, params, f"contoso.local/Users/{admin.sam}", admin.sid,
                                "Remote-ManagementShell-Unknown"))
    return out
