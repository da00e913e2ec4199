/* exhunt: ASPXSpy-style pages: command runners and file managers driven by request values.
   Written for exhunt. */

rule EXH_Webshell_Command_Runner
{
    meta:
        id = "EXH-YARA-COMMAND-RUNNER"
        title = "Webshell command runner: a page starts cmd/powershell with a request value"
        description = "A server page builds a process start (Process.Start / ProcessStartInfo) of cmd.exe or powershell and takes arguments from the request, returning the output. ASPXSpy and many hand-written shells carry this."
        attack = "T1505.003,T1059.003"
        family = "aspxspy"
        step = "webshell-write"
        severity = "high"
        confidence = "high"
    strings:
        $start1 = "ProcessStartInfo" nocase
        $start2 = "Process.Start(" nocase
        $shell1 = "cmd.exe" nocase
        $shell2 = "\"cmd\"" nocase
        $shell3 = "powershell" nocase
        $req1 = "Request[" nocase
        $req2 = "Request.Form[" nocase
        $req3 = "Request.QueryString[" nocase
        $req4 = "Request.Item[" nocase
        $req5 = "Request.Params[" nocase
        $req6 = "Request(\"" nocase
        $req7 = "Request.Form(\"" nocase
        $req8 = "Request.QueryString(\"" nocase
        $page = "<%@" ascii
        $runat1 = "runat=\"server\"" nocase
        $runat2 = "runat=server" nocase
        $runat3 = "runat='server'" nocase
    condition:
        ($page or any of ($runat*)) and any of ($start*) and any of ($shell*) and any of ($req*)
}

rule EXH_Webshell_File_Manager
{
    meta:
        id = "EXH-YARA-FILE-MANAGER"
        title = "Webshell file manager: drives, listing, delete and time-stomping from request values"
        description = "A server page that lists drives and folders, deletes files and rewrites file times on request. ASPXSpy style file managers combine these; ordinary upload pages do not."
        attack = "T1505.003,T1070.006"
        family = "aspxspy"
        step = "webshell-write"
        severity = "high"
        confidence = "medium"
    strings:
        $fm_drives = "GetLogicalDrives" nocase
        $fm_dirs = "GetDirectories" nocase
        $fm_del1 = "File.Delete(" nocase
        $fm_del2 = "Directory.Delete(" nocase
        $fm_time1 = "SetCreationTime" nocase
        $fm_time2 = "SetLastWriteTime" nocase
        $fm_attr = "SetAttributes" nocase
        $req1 = "Request[" nocase
        $req2 = "Request.Form[" nocase
        $req3 = "Request.QueryString[" nocase
        $req4 = "Request.Item[" nocase
        $req5 = "Request.Params[" nocase
        $req6 = "Request(\"" nocase
        $req7 = "Request.Form(\"" nocase
        $req8 = "Request.QueryString(\"" nocase
        $page = "<%@" ascii
        $runat1 = "runat=\"server\"" nocase
        $runat2 = "runat=server" nocase
        $runat3 = "runat='server'" nocase
    condition:
        ($page or any of ($runat*)) and any of ($req*) and 4 of ($fm_*)
}
