/* exhunt: ASPXSpy-style pages: command runners and file managers driven by request values.
   Written for exhunt. "Request input" below means a value of the HTTP request (Request[...],
   Request.Form/QueryString/Item/Params/Cookies/Headers/Files/InputStream) or, in Web Forms pages, the
   value of a server control (TextBox.Text, HtmlInputText.Value), which also comes from the request. */

/* Shared markers as private rules: referenced by the rules below, never reported alone. Each is
   defined once per file, because a pattern repeated in every rule is searched once per rule. */

private rule EXH_Tools_Server_Page
{
    strings:
        $page = "<%@" ascii
        $script1 = "<script runat" nocase
        $script2 = /<script [^>]{0,80}runat=/
    condition:
        any of them
}

private rule EXH_Tools_Server_Code
{
    strings:
        $code = "<%" ascii
        $script1 = "<script runat" nocase
        $script2 = /<script [^>]{0,80}runat=/
    condition:
        any of them
}

private rule EXH_Tools_Request_Value
{
    strings:
        $item = "Request[" nocase
        $form = "Request.Form" nocase
        $query = "Request.QueryString" nocase
        $item2 = "Request.Item" nocase
        $params = "Request.Params" nocase
        $cookies = "Request.Cookies" nocase
        $headers = "Request.Headers" nocase
        $vb1 = "Request(\"" nocase
        $vb2 = "Request('" nocase
    condition:
        any of them
}

private rule EXH_Tools_Control_Value
{
    strings:
        $value = /\.(Text|Value)\b/
    condition:
        $value
}

rule EXH_Webshell_Command_Runner
{
    meta:
        id = "EXH-YARA-COMMAND-RUNNER"
        title = "Webshell command runner: a page starts a process or shell with request input"
        description = "A server page starts a process (Process.Start / ProcessStartInfo / WScript.Shell) whose program, arguments or standard input come from the request or a form control, usually cmd.exe /c or powershell, and returns its output. ASPXSpy, Antak and many hand-written shells carry this; a page that runs a fixed command with fixed arguments does not match."
        attack = "T1505.003,T1059.003"
        family = "aspxspy"
        step = "webshell-write"
        severity = "high"
        confidence = "high"
    strings:
        $start1 = "ProcessStartInfo" nocase
        $start2 = /Process\s{0,4}\.\s{0,4}Start\s{0,4}\(/
        $start3 = /\.StartInfo\s{0,4}\.\s{0,4}(FileName|Arguments)\b/
        // other ways to a process: WMI Win32_Process.Create, a PowerShell runspace, COM shells by ProgID,
        // the Process type looked up by name
        $start4 = /ManagementClass\s{0,4}\(\s{0,4}@?"[^"\r\n]{0,40}Win32_Process"/
        $start5 = /PowerShell\s{0,4}\.\s{0,4}Create\s{0,4}\(/
        $start6 = /RunspaceFactory\s{0,4}\.\s{0,4}CreateRunspace/
        $start7 = /GetTypeFromProgID\s{0,4}\(\s{0,4}"(WScript\.Shell|Shell\.Application)"/
        $start8 = /GetType\s{0,4}\(\s{0,4}"System\.Diagnostics\.Process"/
        $shell1 = "cmd.exe" nocase
        $shell2 = "\"cmd\"" nocase
        $shell3 = "powershell" nocase
        // the process is fed from a variable: program or arguments assigned from an expression,
        // a literal prefix joined with a value ("/c " + cmd), a variable passed to Process.Start /
        // ProcessStartInfo, or a value written to the child's standard input
        $feed1 = /\b(FileName|Arguments)\s{0,4}=\s{0,4}[A-Za-z_(]/
        $feed2 = /\b(FileName|Arguments)\s{0,4}=\s{0,4}@?"([^"\\\r\n]|\\.){0,200}"\s{0,4}\+/
        $feed3 = /Process\s{0,4}\.\s{0,4}Start\s{0,4}\(\s{0,4}("([^"\\\r\n]|\\.){0,200}"\s{0,4}\+\s{0,4})?[A-Za-z_][A-Za-z0-9_.\[\]"]{0,80}\s{0,4}[+,]/
        $feed4 = /ProcessStartInfo\s{0,4}\(\s{0,4}[A-Za-z_][A-Za-z0-9_.\[\]"]{0,80}\s{0,4}[,)+]/
        $feed5 = /StandardInput\s{0,4}\.\s{0,4}Write(Line)?\s{0,4}\(\s{0,4}[A-Za-z_]/
        $feed6 = /\.\s{0,4}(AddScript|AddCommand)\s{0,4}\(\s{0,4}[A-Za-z_]/
        $feed7 = /\[\s{0,4}"CommandLine"\s{0,4}\]\s{0,4}=\s{0,4}([A-Za-z_(]|@?"([^"\\\r\n]|\\.){0,200}"\s{0,4}\+)/
        $feed8 = /\.\s{0,4}(InvokeMember|Invoke)\s{0,4}\(\s{0,4}"(Exec|Run|ShellExecute|Start)"/
        $wsh = /CreateObject\s{0,4}\(\s{0,4}["'](WScript\.Shell|Shell\.Application)["']\s{0,4}\)\s{0,4}\.\s{0,4}(exec|run|ShellExecute)\s{0,4}[\( ]/ nocase
    condition:
        (EXH_Tools_Server_Page and any of ($start*) and
         ((any of ($shell*) and EXH_Tools_Request_Value) or (any of ($feed*) and (EXH_Tools_Request_Value or EXH_Tools_Control_Value)))) or
        (EXH_Tools_Server_Code and $wsh and EXH_Tools_Request_Value)
}

rule EXH_Webshell_File_Manager
{
    meta:
        id = "EXH-YARA-FILE-MANAGER"
        title = "Webshell file manager: drives, folders, read, write and delete driven by the request"
        description = "A server page that lists the server's drives and folders and reads, writes, deletes or re-times files named by the request (or by web-method arguments). ASPXSpy style file managers and Chopper's web-service server combine these; ordinary upload pages and file pickers neither list drives nor open request-named paths."
        attack = "T1505.003,T1083,T1070.006"
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
        $drives2 = "DriveInfo.GetDrives" ascii
        $list1 = "GetFiles" nocase
        $list2 = "new DirectoryInfo" nocase
        $change1 = "StreamWriter" nocase
        $change2 = "SaveAs" nocase
        $change3 = /File\.(WriteAll|AppendAll|Move|Copy|Create)/
        $change4 = /Response\.(WriteFile|TransmitFile)\s{0,4}\(/
        // a file operation whose path argument is a request value
        $op_req = /(File\.(Delete|ReadAll[A-Za-z]{0,5}|OpenRead|OpenWrite|Open|Copy|Move|WriteAll[A-Za-z]{0,5})|Directory\.(Delete|GetFiles|GetDirectories|CreateDirectory|Move)|Response\.(WriteFile|TransmitFile)|new (DirectoryInfo|FileInfo|StreamReader|StreamWriter|FileStream))\s{0,4}\(\s{0,4}([A-Za-z_][A-Za-z0-9_]{0,20}\.){0,2}[Rr]equest(\.(Form|QueryString|Item|Params)\b|\[|\()/
        $webmethod = "[WebMethod" ascii
    condition:
        EXH_Tools_Server_Page and
        ((EXH_Tools_Request_Value and 4 of ($fm_*)) or
         (#op_req >= 2) or
         ((EXH_Tools_Request_Value or $webmethod) and ($fm_drives or $drives2) and ($fm_dirs or any of ($list*)) and
          (any of ($change*) or $fm_del1 or $fm_del2 or $op_req)))
}

rule EXH_Webshell_ServU_Escalation
{
    meta:
        id = "EXH-YARA-SERVU-ESCALATION"
        title = "Page drives the Serv-U FTP local admin service to run commands (privilege escalation)"
        description = "A server page logs in to the Serv-U FTP server's local administration port and uses its SITE MAINTENANCE commands to create a user whose login runs a command: a privilege escalation from the web server account, carried by ASPX web shell toolkits."
        attack = "T1505.003,T1068"
        family = "privilege-escalation"
        step = "webshell-write"
        severity = "high"
        confidence = "high"
    strings:
        $maint = "SITE MAINTENANCE" nocase
        $setup = "-SETUSERSETUP" nocase
        $exec = "-SETDOMAIN" nocase
        $port = "43958" ascii
    condition:
        EXH_Tools_Server_Page and $maint and ($setup or $exec or $port)
}
