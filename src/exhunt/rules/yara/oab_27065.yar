/* exhunt: CVE-2021-27065: the OAB virtual directory's ExternalUrl set to a server script, then the
   directory's settings exported to a web-reachable path, so the file holds a runnable script.
   Written for exhunt. */

rule EXH_OAB_ExternalUrl_Script
{
    meta:
        id = "EXH-YARA-OAB-EXTERNALURL"
        title = "OAB virtual directory export carrying a script in ExternalUrl (CVE-2021-27065)"
        description = "A file holding an Offline Address Book virtual directory setting whose ExternalUrl contains a server-side script block. This is what Set-OabVirtualDirectory plus Reset/Export writes when CVE-2021-27065 is used to drop a webshell."
        attack = "T1505.003,T1190"
        cve = "CVE-2021-27065"
        family = "proxylogon"
        step = "webshell-write"
        severity = "critical"
        confidence = "high"
    strings:
        $ext_script = /ExternalUrl[^\r\n<]{0,256}<script[^>]{0,128}runat\s{0,4}=\s{0,4}["']?server/ nocase
        $ext_script_w = "ExternalUrl" wide nocase
        $script_w = "runat=\"server\"" wide nocase
    condition:
        $ext_script or ($ext_script_w and $script_w)
}
