"""Windows events exported as JSON lines, one object per line with ``System`` and ``EventData``, the way
responders hand exports around (Velociraptor-style). EVTX itself is not written: exhunt cannot write it."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from exgen.common import HostFiles, iso_7

EXPORT_DIR = "C/Windows/System32/winevt/Logs/exported"
SYSMON = ("Microsoft-Windows-Sysmon", "{5770385F-C22A-43E0-BF4C-06F5698FFBD9}",
          "Microsoft-Windows-Sysmon/Operational")
SECURITY = ("Microsoft-Windows-Security-Auditing", "{54849625-5478-4994-A5BA-3E3B0328C30D}", "Security")
FILE_NAMES = {
    "Application": "Application.jsonl",
    "Security": "Security.jsonl",
    "Microsoft-Windows-Sysmon/Operational": "Microsoft-Windows-Sysmon%4Operational.jsonl",
    "MSExchange Management": "MSExchange Management.jsonl",
}
FIRST_RECORD = {"Application": 48211, "Security": 902114, "Microsoft-Windows-Sysmon/Operational": 310877,
                "MSExchange Management": 2301}


@dataclass
class Event:
    t: datetime
    channel: str
    provider: str
    event_id: int
    level: int
    data: dict[str, Any]
    guid: str = ""
    task: int = 0
    keywords: str = "0x80000000000000"
    qualifiers: int | None = None
    user_sid: str = ""
    message: str = ""
    mark: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def render(e: Event, computer: str, record_id: int) -> str:
    provider: dict[str, str] = {"Name": e.provider}
    if e.guid:
        provider["Guid"] = e.guid
    system: dict[str, Any] = {"Provider": provider, "EventID": e.event_id}
    if e.qualifiers is not None:
        system["Qualifiers"] = e.qualifiers
    system.update({
        "Level": e.level, "Task": e.task, "Keywords": e.keywords,
        "TimeCreated": {"SystemTime": iso_7(e.t)}, "EventRecordID": record_id, "Channel": e.channel,
        "Computer": computer,
    })
    if e.user_sid:
        system["Security"] = {"UserID": e.user_sid}
    obj: dict[str, Any] = {"System": system, "EventData": e.data}
    if e.message:
        obj["Message"] = e.message
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def write_events(host: HostFiles, computer: str, events: list[Event]) -> None:
    """One .jsonl per channel, in time order, record ids counting up from a per-channel base."""
    by_channel: dict[str, list[Event]] = defaultdict(list)
    for e in events:
        by_channel[e.channel].append(e)
    for channel in sorted(by_channel):
        rows = sorted(by_channel[channel], key=lambda e: (e.t, e.event_id))
        base = FIRST_RECORD[channel]
        lines = [(render(e, computer, base + i), e.mark) for i, e in enumerate(rows)]
        host.add_log(f"{EXPORT_DIR}/{FILE_NAMES[channel]}", [], lines, rows[-1].t, newline="\n")


def fake_hash(image: str) -> str:
    """A stable, made-up SHA256 per image path (synthetic; not the real file's hash)."""
    return hashlib.sha256(b"exhunt-example:" + image.lower().encode()).hexdigest().upper()


def proc_guid(pid: int, t: datetime) -> str:
    return f"{{6A1C7E52-{t.strftime('%m%d')}-{pid & 0xFFFF:04X}-{(pid * 7) & 0xFFFF:04X}-0000000009{pid % 100:02d}}}"


@dataclass(frozen=True)
class Proc:
    pid: int
    image: str
    cmdline: str
    user: str
    t: datetime  # start time, for the process GUID

    @property
    def guid(self) -> str:
        return proc_guid(self.pid, self.t)


PE_INFO = {
    "cmd.exe": ("Windows Command Processor", "Cmd.Exe"),
    "net.exe": ("Net Command", "net.exe"),
    "net1.exe": ("Net Command", "net1.exe"),
    "whoami.exe": ("whoami - displays logged on user information", "whoami.exe"),
    "rundll32.exe": ("Windows host process (Rundll32)", "RUNDLL32.EXE"),
    "powershell.exe": ("Windows PowerShell", "PowerShell.EXE"),
    "csc.exe": ("Visual C# Command Line Compiler", "csc.exe"),
    "cvtres.exe": ("Microsoft® Resource File To COFF Object Conversion Utility", "CVTRES.EXE"),
    "conhost.exe": ("Console Window Host", "CONHOST.EXE"),
    "netsh.exe": ("Network Command Shell", "netsh.exe"),
    "7z.exe": ("7-Zip Console", "7z.exe"),
    "tasklist.exe": ("Lists the current running tasks.", "tasklist.exe"),
    "MpCmdRun.exe": ("Microsoft Malware Protection Command Line Utility", "MpCmdRun.exe"),
}


def sysmon_proc(t: datetime, child: Proc, parent: Proc, mark: str = "", cwd: str = "") -> Event:
    exe = child.image.rsplit("\\", 1)[-1]
    desc, original = PE_INFO.get(exe, ("-", exe))
    system = child.user in ("NT AUTHORITY\\SYSTEM",)
    data = {
        "RuleName": "-", "UtcTime": t.strftime("%Y-%m-%d %H:%M:%S.") + f"{t.microsecond // 1000:03d}",
        "ProcessGuid": child.guid, "ProcessId": child.pid, "Image": child.image, "FileVersion": "-",
        "Description": desc, "Product": "-", "Company": "-", "OriginalFileName": original,
        "CommandLine": child.cmdline, "CurrentDirectory": cwd or "C:\\Windows\\system32\\",
        "User": child.user, "LogonGuid": "{6A1C7E52-0301-603E-E703-000000000000}" if system
        else "{6A1C7E52-0301-603E-2B1F-0D0000000000}",
        "LogonId": "0x3e7" if system else "0xd1f2b", "TerminalSessionId": 0,
        "IntegrityLevel": "System" if system else "High",
        "Hashes": f"SHA256={fake_hash(child.image)}",
        "ParentProcessGuid": parent.guid, "ParentProcessId": parent.pid, "ParentImage": parent.image,
        "ParentCommandLine": parent.cmdline,
    }
    return Event(t, SYSMON[2], SYSMON[0], 1, 4, data, guid=SYSMON[1], task=1, keywords="0x8000000000000000",
                 user_sid="S-1-5-18", mark=mark)


def sysmon_file(t: datetime, proc: Proc, target: str, mark: str = "") -> Event:
    data = {
        "RuleName": "-", "UtcTime": t.strftime("%Y-%m-%d %H:%M:%S.") + f"{t.microsecond // 1000:03d}",
        "ProcessGuid": proc.guid, "ProcessId": proc.pid, "Image": proc.image, "TargetFilename": target,
        "CreationUtcTime": t.strftime("%Y-%m-%d %H:%M:%S.") + f"{t.microsecond // 1000:03d}",
    }
    return Event(t, SYSMON[2], SYSMON[0], 11, 4, data, guid=SYSMON[1], task=11, keywords="0x8000000000000000",
                 user_sid="S-1-5-18", mark=mark)


def sysmon_access(t: datetime, source: Proc, target: Proc, access: str, mark: str = "") -> Event:
    data = {
        "RuleName": "-", "UtcTime": t.strftime("%Y-%m-%d %H:%M:%S.") + f"{t.microsecond // 1000:03d}",
        "SourceProcessGUID": source.guid, "SourceProcessId": source.pid, "SourceThreadId": source.pid + 12,
        "SourceImage": source.image, "TargetProcessGUID": target.guid, "TargetProcessId": target.pid,
        "TargetImage": target.image, "GrantedAccess": access,
        "CallTrace": "C:\\Windows\\SYSTEM32\\ntdll.dll+9f7a4|C:\\Windows\\System32\\KERNELBASE.dll+2b5ee|"
                     "C:\\Windows\\System32\\comsvcs.dll+3a1b1|C:\\Windows\\System32\\comsvcs.dll+3a4d2|"
                     "C:\\Windows\\system32\\rundll32.exe+3c2d|C:\\Windows\\System32\\KERNEL32.DLL+17bd4"
        if "comsvcs" in source.cmdline.lower() else "C:\\Windows\\SYSTEM32\\ntdll.dll+9f7a4|"
        "C:\\Windows\\System32\\KERNELBASE.dll+2b5ee|UNKNOWN(00007FFB6C1A3F20)",
    }
    return Event(t, SYSMON[2], SYSMON[0], 10, 4, data, guid=SYSMON[1], task=10, keywords="0x8000000000000000",
                 user_sid="S-1-5-18", mark=mark)


def security(t: datetime, event_id: int, data: dict[str, Any], mark: str = "", failure: bool = False) -> Event:
    return Event(t, SECURITY[2], SECURITY[0], event_id, 0, data, guid=SECURITY[1],
                 task={4624: 12544, 4625: 12544, 4634: 12545, 4672: 12548, 4720: 13824, 4732: 13826,
                       4688: 13312}.get(event_id, 0),
                 keywords="0x8010000000000000" if failure else "0x8020000000000000", mark=mark)


def classic(t: datetime, provider: str, event_id: int, level: int, strings: list[str], message: str,
            mark: str = "", task: int = 0, channel: str = "Application") -> Event:
    return Event(t, channel, provider, event_id, level, {"Data": strings}, task=task,
                 qualifiers=16384 if level == 4 else 49152 if level == 2 else 32768, message=message, mark=mark)


def cmdlet_event(t: datetime, cmdlet: str, params: str, user: str, sid: str, app: str, mark: str = "",
                 process: str = "9840 w3wp#MSExchangePowerShellAppPool") -> Event:
    strings = [cmdlet, params, user, sid, sid, app, process, "", "1",
               "00:00:01.2031250", "View Entire Forest: 'False', Default Scope: 'contoso.local', Configuration "
               "Domain Controller: 'DC01.contoso.local', Preferred Global Catalog: 'DC01.contoso.local', "
               "Preferred Domain Controllers: '{ DC01.contoso.local }'", "", "", "", "", "", "", "False", "",
               "0 objects execution has been proxied to remote server.", "", "", "0", "", "ServicePlan:;IsAdmin:True;",
               "", "en-US"]
    message = f"Cmdlet succeeded. Cmdlet {cmdlet}, parameters {params}."
    return Event(t, "MSExchange Management", "MSExchange CmdletLogs", 1, 4, {"Data": strings}, task=1,
                 qualifiers=16384, message=message, mark=mark)
