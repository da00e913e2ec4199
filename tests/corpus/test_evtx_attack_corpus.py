"""exhunt's own Sigma rules on real EVTX recorded by others while attack techniques ran
(``../shared/corpus/evtx-attack-dev/mdecrevoisier-EVTX-to-MITRE-Attack``; the file name gives the technique).

Each file is scanned alone through ``assess_host`` (what ``exhunt scan`` runs per host) with the shipped
content only. Among the files whose technique belongs to this campaign's post-exploitation (``CAMPAIGN``,
listed here as data; every other file of the folder is left out for a reason given in ``LEFT_OUT``), at
least ``CAMPAIGN_FLOOR`` must be flagged at medium or above by a rule other than "event log cleared": the
authors cleared the Security log before recording many files, so that finding says nothing about the
technique (it counts only for the log-clearing files themselves). The folder's benign files and the benign
sets of ``../shared/corpus/evtx`` must produce nothing above low, except the Set-Mailbox forwarding to an
outside address that two MSExchange Management samples really record (``BENIGN_EXCEPTIONS``). The OTRF
datasets still give their findings. Skips when the shared corpus is absent.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from exhunt.content.bundle import ContentBundle, ContentSpec
from exhunt.detectors.registry import load_content
from exhunt.engine import assess_host
from exhunt.model.finding import Finding, Severity
from exhunt.model.result import Verdict
from exhunt.sources.registry import open_evidence

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
ATTACK = SHARED / "evtx-attack-dev" / "mdecrevoisier-EVTX-to-MITRE-Attack"
BENIGN_SETS = SHARED / "evtx"
OTRF = SHARED / "otrf"
LOG_CLEARED = "EXH-PX-LOG-CLEARED"

pytestmark = pytest.mark.skipif(not ATTACK.is_dir(), reason=f"shared EVTX attack corpus absent: {ATTACK}")

# Files whose technique belongs to the campaign: what intruders did after Exchange exploitation
# (credential dumping, accounts, Exchange transport agents and admin groups, shells and tunnels, defence
# evasion, persistence, lateral movement, ransomware preparation).
CAMPAIGN: tuple[str, ...] = (
    # credential dumping: LSASS, NTDS.dit, DCSync, WDigest
    "TA0006-Credential Access/T1003-Credential dumping/ID1-12-13-Wdigest authentication activation.evtx",
    "TA0006-Credential Access/T1003-Credential dumping/ID1-LSASS dump with LSASSY (SYSMON).evtx",
    "TA0006-Credential Access/T1003-Credential dumping/ID10-Mimikatz LSASS process dump.evtx",
    "TA0006-Credential Access/T1003-Credential dumping/ID11-LSASS credentials dump via Task Manager.evtx",
    "TA0006-Credential Access/T1003-Credential dumping/ID11-Mimikatz LSA SSP clear text password exfiltration.evtx",
    "TA0006-Credential Access/T1003-Credential dumping/ID325-327-IFM created - ESENT.evtx",
    "TA0006-Credential Access/T1003-Credential dumping/ID4656, 5145, 4674-Impacket secret dump via SMB.evtx",
    "TA0006-Credential Access/T1003-Credential dumping/ID4656-4663-4658 Mimikatz sekurlsa password dump.evtx",
    "TA0006-Credential Access/T1003-Credential dumping/ID4662-DCsync attack using Mimikatz.evtx",
    "TA0006-Credential Access/T1003-Credential dumping/ID4663-Task Manager used to dump LSASS process.evtx",
    "TA0006-Credential Access/T1003-Credential dumping/ID4688-4663-4656-LSASS dump with LSASSY (process).evtx",
    "TA0006-Credential Access/T1003-Credential dumping/ID4688-Diskshadow abuse.evtx",
    "TA0006-Credential Access/T1003-Credential dumping/ID4688-IFM created.evtx",
    "TA0006-Credential Access/T1003-Credential dumping/ID800-4103-4104-LSASS dump with LSASSY (PowerShell).evtx",
    "TA0002-Execution/T1047-Windows Management Instrumentation/ID3-7-10-Suspicious DLL loaded (CME+Mimikatz).evtx",
    # account creation and hiding, privileged and Exchange admin groups
    "TA0003-Persistence/T1136-Create account/ID4688-User creation via commandline.evtx",
    "TA0003-Persistence/T1136-Create account/ID472, 4728 Hidden user creation.evtx",
    "TA0003-Persistence/T1136-Create account/ID4720-4726 Fast created-deleted user.evtx",
    "TA0003-Persistence/T1136-Create account/ID4720-Admin like user created.evtx",
    "TA0003-Persistence/T1136-Create account/ID4720-Fake computer account created.evtx",
    "TA0003-Persistence/T1136-Create account/ID4720-Local user created.evtx",
    "TA0003-Persistence/T1136-Create account/ID4722-Guest account activated.evtx",
    "TA0003-Persistence/T1098.xxx-Account manipulation/ID4728-4756-Member added to sensitive domain groups.evtx",
    "TA0003-Persistence/T1098.xxx-Account manipulation/ID4732-4733-Quick added-removed user from local group.evtx",
    "TA0003-Persistence/T1098.xxx-Account manipulation/ID4732-User added to local admin groups.evtx",
    "TA0003-Persistence/T1098.xxx-Account manipulation/ID4756-Exchange admin group change.evtx",
    "TA0006-Credential Access/T1003-Credential dumping/ID4756-Exchange critical group change (DCsync).evtx",
    "TA0005-Defense Evasion/T1222.001-File and Directory Permissions Modification/"
    "ID5136-Permission change on top root AD (DCsync).evtx",
    "EVTX_full_APT_attack_steps/ID4720,4698-Fortinet APT group abuse on Windows.evtx",
    # Exchange transport agents
    "TA0003-Persistence/T1505-Server Software Component/ID11-Exchange transport config modified.evtx",
    "TA0003-Persistence/T1505-Server Software Component/ID6-Failed to install an Exchange transport agent.evtx",
    # shells, payloads, tunnels, privilege escalation from a service account
    "TA0002-Execution/T1059.001-PowerShell/ID4103-4104-Payload download via PowerShell.evtx",
    "TA0002-Execution/T1059.001-PowerShell/ID4688-Encoded PowerShell MSF payload via process execution.evtx",
    "TA0005-Defense Evasion/T1027-Obfuscated Files or Information/4624,4674,4688- CrackMap Exec SMB mimikatz.evtx",
    "TA0005-Defense Evasion/T1027-Obfuscated Files or Information/ID1-CrackMapExec payload execution.evtx",
    "TA0005-Defense Evasion/T1027-Obfuscated Files or Information/ID400-800-CrackMapExec payload execution.evtx",
    "TA0005-Defense Evasion/T1027-Obfuscated Files or Information/ID4103-4104-CrackMapExec payload execution.evtx",
    "TA0005-Defense Evasion/T1027-Obfuscated Files or Information/"
    "ID4688-Obfuscated payload transfer via service name - Tchopper.evtx",
    "TA0005-Defense Evasion/T1140-Deobfuscate-Decode Files or Information/ID4688-Certutil download.evtx",
    "TA0011-Command and Control/T1572-Protocol tunneling/ID4688-netsh RDP port forwarding abuse.evtx",
    "TA0004-Privilege Escalation/T1134-Access Token Manipulation/ID4688,4624-RottenPotatoNG.evtx",
    # defence evasion: logs, audit policy, Defender, firewall
    "TA0005-Defense Evasion/T1070.001-Clear Windows event logs/ID104-1102-Event log cleared.evtx",
    "TA0005-Defense Evasion/T1070.001-Clear Windows event logs/ID4688-Clear event log attempt (native).evtx",
    "TA0005-Defense Evasion/T1070.001-Clear Windows event logs/ID4688-Clear event log attempt (wmi).evtx",
    "TA0005-Defense Evasion/T1070.001-Clear Windows event logs/ID800-4103-4104-Clear event log attempt.evtx",
    "TA0005-Defense Evasion/T1562.002-Disable Windows Event Logging/ID4688-Audit policy clear attempt.evtx",
    "TA0005-Defense Evasion/T1562.002-Disable Windows Event Logging/ID4688-Audit policy deactivation attempt.evtx",
    "TA0005-Defense Evasion/T1562.002-Disable Windows Event Logging/ID4719-Audit policy deactivation.evtx",
    "TA0005-Defense Evasion/T1562.001-Impair Defenses-Disable or Modify tool/"
    "ID4688-Defender critical features disabled (command).evtx",
    "TA0005-Defense Evasion/T1562.001-Impair Defenses-Disable or Modify tool/"
    "ID4688-Defender service deactivation attempt.evtx",
    "TA0005-Defense Evasion/T1562.001-Impair Defenses-Disable or Modify tool/"
    "ID5007-Defender threat exclusion (native).evtx",
    "TA0005-Defense Evasion/T1562.001-Impair Defenses-Disable or Modify tool/"
    "ID800-4103-4104 Defender critical features disabled (PowerShell).evtx",
    "TA0005-Defense Evasion/T1562.001-Impair Defenses-Disable or Modify tool/"
    "ID800-4103-4104 Defender default action allow any (PowerShell).evtx",
    "TA0005-Defense Evasion/T1562.001-Impair Defenses-Disable or Modify tool/"
    "ID800-4103-4104 Defender exclusion added (PowerShell).evtx",
    "TA0005-Defense Evasion/T1562.004-Impair Defenses-Disable or Modify System Firewall/"
    "ID4688-5447-4950-Firewall disabled (command).evtx",
    "TA0005-Defense Evasion/T1562.004-Impair Defenses-Disable or Modify System Firewall/"
    "ID800-4103-Firewall disabled.evtx",
    # persistence: services, scheduled tasks, registry, WMI, accessibility backdoors
    *(f"TA0003-Persistence/T1543.003-Create or Modify System Process-Windows Service/{name}.evtx" for name in (
        "ID13-New service for Mimikatz", "ID4688-4697 RDP hijack via service creation",
        "ID4688-Command SC to create service on remote host", "ID4688-Service abuse with Failure Command",
        "ID4688-Service abuse with malicious path", "ID4688-Service created (command)",
        "ID4688-Service permissions modified (registry)", "ID4688-Service permissions modified (sc)",
        "ID4697-MSF payload deployed via service", "ID4697-New service for Mimikatz",
        "ID7045-4697-SMBexec service registration", "ID7045-7036 PSexec service installation",
        "ID7045-New service for Mimikatz +npcap", "ID7045-Random service installation",
        "ID800-4103-4104-Service abuse with Failure Command", "ID800-4103-4104-Service abuse with malicious path",
        "ID800-4103-4104-Service creation (PowerShell)")),
    "TA0002-Execution/T1569.002-Service execution/ID7000,7009,7045-Payload deployed via service - Tchopper.evtx",
    "TA0005-Defense Evasion/T1112-Modify registry/ID11,13-SMBexec service registration.evtx",
    "TA0002-Execution/T1053.005-Scheduled Task/"
    "ID4688-4698 Persistent scheduled task with SYSTEM privileges creation.evtx",
    "TA0002-Execution/T1053.005-Scheduled Task/ID4688-Interactive shell using AT schedule task.evtx",
    "TA0002-Execution/T1053.005-Scheduled Task/ID4688-Scheduled task creation.evtx",
    "TA0002-Execution/T1053.005-Scheduled Task/ID4698-4699-Fast created & deleted task by ATexec (susp. arg.).evtx",
    "TA0002-Execution/T1053.005-Scheduled Task/ID4698-4699-Fast created & deleted task by SMBexec (sups. arg.).evtx",
    "TA0003-Persistence/T1546-Event Triggered Execution/ID19-20-WMI registration via PowerLurk.evtx",
    "TA0003-Persistence/T1546-Event Triggered Execution/ID800-4103-4104-WMI registration via PowerLurk.evtx",
    "TA0003-Persistence/T1546-Event Triggered Execution/ID4688-netsh helper DLL.evtx",
    "TA0004-Privilege Escalation/T1546-Image File Execution Options Injection/"
    "ID1-CMD executed via sticky key call.evtx",
    "TA0004-Privilege Escalation/T1546-Image File Execution Options Injection/"
    "ID11-New sethc file created from CMD copy.evtx",
    "TA0004-Privilege Escalation/T1546-Image File Execution Options Injection/ID12,13-Stickey key registry update.evtx",
    "TA0004-Privilege Escalation/T1546-Image File Execution Options Injection/"
    "ID4688-Stickey command reg update + execution.evtx",
    # lateral movement: WMI, PsExec-style services, remote tasks, RDP hijack
    "TA0002-Execution/T1047-Windows Management Instrumentation/ID1-WMI spwaning PowerShell process - WMImplant.evtx",
    "TA0002-Execution/T1047-Windows Management Instrumentation/ID1-WMIexec process execution.evtx",
    "TA0002-Execution/T1047-Windows Management Instrumentation/ID4688-5145-WMIexec execution via SMB.evtx",
    "EVTX_full_APT_attack_steps/ID11,13,17,18-PSexec as system execution.evtx",
    "EVTX_full_APT_attack_steps/ID4688,4698,4699,5145,4624-ATexec remote trask creation (GLOBAL).evtx",
    "EVTX_full_APT_attack_steps/ID4688,5140,5145-WMIexec execution via SMB (GLOBAL).evtx",
    "EVTX_full_APT_attack_steps/ID47x,4661-4662,5136,4688,4697-SAM the admin (CVE-2021-42287).evtx",
    "EVTX_full_APT_attack_steps/ID5140-5145,4688,4697-Encrypted payload deployed with service over SMB (GLOBAL).evtx",
    "TA0008-Lateral Movement/T1021.002-SMB Windows Admin Shares/"
    "ID4688,4697,5140-5145 PSexec remote execution + admin share.evtx",
    "TA0008-Lateral Movement/T1021.002-SMB Windows Admin Shares/ID4688-4648 Lateral movement with net use.evtx",
    "TA0008-Lateral Movement/T1021.001-Remote Desktop Protocol/ID4688,4778,4779 RDP hijack direct.evtx",
    "TA0008-Lateral Movement/T1021.001-Remote Desktop Protocol/ID4688-4778 RDP hijack command execution.evtx",
    # ransomware preparation (DearCry and Black Kingdom were deployed through ProxyLogon)
    "TA0040-Impact/T1490-Inhibit System Recovery/ID4688-Delete VSS backup (WMI).evtx",
    "TA0040-Impact/T1490-Inhibit System Recovery/ID4688-Delete Window backup (webadmin).evtx",
    "TA0040-Impact/T1490-Inhibit System Recovery/ID800-4103-4104-Delete VSS backup (PowerShell).evtx",
)

# Files of the folder that are benign by the authors' own naming: nothing above low.
BENIGN: tuple[str, ...] = (
    "Antivirus/ID1151-Defender health status.evtx",
    "TA0003-Persistence/T1547-Boot or Logon Autostart Execution/ID4622-New SSP loaded in LSA (only legitim).evtx",
    "TA0003-Persistence/T1547-Boot or Logon Autostart Execution/ID12-LSA Protect mode enabled RunAsPPL.evtx",
)

# Why every other file is left out of the selection: (part of the path, reason). Checked to cover the folder.
LEFT_OUT: tuple[tuple[str, str], ...] = (
    ("ID33205-", "SQL Server audit events: SQL Server is not part of an Exchange server"),
    ("ID18456-", "SQL Server logon failures"),
    ("ID11715-", "SQL Server"), ("ID15457-", "SQL Server"), ("sqlcmd", "SQL Server"),
    ("SQL Server started in single mode", "SQL Server"), ("SQL Server payload", "SQL Server reverse shell"),
    ("T1110.xxx-Brut force", "password guessing against Kerberos, SSH, SQL: initial access, not this campaign's"),
    ("TA0007-Discovery", "discovery commands: ordinary administration looks the same; not flagged on purpose"),
    ("TA0001-Initial access", "logons and logon failures: initial access by valid accounts"),
    ("T1558-Steal or Forge Kerberos", "Kerberos ticket attacks seen on domain controllers"),
    ("T1555", "DPAPI and credential manager theft over the network"),
    ("T1557-Man in the middle", "print spooler coercion"),
    ("T1552.004", "private key export through CAPI"),
    ("T1040-Traffic sniffing", "packet capture"),
    ("Antivirus/ID1116-1117", "Defender's own detections: reported by the antivirus, not a post-exploitation step"),
    ("T1098.xxx-Account manipulation/ID4738", "user account flags changed in AD (Kerberos attacks on the DC)"),
    ("T1098.xxx-Account manipulation/ID4742", "computer account delegation and SPN changes in AD"),
    ("T1098.xxx-Account manipulation/ID4738,5136", "SPN set in AD (Kerberoasting preparation)"),
    ("T1098.xxx-Account manipulation/ID4688-SPN", "SPN set in AD (Kerberoasting preparation)"),
    ("T1098.xxx-Account manipulation/ID4723-", "password change of one user"),
    ("T1098.xxx-Account manipulation/ID4724-", "password reset of one user"),
    ("T1098.xxx-Account manipulation/ID4728-M", "membership of ordinary (non-privileged) groups"),
    ("T1098.xxx-Account manipulation/ID4732-DNSadmin", "DnsAdmins abuse on domain controllers"),
    ("T1098.xxx-Account manipulation/ID4781", "account renames (noPac preparation on the DC)"),
    ("T1098.xxx-Account manipulation/ID5136", "AD object owner and RBCD changes"),
    ("T1136-Create account/ID4741", "computer accounts created in AD (machine account quota)"),
    ("T1136-Create account/ID4742-4743", "computer account created then deleted in AD"),
    ("T1197-BITS jobs", "BITS jobs: not among this campaign's behaviours"),
    ("T1505.001-SQL Stored Procedures", "SQL Server"),
    ("ID13-WMIimplant registry crash control", "WMImplant's registry-based data exchange, not persistence"),
    ("AdminSDholder", "AdminSDHolder ACL persistence on domain controllers"),
    ("T1547-Boot or Logon Autostart Execution/ID4664", "hard link creation"),
    ("T1574-Hijack Execution Flow", "DNS server plugin DLL and print spooler: roles an Exchange server does not hold"),
    ("T1068-Exploitation for Privilege Escalation", "machine account privilege use in AD"),
    ("ID4648-4624-RunAsCS", "explicit-credential logons by an administrator (runas): ordinary"),
    ("ID4688,4648,4624-Runas", "explicit-credential logons by an administrator (runas): ordinary"),
    ("ID4704-4705", "user rights assignment"), ("ID4717-4718", "system access rights assignment"),
    ("T1134.005", "SID history injection in AD"), ("T1484", "domain trust and GPO changes in AD"),
    ("ID4656-Failed sethc replacement", "a failed attempt, access denied"),
    ("T1574-DLL side-loading", "PrintNightmare and print spooler driver abuse"),
    ("1-Print spool spawned a CMD shell", "PrintNightmare"),
    ("T1070.006-Timestomp", "system time changes"),
    ("T1078.002", "special group logons"),
    ("T1112-Modify registry/ID4624,4670", "remote registry ACL backdoor (DAMP)"),
    ("T1112-Modify registry/ID800", "remote registry ACL backdoor (DAMP)"),
    ("T1207-Rogue domain controller", "DCShadow"),
    ("ID4661-", "SAM object access on a domain controller: no field tells an attack from ordinary lookups"),
    ("ID5136-Permission change on OU", "OU permission changes"),
    ("ID5136-Permissions changed on a GPO", "GPO permission changes"),
    ("ID5143-File share permissions", "share permission changes"), ("ID5124-OCSP", "AD CS OCSP settings"),
    ("T1553-", "SIP provider registration"), ("T1564-Hide artifacts", "WSL installation"),
    ("ID1-SYSMON driver unload", "FilterManager event 1 does not tell load from unload in its fields"),
    ("ID13-Defender service configuration disabled", "WdNisDrv set to its default demand start (3)"),
    ("ID8-Module Virtualization disabled", "Credential Guard virtualization state"),
    ("T1562.002-Disable Windows Event Logging/ID4739", "domain policy changes"),
    ("T1562.002-Disable Windows Event Logging/ID4885", "AD CS audit changes"),
    ("T1562.002-Disable Windows Event Logging/ID4908", "special group table changes"),
    ("T1562.002-Disable Windows Event Logging/ID541", "DNS server auditing"),
    ("ID2003-4950-Firewall disabled", "the recorded events switch the firewall on (value Yes)"),
    ("ID2004-", "firewall rules added: ordinary administration"),
    ("ID4688-Task Manager access indicator", "Task Manager started: not yet a dump"),
    ("ID4794-4688-DSRM", "DSRM password reset on a domain controller"),
    ("ID800-4103-Interactive PipeShell", "named-pipe shell between internal hosts"),
    ("T1204-User execution", "browser download by a user"),
    ("T1569.002-Service execution/ID5145", "share access events alone: svcctl use looks the same for admins"),
    ("ID7009-Service deployment time out", "service start time-outs only"),
    ("T1053.005-Scheduled Task/ID5145", "share access events alone"),
    ("T1021.002-SMB Windows Admin Shares/ID5", "share access and share creation events alone"),
    ("T1021.002-SMB Windows Admin Shares/ID4688-Network share", "net share commands: ordinary administration"),
    ("T1021.001-Remote Desktop Protocol/ID4825", "a denied RDP logon"),
    ("T1021.003", "DCOM execution: not reported for this campaign"),
    ("T1021.004", "OpenSSH server"), ("T1021.006", "WinRM listener enumeration"),
    ("T1550-Use Alternate", "pass-the-hash logons: not distinguishable by these rules"),
    ("T1125-Video capture", "RDP shadowing"), ("T1090-Proxy", "proxy configuration"),
    ("T1486-Data Encrypted", "BitLocker"), ("T1565-Data manipulation", "hosts file change"),
    ("Eternal Romance", "SMB exploitation (MS17-010)"), ("PrintNightmare", "PrintNightmare"),
    ("Mimikatz print spool", "print spooler privilege use"), ("DCshadow", "DCShadow"),
    ("DonPAPI", "DPAPI secrets over SMB"),
)

# Only the campaign's post-exploitation at medium or above counts; "event log cleared" counts only where
# clearing is the technique recorded (see the module docstring).
CAMPAIGN_FLOOR = 96


def _scan(path: Path) -> list[Finding]:
    [tree] = open_evidence(path)
    try:
        return assess_host(tree, _content(), {}).findings
    finally:
        tree.close()


_CACHE: dict[str, ContentBundle] = {}


def _content() -> ContentBundle:
    if "content" not in _CACHE:
        _CACHE["content"] = load_content(ContentBundle(ContentSpec()))
    return _CACHE["content"]


def _flagging(relative: str, findings: list[Finding]) -> list[str]:
    counts_cleared = "T1070.001-Clear Windows event logs" in relative
    return sorted({f.rule_id for f in findings if f.severity >= Severity.MEDIUM
                   and (counts_cleared or f.rule_id != LOG_CLEARED)})


def _files() -> list[str]:
    return sorted(p.relative_to(ATTACK).as_posix() for p in ATTACK.rglob("*.evtx"))


def test_the_selection_is_explicit_and_covers_the_folder() -> None:
    files = set(_files())
    assert not set(CAMPAIGN) - files, "listed files missing from the corpus"
    assert not set(BENIGN) - files
    assert len(set(CAMPAIGN)) == len(CAMPAIGN)
    unexplained = [f for f in files - set(CAMPAIGN) - set(BENIGN) if not any(part in f for part, _ in LEFT_OUT)]
    assert unexplained == []
    assert not [f for f in CAMPAIGN if any(part in f for part, _ in LEFT_OUT)], "selected and left out at once"


def test_campaign_techniques_are_flagged_at_medium_or_above() -> None:
    missed = [name for name in CAMPAIGN if not _flagging(name, _scan(ATTACK / name))]
    flagged = len(CAMPAIGN) - len(missed)
    assert flagged >= CAMPAIGN_FLOOR, f"{flagged}/{len(CAMPAIGN)} flagged; missed: {missed}"


def _loud(findings: list[Finding]) -> list[tuple[str, str]]:
    return sorted({(f.rule_id, f.severity.label) for f in findings if f.severity > Severity.LOW})


def test_the_folders_benign_files_stay_quiet() -> None:
    loud = {name: _loud(_scan(ATTACK / name)) for name in BENIGN}
    assert loud == {name: [] for name in BENIGN}


# The two MSExchange Management samples record `Set-Mailbox -ForwardingSmtpAddress "smtp:...@example.com"`:
# mail forwarded to an outside address, the behaviour these rules exist to report.
BENIGN_EXCEPTIONS = {
    "omerbenamram-evtx/issue_201.evtx": {"EXH-PX-MAIL-FORWARD", "EXH-PT-MAILBOX-FORWARDING"},
    "omerbenamram-evtx/MSExchange_Management_wec.evtx": {"EXH-PX-MAIL-FORWARD", "EXH-PT-MAILBOX-FORWARDING"},
}


def _benign_files() -> Iterator[str]:
    for path in sorted(BENIGN_SETS.rglob("*.evtx")):
        yield path.relative_to(BENIGN_SETS).as_posix()


@pytest.mark.skipif(not BENIGN_SETS.is_dir(), reason=f"shared benign EVTX corpus absent: {BENIGN_SETS}")
def test_benign_evtx_sets_give_nothing_above_low() -> None:
    loud: dict[str, list[tuple[str, str]]] = {}
    for name in _benign_files():
        allowed = BENIGN_EXCEPTIONS.get(name, set())
        found = [f for f in _scan(BENIGN_SETS / name) if f.rule_id not in allowed]
        if _loud(found):
            loud[name] = _loud(found)
    assert loud == {}


@pytest.mark.skipif(not (OTRF / "proxylogon_ssrf_rce_poc.zip").is_file(), reason=f"shared OTRF corpus absent: {OTRF}")
def test_otrf_datasets_still_give_their_findings() -> None:
    proxylogon = {f.rule_id for f in _scan(OTRF / "proxylogon_ssrf_rce_poc.zip")}
    assert {"EXH-PX-W3WP-SHELL", "EXH-PX-WEBSHELL-FILE", "EXH-PL-OAB-SCRIPT"} <= proxylogon
    comsvcs = {f.rule_id for f in _scan(OTRF / "psh_lsass_memory_dump_comsvcs.zip")}
    assert {"EXH-PX-LSASS-COMSVCS", "EXH-PX-LSASS-DMP-FILE"} <= comsvcs


def test_a_real_lsass_dump_alone_reads_suspicious_activity_not_exploitation_attempted() -> None:
    # Mimikatz reading LSASS memory (Sysmon 10), and nothing else: behaviour on the host, no exploit seen.
    path = ATTACK / "TA0006-Credential Access" / "T1003-Credential dumping" / "ID10-Mimikatz LSASS process dump.evtx"
    [tree] = open_evidence(path)
    try:
        result = assess_host(tree, _content(), {})
    finally:
        tree.close()
    assert result.verdict is Verdict.SUSPICIOUS, result.verdict_reasons
    assert "EXH-PX-LSASS-ACCESS" in result.verdict_reasons[0]
    assert any("web front end could not be checked" in r for r in result.verdict_reasons)
