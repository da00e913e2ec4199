/* exhunt: memory dumps of LSASS left on disk (procdump, comsvcs.dll MiniDump, Task Manager).
   Written for exhunt. */

rule EXH_LSASS_Minidump
{
    meta:
        id = "EXH-YARA-LSASS-DUMP"
        title = "Minidump of the LSASS process on disk"
        description = "A Windows minidump (MDMP header) whose module list names lsass.exe: credentials were dumped from memory, as seen after the March 2021 Exchange intrusions (procdump or rundll32 comsvcs.dll MiniDump)."
        attack = "T1003.001"
        family = "credential-dump"
        step = "credential-access"
        severity = "critical"
        confidence = "high"
    strings:
        $lsass_w = "lsass.exe" wide nocase
        $lsass_a = "lsass.exe" ascii nocase
        $lsasrv_w = "lsasrv.dll" wide nocase
    condition:
        uint32(0) == 0x504d444d and any of them
}
