"""examples/README.md, written by the generator so the line numbers it cites are always right."""

from __future__ import annotations

from exgen.common import HostFiles, Mark
from exgen.exlogs import ECP_FIELDS, RPS_HTTP_FIELDS

NEAR = "near-miss: "

INTRO = """# exhunt examples: synthetic Exchange evidence

**Everything under `examples/` is synthetic.** It was written by `scripts/make_examples.py` (fixed seeds and
dates: running it twice gives byte-identical files) from the documented formats of IIS, Exchange and Windows
logs. No byte comes from a real server or a real intrusion. Names (`contoso.com`, `contoso.local`), users and
GUIDs are made up; attacker and other public addresses come from the documentation ranges (203.0.113.0/24 for
attackers, 198.51.100.0/24 for users' phones and home connections); clients inside are 10.10.20.0/24.

    exhunt scan examples/exchange-2019-compromised
    exhunt scan examples                 # the four hosts at once

Regenerate with `python scripts/make_examples.py` (or `python scripts/make_examples.py OUT_DIR`);
`tests/examples/test_examples_reproducible.py` checks that the committed tree is what the script writes.

{table}
"""

TABLE = [
    ("host", "server, build", "logs cover", "expected verdict"),
    ("`exchange-2019-compromised`", "EX01, Exchange 2019 CU8 (15.2.792.3)", "2021-02-28 .. 2021-03-06",
     "compromised: ProxyLogon chain (CVE-2021-26855, 26857, 26858, 27065), webshells, LSASS dump, staging"),
    ("`exchange-2019-clean`", "EX02, Exchange 2019 CU8 (15.2.792.3)", "2021-03-01 .. 2021-03-05",
     "no sign of compromise (exposure: the build is vulnerable to ProxyLogon)"),
    ("`exchange-2019-probed`", "EX03, Exchange 2019 CU8 (15.2.792.3)", "2021-03-02 .. 2021-03-05",
     "exploitation attempted, not successful; no event export collected"),
    ("`exchange-2016-proxyshell`", "EXCH16, Exchange 2016 CU19 (15.1.2176.2), CU21 (15.1.2308.8) by September",
     "2021-07-30, 08-12 .. 08-14, 09-07", "compromised: ProxyShell (CVE-2021-34473, 34523, 31207), PST webshell"),
]


def _table() -> str:
    rows = [f"| {' | '.join(row)} |" for row in TABLE]
    rows.insert(1, "|---|---|---|---|")
    return "\n".join(rows)


HOSTS = {
    "exchange-2019-compromised": """\
ProxyLogon on 2021-03-03 (UTC), with a week of ordinary traffic around it:

1. 01:47 a scanner (203.0.113.66, `zgrab`) sends localhost SSRF probes (`ServerInfo~localhost/...`, HTTP 500)
   and autodiscover SSRF attempts that fail (500 with a wrong server name, then 401).
2. 02:13 the exploit (203.0.113.77, `python-requests`) posts to `/ecp/y.js`, `/ecp/main.css`,
   `/ecp/default.flt` with a forged `X-BEResource` cookie: HttpProxy/Ecp rows with
   `AnchorMailbox=ServerInfo~a]@ex01.contoso.local:444/...#`, empty `AuthenticatedUser`, `HttpStatus` and
   `BackEndStatus` 200 (241 for `proxyLogon.ecp`), `BackEndCookie` `Server~ex01.contoso.local:444/ecp/...~1942062522`
   on the DDIService rows (the `~N` suffix is a back-end version number; public exploits hard-code this one,
   while the server's own `FEAuth=BEVersion-N` in `GenericInfo` is the CU8 value 1942127384).
   Steps: autodiscover.xml, mapi/emsmdb, proxyLogon.ecp, DDIService GetObject, SetObject
   `schema=OABVirtualDirectory`, SetObject `schema=ResetOABVirtualDirectory` (CVE-2021-27065).
3. The ECP Server log records `Set-OabVirtualDirectory` with a JScript `<script>` in `ExternalUrl`; the reset
   writes the OAB virtual directory's properties, script included, to `owa/auth/<random>.aspx`.
4. The webshell is requested (GET, then POSTs with `antSword/v2.1`); each POST is followed by a Sysmon 1 event
   `w3wp.exe (MSExchangeOWAAppPool) -> cmd.exe`: `whoami`, `net user support_svc ... /add` (Security 4720),
   `net localgroup administrators support_svc /add` (4732), `tasklist`, `rundll32 comsvcs.dll, MiniDump 712
   C:\\Windows\\Temp\\lsass.dmp full` (Sysmon 10 on lsass with 0x1FFFFF, Sysmon 11 of the dump),
   `7z.exe a -p... C:\\ProgramData\\VSPerfMon\\pl.7z` (Sysmon 11), then `powershell ... New-MailboxExportRequest`
   (MSExchange Management event 1), later `Remove-MailboxExportRequest`.
5. 02:21 CVE-2021-26858: the OABGenerator log says `Download failed and temporary file
   'C:\\inetpub\\wwwroot\\aspnet_client\\system_web\\<name>.aspx' needs to be removed` (a path outside
   `...\\ClientAccess\\OAB\\`); Sysmon 11 shows `MSExchangeMailboxAssistants.exe` writing it; it holds a one-line
   JScript `eval` webshell and is POSTed to at 02:23 and again on 2021-03-05 from 203.0.113.91 (with a
   `w3wp (DefaultAppPool) -> cmd.exe` event).
6. 02:25 CVE-2021-26857: Application event from `MSExchange Unified Messaging`, Level 2, with
   `System.InvalidCastException` in its message.

The same files also hold benign look-alikes (the OAB temp-file message under `ClientAccess\\OAB`, w3wp spawning
`csc.exe`, Defender opening lsass with 0x1000, administrators' ECP and PowerShell use).
""",
    "exchange-2019-clean": """\
Ordinary traffic only, plus near-misses a careful detector must leave alone: an administrator setting the OAB
`ExternalUrl` to `https://mail.contoso.com/OAB` from ECP (ECP Server log and an authenticated HttpProxy/Ecp
row), the benign OAB temp-file message with a path under `ClientAccess\\OAB`, a real backup zip under
`D/Backups/` (outside ProgramData), a kernel crash dump `C/Windows/MEMORY.DMP` (`PAGEDU64`, not `MDMP`),
random `.tmp` files in `C/Windows/Temp`, w3wp spawning `csc.exe`/`cvtres.exe` (ASP.NET compilation), Defender
opening lsass with a query-only mask, `MSExchange Unified Messaging` errors without `InvalidCastException`,
administrators' `Get-Mailbox`-style cmdlets. `owa/auth` holds only the stock file names. The build is still
vulnerable to ProxyLogon: an exposure finding (not a compromise) is expected.
""",
    "exchange-2019-probed": """\
Ordinary traffic and two scanners on 2021-03-04 (203.0.113.15 and 203.0.113.140): localhost SSRF probes
(`ServerInfo~localhost/...`, 500), autodiscover SSRF attempts answered 401 or 500, a `proxyLogon.ecp` SSRF
attempt answered 500, and POSTs to webshell paths that do not exist (404). Nothing succeeded: the verdict is
"exploitation attempted". No Windows event export was collected for this host, so coverage must say that
process, file and account activity could not be checked.
""",
    "exchange-2016-proxyshell": """\
Exchange 2016 CU19 (logs carry `#Version: 15.01.2176.002`) exploited on 2021-08-13 from 203.0.113.200:
`/autodiscover/autodiscover.json?@evil.com/...&Email=autodiscover/autodiscover.json%3F@evil.com` requests in IIS
(stem and query apart) and HttpProxy/Autodiscover (`UrlQuery`), reaching `/mapi/nspi/`, `/mapi/emsmdb`, EWS and
`/powershell/?X-Rps-CAT=...` (HTTP 200). The Rps_Http log shows the PowerShell requests with `X-Rps-CAT` from
the internet; Rps_Cmdlet and MSExchange Management show `New-ManagementRoleAssignment -Role "Mailbox Import
Export"`, `New-MailboxExportRequest ... -FilePath "\\\\127.0.0.1\\c$\\inetpub\\wwwroot\\aspnet_client\\shell.aspx"`,
`Get-MailboxExportRequest`, `Remove-MailboxExportRequest`. `C/inetpub/wwwroot/aspnet_client/shell.aspx` starts
with the PST magic `!BDN` and holds a JScript `eval` in clear; it is requested and POSTed to, and w3wp
(DefaultAppPool) spawns `cmd.exe /c whoami` and `ipconfig`. The September files (2021-09-07) carry
`#Version: 15.01.2308.008` (Exchange 2016 CU21, which includes the April and May 2021 fixes for ProxyShell),
so the build history shows the upgrade happened between 2021-08-14 and 2021-09-07; a ProxyShell probe on
2021-09-07 is answered 400 (attempt after the upgrade). The logs hold 2021-07-30, 2021-08-12 .. 08-14 and
2021-09-07 only (the other days were not collected): coverage has gaps on purpose.
""",
}

FORMATS = f"""
## Layout and formats

Each host folder mirrors the server's drives (`C/...`, `D/...`). Exchange is installed in
`C/Program Files/Microsoft/Exchange Server/V15`.

- **IIS** `C/inetpub/logs/LogFiles/W3SVC1/u_exYYMMDD.log`: W3C, IIS 10 default fields, one file per UTC day,
  CRLF line ends, user agents with `+` for spaces, `-` for empty. Only the front-end site (W3SVC1) is included.
- **HttpProxy** `Logging/HttpProxy/<Protocol>/HttpProxy_YYYYMMDDHH-1.LOG` for Autodiscover, Eas, Ecp, Ews, Mapi,
  OAB, Owa, PowerShell, RpcHttp: the real header and `#Fields` list of Exchange 2016/2019 in 2021, RFC 4180
  quoting, CRLF. As on real servers: `IsAuthenticated` is `true`/`false`, commas in user agents are written as
  spaces, `GenericInfo` holds `BeginRequest=...;FEAuth=BEVersion-N;...;EndRequest=...;`, latency breakups hold
  `;`-separated values. Simplification: a real server rolls these files every hour; here each file holds one
  UTC day of one protocol and is named for the hour of its first line (its `#Date`).
- **ECP Server** `Logging/ECP/Server/ECPServerYYYYMMDDHH-1.LOG`: **synthetic field list** (no public sample
  of this log is known to us): `{",".join(ECP_FIELDS)}`. The cmdlet is in `Cmdlet` and, with its parameters,
  in `GenericInfo` as `S:CMD=<Cmdlet>.<Param>='<value>'.<Param>='<value>'`.
- **OABGenerator** `Logging/OABGeneratorLog/OABGenerator_YYYYMMDDHH-1.LOG`: **synthetic layout**, plain text
  without header: `<ISO time> [<thread>] <Level> OABGeneratorAssistant: <message>`; the messages of interest
  are `Download failed and temporary file '<path>' needs to be removed.`
- **Rps_Http** `Logging/RpsHttp/Rps_Http_YYYYMMDDHH-1.LOG`: `#Fields: {",".join(RPS_HTTP_FIELDS)}` (from public
  descriptions; synthetic values).
- **Rps_Cmdlet** `Logging/CmdletInfra/Powershell-Proxy/Cmdlet/Rps_Cmdlet_YYYYMMDDHH-1.LOG`: the field list seen in
  public samples of this log (`Cmdlet`, `Parameters`, `AuthenticatedUser`, `ClientApplication`, ...).
- **Windows events** `C/Windows/System32/winevt/Logs/exported/<channel>.jsonl` (`Application.jsonl`,
  `Security.jsonl`, `Microsoft-Windows-Sysmon%4Operational.jsonl`, `MSExchange Management.jsonl`): exhunt
  cannot write EVTX, so events are JSON lines as responders export them, one object per line (LF line ends):
  `{{"System": {{"Provider": {{"Name", "Guid"?}}, "EventID": <int>, "Qualifiers"?, "Level": <int>, "Task",
  "Keywords", "TimeCreated": {{"SystemTime": "2021-03-03T02:14:31.2080000Z"}}, "EventRecordID": <int>,
  "Channel", "Computer", "Security"?: {{"UserID"}}}}, "EventData": {{...}}, "Message"?}}`. Sysmon and Security
  events have named `EventData` fields; classic events (Application, MSExchange Management) have
  `"EventData": {{"Data": [<strings>]}}` and a rendered `Message`. Record ids count up per channel in time
  order. The UM event id (1040) and message text are made up; hashes in Sysmon events are fake.
- **Files**: stock `owa/auth` pages are short placeholders (no code) saying they are synthetic; webshells are
  one-line JScript `eval` pages written for these examples; `lsass.dmp` is a small structurally plausible
  minidump (`MDMP`, module list naming `lsass.exe`) with random "memory"; `pl.7z` is a 7z signature header with
  consistent CRCs and opaque (random) content; `shell.aspx` is a PST header (`!BDN`) with random blocks and the
  webshell text; the backup zip is a real (stored) zip; no executable (PE) is included.
- File modification times are set by the generator (attack files at their write time) but git does not keep
  them: a fresh checkout has checkout times.
"""


def _marks(marks: list[Mark]) -> list[str]:
    out = []
    for mark in sorted(marks, key=lambda m: (m.path, m.line or 0)):
        where = f"{mark.path}:{mark.line}" if mark.line else mark.path
        out.append(f"- `{where}` {mark.what.removeprefix(NEAR)}\n")
    return out


def readme(hosts: list[HostFiles]) -> str:
    parts = [INTRO.replace("{table}", _table())]
    for host in hosts:
        parts.append(f"\n## {host.name}\n\n{HOSTS[host.name]}")
        attack = [m for m in host.marks if not m.what.startswith(NEAR)]
        near = [m for m in host.marks if m.what.startswith(NEAR)]
        if attack:
            parts.append("\nWhat exhunt should find (path relative to the host folder, `:line` for logs):\n\n")
            parts.extend(_marks(attack))
        if near:
            parts.append("\nWhat must stay quiet:\n\n")
            parts.extend(_marks(near))
    parts.append(FORMATS)
    return "".join(parts)
