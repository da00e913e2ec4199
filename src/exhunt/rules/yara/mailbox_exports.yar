/* exhunt: ProxyShell's mailbox export trick: New-MailboxExportRequest writes a PST file under a web
   root with a script extension. Written for exhunt.
   Externals: `extension` (lowercase, with the dot) is set by exhunt for each scanned file. */

rule EXH_PST_As_Script_Page
{
    meta:
        id = "EXH-YARA-PST-SCRIPT"
        title = "PST mailbox export saved with a script page extension (ProxyShell webshell drop)"
        description = "The file starts with the PST magic '!BDN' but is named like a server page. ProxyShell attackers exported a mailbox holding an encoded script to an .aspx path, so IIS would run the embedded code."
        attack = "T1505.003"
        cve = "CVE-2021-34473,CVE-2021-34523,CVE-2021-31207"
        family = "proxyshell"
        step = "webshell-write"
        severity = "critical"
        confidence = "high"
    condition:
        uint32(0) == 0x4e444221 and extension matches /^\.(aspx|ashx|asmx|ascx|asax|asp|cshtml|config|svc|master)$/
}
